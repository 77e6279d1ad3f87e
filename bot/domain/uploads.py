"""The files moderators upload and download: Markdown entries, resource YAML and quiz YAML.

They are the shipped knowledge base's own formats (knowledge/README.md), validated by the same schemas and
reported the same way (``file:line: reason``), so a server's additions can be contributed upstream as they are.
Shipped ids (``concept-x``, ``res-x``) map to server ids (``guild-x``) on the way in and back on the way out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from bot.domain.content import (
    QuizFile,
    QuizItem,
    Resource,
    ResourceFile,
    Skill,
    decode_text,
    load_yaml,
    parse_entry,
    validate_fields,
)
from bot.domain.ports import EntryRecord, QuizOverlayRecord, RevisionRecord

MAX_FILE_BYTES = 1_000_000  # per uploaded file; Discord's own attachment limit is far above what an entry needs
GUILD_PREFIX = "guild-"
_SHIPPED_PREFIXES = ("concept-", "skill-", "res-")
MAX_URL = 500  # the kb_entries.url column
_LOCATION = re.compile(r"^[^\n]*?:\d+: ")
DEFAULT_LEVEL = "beginner"  # kb_entries keeps no level; exports say beginner and a reviewer adjusts it upstream
# Resources keep title, url, skill, "why" and tags; these three fields are exported with neutral defaults.
DEFAULT_RESOURCE = {"kind": "docs", "level": DEFAULT_LEVEL, "cost": "free"}


def slugify(text: str, limit: int = 40, fallback: str = "item") -> str:
    """Lowercase ASCII words joined by hyphens: the shape every server id takes (and Discord buttons accept)."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words)[:limit].strip("-") or fallback


def free_id(wanted: str, taken: Container[str]) -> str:
    """``wanted``, or ``wanted-2``, ``wanted-3``… : the first that is not taken."""
    candidate, n = wanted, 1
    while candidate in taken:
        n += 1
        candidate = f"{wanted}-{n}"
    return candidate


def guild_doc_id(identifier: str) -> str:
    """``concept-x``, ``skill-x`` and ``res-x`` become ``guild-x``; a ``guild-`` id stays as it is."""
    if identifier.startswith(GUILD_PREFIX):
        return identifier
    for prefix in _SHIPPED_PREFIXES:
        if identifier.startswith(prefix):
            return GUILD_PREFIX + identifier.removeprefix(prefix)
    return GUILD_PREFIX + identifier


def guild_item_id(identifier: str) -> str:
    return identifier if identifier.startswith(GUILD_PREFIX) else GUILD_PREFIX + identifier


def stem(doc_id: str) -> str:
    return doc_id.removeprefix(GUILD_PREFIX)


@dataclass(frozen=True)
class UploadedDoc:
    """One entry or resource from an upload, already mapped to its server id."""

    where: str  # "file:line" of its id, for messages about it
    doc_id: str
    kind: Literal["entry", "resource"]
    title: str
    skill: str
    body: str  # an entry's sections (without the "# title" line); a resource's "why"
    url: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class UploadedQuizItem:
    where: str
    item: QuizItem  # its id already carries the guild- prefix; its source is resolved later
    source_where: str


@dataclass
class Upload:
    docs: list[UploadedDoc] = field(default_factory=list)
    quiz: list[UploadedQuizItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# -- Markdown -------------------------------------------------------------------------------------------------


def normalize_body(title: str, body: str) -> str:
    """A body typed into a modal has no headings; give it one section so it is a valid entry as typed."""
    text = body.replace("\r\n", "\n").strip()
    if not any(line.startswith("## ") for line in text.splitlines()):
        text = f"## {title}\n{text}"
    return text


def strip_title(body: str) -> str:
    """An uploaded entry's body without its ``# title`` line: the title lives in the front matter."""
    lines = body.replace("\r\n", "\n").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# "):
            del lines[i]
            break
    return "\n".join(lines).strip()


def render_markdown(
    doc_id: str, title: str, skill: str, body: str, tags: Iterable[str] = (), level: str = DEFAULT_LEVEL
) -> str:
    """An entry as a knowledge file: front matter, one ``#`` title, then its sections."""
    front = {"id": doc_id, "title": title, "skill": skill, "tags": list(tags), "level": level, "related": []}
    header = yaml.safe_dump(front, sort_keys=False, default_flow_style=None, allow_unicode=True, width=1000)
    return f"---\n{header}---\n# {title}\n\n{body.strip()}\n"


def entry_problems(
    doc_id: str, title: str, skill: str, body: str, tags: Iterable[str] = (), where: str = ""
) -> list[str]:
    """Validate an entry as ``studybot kb validate`` would; problems name ``where`` and a line if given."""
    problems: list[str] = []
    parse_entry(render_markdown(doc_id, title, skill, body, tags), where or "entry", "guild", problems)
    return problems if where else [_LOCATION.sub("", p, count=1) for p in problems]


def resource_problems(
    doc_id: str, title: str, skill: str, url: str | None, why: str, tags: Iterable[str] = ()
) -> list[str]:
    problems: list[str] = []
    data = {"id": doc_id, "title": title, "url": url, "skill": skill, "why": why, "tags": list(tags)}
    validate_fields(Resource, data | DEFAULT_RESOURCE, "resource", 0, problems)
    if url and len(url) > MAX_URL:
        problems.append(f"resource:1: url: at most {MAX_URL} characters")
    return [_LOCATION.sub("", p, count=1) for p in problems]


# -- parsing uploads ------------------------------------------------------------------------------------------


def parse_uploads(files: Iterable[tuple[str, bytes]]) -> Upload:
    """Parse and validate every file; problems are collected as ``file:line: reason``, never raised."""
    upload = Upload()
    for given_name, raw in files:
        # A name with undecodable bytes (a surrogate from the file system or Discord's JSON) becomes valid text.
        name = given_name.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        if len(raw) > MAX_FILE_BYTES:
            upload.problems.append(
                f"{name}:1: the file is {len(raw) / 1_000_000:.1f} MB; the limit is {MAX_FILE_BYTES // 1_000_000} MB per file"
            )
            continue
        text = decode_text(raw, name, upload.problems)
        if text is None:
            continue
        if not text.strip():
            upload.problems.append(f"{name}:1: the file is empty")
            continue
        lower = name.lower()
        if lower.endswith((".md", ".markdown")):
            _parse_markdown(name, text, upload)
        elif lower.endswith((".yaml", ".yml")):
            _parse_yaml(name, text, upload)
        else:
            upload.problems.append(
                f"{name}:1: StudyBot imports .md entries and .yaml resource or quiz files, not this kind of file"
            )
    _check_server_ids(upload)
    _check_duplicates(upload)
    return upload


# A server's ids travel inside Discord button ids (at most 100 characters, matched by simple patterns), so they
# are stricter than shipped ids: no ':' and a shorter limit for entries.
_SERVER_DOC_ID = re.compile(r"[a-z0-9-]{1,70}")
_SERVER_ITEM_ID = re.compile(r"[a-z0-9-]{1,80}")


def _check_server_ids(upload: Upload) -> None:
    for doc in upload.docs:
        if not _SERVER_DOC_ID.fullmatch(doc.doc_id):
            upload.problems.append(
                f"{doc.where}: id: '{doc.doc_id}' must be at most 70 lowercase letters, digits and hyphens "
                f"once prefixed with '{GUILD_PREFIX}'"
            )
    for item in upload.quiz:
        if not _SERVER_ITEM_ID.fullmatch(item.item.id):
            upload.problems.append(
                f"{item.where}: id: '{item.item.id}' must use only lowercase letters, digits and hyphens"
            )


def _parse_markdown(name: str, text: str, upload: Upload) -> None:
    entry = parse_entry(text, name, "guild", upload.problems)
    if entry is None:
        return
    upload.docs.append(
        UploadedDoc(
            where=f"{name}:2",
            doc_id=guild_doc_id(entry.id),
            kind="entry",
            title=entry.title,
            skill=entry.skill.value,
            body=strip_title(entry.body),
            tags=tuple(entry.tags),
        )
    )


def _parse_yaml(name: str, text: str, upload: Upload) -> None:
    data = load_yaml(text, name, 0, upload.problems)
    if data is None:
        return
    if not isinstance(data, dict) or not ({"resources", "items"} & set(data)):
        upload.problems.append(
            f"{name}:1: a YAML upload needs a 'resources:' list (learning resources) or an 'items:' list (quiz)"
        )
        return
    if "resources" in data:
        if validate_fields(ResourceFile, data, name, 0, upload.problems) is None:
            return
        for raw in data["resources"]:
            resource: Resource | None = validate_fields(Resource, raw, name, 0, upload.problems)
            if resource is None:
                continue
            upload.docs.append(
                UploadedDoc(
                    where=f"{name}:{raw['__lines__'].get('id', raw['__line__'])}",
                    doc_id=guild_doc_id(resource.id),
                    kind="resource",
                    title=resource.title,
                    skill=resource.skill.value,
                    body=resource.why,
                    url=str(resource.url),
                    tags=tuple(resource.tags),
                )
            )
            if len(str(resource.url)) > MAX_URL:
                upload.problems.append(f"{upload.docs[-1].where}: url: at most {MAX_URL} characters")
        return
    if validate_fields(QuizFile, data, name, 0, upload.problems) is None:
        return
    for raw in data["items"]:
        item: QuizItem | None = validate_fields(QuizItem, raw, name, 0, upload.problems)
        if item is None:
            continue
        where = f"{name}:{raw['__lines__'].get('id', raw['__line__'])}"
        item_id = guild_item_id(item.id)
        if len(item_id) > 80:  # the quiz_overlay.item_id column
            upload.problems.append(f"{where}: id: too long once prefixed with '{GUILD_PREFIX}' (at most 74 characters)")
            continue
        source_where = f"{name}:{raw['__lines__'].get('source', raw['__line__'])}"
        upload.quiz.append(UploadedQuizItem(where, item.model_copy(update={"id": item_id}), source_where))


def _check_duplicates(upload: Upload) -> None:
    first: dict[str, str] = {}
    for doc in upload.docs:
        if doc.doc_id in first:
            upload.problems.append(f"{doc.where}: id: '{doc.doc_id}' is also defined at {first[doc.doc_id]}")
        else:
            first[doc.doc_id] = doc.where
    items: dict[str, str] = {}
    prompts: dict[str, str] = {}
    for q in upload.quiz:
        key = re.sub(r"\W+", " ", q.item.prompt.lower()).strip()
        if q.item.id in items:
            upload.problems.append(f"{q.where}: id: '{q.item.id}' is also defined at {items[q.item.id]}")
        elif key in prompts:
            upload.problems.append(f"{q.where}: prompt: duplicate of the prompt at {prompts[key]}")
        items.setdefault(q.item.id, q.where)
        prompts.setdefault(key, q.where)


def resolve_sources(upload: Upload, shipped_ids: Collection[str], overlay_ids: Collection[str]) -> None:
    """Point each quiz item's ``source`` at an entry that exists: shipped, this server's, or in this upload."""
    known = set(overlay_ids) | {d.doc_id for d in upload.docs}
    for i, q in enumerate(upload.quiz):
        source = q.item.source
        if source in shipped_ids:
            continue
        mapped = guild_doc_id(source)
        if mapped in known:
            upload.quiz[i] = UploadedQuizItem(q.where, q.item.model_copy(update={"source": mapped}), q.source_where)
        else:
            upload.problems.append(f"{q.source_where}: source: unknown id '{source}'")


# -- rendering exports ----------------------------------------------------------------------------------------


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)


def _main_skill(skills: Iterable[str]) -> str:
    counts = Counter(skills)
    return counts.most_common(1)[0][0] if counts else Skill.MACHINE_LEARNING.value


def render_resources(guild_id: int, docs: Iterable[UploadedDoc]) -> str:
    docs = list(docs)
    header = {
        "id": f"resources-server-{guild_id}",
        "title": f"Learning resources from server {guild_id}",
        "skill": _main_skill(d.skill for d in docs),
        "tags": ["resources"],
        "level": DEFAULT_LEVEL,
        "related": [],
    }
    resources = [
        {
            "id": "res-" + stem(d.doc_id),
            "title": d.title,
            "url": d.url,
            "kind": DEFAULT_RESOURCE["kind"],
            "skill": d.skill,
            "level": DEFAULT_RESOURCE["level"],
            "cost": DEFAULT_RESOURCE["cost"],
            "why": d.body,
            "tags": list(d.tags),
        }
        for d in docs
    ]
    return _yaml(header | {"resources": resources})


def render_quiz(guild_id: int, items: Iterable[dict[str, Any]]) -> str:
    items = list(items)
    header = {
        "id": f"quiz-server-{guild_id}",
        "title": f"Quiz items from server {guild_id}",
        "skill": _main_skill(str(i.get("skill", "")) for i in items),
        "tags": ["quiz"],
        "level": DEFAULT_LEVEL,
        "related": [],
    }
    return _yaml(header | {"items": items})


def upstream_id(doc_id: str, kind: str) -> str:
    """The id an exported server entry gets in the shipped knowledge base's naming scheme."""
    if not doc_id.startswith(GUILD_PREFIX):
        return doc_id
    return ("res-" if kind == "resource" else "concept-") + stem(doc_id)


def render_revision(doc_id: str, revision: RevisionRecord) -> str:
    """A revision as the Markdown (or resource) file it stands for; a removal renders as nothing."""
    if revision.deleted:
        return ""
    text = render_markdown(doc_id, revision.title, revision.skill, revision.body, revision.tags)
    return text + (f"\nurl: {revision.url}\n" if revision.url else "")


def render_overlay(guild_id: int, entries: Sequence[EntryRecord], quiz: Sequence[QuizOverlayRecord]) -> dict[str, str]:
    """A server's overlay as knowledge files (relative path → text), in the shipped layout and id scheme."""
    kinds = {e.doc_id: e.kind for e in entries}
    files: dict[str, str] = {}
    resources = []
    for e in entries:
        if e.kind == "resource":
            resources.append(UploadedDoc("", e.doc_id, "resource", e.title, e.skill, e.body, e.url, e.tags))
        else:
            text = render_markdown(upstream_id(e.doc_id, "entry"), e.title, e.skill, e.body, e.tags)
            files[f"concepts/{stem(e.doc_id)}.md"] = text
    if resources:
        files[f"resources/server-{guild_id}.yaml"] = render_resources(guild_id, resources)
    if quiz:
        items = []
        for record in quiz:
            item = dict(record.item) | {"id": record.item_id}
            source = str(item.get("source", ""))
            if source in kinds:
                item["source"] = upstream_id(source, kinds[source])
            items.append(item)
        files[f"quiz/server-{guild_id}.yaml"] = render_quiz(guild_id, items)
    return files
