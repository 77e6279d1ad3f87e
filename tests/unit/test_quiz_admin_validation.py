"""Quiz item ids and validation for moderators' own items, without storage."""

from bot.domain.quiz_admin import InvalidQuizItem, validate_item
from bot.domain.uploads import slugify

GOOD = {
    "id": "guild-what-is-a-tensor",
    "skill": "math",
    "topic": "tensors",
    "difficulty": 2,
    "prompt": "What is a tensor in deep learning code?",
    "options": ["An n-dimensional array", "A loss", "An optimizer", "A layer"],
    "answer": 0,
    "explanation": "Frameworks call their n-dimensional arrays tensors.",
    "source": "skill-math",
}


def test_slug_is_a_valid_short_id() -> None:
    """Slugs keep lowercase words joined by dashes, are capped at 40 characters and never end in a dash."""
    assert slugify("What's  a TENSOR, really?") == "what-s-a-tensor-really"
    assert slugify("x" * 39 + " yz") == "x" * 39
    assert slugify("¿¡!") == "item"


def test_valid_item_passes_the_kb_schema() -> None:
    """An item that `studybot kb validate` would accept validates without problems."""
    item, problems = validate_item(GOOD)
    assert item is not None and problems == []


def test_problems_are_named_after_the_form_fields() -> None:
    """Schema errors name question, choices, answer_index and source_id, as the moderator typed them."""
    bad = GOOD | {"prompt": "Short", "options": ["a", "A", "b", "c"], "answer": 4, "source": "Not An Id"}
    item, problems = validate_item(bad)
    assert item is None
    fields = sorted(p.split(":")[0] for p in problems)
    assert fields == ["answer_index", "choices", "question", "source_id"]
    assert any("distinct" in p for p in problems)
    message = InvalidQuizItem(problems).message
    assert message.startswith("That quiz item can't be saved yet (4 problem(s))") and "• choices" in message
