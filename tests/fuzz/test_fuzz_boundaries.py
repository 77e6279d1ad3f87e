"""Property-based fuzzing of every text boundary (issue 11): one clear reply or error per input, never a traceback.

Each boundary gets at least 2,000 generated inputs (``FUZZ_EXAMPLES``): question text through the real model,
uploads through the import parser, and knowledge files through the loader. The invariant is the same everywhere:
the input ends in a result or in the boundary's typed, user-facing error, the output is valid UTF-8, and
nothing can ping (no ``@everyone``, ``@here`` or ``<@id>`` appears that was not typed).
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.content import load_knowledge, parse_entry
from bot.domain.errors import InvalidQuestion
from bot.domain.uploads import MAX_FILE_BYTES, parse_uploads
from bot.inputs import json_line, repair
from tests.fuzz.conftest import EXAMPLES, record

FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
MENTION = re.compile(r"@everyone|@here|<@[!&]?\d+>")

# Any code point, lone surrogates and control characters included; sometimes a long paste.
ANY_TEXT = st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=300)
QUESTIONS = st.one_of(
    ANY_TEXT,
    st.builds(lambda s, n: (s or "what is overfitting? ") * n, ANY_TEXT, st.integers(1, 100_000 // 20)).map(
        lambda s: s[:100_000]
    ),
    st.sampled_from(["@everyone what is dropout?", "<@123> overfitting", "\x00\x1b[31m", "\ud800", "?" * 100_000]),
)


@pytest.fixture(scope="module")
def answers(shipped_service):
    """The shipped answering service over the session's real model (built once)."""
    return shipped_service.answer_service(lambda message: None)


@pytest.mark.model
def test_question_text(answers):
    """Any question text (surrogates, control characters, 100k characters) gets an answer or a typed refusal."""

    @FUZZ
    @given(QUESTIONS)
    def check(text: str) -> None:
        try:
            answer = answers.ask(repair(text))
        except InvalidQuestion as exc:
            refusal = exc.message
        else:
            refusal = None
        if refusal is not None:
            assert refusal.strip()
            record("question text (real model)", "refused with a message")
            return
        payload = json_line(answer.to_json()).decode("utf-8")  # valid UTF-8, always
        json.loads(payload)
        assert not MENTION.search(answer.answer) or MENTION.search(text)
        record("question text (real model)", "declined" if answer.abstained else "answered")

    check()


FILE_NAMES = st.sampled_from(["a.md", "b.yaml", "c.yml", "d.txt", "e.MD", "../../etc/passwd.yaml", "\udcff.md"])
YAML_BITS = st.sampled_from(
    ["id: x\n", "&a [1]\n", "*a\n", "items:\n  - id: q\n", "resources: [", "---\n", "title: T\n", "{" * 60, ": :"]
)
UPLOAD_BYTES = st.one_of(
    st.binary(max_size=2000),
    st.lists(YAML_BITS, max_size=12).map(lambda parts: "".join(parts).encode()),
    ANY_TEXT.map(
        lambda t: ("---\nid: concept-x\ntitle: X\nskill: math\nlevel: beginner\n---\n# X\n## A\n" + t).encode(
            "utf-8", "surrogatepass"
        )
    ),
)


def test_uploads():
    """Any upload (bytes, YAML fragments, aliases, front matter with garbage) is parsed or refused with file:line."""

    @FUZZ
    @given(st.lists(st.tuples(FILE_NAMES, UPLOAD_BYTES), min_size=1, max_size=3))
    def check(files: list[tuple[str, bytes]]) -> None:
        upload = parse_uploads(files)
        for problem in upload.problems:
            assert re.match(r"^[^\n]*:\d+: ", problem), problem
            problem.encode("utf-8", "surrogateescape")
        record("uploads", "refused with file:line" if upload.problems else "accepted")

    check()


def test_oversized_upload_never_parsed():
    """An upload over the limit is refused from its length alone."""
    upload = parse_uploads([("big.md", b"x" * (MAX_FILE_BYTES + 1))])
    assert len(upload.problems) == 1 and "limit" in upload.problems[0]


def test_knowledge_entries():
    """Any Markdown entry text is parsed into an entry or into file:line problems, never an exception."""

    @FUZZ
    @given(st.one_of(ANY_TEXT, UPLOAD_BYTES.map(lambda b: b.decode("utf-8", "replace"))))
    def check(text: str) -> None:
        problems: list[str] = []
        entry = parse_entry(text, "concepts/x.md", "concepts", problems)
        assert (entry is None) == bool(problems) or entry is None
        record("knowledge entries", "valid" if entry else "problems")

    check()


def test_knowledge_folder(tmp_path_factory):
    """Any bytes written as a concept or quiz file are loaded or reported; the loader never raises."""
    root = tmp_path_factory.mktemp("fuzzkb")
    (root / "concepts").mkdir()
    (root / "quiz").mkdir()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(UPLOAD_BYTES, st.sampled_from(["concepts/x.md", "quiz/x.yaml"]))
    def check(raw: bytes, name: str) -> None:
        for old in [*root.glob("*/*")]:
            old.unlink()
        (root / name).write_bytes(raw)
        kb = load_knowledge(root)
        record("knowledge files", "problems" if kb.problems else "valid")

    check()
