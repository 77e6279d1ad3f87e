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


def test_words_run_together_are_split_or_spelled_out():
    """ "featurescaling" splits into two corpus words; "batchnorm", known from code, is also spelled out."""
    kw = KeywordIndex.build(
        [
            "Feature scaling puts features on one scale; grid search tries every combination.",
            "Batch normalization uses batch statistics; nn.BatchNorm1d is its layer.",
        ]
    )
    assert kw.normalize("why featurescaling") == "why feature scaling"
    assert kw.normalize("batchnorm vs dropout") == "batchnorm batch normalization vs dropout"
    assert kw.split_compound("gridsearch") == "grid search"
    assert kw.split_compound("zebra") is None
    scores, _ = kw.scores(kw.normalize("batchnorm"))
    assert int(scores.argmax()) == 1


def test_the_verb_normalize_also_searches_for_scaling():
    """ "should I normalize my data" reaches the notes' "feature scaling"; the noun "normalization" is left alone."""
    kw = KeywordIndex.build(["Feature scaling puts features on one scale.", "Batch normalization uses batch statistics."])
    assert kw.normalize("should i normalize data") == "should i normalize scale data"
    assert kw.normalize("what is batch normalization") == "what is batch normalization"
    scores, _ = kw.scores(kw.normalize("should i normalize data"))
    assert int(scores.argmax()) == 0
