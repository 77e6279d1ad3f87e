"""Follow-up questions: turning "does Adam still need one?" into a question that stands on its own.

A conversation is the recent turns of one thread, console session or CLI chat. Rewriting is pure rules:
a question that refers back ("it", "that one", "and for transformers?") borrows the subject of the turn
before; a question with a subject of its own is left alone, so a new topic is never bent into the old one.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.errors import InvalidQuestion
from bot.domain.ports import utc_now
from bot.domain.questions import LIBRARIES, ONE, analyze, library_named, normalize, resolve_pronoun, subject_of

MAX_TURNS = 6  # turns kept per conversation: enough for "it" to find its noun, small enough to stay bounded
MAX_AGE = timedelta(hours=12)  # an old thread's context no longer applies to a new question
MAX_KEY = 100  # characters of a conversation id
MAX_CONVERSATIONS = 1000  # kept in memory by the CLI and console


@dataclass(frozen=True)
class Turn:
    question: str
    standalone: str
    doc_ids: tuple[str, ...]
    at: datetime


class ChatMemory:
    """Turns kept in this process (the CLI's JSON chats, the console), bounded in conversations, turns and age.

    Discord threads keep theirs in the database instead (``AskLog.history``), so they survive a restart.
    """

    def __init__(self, max_conversations: int = MAX_CONVERSATIONS, clock: Callable[[], datetime] = utc_now) -> None:
        self._turns: OrderedDict[str, list[Turn]] = OrderedDict()
        self.max_conversations = max_conversations
        self.clock = clock

    def history(self, key: str) -> list[Turn]:
        now = self.clock()
        return [t for t in self._turns.get(key, []) if now - t.at <= MAX_AGE]

    def remember(self, key: str, question: str, standalone: str, doc_ids: Sequence[str] = ()) -> None:
        turns = [*self._turns.pop(key, []), Turn(question, standalone, tuple(doc_ids), self.clock())]
        self._turns[key] = turns[-MAX_TURNS:]
        while len(self._turns) > self.max_conversations:
            self._turns.popitem(last=False)  # the conversation idle longest goes first

    def forget(self, key: str) -> None:
        self._turns.pop(key, None)


def check_key(key: str) -> str:
    """A conversation id fit to keep, stripped; InvalidQuestion (safe to show) when empty or over MAX_KEY."""
    key = key.strip()
    if not key:
        raise InvalidQuestion("A conversation id cannot be empty.")
    if len(key) > MAX_KEY:
        raise InvalidQuestion(f'"conversation" ids are at most {MAX_KEY} characters.')
    return key


def parse_chat_line(line: str) -> tuple[str, str | None]:
    """A line of ``studybot ask --json`` input: plain text, or ``{"question": ..., "conversation": ID}``."""
    if not line.lstrip().startswith("{"):
        return line, None
    try:
        data = json.loads(line)
    except ValueError:
        raise InvalidQuestion(
            'That line starts like JSON but is not valid JSON. Send {"question": "...", "conversation": "ID"}.'
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("question"), str):
        raise InvalidQuestion('A JSON line needs a "question" string, e.g. {"question": "What is dropout?"}.')
    key = data.get("conversation")
    if key is not None and not isinstance(key, str | int):
        raise InvalidQuestion('"conversation" must be a string or a number that names the chat.')
    return data["question"], None if key is None else check_key(str(key))


_NEW_TOPIC = re.compile(
    r"^(?:(?:ok|okay|so|also|and|btw|hey|quick)[,\s]+)*(?:unrelated|off[- ]?topic|(?:a )?(?:different|random|new|"
    r"separate|other) (?:question|topic|thing)|change of (?:topic|subject)|switching (?:topics?|gears)|speaking of)\b"
)
# A pronoun that can only point outside the question: "why can't I just call it on the test set too?". Not the
# "it" of "is it worth…" or "it depends", which points at nothing.
_REFERS = re.compile(r"\b(?:it|them|they|their|those)\b(?! (?:depends|seems))|\bwhich (?:one|of them|of the two)\b")
_WHAT_IF = re.compile(r"^(?:(?:and|but|so|ok(?:ay)?),? )?what if\b")  # "what if my clusters aren't round?"
_DUMMY_IT = re.compile(
    r"\b(?:is|was|would|will) it (?:be )?(?:worth|possible|ok|okay|bad|good|normal|true|fine|safe|common|necessary|"
    r"better|worse|enough|too late|a good idea|a bad idea|realistic|hard|easy)\b"
)
# A pronoun as the object of a verb points back, however long the rest of the question is.
_ACTS_ON = re.compile(
    r"\b(?:write|use|make|fix|set|tune|train|apply|build|add|implement|choose|pick|save|load|deploy|run|test|"
    r"compute|calculate|plot|read|interpret|handle|avoid|prevent|detect|reduce|store|install|debug|learn)\s+"
    r"(?:it|one|them|this|that)\b(?!\s+(?:is|are|was|were)\b)"
)
_PRONOUN = re.compile(rf"\b(it|its|this|that|these|those|they|them|their|{ONE}|ones|each|both|the same|there)\b")
_CONTINUE = re.compile(
    r"^(and|but|so|also|then|plus|ok(ay)? (and|so|but)|what about|how about|what if|and what about|"
    r"and how about|same (for|with|in)|now (for|with|in))\b"
)
# "when" and "if" open a clause ("when training"), but "when should I" is a question of its own.
_PREPOSITION = re.compile(
    r"^(for|in|with|on|using|via|without|under|at|from|during|after|before|"
    r"(?:when|if)(?!\s+(?:should|do|does|did|can|could|would|will|is|are|was|were|i|you|we)\b))\b"
)
# Thanks and acknowledgements: not a question, so never bent into the previous one.
_ACK = re.compile(
    r"^(?:(?:great|thanks|thank you|thx|ok|okay|cool|nice|perfect|awesome|i see|got it|makes sense|"
    r"that makes sense|lol|haha|wow)\b[\s,!.]*)+"
)
_EXAMPLES = re.compile(r"^(?:examples?|such as|like what|e\.?g\.?)\b")
_WHICH = re.compile(r"\bwhich(?: one| of them| of the two)?\b")
_QUALIFIER = r"\s(?:for|in|with|on|using)\s+[^,;]+$"  # "... for a cnn", "... in keras": swapped by ellipsis
_ALIAS = re.compile(
    r"\b(?:" + "|".join(re.escape(a.strip()) for names in LIBRARIES.values() for a in names if a[-1].isalnum()) + r")\b"
)
_WHY_THAT = re.compile(r"^(?:why (?:is|was|would) (?:that|this)(?: so| the case)?|why so|how come)\b")
_BARE_WH = re.compile(r"^(why|how|when|where|really|example|examples|such as|like what|e\.?g\.?)\b[ ?!.]*$")
_FOLLOW_LEAD = re.compile(
    r"^(?:(?:and|but|so|ok(?:ay)?),? )?(?:what about|how about|also|then|plus|same(?= (?:for|with|in)\b)|"
    r"now(?= (?:for|with|in)\b)|and|but|so)?[,:]?\s*"
)
_CONTENT = re.compile(r"[a-z][a-z0-9+#.-]{2,}")
_FILLER = frozenset(
    [
        "the",
        "and",
        "but",
        "for",
        "with",
        "what",
        "about",
        "how",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "will",
        "still",
        "need",
        "use",
        "using",
        "work",
        "works",
        "help",
        "helps",
        "matter",
        "matters",
        "why",
        "when",
        "where",
        "which",
        "one",
        "ones",
        "this",
        "that",
        "these",
        "those",
        "they",
        "them",
        "their",
        "its",
        "same",
        "there",
        "then",
        "also",
        "really",
        "mean",
        "means",
        "make",
        "makes",
        "get",
        "instead",
        "too",
        "better",
        "worse",
        "more",
        "less",
        "good",
        "bad",
        "any",
        "some",
        "much",
        "many",
        "very",
        "just",
        "like",
        "you",
        "show",
        "example",
        "examples",
        "explain",
        "tell",
        "give",
        "please",
        "again",
        "detail",
        "details",
        "simpler",
        "compare",
        "compared",
        "different",
        "difference",
        "differ",
        "from",
        "try",
        "first",
        "next",
        "tip",
        "tips",
        "advice",
        "ideas",
        "start",
        "write",
        "do",
    ]
)
_GERUND = {
    "choose": "choosing",
    "use": "using",
    "reduce": "reducing",
    "prevent": "preventing",
    "tune": "tuning",
    "schedule": "scheduling",
    "move": "moving",
    "handle": "handling",
    "pick": "picking",
    "set": "setting",
    "stop": "stopping",
    "save": "saving",
    "load": "loading",
    "train": "training",
    "split": "splitting",
    "scale": "scaling",
    "fix": "fixing",
    "debug": "debugging",
    "deploy": "deploying",
    "serve": "serving",
    "evaluate": "evaluating",
    "detect": "detecting",
    "avoid": "avoiding",
    "improve": "improving",
    "speed": "speeding",
    "normalize": "normalizing",
    "fine-tune": "fine-tuning",
    "initialize": "initializing",
    "implement": "implementing",
    "compute": "computing",
    "calculate": "calculating",
    "read": "reading",
    "learn": "learning",
}
# Verbs whose noun has the same spelling: "schedule my learning rate" -> "a learning rate schedule".
_NOUN_VERBS = frozenset({"schedule", "split", "plot", "test", "check", "search", "scale"})
_DETERMINERS = re.compile(r"\b(my|our|your|the|a|an|their)\s+")


def own_words(text: str) -> list[str]:
    """The topic words a question brings of its own, without pronouns and filler."""
    return [w for w in _CONTENT.findall(normalize(text)) if w not in _FILLER]


def needs_context(text: str) -> bool:
    """Whether a question leans on an earlier turn to be understood."""
    norm = _ACK.sub("", normalize(text)).strip(" ?!.")
    if not norm:
        return False
    words = own_words(norm)
    if _BARE_WH.search(norm) or not words:  # "why?", "what should i try first?": nothing of its own to ask about
        return True
    if _ACTS_ON.search(norm):  # "how do i write one for a function that returns a dataframe?"
        return True
    if _CONTINUE.search(norm):  # "and for transformers?" leans back; "and should I also scale my features?" doesn't
        return len(words) < 3 or bool(_PRONOUN.search(norm))
    if _PREPOSITION.search(norm) and len(norm.split()) <= 5:
        return True  # "in pytorch?", "for images?"
    return bool(_PRONOUN.search(norm)) and len(words) <= 2  # "why does that help?", "does adam still need one?"


def _as_noun(subject: str, pronoun: str) -> str:
    """The subject as a noun phrase that can stand where a pronoun stood."""
    parts = subject.split(" ", 1)
    if len(parts) == 2 and parts[0] in _GERUND:
        verb, rest = parts[0], _DETERMINERS.sub("", parts[1]).strip()
        if pronoun == "one" and verb in _NOUN_VERBS:
            return f"{rest} {verb}"
        return f"{_GERUND[verb]} {rest}"
    # "adam still need a learning rate schedule": what "it" points back to is the object, not the asker's phrase
    objects = re.split(r"\b(?:a|an|the)\s+", subject)
    return _DETERMINERS.sub("", objects[-1] if len(objects) > 1 else subject).strip()


def _carry_library(text: str, library: str | None, any_kind: bool = False) -> str | None:
    """A how-to that names no library keeps the one the conversation is about ("...keep rows where age > 30").

    ``any_kind``: a question whose pronoun was just resolved keeps it whatever its kind ("how does n_estimators
    interact with it?" after a question about XGBoost's learning_rate is still about XGBoost).
    """
    if library is None or library_named(text) is not None:
        return None
    if not any_kind and analyze(text).kind != "howto":
        return None
    return f"{text.strip().rstrip('?!.').strip()} in {library}?"


def _swap_library(previous: str, new: str) -> str | None:
    """ "how do I tune xgboost" asked again "for lightgbm": the other library takes the first one's place."""
    old = _ALIAS.search(previous)
    if old is None or library_named(new) in (None, library_named(previous)):
        return None
    return f"{previous[: old.start()]}{new}{previous[old.end() :]}"


def _resolved_noun(turn: Turn) -> str | None:
    """What a pronoun in ``turn`` was resolved to, if its standalone form came from replacing one.

    A conversation keeps its subject along a chain of pronouns: after "what is tf-idf?" and "what's the sklearn
    class for it?", the "it" of "is it still worth using?" is tf-idf again, not the sklearn class.
    """
    asked, answered = normalize(turn.question).rstrip("?!. ").split(), normalize(turn.standalone).rstrip("?!. ").split()
    if asked == answered:
        return None
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=asked, b=answered, autojunk=False).get_opcodes():
        if tag == "replace" and i2 - i1 == 1 and _PRONOUN.fullmatch(asked[i1]) and 0 < j2 - j1 <= 4:
            return " ".join(answered[j1:j2])
    return None


def refers_back(text: str) -> bool:
    """Whether a question has a pronoun that may stand for an earlier turn's subject, however many words of its own
    it has. Whether it really does is for the search to judge (``AnswerService.standalone``)."""
    norm = normalize(text)
    leans = _REFERS.search(norm) or _WHAT_IF.search(norm)
    return bool(leans) and not _DUMMY_IT.search(norm) and not _NEW_TOPIC.search(norm)


def rewrite(text: str, history: Sequence[Turn], force: bool = False, topic: str | None = None) -> str | None:
    """The follow-up rewritten to stand alone, or None when it already does (or there is no history).

    ``force`` rewrites even a question that seems to stand alone: one whose pronoun may point back. ``topic`` is
    the title of the entry the last answer cited ("k-means clustering"), which a bare condition is asked about.
    """
    if not history:
        return None
    if _NEW_TOPIC.search(normalize(text)):  # "ok unrelated but…": the learner says it stands alone
        return None
    previous = history[-1].standalone.strip().rstrip("?").strip()
    before = analyze(previous)
    if not force and not needs_context(text):
        return _carry_library(text, before.library)
    norm = _ACK.sub("", normalize(text)).strip().rstrip("?!.").strip()
    subject = subject_of(previous)
    rest = _WHY_THAT.sub("why", _FOLLOW_LEAD.sub("", norm).strip())  # "why is that?" asks why the claim holds
    if not rest or _BARE_WH.search(rest):  # "why?", "and how?", "examples?"
        word = (rest.split() or ["why"])[0]
        if _EXAMPLES.match(rest):
            return f"examples of {_as_noun(subject, 'it')}?"
        if word in ("why", "how", "when", "where"):
            if re.match(r"(is|are|does|do|can|should|will|would)\b", previous):  # "why is adam better than sgd?"
                return f"{word} {previous}?"
            return f"{word} {_as_noun(subject, 'it')}?"
        return f"{previous}?"
    which = _WHICH.search(rest)
    sides = before.subjects if which and before.kind == "compare" else ()
    if which and len(sides) == 2:  # "which one should I use?" after a comparison
        return f"{rest[: which.start()]}which of {sides[0]} and {sides[1]}{rest[which.end() :]}?"
    if which and which[0] != "which" and len(own_words(rest)) <= 1:
        # "which one first?" after "what knobs do I turn?": one of the things the last answer listed
        return f"{previous}, {rest}?"
    if _PREPOSITION.search(rest):  # "and for transformers?": swap or add the qualifier
        prep, _, obj = rest.partition(" ")
        swapped = _swap_library(previous, obj)
        if swapped:
            return f"{swapped}?"
        if library_named(obj) and before.library is None and before.kind != "howto":
            # "why does dropout help?" then "and in pytorch?": the library's way of doing it, not its reasons
            return f"how do i use {_as_noun(subject, 'it')} {prep} {obj}?"
        qualifier = re.search(rf"\s{prep}\s+[^,;]+$", previous)
        return f"{previous[: qualifier.start()]} {rest}?" if qualifier else f"{previous} {rest}?"
    pronoun = _PRONOUN.search(rest)
    if pronoun:
        if pronoun[1] in ("each", "both") and before.kind == "compare":  # "how big should each be?"
            noun = " and ".join(before.subjects[:2])
        else:
            noun = _resolved_noun(history[-1]) or _as_noun(subject, pronoun[1])
        resolved = resolve_pronoun(rest, noun).rstrip("?")
        return (_carry_library(resolved, before.library, any_kind=True) or resolved).rstrip("?") + "?"
    if norm != rest:  # "what about random forests?": the same question about a new subject
        swapped = _swap_library(previous, rest)
        if swapped:
            return f"{swapped}?"
        qualifier = re.search(_QUALIFIER, previous)
        if qualifier and library_named(qualifier[0]) and not library_named(rest):
            return f"{previous} with {rest}?"  # "... in pytorch" asked "what about a weighted sampler?": keep pytorch
        if qualifier:  # "do I scale features for logistic regression" -> "... for random forests"
            prep = qualifier[0].split()[0]
            return f"{previous[: qualifier.start()]} {prep} {rest}?"
        noun = _as_noun(subject, "it")
        if noun and noun in previous:
            return previous.replace(noun, rest, 1) + "?"
        return f"{previous} {rest}?"
    if force and _WHAT_IF.search(rest):  # "what if my clusters aren't round blobs?": a new condition on the topic
        return f"{rest} in {topic}?" if topic else f"{rest}, following up on: {previous}?"
    if not own_words(rest):  # "what should i try first?" after a symptom: the symptom is what it asks about
        return f"{previous}, {rest}?"
    return None
