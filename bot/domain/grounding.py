"""The grounding check: does a generated sentence say what the passages it cites say?

A sentence survives only if it cites a passage, means what that passage says (embedding similarity above a
calibrated threshold), uses no number, code identifier or technical term the cited passages lack, is not mostly
made of words they never use (``outside_words``), does not swap a term for its opposite (``contradictions``), and
does not copy a passage sentence with one term changed for another the passage uses elsewhere, an opposite or
another number, or swap two terms' roles across clauses (``misaligned``), and does not flip the passage clause it
restates: a negation added or dropped, a universal quantifier it lacks, a direction reversed (``polarity``). Each
drop carries its reason. Pure code: the embedder is a function.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import pairwise

import numpy as np

from index.text import STOPWORDS

# Calibrated on the tuning splits of bench/grounding.py (dev, test, fresh, fresh3): see bench/RESULTS.md.
SUPPORT_THRESHOLD = 0.73
CACHE_LIMIT = 4096  # embedded sentences the checker remembers (passage sentences recur across answers)
_CITE = re.compile(r"\[\s*(\d{1,2}(?:\s*[,;]\s*\d{1,2})*)\s*\]")
Embed = Callable[[list[str]], np.ndarray]  # texts → L2-normalised rows
BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")


def citations(sentence: str) -> tuple[int, ...]:
    return tuple(dict.fromkeys(int(n) for group in _CITE.findall(sentence) for n in re.split(r"[,;]", group)))


def strip_citations(sentence: str) -> str:
    """The sentence without its [n] marks; a space left before a final stop or comma goes, not one before
    ``.backward()``, which would glue the code to the word before it."""
    return re.sub(r" ([.,])(?=\s|$)", r"\1", " ".join(_CITE.sub(" ", sentence).split()))


# -- the grounding check -------------------------------------------------------------------------------------

_NUMBER_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
    "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "hundred": "100", "thousand": "1000",
    "million": "1000000", "billion": "1000000000", "half": "50", "double": "2", "twice": "2", "triple": "3",
}  # fmt: skip
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?:\s?%)?")
_CODE = re.compile(
    r"`([^`]+)`|"  # anything in backticks
    r"\b([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(\))?|[A-Za-z_]\w*\(\)|[a-z]+_[a-z0-9_]+|[a-z]+[A-Z]\w*)"
)
_ACRONYM = re.compile(r"\b[A-Z][A-Za-z]*[A-Z][A-Za-z0-9]*\b|\b[A-Z]{2,}s?\b")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]*")
_SUFFIX = re.compile(r"(?:isations?|izations?|ations?|ings?|ised|ized|ises|izes|ise|ize|ers?|ed|es|s|ly|al)$")


def stem(word: str) -> str:
    """A crude English stem, enough to match "regularises" with "regularization" (6 letters kept)."""
    w = word.lower().strip("'-")
    return _SUFFIX.sub("", w)[:6] if len(w) > 4 else w


def _numbers(text: str) -> set[str]:
    found = {m.group(0).replace(",", "").replace(" ", "") for m in _NUMBER.finditer(text)}
    found |= {_NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in _NUMBER_WORDS}
    return found


def _codes(text: str) -> set[str]:
    return {(m.group(1) or m.group(2)).strip().lower() for m in _CODE.finditer(text)}


# Opposites, and pairs of terms learners and models confuse: a sentence that says one where its passage says the
# other is a swap that sentence similarity cannot see ("sparse" for "dense" changes a single word). Each side
# lists its word forms; forms are matched whole, lower-cased.
_OPPOSITES: tuple[tuple[str, str], ...] = (
    ("large larger largest big bigger biggest", "small smaller smallest tiny"),
    ("high higher highest", "low lower lowest"),
    ("increase increases increased increasing", "decrease decreases decreased decreasing"),
    ("more", "fewer less"),
    ("dense denser", "sparse sparser"),
    ("before", "after"),
    ("forward forwards", "backward backwards reverse"),
    ("positive positives", "negative negatives"),
    ("maximize maximizes maximise maximises maximum", "minimize minimizes minimise minimises minimum"),
    ("first", "last"),
    ("early earlier earliest", "late later latest"),
    ("shallow shallower", "deep deeper deepest"),
    ("overfitting overfit overfits", "underfitting underfit underfits"),
    ("input inputs", "output outputs"),
    ("encoder encoders", "decoder decoders"),
    ("supervised", "unsupervised"),
    ("linear", "nonlinear non-linear"),
    ("sequential sequentially", "parallel"),
    ("row rows", "column columns"),
    ("always", "never"),
    ("faster fast", "slower slow"),
    ("global", "local"),
    ("discrete", "continuous"),
    ("precision", "recall"),
    ("bias", "variance"),
    ("generator generators", "discriminator discriminators"),
    ("l1", "l2"),
    ("numerator", "denominator"),
    ("upper", "lower"),
    ("rise rises", "fall falls"),
    ("add adds added", "remove removes removed"),
    ("true", "false"),
    ("stronger strong", "weaker weak"),
    ("easy easier easiest", "hard harder hardest difficult"),
    ("narrow narrower", "wide wider broad broader"),
    ("same identical", "different opposite"),
    ("lazy", "eager"),
    ("open-source", "closed-source proprietary"),
    ("speeds", "slows"),
    ("train training", "test testing"),
)
_SIDES = [(frozenset(a.split()), frozenset(b.split())) for a, b in _OPPOSITES]


_NEGATIONS = frozenset({"not", "no", "never", "without", "cannot", "nor", "neither", "nothing", "none"})
_NEGATION_REACH = 3  # words: "does not increase", "is not a linear model"


def _lower_words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*", re.sub(r"n['’]t\b", " not", text.lower()))


def _asserted(words: Sequence[str]) -> list[str]:
    """The words, with every word a negation reaches ("not larger") blanked: a negated term asserts neither side."""
    out = list(words)
    for i, w in enumerate(words):
        if w in _NEGATIONS:
            for j in range(i + 1, min(len(words), i + 1 + _NEGATION_REACH)):
                out[j] = ""
    return out


def contradictions(claim: str, source_sentences: Sequence[str]) -> list[str]:
    """Opposite or confusable terms the claim swaps relative to its source: "sparse" where the source says "dense",
    or both terms present in the reverse roles ("a large model imitates a small one" for "a small model imitates a
    large one"). Negated terms abstain: "not linear" neither claims "linear" nor contradicts "nonlinear", and a
    passage's negated term is no evidence for it. The check only drops; similarity judges the rest."""
    claim_words = _asserted(_lower_words(claim))
    said = set(claim_words)
    mentioned = [_lower_words(s) for s in source_sentences]
    sentences = [_asserted(w) for w in mentioned]
    source_any = {w for words in mentioned for w in words}  # any mention, negated or not, blocks a one-sided swap
    source = {w for words in sentences for w in words}  # only what the passage asserts counts as evidence
    found: list[str] = []
    for one, other in _SIDES:
        for a, b in ((one, other), (other, one)):
            if said & a and not said & b and not source_any & a and source & b:
                found.append(f"{min(said & a)} (the passage says {min(source & b)})")
        if said & one and said & other:
            order = _first(claim_words, one) < _first(claim_words, other)
            both = [w for w in sentences if set(w) & one and set(w) & other]
            if both and all((_first(w, one) < _first(w, other)) != order for w in both):
                found.append(f"{min(said & one)} / {min(said & other)} in the reverse roles")
    return found


def _first(words: Sequence[str], forms: frozenset[str]) -> int:
    return next(i for i, w in enumerate(words) if w in forms)


# -- the alignment check: a near-copy of a passage sentence with one term changed ----------------------------

_TOKEN = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")  # ``grad_fn`` is one token, not "grad" and "fn"
_ROMAN = frozenset({"i", "ii", "iii", "iv"})  # "type I" / "type II": a numeral, not the pronoun
_AUXILIARIES = frozenset({"is", "are", "was", "were", "be", "been", "has", "have", "had", "can", "does", "do"})
_PREFIXES = ("un", "non", "in", "im", "ir", "il", "dis")
_OPPOSITE_FORMS = {w: side for one, other in _SIDES for side, forms in ((other, one), (one, other)) for w in forms}
ALIGN_SPAN = 3  # tokens: an edit longer than this is a rewrite, left to similarity
RARE_IDF = 6.5  # above log(N/2): a word no chunk of the notes uses; chosen on the tuning splits (bench/RESULTS.md)
OUTSIDE_SHARE = 0.5  # of a claim's content words absent from what it cites: the claim is about something else
ALIGN_COPIED = 0.5  # share of the claim's content words that must sit in the aligned sentence, in order


def _tokens(text: str) -> list[tuple[str, str]]:
    """(word, stem) pairs in order; hyphens and apostrophes split ("decoder-only", "tensor's")."""
    return [(w, stem(w)) for w in _TOKEN.findall(re.sub(r"n['’]t\b", " not", text.lower()))]


def _is_content(word: str) -> bool:
    return word not in STOPWORDS or word in _OPPOSITE_FORMS or word in _ROMAN


def _content(pairs: Sequence[tuple[str, str]]) -> list[str]:
    return [s for w, s in pairs if _is_content(w)]


def opposed(word: str, other: str) -> bool:
    """Two words of opposite sense: a listed pair, a negating prefix ("regularized"/"unregularized"), or
    over-/under- ("overconfident"/"underconfident")."""
    if other in _OPPOSITE_FORMS.get(word, ()):
        return True
    for a, b in ((word, other), (other, word)):
        if any(a == p + b for p in _PREFIXES) or (a.startswith("over") and b == "under" + a[4:]):
            return True
    return False


Run = list[tuple[str, str]]


def _edits(claim: Run, sentence: Run) -> tuple[tuple[int, int], list[tuple[Run, Run]]]:
    """How closely the claim copies ``sentence`` (content words, then all words, shared in order), and its
    short edits of it that copied words frame on both sides."""
    a, b = [s for _, s in claim], [s for _, s in sentence]
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    blocks = matcher.get_matching_blocks()
    copied = (sum(len(_content(claim[i : i + n])) for i, _, n in blocks), sum(n for *_, n in blocks))
    ops = matcher.get_opcodes()
    edits: list[tuple[Run, Run]] = []
    for k, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag != "replace" or i2 - i1 > ALIGN_SPAN or j2 - j1 > ALIGN_SPAN:
            continue
        before = (i1 == 0 and j1 == 0) or (k > 0 and ops[k - 1][0] == "equal")
        after = (i2 == len(a) and j2 == len(b)) or (k + 1 < len(ops) and ops[k + 1][0] == "equal")
        said, source = claim[i1:i2], sentence[j1:j2]
        reworded = bool({w for w, _ in said + source} & _AUXILIARIES)  # "is assigned" for "belongs"
        if before and after and _content(said) and _content(source) and not reworded:
            edits.append((said, source))
    return copied, edits


def _inflected(word: str, other: str) -> bool:
    """One word grown from the other ("pretrained", "trained"): a rewording, unless one is code ("grad_fn")."""
    short, long = sorted((word, other), key=len)
    return len(short) > 3 and short.removesuffix("e") in long and "_" not in long  # "true" / "truly"


def _siblings(new: set[str], old: set[str], sentences: Sequence[Run]) -> bool:
    """Whether the passage uses the two terms (stem sets) in parallel roles: on the same side of a same content
    word ("forward pass" and "backward pass"; "high bias" and "high variance"), or each opening a sentence or list
    item ("Local connectivity: …", "Weight sharing: …"). A synonym a paraphrase brings in rarely does either."""
    slots: dict[str, set[tuple[int, str]]] = {"new": set(), "old": set()}
    opens: dict[str, bool] = {"new": False, "old": False}
    for words in sentences:
        content = [s for w, s in words if _is_content(w) and not w.isdigit()]
        for key, stems in (("new", new), ("old", old)):
            hits = [k for k, s in enumerate(content) if s in stems]
            opens[key] = opens[key] or (bool(hits) and hits[0] == 0)
            for k in hits:
                slots[key] |= {(d, content[k + d]) for d in (-1, 1) if 0 <= k + d < len(content)}
    shared = {(d, s) for d, s in slots["new"] & slots["old"] if s not in new | old}
    return bool(shared) or (opens["new"] and opens["old"])


def outside_words(claim: str, source: str) -> list[str]:
    """The claim's content words that ``source`` never uses (by stem), when they are at least ``OUTSIDE_SHARE``
    of its content words: a claim mostly made of other words is about something the passage does not say,
    however close its topic ("Max pooling layers shrink the spatial resolution" cited to a passage on CNNs)."""
    known = {s for _, s in _tokens(source)}
    content = [w for w, _ in _tokens(claim) if _is_content(w) and not w.isdigit()]
    novel = [w for w in content if stem(w) not in known]
    return list(dict.fromkeys(novel)) if len(novel) >= 2 and len(novel) >= OUTSIDE_SHARE * len(content) else []


class WordRarity:
    """How rare each word stem is in the notes: its IDF over the knowledge base's chunks, computed once per index.

    A word the cited passage lacks is usually a paraphrase's synonym when the notes use it often ("puts", "guides")
    and a claim from elsewhere when they hardly ever do ("Toronto", "smoothing", "SVN"): the rarer, the likelier.
    """

    def __init__(self, texts: Iterable[str]) -> None:
        counts: dict[str, int] = {}
        n = 0
        for text in texts:
            n += 1
            for s in {s for _, s in _tokens(text)}:
                counts[s] = counts.get(s, 0) + 1
        self._n = n
        self._counts = counts

    def idf(self, word_stem: str) -> float:
        """log((N + 1) / (df + 1)): a stem no chunk uses is the rarest of all."""
        return math.log((self._n + 1) / (self._counts.get(word_stem, 0) + 1))


def rare_outside_words(claim: str, source: str, rarity: WordRarity, cut: float = RARE_IDF) -> list[str]:
    """The claim's content words that ``source`` never uses (by stem) and the notes hardly use anywhere (IDF at
    least ``cut``): one such word is enough to tell a claim from outside the passage from a paraphrase."""
    known = {s for _, s in _tokens(source)}
    novel = [w for w, s in _tokens(claim) if _is_content(w) and not w.isdigit() and s not in known]
    return list(dict.fromkeys(w for w in novel if rarity.idf(stem(w)) >= cut))


_CLAUSE = re.compile(r"[;:]|,\s*(?:and|but|while|whereas|so)?\s*|\s(?:while|whereas)\s")


def misaligned(claim: str, source_sentences: Sequence[str]) -> list[str]:
    """Terms the claim changed in the passage sentence it copies: "forward pass" where that sentence says
    "backward pass", "type II" for "type I", a definition given to the wrong term, a changed number.

    The claim, and each of its clauses ("BERT is decoder-only, and every token attends …"), is aligned with the
    passage sentence it copies most closely. When it copies at least ``ALIGN_COPIED`` of its content words from
    that sentence, each short replaced run framed by copied words on both sides is a changed term. The change is
    a swap when the new words are a different number, the opposite of the old words, or words the passage itself
    uses in a parallel role (``_siblings``): a model moving one term of the passage into another's place. A
    synonym is a paraphrase, and a word the passage never uses is left to the term check and to similarity.
    """
    sentences = [_tokens(sentence) for sentence in source_sentences]
    passage = {s for words in sentences for s in _content(words)}
    whole = set(_content(_tokens(claim)))
    found: list[str] = []
    changes: list[tuple[set[str], set[str], str]] = []  # every clause's term edits: (new stems, old stems, words)
    for part in dict.fromkeys([claim, *_CLAUSE.split(claim)]):
        said = _tokens(part)
        if len(_content(said)) >= 2:
            found += [f for f in _aligned_swaps(said, sentences, passage, whole) if f not in found]
            changes += _term_edits(said, sentences)
    # Reversed roles: one clause puts A where its sentence says B, another puts B where its sentence says A
    # ("content-based uses the history, while collaborative uses attributes").
    for new, old, words in changes:
        if any(new & old2 and old & new2 for new2, old2, _ in changes) and new <= passage:
            found.append(f"{words} in the reverse roles")
            break
    return found


def _term_edits(said: Run, sentences: Sequence[Run]) -> list[tuple[set[str], set[str], str]]:
    """The short framed edits the clause makes to the passage sentences it copies most closely."""
    aligned = [_edits(said, words) for words in sentences]
    best = max((copied for copied, _ in aligned), default=(0, 0))
    if best[0] < ALIGN_COPIED * len(_content(said)):
        return []
    return [
        (set(_content(new)), set(_content(old)), " ".join(w for w, _ in new))
        for copied, edits in aligned
        if copied == best
        for new, old in edits
    ]


def _aligned_swaps(said: Run, sentences: Sequence[Run], passage: set[str], whole: set[str]) -> list[str]:
    """``misaligned`` for one claim or clause. ``whole`` is the whole claim's content stems: a sibling term is
    swapped in only if the claim lost every word of the term it replaced (a clause may reword what another keeps)."""
    aligned = [_edits(said, words) for words in sentences]
    if not aligned:
        return []
    best = max(copied for copied, _ in aligned)
    if best[0] < ALIGN_COPIED * len(_content(said)):
        return []
    found: list[str] = []
    for copied, edits in aligned:
        if copied != best:
            continue
        swaps = []
        for new, old in edits:
            new_stems, old_stems = set(_content(new)), set(_content(old))
            new_words, old_words = [w for w, _ in new], [w for w, _ in old]
            renumbered = all(w.isdigit() for w in new_words + old_words)
            if (
                renumbered
                or any(opposed(x, y) for x in new_words for y in old_words)
                or (
                    new_stems <= passage
                    and not new_stems & old_stems
                    and not old_stems & whole
                    and not any(_inflected(x, y) for x in new_words for y in old_words)
                    and _siblings(new_stems, old_stems, sentences)
                )
            ):
                swaps.append(f"{' '.join(new_words)} where the passage says {' '.join(old_words)}")
        if not swaps:
            return []  # one sentence the claim copies as closely without a swap is enough
        found = found or swaps
    return found


# Sentences either side of the aligned one where a claim's term may sit and count as in place. 0 on the tuning
# splits: a list item's neighbour holds its sibling term ("seasonality, …; cycles, …"), so 1 hid the swaps.
MISPLACED_WINDOW = 0


def misplaced(claim: str, source_sentences: Sequence[str]) -> list[str]:
    """Terms the passage uses elsewhere put where the sentence a claim clause restates uses another: "Cycles are
    patterns that repeat with a fixed period" where that sentence says seasonality, "type II errors" where it says
    type I. For each clause, the passage sentence sharing most of its content stems is the one it restates; a
    claim term is misplaced when that sentence (within ``MISPLACED_WINDOW``) lacks it, and the sentence has instead
    another term in the same slot, next to the same content word, that the claim does not use and that the
    passage uses in a parallel role to the claim's (``_siblings``): two of the passage's terms, one in the other's
    place. Both terms must read as nouns in the passage (``_nounish``): a verb in another's slot is a rewording.
    A synonym the passage never uses is not flagged."""
    sentences = [_tokens(sentence) for sentence in source_sentences]
    contents = [[s for w, s in words if _is_content(w) and not w.isdigit()] for words in sentences]
    passage = {s for c in contents for s in c}
    whole = set(_content(_tokens(claim)))
    found: list[str] = []
    for part in dict.fromkeys([claim, *_CLAUSE.split(claim)]):
        said = [(w, s) for w, s in _tokens(part) if _is_content(w) and not w.isdigit()]
        mine = [s for _, s in said]
        shared = [len(set(mine) & set(c)) for c in contents]
        best = max(shared, default=0)
        if best < 2 or best < ALIGN_CLAUSE * len(set(mine)):
            continue
        per_sentence = []
        for n in (n for n, k in enumerate(shared) if k == best):
            near = {s for c in contents[max(0, n - MISPLACED_WINDOW) : n + 1 + MISPLACED_WINDOW] for s in c}
            per_sentence.append(_slot_swaps(said, contents[n], near, passage, whole, sentences))
        if per_sentence and all(per_sentence):  # misplaced in every sentence it restates as closely
            found += [f for f in per_sentence[0] if f not in found]
    return found


_DETERMINERS = frozenset({"a", "an", "the", "each", "every", "this", "that", "its", "their", "his", "her", "our"})


def _nounish(word_stem: str, sentences: Sequence[Run]) -> bool:
    """Whether the passage uses the word as a noun, by the cheapest sign: right after a determiner ("the
    validation set") or opening a sentence or list item ("Cycles, slower swings …"). Verbs ("knows", "tends")
    rarely do either, and a verb put in another's slot is a rewording, not a misplaced term."""
    return any(
        s == word_stem and (k == 0 or words[k - 1][0] in _DETERMINERS)
        for words in sentences
        for k, (_, s) in enumerate(words)
    )


def _slot_swaps(
    said: Sequence[tuple[str, str]],
    sentence: Sequence[str],
    near: set[str],
    passage: set[str],
    whole: set[str],
    sentences: Sequence[Run],
) -> list[str]:
    """The clause's terms that ``sentence`` has another term in place of (see ``misplaced``)."""
    mine = [s for _, s in said]
    out = []
    for i, (word, s) in enumerate(said):
        if s not in passage or s in near:
            continue
        for k, x in enumerate(sentence):
            if x in whole or x.startswith(s) or s.startswith(x):  # the same word inflected ("fits", "fit")
                continue
            left = i > 0 and k > 0 and mine[i - 1] == sentence[k - 1]
            right = i + 1 < len(mine) and k + 1 < len(sentence) and mine[i + 1] == sentence[k + 1]
            if (left or right) and _siblings({s}, {x}, sentences) and _nounish(s, sentences) and _nounish(x, sentences):
                out.append(f"{word} where the passage sentence says {x}")
                break
    return out


# -- polarity, quantifiers and direction: what a claim asserts of the passage clause it restates ----------------


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that make a universal claim, by kind, and the words that back each kind in a passage clause: a claim
# with one restates a clause that has a backing word, or it overstates the passage ("usually" → "always",
# "a single batch model" → "every batch model"). "each" and "any" back "all" but claim little on their own.
_QUANTIFIERS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "always": (frozenset({"always", "invariably"}), frozenset({"always", "invariably", "whenever", "every"})),
    "never": (frozenset({"never"}), frozenset({"never", "not", "no", "cannot", "nothing", "none"})),
    "all": (
        frozenset({"all", "every", "everyone"}),
        frozenset({"all", "every", "each", "any", "everything", "everyone", "entire", "whole", "both"}),
    ),
    "none": (frozenset({"none", "nothing", "nobody"}), frozenset({"none", "nothing", "nobody", "no", "not"})),
    "only": (
        frozenset({"only", "solely", "exclusively"}),
        frozenset({"only", "solely", "exclusively", "just", "purely", "alone", "simply"}),
    ),
}
# Words that deny without a negation: a clause with one may restate a negated claim ("stops improving" for
# "no longer improves", "instead of learning only from labels" for "not only from labels").
_DENIERS = _wordset(
    "stop stops stopped stopping fail fails failed lack lacks lacking instead rather unlike avoid avoids prevent "
    "prevents absent missing unable off free rarely seldom hardly little few fewer less"
)
# Words of direction: a clause that restates "X grows with Y" as "X shrinks with Y" flips one of them.
_UP = _wordset(
    "increase increases increased increasing more higher larger bigger greater grow grows growing rise rises "
    "raise raises faster longer"
)
_DOWN = _wordset(
    "decrease decreases decreased decreasing less fewer lower smaller shrink shrinks shrinking fall falls "
    "reduce reduces reduced reducing worsen worsens slower shorter"
)
ALIGN_CLAUSE = 0.5  # share of a claim clause's content words a passage clause must hold to be what it restates
_CONTENT_SKIP = _NEGATIONS | {w for pair in _QUANTIFIERS.values() for forms in pair for w in forms} | _UP | _DOWN


def _clause_words(text: str) -> list[list[str]]:
    """The clauses of ``text`` (split at ; : , while whereas), each as its lower-cased words."""
    return [w for w in (_lower_words(part) for part in _CLAUSE.split(text) if part) if w]


def _meaning(words: Sequence[str]) -> set[str]:
    """Content stems of a clause, without its negations, quantifiers and direction words (what a flip keeps)."""
    return {stem(w) for w in words if w not in STOPWORDS and w not in _CONTENT_SKIP and not w.isdigit()}


def _restated(claim: Sequence[str], units: Sequence[Sequence[str]]) -> list[Sequence[str]]:
    """The passage clauses that ``claim`` (one clause) restates: those holding the largest share, at least
    ``ALIGN_CLAUSE`` and two words, of its content stems, and among them the shortest (a clause rather than the
    sentence around it); [] when none does (the clause is a rewrite)."""
    mine = _meaning(claim)
    if len(mine) < 2:
        return []
    shared = [len(mine & _meaning(u)) for u in units]
    best = max(shared, default=0)
    if best < 2 or best < ALIGN_CLAUSE * len(mine):
        return []
    tied = [u for u, n in zip(units, shared, strict=True) if n == best]
    shortest = min(len(u) for u in tied)
    return [u for u in tied if len(u) == shortest]  # the clause itself, not the sentence around it


def _negated(words: Sequence[str]) -> bool:
    return sum(w in _NEGATIONS for w in words) % 2 == 1


def _denies(said: Sequence[str], source: Sequence[str]) -> bool:
    """``said`` negates a word that ``source`` asserts, and ``source`` has no other way to deny it: no negation
    of its own, no denying word ("stops", "instead"), no "un-" form of that word ("unchanged"). The negated word
    is the first content word a negation reaches ("not independent draws"), so "no real training step" says
    nothing against "stores the training data"."""
    if not _negated(said) or any(w in _NEGATIONS or w in _DENIERS for w in source):
        return False
    heads = set()
    for i, w in enumerate(said):
        if w in _NEGATIONS:
            reach = list(said[i + 1 : i + 1 + _NEGATION_REACH])
            heads |= {stem(x) for x in reach[:1] + [x for x in reach if x not in STOPWORDS][:1]}
    heads -= {stem(w) for w in STOPWORDS & set(said)}
    asserted = {stem(w) for w in source if w not in STOPWORDS}
    prefixed = {stem(w[len(p) :]) for w in source for p in ("un", "non", "in", "dis") if w.startswith(p)}
    return bool(heads & asserted) and not heads & prefixed


def _direction(words: Sequence[str]) -> list[str]:
    return ["up" if w in _UP else "down" for w in words if w in _UP or w in _DOWN]


def polarity(claim: str, source_sentences: Sequence[str]) -> list[str]:
    """What a claim flips in the passage clause it restates: a negation added or lost ("should change its
    prediction" for "should not change"), a universal quantifier the clause lacks ("always", "all", "only" where
    it says "usually"), or a direction reversed ("shrinks" where it says "grows"; "increasing it decreases the
    loss" for "increasing it increases the loss"). Each claim clause is compared with the passage clauses that
    hold most of its content words; it is flagged only if it differs from every one of them, so a paraphrase that
    merges or splits clauses, or says "needs no" for "does not need", stays."""
    units = [u for s in source_sentences for u in [_lower_words(s), *_clause_words(s)] if u]
    words = _lower_words(claim)
    found: list[str] = []
    for said in _clause_words(claim):
        restated = _restated(said, units)
        if not restated:
            continue
        if all(_denies(said, u) for u in restated):
            found.append("adds a negation")
        elif not _NEGATIONS & set(words) and all(_denies(u, said) for u in restated):
            found.append("drops a negation")
        for kind, (claims, backs) in _QUANTIFIERS.items():
            word = next((w for w in said if w in claims), "")
            if word and not any(backs & set(u) for u in restated):
                found.append(f'"{word}" where the passage does not say {kind}')
        signs = _direction(said)
        if signs and all(_flipped(signs, _direction(u)) for u in restated):
            found.append("reverses a direction (" + ", ".join(w for w in said if w in _UP or w in _DOWN) + ")")
    # A claim that trades what a passage sentence asserts for what it denies: "a goal to maximise, not a
    # trade-off" for "a trade-off, not a goal to maximise". Parity alone misses it: both have one "not".
    for sentence in source_sentences:
        if _mirrored(claim, sentence):
            found.append("swaps what the passage asserts and what it denies")
            break
    return list(dict.fromkeys(found))


def _flipped(said: Sequence[str], source: Sequence[str]) -> bool:
    """Directions disagree: the same number of direction words in another order or sense, or a sense the
    passage clause never uses."""
    if not source:
        return False
    if len(said) == len(source):
        return list(said) != list(source)
    return bool(set(said) - set(source))


def _mirrored(claim: str, sentence: str) -> bool:
    """The claim asserts, in one clause, a content word the sentence only negates, and negates, in another clause,
    one the sentence only asserts. Within a single clause a moved negation ("copies need not be stored" for "no
    copies need to be stored") is a rewording, not a swap."""

    def sides(text: str) -> list[tuple[set[str], set[str]]]:
        out = []
        for words in _clause_words(text):
            asserted = {stem(w) for w in _asserted(words) if w and w not in STOPWORDS}
            said = {stem(w) for w in words if w not in STOPWORDS and w not in _NEGATIONS}
            out.append((asserted, said - asserted))
        return out

    source = sides(sentence)
    source_yes = {w for yes, _ in source for w in yes}
    source_no = {w for _, no in source for w in no}
    clauses = sides(claim)
    return any(
        yes & (source_no - source_yes) and no & (source_yes - source_no)
        for i, (yes, _) in enumerate(clauses)
        for j, (_, no) in enumerate(clauses)
        if i != j
    )


@dataclass(frozen=True)
class Verdict:
    """The grounding check's decision on one sentence; ``reason`` says why it was dropped ("" when kept)."""

    sentence: str
    kept: bool
    reason: str = ""
    cited: tuple[int, ...] = ()
    support: float = 0.0


class GroundingChecker:
    """Keeps a sentence only if it cites a passage, means what that passage says, and invents no term, number or swap.

    ``lexicon`` holds the stems of the knowledge base's technical terms (entry titles, tags, library names):
    such a word in a sentence must also be in the passages it cites, so "Adam" cannot quietly become "SGD".
    """

    def __init__(
        self,
        embed: Embed,
        lexicon: Iterable[str] = (),
        threshold: float = SUPPORT_THRESHOLD,
        rarity: WordRarity | None = None,
        rare_idf: float = RARE_IDF,
    ) -> None:
        self.embed = embed
        self.rarity = rarity  # None: no rarity check (no notes to measure it on)
        self.rare_idf = rare_idf
        self.lexicon = frozenset(t for t in lexicon if " " not in t)
        self._phrases = sorted(t for t in lexicon if " " in t)  # multi-word terms, as runs of stems
        self.threshold = threshold
        self._cache: dict[str, np.ndarray] = {}

    def _vectors(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if len(self._cache) + len(missing) > CACHE_LIMIT:  # a long-running bot sees endless new sentences
            self._cache.clear()
            missing = list(dict.fromkeys(texts))
        if missing:
            for t, v in zip(missing, self.embed(missing), strict=True):
                self._cache[t] = v
        return np.stack([self._cache[t] for t in texts])

    def support(self, claim: str, passages: Sequence[str]) -> float:
        """The best cosine between the claim and any sentence of the given passages, or two adjacent ones joined
        (a paraphrase may merge them: "X does A. It also does B." → "X does A and B")."""
        sentences = []
        for p in passages:
            own = passage_sentences(p)
            sentences += own + [f"{a} {b}" for a, b in pairwise(own)]
        if not sentences:
            return 0.0
        vectors = self._vectors([claim, *sentences])
        return float(np.max(vectors[1:] @ vectors[0]))

    def unknown_terms(self, claim: str, source: str) -> list[str]:
        """Numbers, code identifiers and technical terms of ``claim`` that ``source`` does not contain."""
        missing: list[str] = []
        numbers = _numbers(source)
        missing += [n for n in sorted(_numbers(claim)) if n not in numbers]
        lowered = source.lower()
        missing += [c for c in sorted(_codes(claim)) if c not in lowered]
        source_stems = {stem(w) for w in _WORD.findall(source)}
        words = _WORD.findall(claim)
        words += [part for w in words if "-" in w for part in w.split("-") if len(part) > 3]  # "gradient-boosted"
        for i, word in enumerate(words):
            technical = bool(_ACRONYM.fullmatch(word)) or (i > 0 and word[:1].isupper()) or stem(word) in self.lexicon
            if technical and stem(word) not in source_stems and word.lower() not in lowered:
                missing.append(word)
        claim_run = " " + " ".join(stem(w) for w in re.findall(r"[a-z][a-z0-9]*", claim.lower())) + " "
        source_run = " " + " ".join(stem(w) for w in re.findall(r"[a-z][a-z0-9]*", lowered)) + " "
        missing += [p for p in self._phrases if f" {p} " in claim_run and f" {p} " not in source_run]
        return list(dict.fromkeys(missing))

    def check(self, sentence: str, passages: Sequence[str]) -> Verdict:
        """Judge one sentence of a generated answer against the numbered ``passages`` ([1] is ``passages[0]``)."""
        cited = citations(sentence)
        if not cited:
            return Verdict(sentence, False, "uncited")
        if any(n < 1 or n > len(passages) for n in cited):
            return Verdict(sentence, False, "cites a passage that does not exist", cited)
        claim = strip_citations(sentence)
        if sum(ch.isalpha() for ch in claim) < 3:
            return Verdict(sentence, False, "no words", cited)
        sources = [passages[n - 1] for n in cited]
        unknown = self.unknown_terms(claim, "\n".join(sources))
        if unknown:
            return Verdict(sentence, False, "not in the cited passages: " + ", ".join(unknown[:3]), cited)
        novel = outside_words(claim, "\n".join(sources))
        if novel:
            return Verdict(sentence, False, "mostly outside the cited passages: " + ", ".join(novel[:4]), cited)
        rare = rare_outside_words(claim, "\n".join(sources), self.rarity, self.rare_idf) if self.rarity else []
        if rare:
            return Verdict(sentence, False, "rare words outside the cited passages: " + ", ".join(rare[:3]), cited)
        source_sentences = [x for p in sources for x in passage_sentences(p)]
        swapped = contradictions(claim, source_sentences)
        if swapped:
            return Verdict(sentence, False, "contradicts the cited passages: " + "; ".join(swapped[:2]), cited)
        flipped = polarity(claim, source_sentences)
        if flipped:
            return Verdict(sentence, False, "flips the cited passage: " + "; ".join(flipped[:2]), cited)
        changed = misaligned(claim, source_sentences) or misplaced(claim, source_sentences)
        if changed:
            return Verdict(sentence, False, "changes a term of the cited passage: " + "; ".join(changed[:2]), cited)
        score = self.support(claim, sources)
        if score < self.threshold:
            return Verdict(sentence, False, f"unsupported ({score:.2f})", cited, score)
        return Verdict(sentence, True, "", cited, score)


_MD = re.compile(r"[*`>#]+|(?<!\w)_+|_+(?!\w)")  # an underscore inside a word is code: ``no_grad`` stays


def passage_sentences(text: str) -> list[str]:
    """A passage's sentences and list items, without Markdown marks (what a claim is compared with)."""
    out: list[str] = []
    for raw in text.splitlines():
        line = _MD.sub("", BULLET.sub("", raw)).strip()
        out += [s.strip() for s in re.split(r"(?<=[.!?;])\s+", line) if len(s.strip()) > 3]
    return out
