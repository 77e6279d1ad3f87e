"""The grounding checker's alignment and outside-word checks: a near-copy of a passage sentence with one term
moved, flipped or renumbered is dropped; a rewording is kept; a claim mostly in other words is outside."""

from __future__ import annotations

import pytest

from bot.domain.grounding import (
    GroundingChecker,
    contradictions,
    misaligned,
    opposed,
    outside_words,
    passage_sentences,
    strip_citations,
)
from index.embedder import HashingEmbedder

DRIFT = (
    "Covariate shift changes the inputs P(x) while P(y | x) stays put. "
    "Label shift changes the class frequencies P(y) while P(x | y) stays put."
)
KNN = "For classification, k-NN returns the majority class; for regression, k-NN returns the average of the targets."
BERT = "BERT is encoder-only. Every token attends to every other token in both directions."
AUTOGRAD = (
    "Each result remembers the function that made it in its `grad_fn` attribute. "
    "The gradient is written into the tensor's `.grad` attribute."
)


def swaps(claim: str, passage: str) -> list[str]:
    return misaligned(claim, passage_sentences(passage))


def test_a_term_moved_into_a_sibling_terms_place_is_caught():
    """'Covariate shift' given label shift's definition: both terms fill the same slot ('… shift') in the passage."""
    claim = "Covariate shift changes the class frequencies P(y) while P(x | y) stays put."
    assert swaps(claim, DRIFT) == ["covariate where the passage says label"]


def test_a_synonym_the_passage_never_uses_is_a_rewording():
    """A new word absent from the passage is not a swap here (the term check and similarity judge it)."""
    assert swaps("Label shift alters the class frequencies P(y) while P(x | y) stays put.", DRIFT) == []


def test_a_verbatim_copy_is_kept_even_when_another_sentence_differs_by_one_term():
    """The regression clause copies its own clause exactly; the classification clause's frame is no evidence."""
    assert swaps("For regression, k-NN returns the average of the targets.", KNN) == []
    assert swaps("For classification, k-NN returns the average of the targets.", KNN) == [
        "classification where the passage says regression"
    ]


def test_a_clause_is_aligned_on_its_own():
    """A claim merging two sentences hides a swap in its shorter clause unless clauses are aligned separately."""
    assert swaps("BERT is decoder-only, and every token attends to every other token.", BERT) == [
        "decoder where the passage says encoder"
    ]


def test_a_changed_number_in_a_copied_frame_is_caught_even_if_the_passage_has_that_number():
    """'bias^3' for 'bias^2' is caught though 'three parts' gives the passage a 3 somewhere."""
    passage = "The expected error splits into three parts: error = bias^2 + variance + noise."
    assert swaps("error = bias^3 + variance + noise.", passage) == ["3 where the passage says 2"]


def test_an_identifier_with_an_underscore_is_one_term():
    """`grad_fn` for `.grad` is a one-term swap, not an inserted word 'fn' (which alignment would ignore)."""
    assert swaps("The gradient is written into the tensor's grad_fn attribute.", AUTOGRAD) == [
        "grad_fn where the passage says grad"
    ]


@pytest.mark.parametrize(
    ("word", "other"),
    [("regularized", "unregularized"), ("overconfident", "underconfident"), ("linear", "nonlinear"),
     ("forward", "backward"), ("forward", "reverse")],
)  # fmt: skip
def test_opposites_by_prefix_or_list(word, other):
    """A negating prefix, over-/under-, or a listed direction pair makes two words opposites."""
    assert opposed(word, other)


def test_a_flipped_prefix_is_caught_without_a_sibling_role():
    """'Regularized' for 'unregularized' is caught by the prefix alone."""
    passage = "Unregularized logistic regression on separable data has no minimiser."
    assert swaps("Regularized logistic regression on separable data has no minimiser.", passage) == [
        "regularized where the passage says unregularized"
    ]


def test_a_voice_change_is_a_rewording():
    """'is assigned' for 'belongs' is kept, though the passage uses 'assigned' next to 'points' as well."""
    passage = "Every point belongs to the cluster with the nearest centroid. The points assigned to it set its mean."
    assert swaps("Every point is assigned to the cluster with the nearest centroid.", passage) == []


def test_an_inflected_form_is_a_rewording():
    """'pretrained' for 'trained' is kept even when both follow 'model' in the passage."""
    passage = "A model trained on one task is reused. The model pretrained on images is reused too."
    assert swaps("A model pretrained on one task is reused.", passage) == []


def test_a_sibling_is_no_swap_while_the_claim_keeps_the_term_it_replaced():
    """A clause rewording 'the opposite direction' as 'against the gradient' keeps 'direction' in another clause."""
    passage = (
        "The gradient points uphill, in the direction in which the loss rises fastest. "
        "The opposite direction points downhill. Gradient descent takes a small step in the opposite direction."
    )
    claim = "Gradient descent takes a small step against the gradient, away from the direction of the fastest rise."
    assert swaps(claim, passage) == []
    assert swaps("Gradient descent takes a small step against the gradient.", passage) == [
        "gradient where the passage says opposite direction"
    ]


def test_two_terms_that_each_open_a_sentence_are_siblings():
    """'Weight sharing' given local connectivity's definition: both terms head an item of the same list."""
    passage = "Local connectivity: each unit sees a small patch. Weight sharing: one filter is reused everywhere."
    assert swaps("Weight sharing: each unit sees a small patch.", passage) == [
        "weight sharing where the passage says local connectivity"
    ]


def test_a_claim_copying_two_sentences_equally_is_kept_if_one_has_no_swap():
    """'L2' copies 'L1 …' with an opposite but 'Ridge …' as closely with a new word: the claim may mean ridge."""
    passage = "L1 regularization shrinks the weights. Ridge regularization shrinks the weights."
    assert swaps("L2 regularization shrinks the weights.", passage) == []
    assert swaps("L2 regularization shrinks the weights.", "L1 regularization shrinks the weights.") == [
        "l2 where the passage says l1"
    ]


def test_forward_and_backward_are_opposites_for_the_contradiction_check():
    """'forward pass' where the passage only says 'backward pass' is a swap."""
    passage = "During the backward pass the gradients are averaged across processes."
    assert contradictions("During the forward pass the gradients are averaged.", passage_sentences(passage)) == [
        "forward (the passage says backward)"
    ]


def test_a_claim_mostly_in_other_words_is_outside():
    """Half or more of the content words absent from the passage: about something it does not say."""
    passage = "A CNN slides small learned filters across its input, so it needs far fewer weights."
    assert outside_words("Max pooling shrinks the spatial resolution of the feature maps.", passage)
    assert outside_words("A CNN slides small learned filters over its input.", passage) == []


def test_the_checker_names_each_new_reason():
    """A swap and an outside claim are dropped with reasons that say which check fired and on what."""
    checker = GroundingChecker(HashingEmbedder().encode, threshold=0.0)
    swapped = checker.check("Covariate shift changes the class frequencies P(y) while P(x | y) stays put. [1]", [DRIFT])
    outside = checker.check("Population stability indices flag drifting features early. [1]", [DRIFT])
    assert swapped.reason == "changes a term of the cited passage: covariate where the passage says label"
    assert outside.reason.startswith("mostly outside the cited passages: population, stability")


def test_stripping_citations_keeps_a_leading_dot_of_code():
    """'.backward()' stays apart from the word before it, so it is read as code found in the passage."""
    assert strip_citations("Calling .backward() on the loss [1] applies the chain rule [1].") == (
        "Calling .backward() on the loss applies the chain rule."
    )


def test_passage_sentences_keep_underscores_inside_identifiers():
    """`torch.no_grad()` keeps its underscore; Markdown emphasis marks are still removed."""
    assert passage_sentences("Use `torch.no_grad()` for _inference_ and **speed**.") == [
        "Use torch.no_grad() for inference and speed."
    ]
