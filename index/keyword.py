"""BM25 keyword search (bm25s) with stemming and cheap typo tolerance."""

from __future__ import annotations

import json
import sys
import threading
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from index.text import STOPWORDS, keyword_tokens

_STOP = STOPWORDS

# Shorthand learners type that neither BM25 nor typo correction can reach ("backprop" is seven edits from
# "backpropagation"). Only unambiguous expansions: "lr", "cv" or "mle" could mean several things, so they stay.
ABBREVIATIONS = {
    "backprop": "backpropagation",
    "hyperparam": "hyperparameter",
    "hyperparams": "hyperparameters",
    "param": "parameter",
    "params": "parameters",
    "convnet": "convolutional neural network",
    "convnets": "convolutional neural networks",
    "nn": "neural network",
    "nns": "neural networks",
    "dnn": "deep neural network",
    "sgd": "stochastic gradient descent",
    "grad": "gradient",
    "grads": "gradients",
    "regularisation": "regularization",
    "normalisation": "normalization",
    "optimiser": "optimizer",
    "optimisers": "optimizers",
    "tokenisation": "tokenization",
    "tokeniser": "tokenizer",
    "finetune": "fine-tune",
    "finetuning": "fine-tuning",
    "finetuned": "fine-tuned",
    "sklearn": "scikit-learn",
    "hf": "Hugging Face",
    "dl": "deep learning",
    "rl": "reinforcement learning",
    "nlp": "natural language processing",
    "eda": "exploratory data analysis",
    # Terms run together as learners type them. The corpus knows some of these spellings from code
    # (nn.BatchNorm1d), so typo correction leaves them alone, yet the notes' prose spells them apart.
    "batchnorm": "batch normalization",
    "layernorm": "layer normalization",
    "groupnorm": "group normalization",
    "learningrate": "learning rate",
    "crossval": "cross-validation",
    "crossvalidation": "cross-validation",
    "earlystopping": "early stopping",
    "selfattention": "self-attention",
    "deeplearning": "deep learning",
    "minibatch": "mini-batch",
    "minibatches": "mini-batches",
    "onehot": "one-hot",
    "gridsearch": "grid search",
    "randomforest": "random forest",
    "logreg": "logistic regression",
    "xgb": "XGBoost",
    # ML slang
    "knobs": "hyperparameters",
    "knob": "hyperparameter",
    "val": "validation",
    "acc": "accuracy",
    "perf": "performance",
    # "Should I normalize my data?" is the notes' "feature scaling"; the noun "normalization" (batch or layer
    # normalization) is not expanded.
    "normalize": "scale",
    "normalise": "scale",
    "normalizing": "scaling",
    "normalising": "scaling",
    "lgbm": "LightGBM",
}


_local = threading.local()  # one stemmer per thread: PyStemmer does not say its stemmers are thread-safe


@lru_cache(maxsize=2048)
def _analysed(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(stems, surface words of 2+ letters) of one text, stop words left out.

    Cached: a server's index is the shipped chunks plus a few, so each of its rebuilds would otherwise
    tokenize and stem the whole shipped knowledge base again (most of a publish's time in another process).
    Interned, the words of the cached texts are shared rather than copied per text.
    """
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    words = [w for w in keyword_tokens(text) if w not in _STOP]
    stems = tuple(sys.intern(s) for s in stemmer.stemWords(words))
    return stems, tuple(sys.intern(w) for w in words if len(w) > 1)


class KeywordIndex:
    """BM25 over stemmed words; query words not in the corpus are snapped to a close corpus word."""

    def __init__(self, bm25: bm25s.BM25, vocabulary: list[str]) -> None:
        self.bm25 = bm25
        self.vocabulary = vocabulary  # surface words of the corpus, for typo correction
        self._known = frozenset(vocabulary)
        self._stemmer = Stemmer.Stemmer("english")

    @classmethod
    def build(cls, texts: list[str]) -> KeywordIndex:
        analysed = [_analysed(t) for t in texts]
        bm25 = bm25s.BM25()
        bm25.index([list(stems) for stems, _words in analysed], show_progress=False)
        vocabulary = sorted({w for _stems, words in analysed for w in words})
        return cls(bm25, vocabulary)

    def save(self, directory: Path) -> None:
        self.bm25.save(str(directory), show_progress=False)
        (directory / "vocabulary.json").write_text(json.dumps(self.vocabulary))

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex:
        bm25 = bm25s.BM25.load(str(directory), show_progress=False, verbosity=0)
        vocabulary = json.loads((directory / "vocabulary.json").read_text())
        return cls(bm25, vocabulary)

    def correct(self, word: str) -> str | None:
        """The corpus word this query word was probably meant to be, or None if it is not close to any.

        Only words of 5+ letters are corrected (one edit, two from 8 letters): short words have too
        many near neighbours ("tank" is one edit from "rank"), so correcting them invents topics.
        """
        if word in self._known:
            return word
        if len(word) < 5 or not word.isalpha():
            return None
        budget = 1 if len(word) < 8 else 2
        match = process.extractOne(word, self.vocabulary, scorer=Levenshtein.distance, score_cutoff=1)
        if match:
            return str(match[0])
        split = self.split_compound(word)
        if split:
            return split
        match = process.extractOne(word, self.vocabulary, scorer=Levenshtein.distance, score_cutoff=budget)
        return match[0] if match else None

    def split_compound(self, word: str) -> str | None:
        """Two corpus words run together, as learners type them: "batchnorm" -> "batch norm".

        Both halves must be corpus words of 3+ letters that are not stop words; of several splits, the most
        even one wins ("layernorm" is "layer norm", not "lay ernorm").
        """
        splits = [
            (word[:i], word[i:])
            for i in range(3, len(word) - 2)
            if word[:i] in self._known and word[i:] in self._known and not {word[:i], word[i:]} & _STOP
        ]
        if not splits:
            return None
        left, right = min(splits, key=lambda s: abs(len(s[0]) - len(s[1])))
        return f"{left} {right}"

    def normalize(self, text: str) -> str:
        """The question with its typos fixed and shorthand spelled out, for both the embedder and BM25
        ("precison" -> "precision", "backprop" -> "backpropagation")."""
        fixed = []
        for word in text.split():
            bare = word.strip(".,;:!?()[]\"'").lower()
            if bare in ABBREVIATIONS:  # the word stays too: the notes may use the short form ("SGD")
                fixed.append(f"{word} {ABBREVIATIONS[bare]}")
                continue
            corrected = self.correct(bare) if bare and bare not in _STOP else None
            fixed.append(corrected if corrected and corrected != bare else word)
        return " ".join(fixed)

    def query_terms(self, text: str) -> list[str]:
        """Stemmed query terms that exist in the index."""
        stems = self._stemmer.stemWords([w for w in keyword_tokens(text) if w not in _STOP])
        vocab = self.bm25.vocab_dict
        return [s for s in dict.fromkeys(stems) if s in vocab]

    def content_words(self, text: str) -> list[str]:
        return [w for w in dict.fromkeys(keyword_tokens(text)) if w not in _STOP and len(w) > 1]

    def known_fraction(self, text: str) -> float:
        """Share of the question's content words that occur in the knowledge base exactly."""
        content = self.content_words(text)
        return sum(w in self._known for w in content) / len(content) if content else 0.0

    def scores(self, text: str) -> tuple[np.ndarray, list[str]]:
        terms = self.query_terms(text)
        n_docs = int(self.bm25.scores["num_docs"])
        if not terms:
            return np.zeros(n_docs, dtype=np.float32), terms
        return np.asarray(self.bm25.get_scores(terms), dtype=np.float32), terms
