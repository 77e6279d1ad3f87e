"""Text helpers shared by chunking, keyword search and answer composition."""

from __future__ import annotations

import re
import unicodedata

# Lone surrogates (undecodable bytes smuggled in by surrogateescape) would crash the tokenizer: they go too.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffd]")
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_MD_INLINE = re.compile(r"[*_`]+")
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


def clean(text: str) -> str:
    """Normalise Unicode and strip control characters, so pasted or binary text can't break anything."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def keyword_tokens(text: str) -> list[str]:
    """Words for keyword search: "k-NN" also yields "knn", "k" and "nn", so every spelling matches."""
    out: list[str] = []
    for word in words(text):
        if "-" in word or "'" in word:
            parts = [p for p in re.split(r"[-']", word) if p]
            out.extend(parts)
            if "-" in word:
                out.append("".join(parts))
        else:
            out.append(word)
    return out


# Function words and chat filler that carry no topic. bm25s ships only 33 stopwords.
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "even",
        "ever",
        "every",
        "few",
        "for",
        "from",
        "further",
        "get",
        "gets",
        "getting",
        "got",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "let",
        "like",
        "lot",
        "lots",
        "me",
        "might",
        "more",
        "most",
        "much",
        "must",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "really",
        "same",
        "shall",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "thing",
        "things",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "us",
        "very",
        "was",
        "we",
        "were",
        "what",
        "whats",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "without",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "im",
        "ive",
        "dont",
        "doesnt",
        "isnt",
        "cant",
        "wont",
        "shud",
        "u",
        "ur",
        "pls",
        "plz",
        "please",
        "thanks",
        "thx",
        "lol",
        "hey",
        "hi",
        "hello",
        "ok",
        "okay",
        "want",
        "wanna",
        "gonna",
        "know",
        "tell",
        "explain",
        "mean",
        "means",
        "actually",
        "basically",
        "kind",
        "sort",
        "way",
        "ways",
        "use",
        "using",
        "used",
        "one",
        "ones",
        "something",
        "anything",
        "someone",
        "need",
        "needs",
        "still",
        "always",
        "never",
        "many",
        "much",
        "new",
        "good",
        "best",
        "better",
    ]
)


def strip_markdown(text: str) -> str:
    return _MD_INLINE.sub("", text)


def split_sentences(text: str) -> list[str]:
    """Split Markdown prose into sentences; list items count as sentences of their own."""
    sentences: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln for ln in block.splitlines() if ln.strip()]
        buffer: list[str] = []
        for line in lines:
            if _LIST_ITEM.match(line):
                if buffer:
                    sentences.extend(_SENTENCE_END.split(" ".join(buffer)))
                    buffer = []
                sentences.append(_LIST_ITEM.sub("- ", line).strip())
            else:
                buffer.append(line.strip())
        if buffer:
            sentences.extend(_SENTENCE_END.split(" ".join(buffer)))
    return [clean(s) for s in sentences if clean(s)]


def slug(text: str) -> str:
    return "-".join(words(text))[:60] or "section"
