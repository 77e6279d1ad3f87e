"""Follow-ups rewritten into standalone questions, and the bounds of the in-memory conversation store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.conversation import (
    MAX_AGE,
    MAX_KEY,
    MAX_TURNS,
    ChatMemory,
    Turn,
    check_key,
    needs_context,
    own_words,
    parse_chat_line,
    refers_back,
    rewrite,
)
from bot.domain.errors import InvalidQuestion

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def turn(question: str, standalone: str | None = None, at: datetime = NOW) -> Turn:
    return Turn(question, standalone or question, (), at)


def remember(store: ChatMemory, key: str, question: str, at: datetime = NOW) -> None:
    """Add a turn as if it was asked at ``at``; the store reads the time from its clock."""
    store.clock = lambda: at
    store.remember(key, question, question)
    store.clock = lambda: NOW


def history(*questions: str) -> list[Turn]:
    return [turn(q) for q in questions]


# (earlier question, follow-up, words the rewrite must contain, words it must no longer contain)
FOLLOW_UPS: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
    # Pronouns standing for the earlier subject.
    ("what is a learning rate schedule?", "does adam still need one?", ("adam", "learning rate schedule"), ()),
    ("how do i schedule my learning rate?", "does Adam still need one?", ("adam", "learning rate schedule"), ()),
    ("what is dropout?", "why does that help?", ("why", "dropout", "help"), ()),
    ("what is batch normalization", "where do i put it?", ("where", "batch normalization"), ()),
    ("what is gradient clipping?", "when should i use it", ("when should i use gradient clipping",), ("what is",)),
    ("whats a confusion matrix", "how do i read one?", ("read", "confusion matrix"), ()),
    ("what are embeddings?", "how are they trained?", ("trained", "embeddings"), ()),
    ("how do i prevent overfitting?", "why does that work?", ("work", "overfitting"), ()),
    ("what is the adam optimizer", "is it better than sgd?", ("adam", "sgd"), ()),
    ("what is early stopping?", "can you show me an example of it in pytorch?", ("early stopping", "pytorch"), ()),
    ("what is k-fold cross validation", "how many folds should it use?", ("folds", "cross validation"), ()),
    (
        "what's the difference between adam and sgd?",
        "which one should i use?",
        ("adam", "sgd", "use"),
        ("difference",),
    ),
    ("what is adam?", "how does it compare to rmsprop?", ("adam", "rmsprop"), ()),
    ("is adam better than sgd?", "why is that?", ("why", "adam better than sgd"), ()),
    ("what is dropout?", "thanks! why does that help?", ("why does dropout help",), ("thanks",)),
    # Ellipsis: the same question with a new qualifier.
    ("how do i prevent overfitting in keras?", "in pytorch?", ("overfitting", "pytorch"), ("keras",)),
    ("why does dropout help?", "and in pytorch?", ("how do i use dropout in pytorch",), ("why",)),
    ("how do i pick a learning rate for a cnn?", "and for transformers?", ("learning rate", "transformers"), ("cnn",)),
    (
        "how much gpu memory does fine-tuning bert need?",
        "and with a batch size of 8?",
        ("bert", "batch size of 8"),
        (),
    ),
    (
        "do i need to scale features for logistic regression?",
        "what about random forests?",
        ("scale features", "random forests"),
        ("logistic regression",),
    ),
    ("what is dropout?", "what about batch norm?", ("batch norm",), ("dropout",)),
    ("which metric should i use for classification?", "same for regression?", ("metric", "regression"), ()),
    ("how do i save a model in pytorch", "and in tensorflow?", ("save a model", "tensorflow"), ("pytorch",)),
    ("what is data augmentation?", "examples?", ("example", "data augmentation"), ()),
    ("what is dropout?", "why?", ("why", "dropout"), ()),
    ("how do i tune xgboost", "what about for lightgbm", ("tune", "lightgbm"), ("xgboost",)),
    (
        "what does learning_rate do in xgboost",
        "and how does n_estimators interact with it?",
        ("n_estimators", "learning_rate", "xgboost"),
        (),
    ),
    (
        "what is a unit test",
        "how do i write one for a function that returns a dataframe?",
        ("write a unit test", "dataframe"),
        ("an unit",),
    ),
    (
        "my val loss starts going up after epoch 5 but train loss keeps going down",
        "what should i try first?",
        ("val loss", "try first"),
        (),
    ),
    (
        "my data is 95% class 0, how do i handle that in pytorch",
        "what about a weighted sampler?",
        ("pytorch", "weighted sampler"),
        (),
    ),
    (
        "is weight decay the same thing as l2 regularization?",
        "ok and how do i set it in pytorch?",
        ("weight decay", "pytorch"),
        ("same thing",),
    ),
    (
        "is weight decay the same thing as l2 regularization?",
        "why is that?",
        ("why is weight decay the same thing as l2 regularization",),
        (),
    ),
    (
        "what are the main ml algorithms i should know as a beginner",
        "which one should i learn first?",
        ("ml algorithms", "learn first"),
        ("which a beginner",),
    ),
    (
        "my xgboost model overfits like crazy, train auc 0.99 val 0.70, what knobs do i turn",
        "which one first",
        ("xgboost model overfits", "what knobs do i turn", "which one first"),
        ("which a xgboost",),
    ),
]


@pytest.mark.parametrize(("before", "follow_up", "present", "absent"), FOLLOW_UPS, ids=lambda v: str(v)[:40])
def test_follow_up_is_rewritten_to_stand_alone(before, follow_up, present, absent):
    """A follow-up that leans on the turn before is rewritten to carry that turn's subject."""
    rewritten = rewrite(follow_up, history(before))
    assert rewritten is not None
    low = rewritten.lower()
    assert all(word in low for word in present), rewritten
    assert not any(word in low for word in absent), rewritten
    assert rewritten.endswith("?")


STANDALONE = [
    ("what is dropout?", "what is a confusion matrix?"),
    ("what is dropout?", "how do i load a csv in pandas"),
    ("what is dropout?", "does batch normalization replace dropout?"),
    ("what is dropout?", "is it worth learning tensorflow in 2024?"),
    ("how do i prevent overfitting?", "explain k-means clustering"),
    ("what is a learning rate schedule?", "how do i move my model to the gpu in pytorch"),
    ("what is dropout?", "RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB"),
]


@pytest.mark.parametrize(("before", "question"), STANDALONE, ids=lambda v: str(v)[:40])
def test_standalone_question_is_not_rewritten(before, question):
    """A question with a subject of its own is left alone, even inside a conversation."""
    assert rewrite(question, history(before)) is None
    assert not needs_context(question)


@pytest.mark.parametrize("chatter", ["thanks!", "ok cool", "lol", "great, got it"])
def test_chatter_is_not_bent_into_a_question(chatter):
    """Thanks and small talk after an answer are not rewritten into the previous question."""
    assert rewrite(chatter, history("what is dropout?")) is None


@pytest.mark.parametrize(
    "question",
    [
        "ok unrelated but how do i make my excel charts look nicer for my boss",
        "different question: how do i center a div",
        "btw off topic, what do you think of the new phone",
        "speaking of tuning, how do i tune my piano myself",
    ],
)
def test_a_declared_new_topic_is_not_rewritten(question):
    """ "ok unrelated but…" stands alone: it borrows neither the subject nor the library of the turn before."""
    assert rewrite(question, history("how do i filter rows in pandas")) is None


def test_off_topic_drift_is_not_rewritten():
    """A new off-topic question inside a conversation stays as asked, so the bot can decline it."""
    assert rewrite("what's the best pizza in naples", history("what is dropout?")) is None


def test_off_topic_ellipsis_leaves_its_own_words_for_the_caller_to_vet():
    """'and what about pizza?' is shaped like a follow-up; the module exposes its own words so the caller can decline.

    The rewrite is by shape only. AnswerService.standalone checks own_words against the notes and keeps the
    question as asked when they are unknown, so a drift is never bent into the previous topic.
    """
    assert needs_context("and what about pizza?")
    assert own_words("and what about pizza?") == ["pizza"]


@pytest.mark.parametrize(
    "question",
    [
        "why cant i just call it on the test set too",
        "why do ppl say its bad in deep nets",
        "which one would u pick for a new project",
        "how do they compare on small data",
    ],
)
def test_a_pronoun_with_words_around_it_may_point_back(question):
    """A pronoun can stand for the last subject however long the question; forcing the rewrite resolves it."""
    before = history("whats a sigmoid function")
    assert refers_back(question)
    assert not needs_context(question) or rewrite(question, before) is not None
    forced = rewrite(question, before, force=True)
    assert forced is not None and forced != question


@pytest.mark.parametrize(
    "question", ["is it worth learning rust in 2026", "it depends?", "what number should i put, does 42 matter"]
)
def test_a_pronoun_that_points_at_nothing_does_not_refer_back(question):
    """The "it" of "is it worth…" and "it depends" points at nothing, so the question is never rewritten for it."""
    assert not refers_back(question)


def test_a_chain_of_pronouns_keeps_the_conversations_subject():
    """After "what is tf-idf?" and "the sklearn class for it", the next "it" is tf-idf again, not the class."""
    chain = [turn("what is tf-idf"), turn("whats the sklearn class for it", "what is the sklearn class for tf-idf?")]
    forced = rewrite("is it still worth using now that everyone uses embeddings", chain, force=True)
    assert forced is not None and forced.startswith("is tf-idf still worth using")


def test_what_if_is_asked_about_the_topic_last_cited():
    """ "what if my clusters aren't round blobs?" is asked about the entry the last answer cited, as one question."""
    before = history("why does kmeans give me different clusters every time i run it")
    assert rewrite("what if my clusters arent round blobs", before) is None  # not without the search's say
    forced = rewrite("what if my clusters arent round blobs", before, force=True, topic="k-means clustering")
    assert forced == "what if my clusters are not round blobs in k-means clustering?"
    assert refers_back("what if my clusters arent round blobs")


def test_slang_verb_is_spelled_out_before_rewriting():
    """ "how do i prep for it" resolves "it" and reads "prep" as "prepare", a word the notes use."""
    assert rewrite("how do i prep for it", history("what even is an ml system design interview")) == (
        "how do i prepare for ml system design interview?"
    )


def test_no_history_means_no_rewrite():
    """Without earlier turns there is nothing to resolve, so even 'why does that help?' is left alone."""
    assert rewrite("why does that help?", []) is None


def test_rewrite_builds_on_the_previous_standalone_question():
    """A chain of follow-ups keeps the subject: the last turn's rewritten question is the context."""
    turns = [turn("what is dropout?")]
    second = rewrite("why does it help?", turns)
    assert second is not None and "dropout" in second
    turns.append(turn("why does it help?", second, NOW))
    third = rewrite("in pytorch?", turns)
    assert third is not None
    assert "dropout" in third and "pytorch" in third


def test_memory_keeps_the_latest_turns_only():
    """500 turns in one conversation leave only the last MAX_TURNS in memory."""
    store = ChatMemory(clock=lambda: NOW)
    for i in range(500):
        remember(store, "t", f"question {i}", NOW)
    recent = store.history("t")
    assert [t.question for t in recent] == [f"question {i}" for i in range(500 - MAX_TURNS, 500)]


def test_memory_bounds_the_number_of_conversations():
    """The least recently used conversation is dropped first when the store is full."""
    store = ChatMemory(max_conversations=3, clock=lambda: NOW)
    for key in "abc":
        remember(store, key, f"q {key}")
    remember(store, "a", "q a again")  # "a" is now the most recent; "b" is the oldest
    remember(store, "d", "q d")
    assert store.history("b") == []
    assert [t.question for t in store.history("a")] == ["q a", "q a again"]
    assert len(store.history("c")) == 1
    assert len(store.history("d")) == 1


def test_memory_forgets_turns_older_than_max_age():
    """Turns older than MAX_AGE no longer count as context."""
    store = ChatMemory(clock=lambda: NOW)
    remember(store, "t", "old", NOW - MAX_AGE - timedelta(seconds=1))
    remember(store, "t", "fresh", NOW - timedelta(minutes=5))
    assert [t.question for t in store.history("t")] == ["fresh"]


def test_memory_keeps_interleaved_conversations_apart():
    """Turns added under two ids in alternation come back per id, in order."""
    store = ChatMemory(clock=lambda: NOW)
    for i in range(3):
        remember(store, "x", f"x{i}")
        remember(store, "y", f"y{i}")
    assert [t.question for t in store.history("x")] == ["x0", "x1", "x2"]
    assert [t.question for t in store.history("y")] == ["y0", "y1", "y2"]


def test_forget_forgets_one_conversation():
    """forget(key) drops that conversation and leaves the others."""
    store = ChatMemory(clock=lambda: NOW)
    remember(store, "x", "x")
    remember(store, "y", "y")
    store.forget("x")
    store.forget("never-seen")
    assert store.history("x") == []
    assert len(store.history("y")) == 1


def test_check_key_accepts_a_normal_id():
    """An ordinary conversation id (a thread id, a CLI chat name) comes back stripped."""
    assert check_key(" 123456789012345678 ") == "123456789012345678"
    assert check_key("chat-" + "a" * (MAX_KEY - 5)) == "chat-" + "a" * (MAX_KEY - 5)


@pytest.mark.parametrize("key", ["a" * 10_000, "", "   ", "a" * (MAX_KEY + 1)])
def test_check_key_rejects_oversized_or_empty_ids_with_a_safe_message(key):
    """A 10,000-character (or empty) id is a clear InvalidQuestion whose message is short and safe to show."""
    with pytest.raises(InvalidQuestion) as err:
        check_key(key)
    assert len(err.value.message) < 200
    assert key.strip()[:50] not in err.value.message or not key.strip()


def test_memory_store_itself_trusts_its_callers_with_key_length():
    """The store does not check ids (parse_chat_line runs check_key first) but stays bounded regardless."""
    store = ChatMemory(max_conversations=2, clock=lambda: NOW)
    for i in range(5):
        remember(store, f"{i}" * 10_000, f"q{i}")
    assert len(store.history("4" * 10_000)) == 1
    assert store.history("0" * 10_000) == []


def test_a_json_chat_line_names_its_conversation():
    """A JSON line joins the conversation it names; a plain line is a question of its own."""
    assert parse_chat_line('{"question": "what is dropout?", "conversation": 7}') == ("what is dropout?", "7")
    assert parse_chat_line("what is dropout?") == ("what is dropout?", None)
    assert parse_chat_line('{"question": "hi"}') == ("hi", None)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('{"question": "x"', "not valid JSON"),
        ('{"conversation": "a"}', '"question" string'),
        ('{"question": 3}', '"question" string'),
        ('{"question": null}', '"question" string'),
        ('{"question": "x", "conversation": [1]}', "string or a number"),
        ('{"question": "x", "conversation": "' + "a" * 10_000 + '"}', "at most"),
    ],
)
def test_bad_json_chat_lines_get_a_clear_error(line, says):
    """Broken JSON, a missing or wrong question and an oversized id each raise a short, friendly error."""
    with pytest.raises(InvalidQuestion, match=says) as err:
        parse_chat_line(line)
    assert len(err.value.message) < 200
