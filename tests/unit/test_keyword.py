"""The keyword index's query normalizer: typos fixed and learner shorthand spelled out before searching."""

from __future__ import annotations

from index.keyword import KeywordIndex

CORPUS = [
    "Backpropagation applies the chain rule to compute gradients layer by layer.",
    "Precision is the share of flagged examples that are truly positive.",
    "SGD with momentum is a common optimizer for image models.",
]


def test_shorthand_is_spelled_out_and_kept():
    """ "backprop" reaches "backpropagation" (seven edits away, so typo correction cannot), and "sgd" stays."""
    kw = KeywordIndex.build(CORPUS)
    assert kw.normalize("explain backprop") == "explain backprop backpropagation"
    assert kw.normalize("is sgd good?") == "is sgd stochastic gradient descent good?"
    scores, _ = kw.scores(kw.normalize("explain backprop"))
    assert int(scores.argmax()) == 0


def test_typos_are_still_fixed_and_unknown_words_left_alone():
    """A near-miss of a corpus word is corrected; a word close to nothing is kept as typed."""
    kw = KeywordIndex.build(CORPUS)
    assert kw.normalize("what is precison") == "what is precision"
    assert kw.normalize("zebra crossing") == "zebra crossing"
