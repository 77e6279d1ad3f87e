"""What a question asks for: its kind, its subjects, its parts and the library it names.

Pure rules and small lexicons, so the answer can take the shape that was asked for: steps for a how-to,
both sides for a comparison, every part of a two-part question. Nothing here embeds or searches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from index.text import STOPWORDS

Kind = Literal["explain", "howto", "compare", "multipart", "recommend", "yesno"]

# Chat spellings and slang, rewritten before any rule runs ("diff btw" -> "difference between").
_SLANG = [
    (r"\bwat\b|\bwht\b|\bwaht\b|\bwut\b", "what"),
    (r"\bwhat's\b|\bwhats\b", "what is"),
    (r"\beli5\b", "explain"),
    (r"\bteh\b", "the"),
    (r"\bq\b(?=\s*[:?,]|$)", "question"),  # "quick q: ..."
    (r"\b(?:difrence|diffrence|differnce|diference)\b", "difference"),
    (r"\bhw\b", "how"),
    (r"\bu\b", "you"),
    (r"\br\b", "are"),
    (r"\bur\b", "your"),
    (r"\bpls\b|\bplz\b", "please"),
    (r"\bdiff\b", "difference"),
    (r"\bbtw\b|\bb/w\b", "between"),
    (r"\bv/s\b|\bvs\.|\bversus\b", "vs"),
    (r"\bidk\b", "i do not know"),
    (r"\bim\b|\bi'm\b", "i am"),
    (r"\bdont\b|\bdon't\b", "do not"),
    (r"\bdoesnt\b|\bdoesn't\b", "does not"),
    (r"\bisnt\b|\bisn't\b", "is not"),
    (r"\bcant\b|\bcan't\b", "cannot"),
    (r"\bshd\b|\bshld\b", "should"),
    (r"\bw/\b", "with"),
    (r"\bhow's\b", "how is"),
    (r"\bit's\b|\bits (?=(?:too|very|so|not|really|a|an|the|better|worse|bad|good|ok|okay|fine)\b)", "it is "),
    (r"\bwhy's\b", "why is"),
    (r"\bthx\b|\bty\b", "thanks"),
    (r"\bgonna\b", "going to"),
    (r"\bwanna\b", "want to"),
    (r"\bgotta\b", "have to"),
    (r"\bppl\b", "people"),
    (r"\bprep\b", "prepare"),
    (r"\brn\b", "right now"),
    (r"\b(?:smth|sth)\b", "something"),
    (r"\b(?:bc|cuz|coz)\b", "because"),
    (r"\balgo\b", "algorithm"),
    (r"\balgos\b", "algorithms"),
    (r"\barent\b|\baren't\b", "are not"),
    (r"\bwont\b|\bwon't\b", "will not"),
    (r"\bdidnt\b|\bdidn't\b", "did not"),
    (r"\bwasnt\b|\bwasn't\b", "was not"),
    (r"\bshouldnt\b|\bshouldn't\b", "should not"),
]
_SLANG_RE = [(re.compile(p), r) for p, r in _SLANG]

# The libraries and tools a learner names; the key is how the notes spell it.
LIBRARIES: dict[str, tuple[str, ...]] = {
    "PyTorch": ("pytorch", "torch", "py torch", "pytroch", "nn.module", "dataloader", "cuda"),
    "scikit-learn": ("scikit-learn", "scikit learn", "sklearn", "scikit", "sk-learn"),
    "pandas": ("pandas", "dataframe", "dataframes", "pd.", "groupby"),
    "NumPy": ("numpy", "np.", "ndarray", "num py"),
    "Hugging Face": ("hugging face", "huggingface", "hugging-face", "transformers library", "hf ", "hf's"),
    "Keras": ("keras",),
    "TensorFlow": ("tensorflow", "tensor flow", "tensorflw", "tf.", "tf2"),
    "JAX": ("jax",),
    "XGBoost": ("xgboost", "xgb"),
    "LightGBM": ("lightgbm", "lgbm"),
    "Matplotlib": ("matplotlib", "pyplot", "plt."),
    "seaborn": ("seaborn",),
    "FAISS": ("faiss",),
    "MLflow": ("mlflow",),
    "Docker": ("docker", "dockerfile"),
    "FastAPI": ("fastapi",),
    "Git": ("git ", "github"),
    "Jupyter": ("jupyter", "notebook"),
    "SHAP": ("shap",),
}
# Hugging Face's library is also called "transformers"; only count it when the context says library.
_HF_HINT = re.compile(r"\b(from_pretrained|autotokenizer|automodel|trainer|pipeline\(|the hub)\b")

# A pasted error: a Python exception name, a traceback header, or a CUDA message.
_ERROR = re.compile(
    r"traceback \(most recent call last\)|\b[a-z]*(error|exception)\b:|\bcuda out of memory\b|"
    r"\bexpected all tensors to be on the same device\b|\bmat1 and mat2 shapes\b|\bsize mismatch\b",
    re.I,
)

_RECOMMEND = re.compile(
    r"\b(courses?|books?|textbooks?|tutorials?|resources?|videos?|youtube|playlists?|lectures?|mooc|"
    r"channels?|podcasts?|websites?|sites?|blogs?|newsletters?|curriculum(?! learning)|syllabus|roadmap)\b|"
    r"\bwhere (can|should|do) (i|you|one) (learn|study|start|read)|\brecommend|\bsuggest (a|some|any)\b|"
    r"\bbest (way|place)s? to (learn|study|start)\b|\bwhat should i (read|watch)\b|\blearn .{0,30} from\b|"
    r"\b(good|best|free|decent|solid|gentle|beginner.?friendly) (intro|introduction|primer|starting point|place to start)\b|"
    r"\bcs ?229\b|\bcs ?231n\b|\bfast\.?ai\b|\bandrew ng\b|\bcoursera\b|\budemy\b|\bkaggle learn\b",
)
_HOWTO_EXPLICIT = re.compile(
    r"\bhow (do|can|should|would|to|could|does one|do you|do we|i)\b|\bhow (?:would|should) i\b|"
    r"^(steps|ways?) to\b|\bsteps? (to|for)\b|\b(best|right|easiest|proper|correct) ways? to\b|"
    r"\bis there (a|any) way to\b|"
    r"\bexample (of|for)\b|\bgive me (an? )?(example|code|snippet)\b|\b(snippet|boilerplate)\b|"
    r"^(please )?(show|teach|help) me (how|to)\b|\bi (want|need|am trying|try|tried) to\b|\bhelp me\b",
)
_HOWTO = re.compile(
    _HOWTO_EXPLICIT.pattern + r"|"
    r"\b(implement|code|write|build|set ?up|install|configure|debug|fix|solve|resolve|deploy|serve|"
    r"save|load|move|convert|plot|train|fine-?tune|tune|speed up|profile|reduce|prevent|avoid|handle|"
    r"choose|pick|select|use|apply|compute|calculate|run)\b.{0,60}\b(in|with|using)\b"
)
# "how do transformers work": the learner wants the mechanism, not steps.
_HOW_IT_WORKS = re.compile(
    r"^how (?:do|does|did|is|are) (?!(?:i|you|we|one|u)\b).{1,50}? (?:work|works|function|learn|learns)\b"
)
# Something of the learner's is broken: they want the fix, whatever the wording.
_TROUBLE = re.compile(
    r"\bwhat (?:am i|are we) doing wrong\b|\bwhat (?:do|should|can) i do\b|\bstuck at\b|\bhow (?:do|can) i fix\b|"
    r"\b(?:is not|does not|not|never|won't|will not) (?:going down|decreasing|improving|converging|learning|"
    r"working|changing)\b|\b(?:please|pls|plz|any|need|some|halp) help\W*$|\bany ideas\W*$|^help\W*$"
)
_COMPARE = re.compile(
    r"\b(difference|differences|differ|distinguish|compare|comparison|compared|contrast)\b|"
    r"\bvs\b|\bbetter than\b|\bworse than\b|\binstead of\b|\bor\b.{1,40}\b(better|faster|prefer|choose|pick|use)\b|"
    r"\b(which|what) (one |is better|should i (use|pick|choose|learn))\b|"
    r"\bshould i (use|learn|pick|choose|go with|start with) .{1,30} or\b|"
    r"\b(when|why) (should i )?(use|pick|choose) .{1,40} (over|instead of|rather than)\b|\bdifferent from\b|"
    # "gru or lstm?": two short names and nothing else
    r"^(?!(?:is|are|do|does|can|should|what|how|why|when|where)\b)[\w\-.()]+(?: [\w\-.()]+){0,2} or "
    r"[\w\-.()]+(?: [\w\-.()]+){0,3}\W*$",
)
_YESNO = re.compile(
    r"^(?!(can|could|would) (you|someone|anyone) (please )?(explain|tell|describe|show|help|teach|give|recommend))"
    r"(is|are|was|were|does|do|did|can|could|should|would|will|shall|am|has|have|must|isn't|aren't|"
    r"doesn't|do not|does not)\b|\bshould i\b|\bis it (ok|okay|fine|worth|possible|bad|necessary|true)\b|"
    r"\bworth (it|learning)\b|\bdo i (need|have) to\b",
)
_YESNO_START = re.compile(
    r"^(?!(can|could|would) (you|someone|anyone)\b)(is|are|was|were|does|do|did|can|could|should|would|will|"
    r"am|has|have|must)\b"
)
_QUESTION_WORD = re.compile(
    r"^(what|how|why|when|where|which|who|whom|whose|is|are|was|were|does|do|did|can|could|should|would|"
    r"will|shall|am|has|have|must|explain|describe|define|tell|give|show|list|compare|recommend|suggest|any|"
    r"please|help|teach|name)\b"
)
# Where a question joins two questions: "what is X and how do I Y", "X? also, Y".
_PART_JOIN = re.compile(
    r"\?\s+|;\s*|\.\s+(?=\S)|\s*\b(?:and|also|plus|then|but)\s+(?=(?:also\s+)?(?:how|what|why|when|where|which|"
    r"who|is|are|does|do|can|could|should|would|will|explain|tell|give|show|list|recommend|any)\b)|"
    r",\s*(?:and\s+)?(?:also\s+)?(?=(?:how|what|why|when|where|which|who|can|could|should|does|do|is|are)\b)|"
    r"\s+(?:also|and also|additionally|plus)[,:]?\s+",
    re.I,
)
# A piece that only completes the one before: "X or Y, which one should I use?", "..., what am I doing wrong".
_COMPLETES = re.compile(
    r"^(?:which|what)(?: one)? (?:is better|should i (?:use|pick|choose|go with|learn))\b|"
    r"^what (?:am i|are we) doing wrong\b|^what (?:do|should|can) i do\W*$|^(?:any ideas|help|why|how come)\W*$"
)
# Verbs that open a how-to subject; a pronoun later in the question stands for their object.
ACTION_VERBS = frozenset(
    [
        "save",
        "load",
        "move",
        "convert",
        "plot",
        "train",
        "fine-tune",
        "tune",
        "choose",
        "pick",
        "use",
        "set",
        "reduce",
        "prevent",
        "handle",
        "split",
        "scale",
        "fix",
        "debug",
        "deploy",
        "serve",
        "evaluate",
        "detect",
        "avoid",
        "improve",
        "normalize",
        "initialize",
        "implement",
        "compute",
        "calculate",
        "read",
        "install",
        "freeze",
        "build",
        "write",
        "export",
        "import",
        "encode",
        "clean",
        "run",
        "stop",
        "schedule",
    ]
)
_NUMBERED = re.compile(r"(?:^|\s)(?:\(?\d[.)]|[a-c]\))\s+", re.I)

# Greetings and apologies in front of the question: "hey quick q:", "sorry if this is a dumb question but".
_CHATTER = re.compile(
    r"^(?:(?:hey|hi|hello|yo|ok|okay|so|um|uh|hmm|quick question|question|please|sorry|thanks|thank you|"
    r"noob question|dumb question|stupid question|(?:sorry )?(?:if|for) (?:this is )?(?:a )?(?:dumb|stupid|silly|"
    r"basic|noob) question(?: but)?|speaking of [^,?]{1,40}(?=,))\b[,!:.]*\s*)+",
    re.I,
)
# How a learner wants it said, not what about: "like i'm 5", "in simple terms". Left in, these words pull the
# search towards notes that happen to share them, or push an in-scope question under the confidence bar.
_FILLER = re.compile(
    r"\b(?:like|as if) (?:i'?m|i am|im) (?:5|five|a (?:kid|child|beginner|baby))\b|"
    r"\bin (?:simple|plain|easy|layman'?s?|basic|beginner) (?:terms|english|words|language)\b|"
    r"\b(?:for|to) (?:a )?(?:dummies|dummy|noobs?|newbies?|complete beginners?|total beginners?)\b|"
    r"\b(?:can|could|would) (?:some ?one|any ?one|somebody|anybody) (?:please |pls )?(?=explain|tell|help|show)|"
    r"\b(?:real quick|in a nutshell|briefly|simply|actually|exactly|basically)\b|"
    r"\b(?:like crazy|lol|lmao|tbh|ngl)\b",
    re.I,
)
# "what is", "how do i", ...: stripped to find what a question is about.
_LEAD = re.compile(
    r"^(?:can|could|would) (?:you|someone|anyone) (?:please )?(?:explain|tell me|describe|help me (?:understand)?|"
    r"show me|teach me)(?: how (?:to|do i|i can))?[\s:,]*|"
    r"^(?:(?:show|teach|help) me(?: how)?(?: to)?|give me (?:an? )?(?:example|code|snippet)s? (?:of|for)|"
    r"(?:an? )?examples? (?:of|for)|(?:what is )?(?:the )?(?:best|right|easiest|proper|correct|fastest) ways? to|"
    r"(?:the )?steps to|ways to|i (?:am trying|want|need|tried|try) to|is there (?:a|any) way to)\b[\s:,]*|"
    r"^(?:explain|describe|define|tell me about|what (?:is|are|was|were|does|do)(?: an?| the)?|"
    r"who (?:is|are)|why (?:is|are|does|do|did|would|should)|"
    r"how (?:do|can|should|would|could) (?:i|you|we|one)|how to|how (?:is|are|does|do)|"
    r"when (?:should|do|would|can) (?:i|you|we)|where (?:can|should|do) (?:i|you)|"
    r"is (?:it|there)|are there|should i|do i (?:need|have) to|can i|is|are|does|do|what|how|why)\b[\s:,]*|"
    r"^(?:the )?(?:meaning|point|purpose|intuition|idea|use) (?:of|behind)\s+",
)
_DETERMINER = re.compile(r"^(?:the|a|an|my|our|your|this|that|these|those|some|any)\s+")
_ALIASES = sorted({a.strip().rstrip(".") for names in LIBRARIES.values() for a in names if len(a.strip()) > 2})
_TRAIL = re.compile(
    r"\s+(?:the\s+)?same(?:\s+thing)?\s+as\b.*$|\s+(?:any\s+)?(?:better|worse|faster|slower)\s+than\b.*$|"
    r"\s+(?:that\s+)?(?:i|you|we|a beginner)\s+(?:should|need to|must|have to|ought to)\s+(?:know|learn|study|master)\b.*$|"
    r"\s+(?:in|with|using|for|on|via)\s+(?:" + "|".join(re.escape(a) for a in _ALIASES) + r"|python)\b.*$|"
    r"\s+(?:work|works|do|does|mean|means|help|helps|matter|matters)(?:\s+(?:in|for|with|on|under)\b.*)?$|"
    r"\s+(?:help|helps|hurt|hurts|improve|improves|affect|affects)\s+.*$|\s+(?:is|are)$|"
    r",?\s+(?:what|how) (?:do|should|can|would) i do\b.*$|,?\s+what am i doing wrong\b.*$|"
    r",?\s+(?:help|please|thanks|lol|any ideas|ideas)$|,?\s+how (?:do|can) i fix(?: it| this)?$"
)
_ADVERB = re.compile(r"\b(?:exactly|actually|even|really)\s+")
_COMPARE_SIDES = [
    re.compile(r"\bdifferences? between (?P<a>.+?) (?:and|vs|or|&) (?P<b>.+)$"),
    re.compile(r"\bcompare (?P<a>.+?) (?:and|to|with|vs|against) (?P<b>.+)$"),
    re.compile(r"\b(?P<a>[\w\- .()]+?) vs (?P<b>.+)$"),
    re.compile(r"\bhow (?:does|do|is|are) (?P<a>.+?) differ(?:ent)? from (?P<b>.+)$"),
    re.compile(r"\b(?P<a>[\w\- .]+?) compared (?:to|with) (?P<b>.+)$"),
    re.compile(r"\b(?:is|are) (?P<a>.+?) (?:better|worse|faster|slower) than (?P<b>.+)$"),
    re.compile(r"\b(?:use|pick|choose|learn|prefer) (?P<a>.+?) (?:or|over|instead of|rather than) (?P<b>.+)$"),
    re.compile(r"^(?:which|what)(?: one)? (?:is better|should i use|to use)[,:]? (?P<a>.+?) or (?P<b>.+)$"),
    re.compile(r"^(?P<a>[\w\- .()]{2,40}?) or (?P<b>[\w\- .()]{2,40})(?:\s*[,?!].*)?$"),
]
_SIDE_TAIL = re.compile(
    r"\s*(?:\?|\.(?:\s|$)|!|,).*$|\s+(?:for|in|when|if|on|to)\s+.*$|\s+(?:is|are)\s+(?:better|best|faster)\b.*$|"
    r"\s+(?:what|which|how)\b.*$|\s+first$|"
    r"\s+(?:i|we)\s+(?:always|keep|never|still|just|can|cannot|do|am|get|have|need|want|think|mix|confuse)\b.*$"
)
# The noun two sides share when a learner writes it once, on the second side: "type 1 vs type 2 error".
_SHARED_HEAD = re.compile(
    r"errors?|regulari[sz]ation|norm|normali[sz]ation|search|joins?|loss(?:es)?|encoding|scaling|descent|sampling|"
    r"tests?|pooling|attention|split(?:ting)?|validation|learning|optimi[sz]ers?|distance|decay"
)


def _share_head(a: str, b: str) -> str:
    """Side ``a`` with the head noun it shares with ``b`` ("l1", "l2 regularization" -> "l1 regularization")."""
    wa, wb = a.split(), b.split()
    tail = wb[len(wa) :]
    if wa and 1 <= len(tail) <= 2 and wa[:-1] == wb[: len(wa) - 1] and _SHARED_HEAD.fullmatch(tail[-1]):
        return " ".join([*wa, *tail])
    return a


@dataclass(frozen=True)
class Analysis:
    """What one question asks for."""

    text: str  # the question as asked (cleaned), shown back to the learner
    normalized: str  # lowercase, slang expanded: what the rules read
    kind: Kind
    subjects: tuple[str, ...]  # what it is about; both sides for a comparison
    parts: tuple[str, ...]  # one sub-question each for a multi-part question, else (text,)
    library: str | None  # the library or tool named, spelled as the notes spell it
    pasted_error: bool = False


def normalize(text: str) -> str:
    """Lowercase with chat slang expanded, so the rules see one spelling."""
    out = " ".join(text.lower().split())
    for pattern, repl in _SLANG_RE:
        out = pattern.sub(repl, out)
    return out


# Statistics writes "Type I/II error" where learners type "type 1/2 error".
_TYPE_ERROR = re.compile(r"\btype ([12]|ii?)(?= (?:errors?\b|vs\b|and\b|or\b))", re.I)


def search_text(text: str) -> str:
    """The question as the search should read it: without chatter in front or asks about the wording."""
    stripped = _FILLER.sub(" ", _CHATTER.sub("", text))
    stripped = _TYPE_ERROR.sub(lambda m: f"type {'I' * int(m[1]) if m[1].isdigit() else m[1].upper()}", stripped)
    stripped = re.sub(r"\s+([?.!,])", r"\1", " ".join(stripped.split())).strip(" ,")
    return stripped if sum(ch.isalpha() for ch in stripped) >= 2 else text


def library_named(text: str) -> str | None:
    """The first library the question names, as the notes spell it."""
    low = f" {normalize(text)} "
    best: tuple[int, str] | None = None
    for name, aliases in LIBRARIES.items():
        for alias in aliases:
            pattern = re.escape(alias.strip()) if alias.endswith((".", "(")) else rf"\b{re.escape(alias.strip())}\b"
            match = re.search(pattern, low)
            if match and (best is None or match.start() < best[0]):
                best = (match.start(), name)
    if best is None and re.search(r"\btransformers\b", low) and _HF_HINT.search(low):
        return "Hugging Face"
    return best[1] if best else None


def subject_of(question: str) -> str:
    """The noun phrase a question is about: "how do I reduce overfitting?" -> "reduce overfitting"."""
    error = error_subject(question)
    if error:
        return error
    text = _ADVERB.sub("", _CHATTER.sub("", normalize(question))).strip(" ?!.")
    for _ in range(4):  # "hey, can you explain what is dropout" peels several leads
        stripped = _LEAD.sub("", text, count=1).strip(" ,?")
        if stripped == text:
            break
        text = stripped
    text = _TRAIL.sub("", text)
    text = _DETERMINER.sub("", text)
    return text.strip(" ,?") or normalize(question).strip(" ?!.")


_EXCEPTION = re.compile(r"\b(\w*(?:error|exception))\b:\s*(.+)", re.I)


def error_subject(text: str) -> str | None:
    """A pasted error's subject: its exception and the first clause of its message, without sizes and paths.

    "RuntimeError: CUDA out of memory. Tried to allocate 20 MiB ..." -> "runtimeerror: cuda out of memory".
    """
    matches = list(_EXCEPTION.finditer(" ".join(text.split())))
    if not matches:
        return None
    name, message = matches[-1][1].lower(), matches[-1][2].lower()
    clause = re.split(r"\.\s|[,(!]|:\s", message, maxsplit=1)[0].strip(" .")
    return f"{name}: {clause}" if clause else name


def _compare_sides(text: str) -> tuple[str, str] | None:
    body = text.strip(" ?!.")
    for pattern in _COMPARE_SIDES:
        match = pattern.search(body)
        if match:
            a = _DETERMINER.sub("", _LEAD.sub("", match["a"].strip(" ,")).strip())
            b = _DETERMINER.sub("", _SIDE_TAIL.sub("", match["b"]).strip(" ,"))
            a = re.sub(r"^.*\b(?:between|is|are|use|pick|choose)\s+", "", a) if len(a.split()) > 5 else a
            if a and b and a != b and len(a.split()) <= 6 and len(b.split()) <= 6:
                return _share_head(a.strip(), b.strip()), b.strip()
    return None


_GENERIC = STOPWORDS | {"difference", "differences", "different", "better", "best", "worse", "each", "both", "one"}
_GENERIC |= {"ones", "matter", "matters", "work", "works", "mean", "means", "thing", "things", "example", "examples"}


def _has_content(part: str) -> bool:
    """A topic word of its own, not a fragment like "and why" or "what's the difference?" that finishes the last."""
    if re.search(r"\b(it|this|that|them|they|these|those|one)\b", part):
        return True  # "why does it work?" asks about the first part's subject: a part of its own
    return any(w not in _GENERIC for w in re.findall(r"[a-z0-9]{2,}", part))


def split_parts(text: str) -> list[str]:
    """Cut a multi-part question into its sub-questions, in order; a single question comes back whole."""
    if _ERROR.search(text):  # a pasted traceback is one question however many lines it has
        return [text]
    source = _CHATTER.sub("", " ".join(text.split()))  # the learner's own words, so parts keep their spelling
    numbered = [p.strip(" ,") for p in _NUMBERED.split(source) if p.strip(" ,")]
    pieces = numbered if len(numbered) >= 2 and _NUMBERED.search(source) else _PART_JOIN.split(source)
    parts: list[str] = []
    for raw in pieces:
        piece = (raw or "").strip(" ,.;?")
        if not piece:
            continue
        norm = normalize(piece)
        if parts and (
            not _has_content(norm)
            or _COMPLETES.search(norm)
            or not (_QUESTION_WORD.search(norm) or _HOWTO.search(norm))
        ):
            parts[-1] = f"{parts[-1]} {piece}"  # a fragment belongs to the question before it
        else:
            parts.append(piece)
    if len(parts) >= 2 and not (_QUESTION_WORD.search(normalize(parts[0])) or _HOWTO.search(normalize(parts[0]))):
        # "and with a batch size of 8, should i change the learning rate?": the opening is the condition of the
        # question that follows, not a question of its own
        parts[:2] = [f"{parts[0]}, {parts[1]}"]
    if len(parts) < 2:
        return [text]
    # "what is overfitting and how do I prevent it": the second part's "it" is the first part's subject;
    # "how do I save a model and how do I load it": the object of the first part's verb.
    first = subject_of(parts[0])
    verb, _, rest = first.partition(" ")
    if verb in ACTION_VERBS and rest:
        first = "the " + _DETERMINER.sub("", rest)
    resolved = [parts[0]]
    for part in parts[1:]:
        named = resolve_pronoun(part, first)
        resolved.append(named if named != part else resolve_attribute(part, first))
    return [p if p.endswith("?") else f"{p}?" for p in resolved]


# Nouns that name a property of something rather than a topic: "the rate" alone says nothing about what is asked.
_ATTRIBUTE = re.compile(
    r"\bthe ((?:main |key |best |right |optimal |default |most important )?)(rate|size|value|values|number|"
    r"threshold|default|ratio|probability|formula|range|shape|output|parameters?|hyperparameters?|settings?)\b"
    r"( of\b)?"
)


def resolve_attribute(text: str, subject: str) -> str:
    """A part asking about a property of the first part's subject: "how do I choose the rate" after "what is
    dropout" is about "the dropout rate", "the number of clusters" after "what is k-means" is for k-means.
    Only a short subject the part does not name already is attached."""
    match = _ATTRIBUTE.search(text)
    noun = _DETERMINER.sub("", subject).strip()
    if match is None or not noun or len(noun.split()) > 3 or noun.lower() in text.lower():
        return text
    if match[3] or re.search(r"\b(for|in|of|with)\b", text[match.end() :]):  # "the number of clusters"
        return f"{text.rstrip(' ?')} for {noun}"
    return f"{text[: match.start()]}the {match[1]}{noun} {match[2]}{text[match.end() :]}"


# "one" stands for a noun only when no noun follows it: "does adam need one?", not "one record per line".
ONE = (
    r"one(?!\s+(?!(?:for|of|that|which|with|to|in|on|is|are|was|would|should|could|can|i|you|we|they|from|"
    r"instead|or|and|but|if|when|first|too|here|there|now|please)\b)[a-z])"
)


def resolve_pronoun(text: str, subject: str) -> str:
    """Replace the first pronoun standing for ``subject``: "how do I choose one" -> "how do I choose a learning rate"."""
    match = re.search(rf"\b(it|this|that|them|they|these|those|{ONE}|each|both)\b(?!\s+(?:of|is a|more)\b)", text)
    if match is None:
        return text
    vowel_sound = subject[:1] in "aeiou" and not re.match(r"u(?:ni|s[eu])|eu|one\b", subject)  # "a unit test"
    bare = match[1] != "one" or subject.endswith("s") or _DETERMINER.match(subject)  # "one" -> "the model", not "a the"
    article = "" if bare else ("an " if vowel_sound else "a ")
    return f"{text[: match.start()]}{article}{subject}{text[match.end() :]}"


# "my course mentions it", "in the lecture they said": a resource the learner already has is context, not a request.
_OWN_RESOURCE = re.compile(
    r"\b(?:my|our|this|his|her|their|(?:in|from) (?:the|a|an|my|our|this|class|today.?s))\s+(?:\w+\s+)?"
    r"(?:courses?|books?|textbooks?|tutorials?|videos?|lectures?|class|syllabus|curriculum|notes)\b"
)


def _kind_of(norm: str, raw: str) -> Kind:
    if _ERROR.search(raw):
        return "howto"
    asks = _OWN_RESOURCE.sub(" ", norm)
    if _RECOMMEND.search(asks) and not re.search(r"\bhow (do|does|can) .{0,30}\bwork", norm):
        return "recommend"
    if _COMPARE.search(norm) and _compare_sides(norm):
        return "compare"
    if _HOW_IT_WORKS.search(norm):
        return "explain"
    if _TROUBLE.search(norm) or _HOWTO_EXPLICIT.search(norm):
        return "howto"
    if _YESNO_START.search(norm):  # "can i use sklearn with a gpu": a yes or no, even with a verb and "with"
        return "yesno"
    if _HOWTO.search(norm):
        return "howto"
    if _YESNO.search(norm):
        return "yesno"
    return "explain"


def analyze(text: str) -> Analysis:
    """Work out what ``text`` asks for; never raises."""
    norm = normalize(text)
    library = library_named(text)
    pasted = bool(_ERROR.search(text))
    parts = split_parts(text)
    subjects: tuple[str, ...]
    if len(parts) >= 2:
        topics = tuple(dict.fromkeys(subject_of(p) for p in parts))
        return Analysis(text, norm, "multipart", topics, tuple(parts), library, pasted)
    kind = _kind_of(norm, text)
    if kind == "compare":
        sides = _compare_sides(norm)
        subjects = sides if sides else (subject_of(text),)
        named = {library_named(side) for side in subjects}
        if len(subjects) == 2 and None not in named and len(named) == 2:
            library = None  # "pytorch vs tensorflow": neither side is the one to honour
    else:
        subjects = (subject_of(text),)
    return Analysis(text, norm, kind, subjects, (text,), library, pasted)
