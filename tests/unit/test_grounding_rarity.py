"""The rare-outside-word and misplaced-term rules of the grounding check (pure logic, no model)."""

from __future__ import annotations

from bot.domain.grounding import GroundingChecker, WordRarity, misplaced, passage_sentences, rare_outside_words, stem
from index.embedder import HashingEmbedder

NOTES = [
    "Dropout randomly zeroes activations during training.",
    "Dropout puts noise into training, which guides the network away from co-adaptation.",
    "Weight decay puts a penalty on large weights.",
]
DROPOUT = "Dropout randomly zeroes activations during training."


def test_rarity_ranks_unseen_words_rarest() -> None:
    """A stem no chunk uses is rarer than one chunk's word, which is rarer than two chunks' word."""
    rarity = WordRarity(NOTES)
    assert rarity.idf(stem("toronto")) > rarity.idf(stem("penalty")) > rarity.idf(stem("puts"))


def test_a_single_rare_word_outside_the_passage_is_flagged() -> None:
    """One word the passage lacks and no note uses is enough to flag the claim."""
    rarity = WordRarity(NOTES)
    claim = "Dropout randomly zeroes activations during training in Toronto."
    assert rare_outside_words(claim, DROPOUT, rarity, cut=rarity.idf("toronto")) == ["toronto"]


def test_a_common_synonym_outside_the_passage_is_not_flagged() -> None:
    """A word the passage lacks but the notes use often ("puts") is a paraphrase's word, not flagged."""
    rarity = WordRarity(NOTES)
    claim = "Dropout puts zeroes in activations during training."
    assert rare_outside_words(claim, DROPOUT, rarity, cut=rarity.idf("toronto")) == []


def test_a_rare_word_the_passage_uses_is_not_flagged() -> None:
    """Rarity only counts for words the cited passage does not contain (compared by stem)."""
    rarity = WordRarity(["Co-adaptation is rare."] + NOTES)
    assert rare_outside_words("Dropout zeroes activations at random in training.", DROPOUT, rarity, cut=0.0) == []


def test_the_checker_drops_a_rare_outside_word_only_with_rarity() -> None:
    """GroundingChecker drops a claim with a word the notes never use when given the notes' rarity, and not without."""
    sentence = "Dropout randomly zeroes activations during training, mostly on weekends. [1]"
    plain = GroundingChecker(HashingEmbedder().encode, threshold=0.0)
    rare = GroundingChecker(HashingEmbedder().encode, threshold=0.0, rarity=WordRarity(NOTES), rare_idf=1.0)
    assert plain.check(sentence, [DROPOUT]).kept
    verdict = rare.check(sentence, [DROPOUT])
    assert not verdict.kept and "weekends" in verdict.reason


SERIES = (
    "A series has a few components: a trend, the long-run rise or fall; "
    "seasonality, a pattern that repeats with a fixed period such as a week; "
    "cycles, slower irregular swings such as business cycles."
)
SPLITS = "The validation set is used to tune hyperparameters. The test set is used once, at the end."


def test_a_sibling_term_in_another_terms_slot_is_misplaced() -> None:
    """ "Cycles" put where the restated list item says "seasonality" (same slot, both open an item) is flagged."""
    found = misplaced("Cycles are patterns that repeat with a fixed period.", passage_sentences(SERIES))
    assert found and "season" in found[0]


def test_the_term_in_its_own_sentence_is_not_misplaced() -> None:
    """A claim restating the sentence that holds its own term is not flagged."""
    assert misplaced("Seasonality is a pattern that repeats with a fixed period.", passage_sentences(SERIES)) == []
    assert misplaced("The test set is used only once, at the end.", passage_sentences(SPLITS)) == []


def test_a_determiner_term_swapped_is_misplaced() -> None:
    """ "The test set" where the restated sentence says "the validation set" is flagged."""
    assert misplaced("The test set is used to tune hyperparameters.", passage_sentences(SPLITS))


def test_a_verb_in_another_slot_is_not_misplaced() -> None:
    """A verb swapped for another in the same slot is a rewording: only noun-like terms count."""
    passage = "A Dataset indexes one example. A DataLoader knows batching."
    assert misplaced("A Dataset knows one example.", passage_sentences(passage)) == []
