"""The polarity, quantifier, direction and reversed-role rules of the grounding check (pure logic, no model)."""

from __future__ import annotations

from bot.domain.grounding import GroundingChecker, misaligned, passage_sentences, polarity
from index.embedder import HashingEmbedder

AUGMENT = (
    "Data augmentation teaches the model which variations should not change its prediction. "
    "Augmentation is normally applied on the fly, so no augmented copies need to be stored."
)
SERIES = "Forecast uncertainty grows with the horizon. A single batch model usually does not need a feature store."
CALCULUS = "A positive derivative means increasing the parameter increases the loss, so gradient descent decreases it."
RECSYS = (
    "Collaborative filtering uses the interaction history of many users. "
    "Content-based recommendation uses item attributes such as genre."
)


def flips(claim: str, passage: str) -> list[str]:
    return polarity(claim, passage_sentences(passage))


def test_a_dropped_negation_is_a_flip() -> None:
    """A claim that restates a negated passage clause without its negation is flagged."""
    assert flips("Data augmentation teaches the model which variations should change its prediction.", AUGMENT)


def test_an_added_negation_is_a_flip() -> None:
    """A claim that negates what the restated passage clause asserts is flagged."""
    assert flips("Forecast uncertainty does not grow with the horizon.", SERIES)


def test_a_negation_restated_in_other_words_is_kept() -> None:
    """ "Needs no X" for "does not need X", and "stops improving" for "no longer improves", are not flips."""
    assert flips("Augmentation is applied on the fly, and augmented copies need not be stored.", AUGMENT) == []
    assert (
        flips(
            "Training ends once validation loss no longer improves.",
            "Training ends once validation loss stops improving.",
        )
        == []
    )


def test_a_negation_elsewhere_in_the_passage_sentence_is_not_a_flip() -> None:
    """A passage negation that reaches none of the claim's words ("no real training step") does not count."""
    passage = "k-NN is a lazy learner because there is no real training step; fitting stores the training data."
    assert flips("Fitting k-NN stores the training data.", passage) == []


def test_a_universal_quantifier_the_passage_lacks_is_flagged() -> None:
    """ "Every" or "always" where the restated clause says "a single" or "usually" overstates the passage."""
    assert any("every" in f for f in flips("Every batch model needs a feature store.", SERIES))


def test_a_backed_quantifier_is_kept() -> None:
    """A quantifier the passage clause also has (or an equivalent, "each" for "every") is no flip."""
    passage = "Each example lands in the validation fold exactly once."
    assert flips("Every example lands in the validation fold exactly once.", passage) == []


def test_a_reversed_direction_is_flagged() -> None:
    """ "Shrinks" where the passage says "grows" reverses a direction."""
    assert any("direction" in f for f in flips("Forecast uncertainty shrinks with the horizon.", SERIES))


def test_directions_swapped_within_a_clause_are_flagged() -> None:
    """ "Increasing it decreases the loss" for "increasing it increases the loss": same words, another order."""
    claim = "A positive derivative means increasing the parameter decreases the loss, so gradient descent increases it."
    assert flips(claim, CALCULUS)
    assert flips(CALCULUS, CALCULUS) == []


def test_asserted_and_denied_swapped_is_flagged() -> None:
    """A claim asserting what the sentence denies and denying what it asserts is flagged, though both have one "not"."""
    passage = "Inductive bias is a trade-off, not something to maximise."
    assert any("asserts" in f for f in flips("Inductive bias is something to maximise, not a trade-off.", passage))


def test_terms_swapped_across_clauses_are_reversed_roles() -> None:
    """One clause putting A where its sentence says B and another putting B for A is caught as reversed roles."""
    claim = "Content-based recommendation uses the interaction history of many users, while collaborative filtering uses item attributes."
    assert any("reverse roles" in f for f in misaligned(claim, passage_sentences(RECSYS)))
    assert (
        misaligned("Collaborative filtering uses the interaction history of many users.", passage_sentences(RECSYS))
        == []
    )


def test_the_checker_drops_a_flip_with_its_reason() -> None:
    """GroundingChecker drops a polarity flip even at similarity threshold 0, and says why."""
    checker = GroundingChecker(HashingEmbedder().encode, threshold=0.0)
    verdict = checker.check(
        "Data augmentation teaches the model which variations should change its prediction. [1]", [AUGMENT]
    )
    assert not verdict.kept and verdict.reason.startswith("flips the cited passage")


def test_similarity_reaches_two_adjacent_sentences() -> None:
    """Support is measured against adjacent passage sentences joined, so a merging paraphrase can match both."""
    checker = GroundingChecker(HashingEmbedder().encode, threshold=0.0)
    merged = "Collaborative filtering uses the interaction history of many users. Content-based recommendation uses item attributes such as genre."
    assert checker.support(merged, [RECSYS]) > checker.support(merged, [RECSYS.split(". ", maxsplit=1)[0]])
