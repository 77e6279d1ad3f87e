"""Parsing moderators' uploads: the shipped formats, the same schemas, problems as file:line: reason."""

from __future__ import annotations

import textwrap

from bot.domain.content import parse_entry
from bot.domain.uploads import (
    MAX_FILE_BYTES,
    entry_problems,
    guild_doc_id,
    normalize_body,
    parse_uploads,
    render_markdown,
    resolve_sources,
    upstream_id,
)
from tests.helpers import CONCEPT, quiz_upload

ENTRY = CONCEPT.format(slug="attention", title="Attention", body="Attention weighs the inputs by relevance.")

QUIZ = quiz_upload("""\
      - id: q-attention-1
        skill: machine-learning
        topic: attention
        difficulty: 1
        prompt: "What does attention compute over the inputs?"
        options: ["Weights by relevance", "A random mask", "The learning rate", "Batch statistics"]
        answer: 0
        explanation: "Attention scores each input against a query and averages them by those weights."
        source: concept-attention
      - id: q-attention-2
        skill: machine-learning
        topic: attention
        difficulty: 9
        prompt: "Which inputs does self-attention compare each token with?"
        options: ["Only the previous one", "Every token in the sequence", "Only padding", "None of them"]
        answer: 1
        explanation: "Self-attention compares each token with every token of the same sequence, itself included."
        source: concept-attention
    """)

RESOURCES = textwrap.dedent("""\
    id: resources-server
    title: Server resources
    skill: math
    tags: [resources]
    level: beginner
    related: []
    resources:
      - id: res-linear-algebra
        title: Linear Algebra Course
        url: https://example.org/linear-algebra
        kind: course
        skill: math
        level: beginner
        cost: free
        why: A classic course on vectors, matrices and eigenvalues.
        tags: [linear algebra]
    """)


def test_markdown_entry_maps_to_a_server_id_without_its_title_line():
    """A concept file becomes a guild- entry whose body is its sections, the title kept in front matter."""
    upload = parse_uploads([("attention.md", ENTRY.encode())])
    assert upload.problems == []
    (doc,) = upload.docs
    assert (doc.doc_id, doc.kind, doc.title, doc.skill) == ("guild-attention", "entry", "Attention", "machine-learning")
    assert doc.body.startswith("## What is Attention?") and "# Attention\n" not in doc.body
    assert doc.where == "attention.md:2"


def test_resource_and_quiz_files_are_recognised_and_quiz_ids_prefixed():
    """A 'resources:' file yields resources, an 'items:' file quiz items with guild- ids; sources resolve."""
    upload = parse_uploads(
        [("r.yaml", RESOURCES.encode()), ("q.yaml", QUIZ.replace("difficulty: 9", "difficulty: 2").encode())]
    )
    assert upload.problems == []
    assert [(d.doc_id, d.kind, d.url) for d in upload.docs] == [
        ("guild-linear-algebra", "resource", "https://example.org/linear-algebra")
    ]
    assert [q.item.id for q in upload.quiz] == ["guild-q-attention-1", "guild-q-attention-2"]
    resolve_sources(upload, shipped_ids={"concept-overfitting"}, overlay_ids={"guild-attention"})
    assert upload.problems == []
    assert {q.item.source for q in upload.quiz} == {"guild-attention"}


def test_bad_quiz_item_is_reported_at_its_line():
    """A difficulty out of range names the file and the line of that field."""
    upload = parse_uploads([("q.yaml", QUIZ.encode())])
    assert upload.problems == ["q.yaml:20: difficulty: Input should be less than or equal to 3"]
    assert [q.item.id for q in upload.quiz] == ["guild-q-attention-1"]


def test_unknown_quiz_source_is_a_problem_but_shipped_sources_stay():
    """A source that is neither shipped, the server's, nor in the upload is reported; a shipped one is kept."""
    text = QUIZ.replace("difficulty: 9", "difficulty: 2").replace(
        "source: concept-attention\n  - id", "source: concept-overfitting\n  - id"
    )
    upload = parse_uploads([("q.yaml", text.encode())])
    resolve_sources(upload, shipped_ids={"concept-overfitting"}, overlay_ids=set())
    assert upload.problems == ["q.yaml:25: source: unknown id 'concept-attention'"]
    assert upload.quiz[0].item.source == "concept-overfitting"


def test_oversized_binary_and_foreign_files_are_refused_clearly():
    """Too big, NUL bytes, invalid UTF-8, an unknown extension, or YAML of no known shape: one problem each."""
    upload = parse_uploads(
        [
            ("big.md", b"x" * (MAX_FILE_BYTES + 1)),
            ("image.md", b"\x89PNG\x00\x00"),
            ("latin.md", "caf\xe9".encode("latin-1")),
            ("notes.pdf", b"%PDF-1.7"),
            ("other.yaml", b"id: x\ntitle: y\n"),
            ("empty.md", b"  \n"),
        ]
    )
    assert upload.docs == [] and upload.quiz == []
    assert upload.problems == [
        "big.md:1: the file is 1.0 MB; the limit is 1 MB per file",
        "image.md:1: this is a binary file, not text",
        "latin.md:1: not valid UTF-8 text",
        "notes.pdf:1: StudyBot imports .md entries and .yaml resource or quiz files, not this kind of file",
        "other.yaml:1: a YAML upload needs a 'resources:' list (learning resources) or an 'items:' list (quiz)",
        "empty.md:1: the file is empty",
    ]


def test_the_same_id_twice_in_one_upload_is_a_problem():
    """Two files that map to the same server id cannot both be imported."""
    upload = parse_uploads([("a.md", ENTRY.encode()), ("b.md", ENTRY.replace("concept-", "guild-").encode())])
    assert upload.problems == ["b.md:2: id: 'guild-attention' is also defined at a.md:2"]


def test_rendered_entries_parse_back_and_plain_text_gets_a_section():
    """render_markdown writes a valid entry; a modal's plain text becomes one section titled after the entry."""
    body = normalize_body("Beam search", "Keeps the k best partial sequences at each step.")
    assert body == "## Beam search\nKeeps the k best partial sequences at each step."
    problems: list[str] = []
    entry = parse_entry(
        render_markdown("guild-beam-search", "Beam: search", "python", body, ["nlp"]), "x.md", "g", problems
    )
    assert problems == [] and entry is not None
    assert (entry.id, entry.title, entry.tags) == ("guild-beam-search", "Beam: search", ["nlp"])


def test_entry_problems_name_fields_without_a_location():
    """Modal input is checked by the kb schemas; the problems name the field, not a file line."""
    problems = entry_problems("guild-x", "T" * 121, "cooking", "## A\n")
    assert any(p.startswith("title: String should have at most 120 characters") for p in problems), problems
    assert any(p.startswith("skill: Input should be") for p in problems), problems
    assert "section 'A' is empty" in problems


def test_ids_map_between_shipped_and_server_schemes():
    """concept-/skill-/res- ids map to guild- ids and back to the upstream scheme by kind."""
    assert [guild_doc_id(i) for i in ("concept-a", "skill-b", "res-c", "guild-d", "e")] == [
        "guild-a",
        "guild-b",
        "guild-c",
        "guild-d",
        "guild-e",
    ]
    assert upstream_id("guild-a", "entry") == "concept-a"
    assert upstream_id("guild-c", "resource") == "res-c"


def test_server_ids_must_fit_inside_discord_button_ids() -> None:
    """Ids with ':' or too long for a button's custom_id are refused at import, with their file and line."""
    long_slug = "x" * 70
    upload = parse_uploads(
        [
            ("a.md", ENTRY.replace("concept-attention", "concept-ml:attention").encode()),
            ("b.md", ENTRY.replace("concept-attention", f"concept-{long_slug}").encode()),
        ]
    )
    assert upload.problems == [
        "a.md:2: id: 'guild-ml:attention' must be at most 70 lowercase letters, digits and hyphens once prefixed "
        "with 'guild-'",
        f"b.md:2: id: 'guild-{long_slug}' must be at most 70 lowercase letters, digits and hyphens once prefixed "
        "with 'guild-'",
    ]


def test_uploaded_resources_take_the_four_cost_labels_and_refuse_others():
    """Each of free, free-to-audit, freemium and paid is accepted; an old or loose label names its line."""
    for cost in ("free", "free-to-audit", "freemium", "paid"):
        upload = parse_uploads([("r.yaml", RESOURCES.replace("cost: free", f"cost: {cost}").encode())])
        assert upload.problems == [], cost
    upload = parse_uploads([("r.yaml", RESOURCES.replace("cost: free", "cost: free to audit").encode())])
    assert upload.docs == []
    assert len(upload.problems) == 1 and upload.problems[0].startswith("r.yaml:14: cost:"), upload.problems
