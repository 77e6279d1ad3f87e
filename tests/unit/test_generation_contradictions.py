"""The grounding checker's contradiction check: a claim that swaps a term for its opposite is dropped."""

from __future__ import annotations

import pytest

from bot.domain.grounding import GroundingChecker, contradictions, passage_sentences
from index.embedder import HashingEmbedder

EMBEDDING = "An embedding is a learned dense vector. Similar items end up close together."
DISTIL = "Distillation trains a small model to imitate a large model. The goal is a cheaper model."
SEQ2SEQ = "The encoder reads the input sentence and the decoder writes the output sentence one token at a time."


def swaps(claim: str, passage: str) -> list[str]:
    return contradictions(claim, passage_sentences(passage))


def test_a_swapped_term_is_caught_and_named():
    assert swaps("An embedding is a learned sparse vector.", EMBEDDING) == ["sparse (the passage says dense)"]


def test_both_terms_in_the_reverse_roles_are_caught():
    assert swaps("Distillation trains a large model to imitate a small model.", DISTIL) == [
        "large / small in the reverse roles"
    ]


def test_both_terms_used_the_same_way_as_the_passage_are_kept():
    assert swaps("The encoder reads the input, and then the decoder produces the output.", SEQ2SEQ) == []
    assert swaps("Distillation makes a small model imitate a large one.", DISTIL) == []
    assert swaps("Similar items end up close together in a dense vector space.", EMBEDDING) == []


def test_a_term_the_passage_also_uses_is_no_swap():
    passage = "Deep trees overfit, while shallow trees underfit. Boosting stacks shallow trees."
    assert swaps("Boosting stacks many shallow trees.", passage) == []


@pytest.mark.parametrize(
    ("claim", "passage"),
    [
        # the claim negates the opposite term: it agrees with the passage
        ("Linear regression is not an unsupervised method.", "Linear regression is a supervised method."),
        ("The validation loss doesn't decrease any more.", "The validation loss increases after a while."),
        # the passage negates a term: it is no evidence that the opposite is wrong
        ("The loss decreases at every step.", "With a small learning rate the loss does not increase."),
    ],
)
def test_negated_terms_abstain(claim, passage):
    assert swaps(claim, passage) == []


def test_a_negated_claim_is_left_to_similarity_not_called_a_swap():
    # "not supervised" contradicts the passage, but the lexicon only looks for swapped terms; negation abstains
    assert swaps("k-NN is not a supervised method.", "k-NN is a supervised method.") == []


def test_negation_reaches_only_the_next_few_words():
    passage = "The student model is small, and it is not trained on labels alone."
    assert swaps("The student model is large, and it is not trained on labels alone.", passage) == [
        "large (the passage says small)"
    ]


def test_the_checker_drops_a_swap_with_a_reason_before_similarity():
    checker = GroundingChecker(HashingEmbedder().encode, threshold=0.0)
    kept = checker.check("An embedding is a learned dense vector. [1]", [EMBEDDING])
    dropped = checker.check("An embedding is a learned sparse vector. [1]", [EMBEDDING])
    assert kept.kept
    assert not dropped.kept
    assert dropped.reason == "contradicts the cited passages: sparse (the passage says dense)"
