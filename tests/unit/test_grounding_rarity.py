"""The rare-outside-word and misplaced-term rules of the grounding check (pure logic, no model)."""

from __future__ import annotations

from bot.domain.grounding import GroundingChecker, WordRarity, rare_outside_words, stem
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
