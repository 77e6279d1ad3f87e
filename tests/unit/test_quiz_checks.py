"""The quiz-bank checks: test-taking shortcut shares and near-duplicate grouping, with a fake embedder."""

from __future__ import annotations

import numpy as np

from bot.domain.quiz_checks import (
    MAX_LONGEST_PER_FILE,
    QuizRow,
    check_quiz,
    content_words,
    duplicate_clusters,
    longest_option,
    overlap_option,
    shortcut_shares,
)


def row(n: int, prompt: str, options: tuple[str, ...], answer: int, path: str = "quiz/a.yaml") -> QuizRow:
    return QuizRow(id=f"q-{n}", path=path, line=10 * n, prompt=prompt, options=options, answer=answer)


def topic_embedder(texts: list[str]) -> np.ndarray:
    """A fake: each prompt's vector is its first word's topic; same topic, cosine 1; different, cosine 0."""
    topics = sorted({t.split()[0] for t in texts})
    vectors = np.zeros((len(texts), len(topics)), dtype=np.float32)
    for i, text in enumerate(texts):
        vectors[i, topics.index(text.split()[0])] = 1.0
    return vectors


def test_content_words_drop_case_punctuation_and_stop_words():
    """Content words are lower-case letter/digit runs without stop words or one-letter runs."""
    assert content_words("What does the ReLU's output do for x > 0?") == {"relu", "output"}


def test_longest_option_needs_a_strict_winner():
    """The longest option wins only when no other option has as many characters."""
    assert longest_option(["ab", "abcd", "abc", "a"]) == 1
    assert longest_option(["abcd", "wxyz", "a", "b"]) is None


def test_overlap_counts_shared_content_words_and_ties_do_not_win():
    """The option sharing most content words with the prompt wins; a shared top count wins nothing."""
    prompt = "Why does dropout reduce overfitting in neural networks?"
    assert overlap_option(prompt, ["It adds noise", "Dropout reduces overfitting", "The", "Networks"]) == 1
    assert overlap_option(prompt, ["Dropout helps", "Networks learn", "Faster", "Slower"]) is None
    # Stop words shared with the prompt ("why", "does", "in") are no clue.
    assert overlap_option(prompt, ["why does it", "in", "does", "x"]) is None


def test_shares_count_only_items_whose_key_wins():
    """Shares are the fraction of items whose key is the strict winner of each shortcut."""
    rows = [
        row(1, "Which loss suits regression targets?", ("Mean squared error", "Hinge", "Log", "Zero"), 0),
        row(2, "Which loss suits regression targets?", ("Hinge", "Mean squared error", "Log", "Zero"), 0),
        row(3, "Which rule drives backpropagation?", ("chain rule", "sum of terms", "power law", "L1 norm"), 0),
        row(4, "Pick one", ("aa", "bb", "cc", "dd"), 2),
    ]
    shares = shortcut_shares(rows)
    assert [r.id for r in shares.longest] == ["q-1"]
    assert [r.id for r in shares.overlap] == ["q-3"]
    assert shares.longest_share == 0.25
    assert shares.overlap_share == 0.25


def test_duplicates_group_transitively_and_name_each_member():
    """Prompts above the threshold form one cluster per topic (single linkage); a lone prompt forms none."""
    rows = [
        row(1, "numpy why vectorized code is fast", ("a", "b", "c", "d"), 0, "quiz/ml-stack.yaml"),
        row(2, "mixed precision benefit", ("a", "b", "c", "d"), 0, "quiz/ml-stack.yaml"),
        row(3, "numpy speed of arrays over lists", ("a", "b", "c", "d"), 0, "quiz/python.yaml"),
        row(4, "mixed precision on GPUs", ("a", "b", "c", "d"), 0, "quiz/se.yaml"),
        row(5, "numpy vectorization meaning", ("a", "b", "c", "d"), 0, "quiz/se.yaml"),
        row(6, "bayes theorem", ("a", "b", "c", "d"), 0, "quiz/math.yaml"),
    ]
    clusters = duplicate_clusters(rows, topic_embedder, threshold=0.9)
    assert [[r.id for r in c.rows] for c in clusters] == [["q-1", "q-3", "q-5"], ["q-2", "q-4"]]
    assert all(c.similarity == 1.0 for c in clusters)


def test_check_reports_breaches_with_file_and_line():
    """A file over the key-longest limit and a duplicate pair are findings that start with file:line."""
    rows = [row(n, f"topic{n} question", ("the long right answer", "x", "y", "z"), 0) for n in range(1, 4)]
    rows.append(row(4, "topic1 question again", ("a", "bb", "cc", "dd"), 0, path="quiz/b.yaml"))
    report = check_quiz(rows, topic_embedder)
    assert report.per_file["quiz/a.yaml"].longest_share == 1.0 > MAX_LONGEST_PER_FILE
    assert any(f.startswith("quiz/a.yaml:10: the key is the longest option in 3/3") for f in report.findings)
    assert any(f.startswith("quiz/a.yaml:10: near-duplicate items") and "quiz/b.yaml:40" in f for f in report.findings)
    assert not any(f.startswith("quiz/b.yaml") for f in report.findings)


def test_check_without_embedder_skips_duplicates_only():
    """With no embedder the shortcut checks still run and the report says duplicates were not checked."""
    rows = [row(1, "Which loss suits regression?", ("MSE", "hinge", "log loss", "zero-one"), 0)]
    report = check_quiz(rows, None)
    assert report.duplicates is None
    assert report.findings == []
    assert "near-duplicate clusters not checked" in report.summary()[-1]
