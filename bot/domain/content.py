"""The knowledge base on disk: schemas, loading, and validation that names file and line.

Markdown entries (skills, concepts) carry YAML front matter; resources and quiz items are YAML files
whose top-level mapping carries the same front-matter fields. Everything is validated with pydantic.
"""

from __future__ import annotations

import ast
import os
import re
import stat
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator, model_validator

from index.chunking import Document


class Skill(StrEnum):
    PYTHON = "python"
    MATH = "math"
    SOFT_SKILLS = "soft-skills"
    ML_STACK = "ml-stack"
    MACHINE_LEARNING = "machine-learning"
    EVALUATION = "evaluation"
    SOFTWARE_ENGINEERING = "software-engineering"

    @property
    def label(self) -> str:
        return SKILL_LABELS[self]


SKILL_LABELS = {
    Skill.PYTHON: "Python",
    Skill.MATH: "Math foundations",
    Skill.SOFT_SKILLS: "Soft skills",
    Skill.ML_STACK: "ML developer stack",
    Skill.MACHINE_LEARNING: "ML and deep learning",
    Skill.EVALUATION: "Model evaluation",
    Skill.SOFTWARE_ENGINEERING: "Software engineering",
}

Level = Literal["beginner", "intermediate", "advanced"]
# What a learner pays. "free-to-audit": the lessons are free, graded work or the certificate is not (Coursera, edX);
# "freemium": a useful free tier with paid extras (Real Python, Colab). Exact labels, because learners filter on them.
Cost = Literal["free", "free-to-audit", "freemium", "paid"]
COST_LABELS: dict[str, str] = {
    "free": "free",
    "free-to-audit": "free to audit",
    "freemium": "freemium",
    "paid": "paid",
}
Id = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[-:][a-z0-9]+)*$", max_length=80)]
Text = Annotated[str, Field(min_length=1)]
SECTION_LIMITS = {"skills": (6, 12), "concepts": (2, 6)}
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})(.*)$")
PYTHON_INFO = ("python", "py", "python3")
RUNNABLE = "runnable"  # ```python runnable: tests/unit/test_note_code.py executes the block


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FrontMatter(_Strict):
    id: Id
    title: Annotated[str, Field(min_length=1, max_length=120)]
    skill: Skill
    tags: list[Annotated[str, Field(min_length=1, max_length=40)]] = []
    level: Level
    related: list[Id] = []


class Resource(_Strict):
    id: Id
    title: Annotated[str, Field(min_length=1, max_length=150)]
    url: HttpUrl
    kind: Literal["docs", "course", "book", "paper", "video", "tutorial", "tool"]
    skill: Skill
    level: Level
    cost: Cost
    why: Annotated[str, Field(min_length=10, max_length=300)]
    tags: list[str] = []

    @property
    def cost_label(self) -> str:
        """The cost as a learner reads it ("free to audit", not the id "free-to-audit")."""
        return COST_LABELS[self.cost]

    @property
    def described(self) -> str:
        """What it is, as a phrase: "a free course", "free documentation", "an advanced book" reads right."""
        if self.kind == "docs":
            return f"{self.cost_label} documentation"
        phrase = f"{self.cost_label} {self.kind}"
        return f"{'an' if phrase[0] in 'aeiou' else 'a'} {phrase}"


class ResourceFile(FrontMatter):
    resources: list[dict[str, Any]]


class QuizItem(_Strict):
    id: Id
    skill: Skill
    topic: Annotated[str, Field(min_length=1, max_length=60)]
    difficulty: Annotated[int, Field(ge=1, le=3)]
    prompt: Annotated[str, Field(min_length=10, max_length=300)]
    options: list[Annotated[str, Field(min_length=1, max_length=100)]]
    answer: Annotated[int, Field(ge=0, le=3)]
    explanation: Annotated[str, Field(min_length=20, max_length=600)]
    source: Id

    @field_validator("options")
    @classmethod
    def _four_distinct(cls, options: list[str]) -> list[str]:
        if len(options) != 4:
            raise ValueError(f"needs exactly 4 options, found {len(options)}")
        if len({o.strip().lower() for o in options}) != 4:
            raise ValueError("options must be distinct")
        return options


class QuizFile(FrontMatter):
    items: list[dict[str, Any]]


class Entry(FrontMatter):
    """A validated Markdown entry with its body."""

    path: str
    body: str
    body_line: int
    sections: list[str]

    @model_validator(mode="after")
    def _no_self_reference(self) -> Entry:
        if self.id in self.related:
            raise ValueError("related: an entry cannot list itself")
        return self


@dataclass
class KnowledgeBase:
    entries: dict[str, Entry] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    resource_paths: dict[str, str] = field(default_factory=dict)
    quiz: dict[str, QuizItem] = field(default_factory=dict)
    quiz_lines: dict[str, tuple[str, int]] = field(default_factory=dict)  # item id -> (file, line of its id)
    problems: list[str] = field(default_factory=list)

    def ids(self) -> set[str]:
        return set(self.entries) | set(self.resources)

    def documents(self) -> list[Document]:
        """What the index searches: every entry, and every resource as a short document of its own."""
        docs = [
            Document(
                id=e.id,
                title=e.title,
                path=e.path,
                body=e.body,
                skill=e.skill.value,
                tags=tuple(e.tags),
                body_line=e.body_line,
            )
            for e in self.entries.values()
        ]
        for r in self.resources.values():
            body = f"{r.title}: {r.described} for learning {r.skill.label} ({r.level}). {r.why}" + (
                f" Topics: {', '.join(r.tags)}." if r.tags else ""
            )
            docs.append(
                Document(
                    id=r.id,
                    title=r.title,
                    path=self.resource_paths[r.id],
                    body=body,
                    skill=r.skill.value,
                    kind="resource",
                    url=str(r.url),
                    tags=tuple(r.tags),
                )
            )
        return docs

    def resources_for(self, skill: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.skill == skill]


# -- YAML with line numbers -----------------------------------------------------------------------
MAX_YAML_DEPTH = 50  # knowledge files nest 3 levels; a deeper file is an attack or an accident
# libyaml's parser (in PyYAML's wheels) reads the knowledge base several times faster than the pure-Python one:
# every start-up loads it, so this is most of the console's start time.
_SafeLoader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class _LineLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """Records where each mapping and each key starts, so errors can name a line."""


def _mark(event: Any) -> yaml.Mark | None:
    """Where an event starts, as the pure-Python error classes expect it (libyaml has its own Mark type)."""
    start = event.start_mark
    return None if start is None else yaml.Mark("", start.index, start.line, start.column, "", 0)


def _refuse_bombs(text: str) -> None:
    """Refuse aliases and deep nesting before anything is built, in one pass over the parser's events.

    Nine nested levels of aliases ("billion laughs") expand 517 bytes into gigabytes, and no knowledge file
    needs one; a ``[[[[...`` file would exhaust the stack. The events come from the same (C) parser as the load.
    """
    depth = 0
    for event in yaml.parse(text, Loader=_SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise yaml.MarkedYAMLError(
                problem=f"aliases (*{event.anchor}) are not allowed; write the value out", problem_mark=_mark(event)
            )
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise yaml.MarkedYAMLError(
                    problem=f"nested more than {MAX_YAML_DEPTH} levels deep", problem_mark=_mark(event)
                )
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    loader.flatten_mapping(node)
    mapping: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.MarkedYAMLError(problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
        lines[str(key)] = key_node.start_mark.line + 1
    mapping["__line__"] = node.start_mark.line + 1
    mapping["__lines__"] = lines
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k not in ("__line__", "__lines__")}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def load_yaml(text: str, where: str, line_offset: int, problems: list[str]) -> Any:
    """YAML with line numbers kept for messages; a syntax error becomes a ``file:line`` problem, not an exception."""
    try:
        _refuse_bombs(text)
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = (mark.line + 1 if mark else 1) + line_offset
        problems.append(f"{where}:{line}: invalid YAML: {exc.problem or exc}")
    except yaml.YAMLError as exc:
        problems.append(f"{where}:{1 + line_offset}: invalid YAML: {exc}")
    return None


def _report(err: ValidationError, data: dict[str, Any], where: str, offset: int, problems: list[str]) -> None:
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        line = data.get("__lines__", {}).get(loc[0], data.get("__line__", 1)) if loc else data.get("__line__", 1)
        field_name = ".".join(loc) or "entry"
        message = e["msg"].removeprefix("Value error, ")
        problems.append(f"{where}:{line + offset}: {field_name}: {message}")


def validate_fields(model: type[BaseModel], data: Any, where: str, offset: int, problems: list[str]) -> Any:
    """``data`` as a ``model``, or None with each wrong field appended to ``problems`` as ``file:line: why``."""
    if not isinstance(data, dict):
        problems.append(f"{where}:{1 + offset}: expected a mapping of fields, found {type(data).__name__}")
        return None
    try:
        return model.model_validate(_strip_lines(data))
    except ValidationError as err:
        _report(err, data, where, offset, problems)
        return None


# -- loading --------------------------------------------------------------------------------------
def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent)) if root.parent != Path("") else str(path)
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class CodeBlock:
    """A fenced code block of a Markdown text, with the line numbers a problem report needs."""

    info: str  # what follows the opening fence, e.g. "python runnable"
    fence_line: int  # the opening fence
    line: int  # the first line of code
    end_line: int  # the closing fence, or the last line if the block is never closed
    code: str
    closed: bool = True

    @property
    def is_python(self) -> bool:
        words = self.info.split()
        return bool(words) and words[0].lower() in PYTHON_INFO

    @property
    def runnable(self) -> bool:
        return self.info.split() == ["python", RUNNABLE]


def code_blocks(text: str, first_line: int = 1) -> list[CodeBlock]:
    """Every fenced block (``` or ~~~, CommonMark rules for closing) in ``text``, whose first line is ``first_line``."""
    blocks: list[CodeBlock] = []
    lines = text.splitlines()
    opened: tuple[str, int, int, str, int] | None = None  # fence char, fence length, indent, info, offset
    body: list[str] = []
    for offset, line in enumerate(lines):
        match = _FENCE.match(line)
        if opened is None:
            if match and not (match.group(2)[0] == "`" and "`" in match.group(3)):
                fence = match.group(2)
                opened = (fence[0], len(fence), len(match.group(1)), match.group(3).strip(), offset)
                body = []
            continue
        char, length, indent, info, start = opened
        if match and match.group(2)[0] == char and len(match.group(2)) >= length and not match.group(3).strip():
            blocks.append(
                CodeBlock(info, first_line + start, first_line + start + 1, first_line + offset, "\n".join(body))
            )
            opened = None
        else:
            body.append(line[min(indent, len(line) - len(line.lstrip())) :])
    if opened is not None:
        char, length, indent, info, start = opened
        last = first_line + max(len(lines) - 1, start)
        blocks.append(CodeBlock(info, first_line + start, first_line + start + 1, last, "\n".join(body), closed=False))
    return blocks


def code_problems(blocks: Iterable[CodeBlock], where: str) -> list[str]:
    """``file:line`` problems for unclosed fences, unknown python options and Python that does not parse."""
    problems: list[str] = []
    for block in blocks:
        if not block.closed:
            problems.append(f"{where}:{block.fence_line}: this code block is never closed (add a line with the fence)")
        if not block.is_python:
            continue
        options = block.info.split()[1:]
        if options and options != [RUNNABLE]:
            problems.append(
                f"{where}:{block.fence_line}: code block '{block.info}': the only option after python is '{RUNNABLE}'"
            )
        if not block.closed:
            continue  # the rest of the note is swallowed into the block; its parse error would only add noise
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. an invalid escape sequence: a style issue, not a parse error
                ast.parse(block.code, filename=where)
        except SyntaxError as exc:
            line = block.line + (exc.lineno or 1) - 1
            problems.append(f"{where}:{line}: python code block does not parse: {exc.msg}")
    return problems


def parse_entry(text: str, where: str, folder: str, problems: list[str]) -> Entry | None:
    """Parse one Markdown entry; append ``file:line`` problems and return None if it is invalid."""
    if "\x00" in text:
        problems.append(f"{where}:1: this is a binary file, not Markdown")
        return None
    match = _FRONT.match(text)
    if not match:
        problems.append(f"{where}:1: missing YAML front matter (a '---' block with id, title, skill, level)")
        return None
    data = load_yaml(match.group(1), where, 1, problems)
    if data is None:
        return None
    before = len(problems)
    meta = validate_fields(FrontMatter, data, where, 1, problems)
    body_line = text[: match.end()].count("\n") + 1
    body = text[match.end() :]
    blocks = code_blocks(body, body_line)
    in_code = {n - body_line for b in blocks for n in range(b.fence_line, b.end_line + 1)}
    sections: list[str] = []
    titles = 0
    current_has_text = True
    section_line = body_line
    for offset, line in enumerate(body.splitlines()):
        if offset in in_code:  # a "# comment" inside a code block is not a heading
            current_has_text = current_has_text or bool(line.strip())
        elif line.startswith("# "):
            titles += 1
        elif line.startswith("## "):
            if not current_has_text:
                problems.append(f"{where}:{section_line}: section '{sections[-1]}' is empty")
            sections.append(line[3:].strip())
            current_has_text = False
            section_line = body_line + offset
        elif line.strip() and not line.startswith("#"):
            current_has_text = True
    if not current_has_text:
        problems.append(f"{where}:{section_line}: section '{sections[-1]}' is empty")
    if titles != 1:
        problems.append(f"{where}:{body_line}: needs exactly one '# ' title line, found {titles}")
    low, high = SECTION_LIMITS.get(folder, (1, 50))
    if not low <= len(sections) <= high:
        problems.append(f"{where}:{body_line}: needs {low}-{high} '## ' sections, found {len(sections)}")
    duplicates = {s for s in sections if sections.count(s) > 1}
    for dup in sorted(duplicates):
        problems.append(f"{where}:{body_line}: the section heading '{dup}' appears more than once")
    problems.extend(code_problems(blocks, where))
    if meta is None or len(problems) > before:
        return None
    return Entry(**meta.model_dump(), path=where, body=body, body_line=body_line, sections=sections)


def _expected_id(folder: str, stem: str) -> str | None:
    return {"skills": f"skill-{stem}", "concepts": f"concept-{stem}"}.get(folder)


def is_folder(path: Path) -> bool:
    """Whether ``path`` is a folder this process can list (``Path.is_dir`` raises when a parent is unreadable)."""
    try:
        return path.is_dir() and os.access(path, os.R_OK | os.X_OK)
    except OSError:
        return False


def load_knowledge(root: Path) -> KnowledgeBase:
    """Load and cross-check everything under ``root``; problems are collected, never raised."""
    kb = KnowledgeBase()
    if not is_folder(root):
        kb.problems.append(
            f"{root}:0: the knowledge folder does not exist or cannot be read (set STUDYBOT_KNOWLEDGE_DIR)"
        )
        return kb
    id_lines: dict[str, str] = {}
    references: list[tuple[str, str, str]] = []  # (where, field, id)

    def claim(identifier: str, where: str) -> None:
        if identifier in id_lines:
            kb.problems.append(f"{where}: duplicate id '{identifier}' (first defined at {id_lines[identifier]})")
        else:
            id_lines[identifier] = where

    for folder in ("skills", "concepts"):
        for path in sorted((root / folder).glob("*.md")):
            where = _display(path, root)
            text = _read(path, where, kb.problems)
            if text is None:
                continue
            entry = parse_entry(text, where, folder, kb.problems)
            if entry is None:
                continue
            expected = _expected_id(folder, path.stem)
            if expected and entry.id != expected:
                kb.problems.append(f"{where}:2: id: '{entry.id}' should be '{expected}' to match the file name")
            claim(entry.id, f"{where}:2")
            kb.entries[entry.id] = entry
            references.extend((f"{where}:2", "related", r) for r in entry.related)

    for path in sorted((root / "resources").glob("*.y*ml")):
        where = _display(path, root)
        header = _load_file(path, where, ResourceFile, kb.problems)
        if header is None:
            continue
        data, head = header
        claim(head.id, f"{where}:{data['__lines__'].get('id', 1)}")
        for raw in data["resources"]:
            resource = validate_fields(Resource, raw, where, 0, kb.problems)
            if resource is None:
                continue
            line = raw["__lines__"].get("id", raw["__line__"])
            claim(resource.id, f"{where}:{line}")
            kb.resources[resource.id] = resource
            kb.resource_paths[resource.id] = where

    prompts: dict[str, str] = {}
    for path in sorted((root / "quiz").glob("*.y*ml")):
        where = _display(path, root)
        header = _load_file(path, where, QuizFile, kb.problems)
        if header is None:
            continue
        data, head = header
        claim(head.id, f"{where}:{data['__lines__'].get('id', 1)}")
        for raw in data["items"]:
            item = validate_fields(QuizItem, raw, where, 0, kb.problems)
            if item is None:
                continue
            line = raw["__lines__"].get("id", raw["__line__"])
            claim(item.id, f"{where}:{line}")
            key = re.sub(r"\W+", " ", item.prompt.lower()).strip()
            if key in prompts:
                kb.problems.append(f"{where}:{line}: prompt: duplicate of the prompt at {prompts[key]}")
            else:
                prompts[key] = f"{where}:{line}"
            references.append((f"{where}:{raw['__lines__'].get('source', line)}", "source", item.source))
            kb.quiz[item.id] = item
            kb.quiz_lines[item.id] = (where, line)

    known = kb.ids()
    for where, field_name, ref in references:
        if ref not in known:
            kb.problems.append(f"{where}: {field_name}: unknown id '{ref}'")
    return kb


MAX_KNOWLEDGE_BYTES = 256_000  # per knowledge file: the largest shipped file is ~70 KB; 5 MB once took 1.4 GB to index


def read_capped(path: Path, limit: int) -> bytes:
    """A regular file's bytes, refusing anything else or anything over ``limit`` before reading it whole.

    Opened non-blocking, so a FIFO (or a device) named like a knowledge file can never hang the reader; the size
    is checked on the open file, so a file swapped in after a check is still caught.
    Raises ``ValueError`` (not regular, too large) with a reason, or ``OSError``.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file (a FIFO, device or socket); skipped")
        if info.st_size > limit:
            raise ValueError(f"the file is {info.st_size:,} bytes; the limit is {limit:,} bytes per file")
        data = fh.read(limit + 1)
    if len(data) > limit:  # it grew while being read
        raise ValueError(f"the file is over {limit:,} bytes; the limit is {limit:,} bytes per file")
    return data


def _read(path: Path, where: str, problems: list[str]) -> str | None:
    try:
        raw = read_capped(path, MAX_KNOWLEDGE_BYTES)
    except ValueError as exc:
        problems.append(f"{where}:1: {exc}")
        return None
    except OSError as exc:
        problems.append(f"{where}:1: cannot read: {exc.strerror or exc}")
        return None
    return decode_text(raw, where, problems)


def decode_text(raw: bytes, where: str, problems: list[str]) -> str | None:
    """UTF-8 text, or None with a ``file:line`` problem for binary or mis-encoded bytes (files and uploads)."""
    if b"\x00" in raw:
        problems.append(f"{where}:1: this is a binary file, not text")
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.append(f"{where}:{line}: not valid UTF-8 text")
        return None


def _load_file(
    path: Path, where: str, model: type[ResourceFile] | type[QuizFile], problems: list[str]
) -> tuple[dict[str, Any], Any] | None:
    text = _read(path, where, problems)
    if text is None:
        return None
    data = load_yaml(text, where, 0, problems)
    if data is None:
        if not any(p.startswith(where) for p in problems):
            problems.append(f"{where}:1: the file is empty")
        return None
    head = validate_fields(model, data, where, 0, problems)
    if head is None:
        return None
    return data, head


def fingerprint(root: Path, folders: Iterable[str] = ("skills", "concepts", "resources")) -> str:
    """A cheap hash of the indexed files' bytes: tells whether the index is stale without parsing."""
    import hashlib

    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted((root / folder).glob("*")):
            try:
                raw = read_capped(path, MAX_KNOWLEDGE_BYTES)
            except (OSError, ValueError) as exc:  # unreadable, too large, or not a file: its state still counts
                try:
                    info = path.lstat()
                except OSError:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    continue
                raw = f"{type(exc).__name__}:{info.st_mode}:{info.st_size}:{info.st_mtime_ns}".encode()
            digest.update(str(path.relative_to(root)).encode() + b"\0" + raw + b"\0")
    return digest.hexdigest()
