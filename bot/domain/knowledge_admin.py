"""Moderators shape their server's knowledge overlay: entries, resources, revisions, imports, exports, gaps.

Every moderator action here goes through the moderation gate (``bot.domain.moderation``), which authorizes it
and audits it. A server only ever sees its own overlay on top of the shipped knowledge base, never another
server's entries.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from bot.domain.content import SKILL_LABELS, KnowledgeBase
from bot.domain.errors import StudyBotError
from bot.domain.moderation import ModerationService
from bot.domain.ports import (
    Actor,
    Clock,
    EntryRecord,
    KbOverlay,
    OverlayEncoder,
    QuizOverlayRecord,
    Repos,
    RevisionRecord,
    StateStore,
    utc_now,
)
from bot.domain.uploads import (
    GUILD_PREFIX,
    UploadedDoc,
    entry_problems,
    free_id,
    normalize_body,
    parse_uploads,
    render_overlay,
    render_revision,
    resolve_sources,
    resource_problems,
    slugify,
)
from index.chunking import Document

log = logging.getLogger(__name__)

MODAL_BODY_LIMIT = 4000  # Discord's paragraph text input holds at most 4,000 characters
MAX_PROBLEMS_SHOWN = 15  # a Discord message is 2,000 characters; the full list stays on the exception
AUTOCOMPLETE_LIMIT = 25  # Discord shows at most 25 autocomplete choices
Origin = Literal["server", "shipped", "removed"]  # where an entry or quiz item comes from (the one "origin" type)
Scope = Literal["any", "overlay", "base", "hidden"]  # for autocomplete: all, the server's, shipped, shipped+hidden


# -- errors ---------------------------------------------------------------------------------------------------


def _problem_list(intro: str, problems: list[str]) -> str:
    shown = [f"• {p}" for p in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        shown.append(f"… and {len(problems) - MAX_PROBLEMS_SHOWN} more")
    return intro + "\n" + "\n".join(shown)


class InvalidEntry(StudyBotError):
    """``problems`` lists what is wrong, field by field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(_problem_list("That entry can't be saved:", problems))
        self.problems = problems


class InvalidUpload(StudyBotError):
    """Nothing was imported; ``problems`` lists every ``file:line: reason``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(_problem_list(f"Nothing was imported: {len(problems)} problem(s).", problems))
        self.problems = problems


class UnknownEntry(StudyBotError):
    def __init__(self, doc_id: str) -> None:
        super().__init__(f"There is no entry `{doc_id}` in this server's knowledge base.")


class EntryRemoved(StudyBotError):
    def __init__(self, doc_id: str) -> None:
        super().__init__(f"`{doc_id}` was removed. Roll it back to an earlier revision to restore it first.")


class EditConflict(StudyBotError):
    def __init__(self, doc_id: str, started_from: int, now: int) -> None:
        super().__init__(
            f"`{doc_id}` changed while you were editing it (you started from revision {started_from}; it is now at "
            f"revision {now}), so I did not save over it. Your text is attached: compare with /kb diff and edit again."
        )


class CannotHide(StudyBotError):
    pass


class UnknownRevision(StudyBotError):
    pass


# -- knowledge overlays ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryView:
    """One entry as a moderator sees it, whether it ships with StudyBot or belongs to the server."""

    doc_id: str
    title: str
    skill: str
    body: str
    kind: str
    origin: Origin
    url: str | None = None
    tags: tuple[str, ...] = ()
    revision: int | None = None
    hidden: bool = False


@dataclass(frozen=True)
class ImportSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    quiz_added: int = 0
    quiz_updated: int = 0

    def describe(self) -> str:
        return str(self)

    def __str__(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged; "
            f"quiz items: {self.quiz_added} added, {self.quiz_updated} updated"
        )


def _clean_tags(tags: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))


def _document(entry: EntryRecord) -> Document:
    if entry.kind == "resource":
        label = {s.value: label for s, label in SKILL_LABELS.items()}.get(entry.skill, entry.skill)
        topics = f" Topics: {', '.join(entry.tags)}." if entry.tags else ""
        body = f"{entry.title}: a learning resource for {label}. {entry.body}{topics}"
    else:
        body = f"# {entry.title}\n\n{entry.body}\n"
    return Document(
        id=entry.doc_id,
        title=entry.title,
        path=f"guild/{entry.doc_id}.md",
        body=body,
        skill=entry.skill,
        kind=entry.kind,
        url=entry.url,
        tags=entry.tags,
    )


def _same(entry: EntryRecord, doc: UploadedDoc) -> bool:
    fields = ("kind", "title", "skill", "body", "url", "tags")
    return not entry.deleted and all(getattr(entry, f) == getattr(doc, f) for f in fields)


class KnowledgeAdmin:
    """A server's overlay on the shipped knowledge base: add, edit, remove, hide, roll back, import, export."""

    def __init__(
        self, store: StateStore, kb: KnowledgeBase, moderation: ModerationService, clock: Clock = utc_now
    ) -> None:
        self.store = store
        self.kb = kb
        self.moderation = moderation
        self.clock = clock
        self.shipped = {d.id: d for d in kb.documents()}
        # Set by the bot once its index is loaded: each change then stores its overlay's vectors (``_publish``).
        self.encoder: OverlayEncoder | None = None

    # entries ----------------------------------------------------------------------------------------------

    def _check(
        self,
        kind: str,
        doc_id: str,
        title: str,
        skill: str,
        body: str,
        url: str | None,
        tags: tuple[str, ...],
        raw_length: int,
    ) -> None:
        if kind == "resource":
            problems = resource_problems(doc_id, title, skill, url, body, tags)
        elif kind == "entry":
            problems = entry_problems(doc_id, title, skill, body, tags)
            if raw_length > MODAL_BODY_LIMIT:
                problems.insert(0, f"body: at most {MODAL_BODY_LIMIT} characters (found {raw_length})")
        else:
            problems = [f"kind: '{kind}' is neither 'entry' nor 'resource'"]
        if problems:
            raise InvalidEntry(problems)

    async def _write(
        self,
        repos: Repos,
        actor: Actor,
        existing: EntryRecord | None,
        revision: RevisionRecord,
        doc_id: str,
        kind: Literal["entry", "resource"],
    ) -> EntryRecord:
        """Make ``revision`` (its number and entry id filled in here) the live state of the entry."""
        now = self.clock()
        entry = EntryRecord(
            guild_id=actor.guild_id,
            doc_id=doc_id,
            kind=kind,
            title=revision.title,
            skill=revision.skill,
            body=revision.body,
            url=revision.url,
            tags=revision.tags,
            deleted=revision.deleted,
            created_at=now if existing is None else existing.created_at,
            updated_at=now,
            revision=1 if existing is None else existing.revision + 1,
            id=None if existing is None else existing.id,
        )
        if existing is None:
            entry.id = await repos.add_entry(entry)
        else:
            await repos.update_entry(entry)
        assert entry.id is not None
        await repos.add_revision(replace(revision, entry_id=entry.id, number=entry.revision, created_at=now))
        return entry

    def _revision(
        self,
        actor: Actor,
        action: Literal["add", "edit", "remove", "rollback", "import"],
        reason: str,
        *,
        title: str,
        skill: str,
        body: str,
        url: str | None = None,
        tags: tuple[str, ...] = (),
        deleted: bool = False,
    ) -> RevisionRecord:
        return RevisionRecord(
            entry_id=0,
            number=0,
            action=action,
            author_id=actor.user_id,
            reason=reason.strip(),
            title=title,
            skill=skill,
            body=body,
            created_at=self.clock(),
            url=url,
            tags=tags,
            deleted=deleted,
        )

    async def add_in(
        self,
        repos: Repos,
        actor: Actor,
        title: str,
        skill: str,
        body: str,
        *,
        kind: str,
        url: str | None,
        tags: Iterable[str],
        reason: str,
    ) -> EntryRecord:
        """Add an entry inside a moderated transaction the caller holds (``add``, or filling a gap)."""
        title, url = title.strip(), (url.strip() or None) if url else None
        clean_tags = _clean_tags(tags)
        text = normalize_body(title, body) if kind == "entry" else body.strip()
        taken = {e.doc_id for e in await repos.overlay_entries(actor.guild_id, include_deleted=True)}
        doc_id = free_id(GUILD_PREFIX + slugify(title, 60, "entry"), taken)
        self._check(kind, doc_id, title, skill, text, url, clean_tags, len(body.strip()))
        revision = self._revision(actor, "add", reason, title=title, skill=skill, body=text, url=url, tags=clean_tags)
        entry = await self._write(repos, actor, None, revision, doc_id, "resource" if kind == "resource" else "entry")
        await self.moderation.audit(repos, actor, "kb.add", doc_id, reason)
        await self._publish(repos, actor.guild_id)
        return entry

    async def add(
        self,
        actor: Actor,
        title: str,
        skill: str,
        body: str,
        *,
        kind: str = "entry",
        url: str | None = None,
        tags: Iterable[str] = (),
        reason: str = "",
    ) -> EntryRecord:
        """A new server entry (``kind="entry"``, body = Markdown sections or plain text) or resource (body = why)."""
        async with self.moderation.transaction(actor, "kb.add", title) as repos:
            return await self.add_in(repos, actor, title, skill, body, kind=kind, url=url, tags=tags, reason=reason)

    async def _live(self, repos: Repos, guild_id: int, doc_id: str) -> EntryRecord:
        entry = await repos.get_entry(guild_id, doc_id, lock=True)
        if entry is None:
            raise UnknownEntry(doc_id)
        return entry

    async def edit(
        self,
        actor: Actor,
        doc_id: str,
        *,
        title: str,
        skill: str,
        body: str,
        reason: str = "",
        url: str | None = None,
        tags: Iterable[str] | None = None,
        expected_revision: int | None = None,
    ) -> EntryRecord:
        """Replace an entry's text; ``url`` and ``tags`` stay as they were unless given.

        ``expected_revision`` is the revision the editor started from: a form stays open for minutes, and saving
        it over someone else's newer revision would silently undo their work.
        """
        async with self.moderation.transaction(actor, "kb.edit", doc_id) as repos:
            entry = await self._live(repos, actor.guild_id, doc_id)
            if entry.deleted:
                raise EntryRemoved(doc_id)
            if expected_revision is not None and entry.revision != expected_revision:
                raise EditConflict(doc_id, expected_revision, entry.revision)
            title = title.strip()
            text = normalize_body(title, body) if entry.kind == "entry" else body.strip()
            new_url = (url.strip() or None) if url is not None else entry.url
            new_tags = entry.tags if tags is None else _clean_tags(tags)
            self._check(entry.kind, doc_id, title, skill, text, new_url, new_tags, len(body.strip()))
            revision = self._revision(
                actor, "edit", reason, title=title, skill=skill, body=text, url=new_url, tags=new_tags
            )
            updated = await self._write(repos, actor, entry, revision, doc_id, entry.kind)
            await self.moderation.audit(repos, actor, "kb.edit", doc_id, reason)
            await self._publish(repos, actor.guild_id)
            return updated

    async def remove(self, actor: Actor, doc_id: str, reason: str = "") -> EntryRecord:
        """Soft delete: a new revision marked deleted, so the text can be rolled back."""
        async with self.moderation.transaction(actor, "kb.remove", doc_id) as repos:
            entry = await self._live(repos, actor.guild_id, doc_id)
            if entry.deleted:
                raise EntryRemoved(doc_id)
            revision = self._revision(
                actor,
                "remove",
                reason,
                title=entry.title,
                skill=entry.skill,
                body=entry.body,
                url=entry.url,
                tags=entry.tags,
                deleted=True,
            )
            removed = await self._write(repos, actor, entry, revision, doc_id, entry.kind)
            await self.moderation.audit(repos, actor, "kb.remove", doc_id, reason)
            await self._publish(repos, actor.guild_id)
            return removed

    def _shipped_only(self, doc_id: str) -> None:
        if doc_id.startswith(GUILD_PREFIX):
            raise CannotHide(f"`{doc_id}` is this server's own entry: remove it with /kb remove instead of hiding it.")
        if doc_id not in self.shipped:
            raise UnknownEntry(doc_id)

    async def hide(self, actor: Actor, doc_id: str, reason: str = "") -> bool:
        """Hide a shipped entry or resource in this server; False when it already was hidden."""
        async with self.moderation.transaction(actor, "kb.hide", doc_id) as repos:
            self._shipped_only(doc_id)
            changed = await repos.hide_doc(actor.guild_id, doc_id, actor.user_id, self.clock())
            await self.moderation.audit(repos, actor, "kb.hide", doc_id, reason if changed else "already hidden")
            if changed:
                await self._publish(repos, actor.guild_id)
            return changed

    async def unhide(self, actor: Actor, doc_id: str, reason: str = "") -> bool:
        async with self.moderation.transaction(actor, "kb.unhide", doc_id) as repos:
            self._shipped_only(doc_id)
            changed = await repos.unhide_doc(actor.guild_id, doc_id)
            await self.moderation.audit(repos, actor, "kb.unhide", doc_id, reason if changed else "was not hidden")
            if changed:
                await self._publish(repos, actor.guild_id)
            return changed

    async def history(self, actor: Actor, doc_id: str) -> list[RevisionRecord]:
        """Every revision of a server entry, newest first (removed text included, so moderators only)."""
        async with self.moderation.transaction(actor, "kb.history", doc_id) as repos:
            entry = await repos.get_entry(actor.guild_id, doc_id)
            if entry is None or entry.id is None:
                raise UnknownEntry(doc_id)
            return await repos.revisions(entry.id)

    async def diff(self, actor: Actor, doc_id: str, from_rev: int, to_rev: int) -> str:
        """A unified diff between two revisions' Markdown; empty when they are the same."""
        revisions = {r.number: r for r in await self.history(actor, doc_id)}
        for number in (from_rev, to_rev):
            if number not in revisions:
                raise UnknownRevision(f"`{doc_id}` has revisions 1 to {max(revisions)}, not {number}.")
        before = render_revision(doc_id, revisions[from_rev]).splitlines(keepends=True)
        after = render_revision(doc_id, revisions[to_rev]).splitlines(keepends=True)
        return "".join(
            difflib.unified_diff(before, after, f"{doc_id} (revision {from_rev})", f"{doc_id} (revision {to_rev})")
        )

    async def rollback(self, actor: Actor, doc_id: str, revision: int, reason: str = "") -> EntryRecord:
        """A new revision copying an old one; rolling back to a removal removes the entry again."""
        async with self.moderation.transaction(actor, "kb.rollback", doc_id) as repos:
            entry = await self._live(repos, actor.guild_id, doc_id)
            assert entry.id is not None
            old = next((r for r in await repos.revisions(entry.id) if r.number == revision), None)
            if old is None:
                raise UnknownRevision(f"`{doc_id}` has revisions 1 to {entry.revision}, not {revision}.")
            if revision == entry.revision:
                raise UnknownRevision(f"Revision {revision} of `{doc_id}` is already the live one.")
            copy = self._revision(
                actor,
                "rollback",
                reason or f"back to revision {revision}",
                title=old.title,
                skill=old.skill,
                body=old.body,
                url=old.url,
                tags=old.tags,
                deleted=old.deleted,
            )
            restored = await self._write(repos, actor, entry, copy, doc_id, entry.kind)
            await self.moderation.audit(
                repos, actor, "kb.rollback", doc_id, f"to revision {revision}. {reason}".strip()
            )
            await self._publish(repos, actor.guild_id)
            return restored

    # reading the overlay (no permission needed: learners see these entries in answers anyway) -----------

    async def overlay(self, guild_id: int) -> KbOverlay:
        model = self.encoder.model_id if self.encoder is not None else None
        async with self.store.transaction() as repos:
            entries = await repos.overlay_entries(guild_id)
            hidden = await repos.hidden_docs(guild_id)
            version = await repos.kb_version(guild_id)
            vectors = await repos.overlay_vectors(guild_id, model) if model is not None else {}
        documents = tuple(_document(e) for e in entries)
        return KbOverlay(guild_id, version, documents, frozenset(hidden), vectors=vectors, vectors_model=model)

    async def _publish(self, repos: Repos, guild_id: int) -> None:
        """Bump the server's version (which tells the other processes); first, when this process can embed, store
        the vectors of its overlay in the same transaction, so those processes load them instead of embedding.

        An encoder that fails costs the others the embedding, never the change itself.
        """
        if self.encoder is not None:
            documents = [_document(e) for e in await repos.overlay_entries(guild_id)]
            keys = self.encoder.keys(documents)
            stored = await repos.overlay_vector_keys(guild_id, self.encoder.model_id)
            try:
                new = await self.encoder.encode(documents, stored)
            except Exception:
                log.exception("server %s: could not embed the overlay for other processes; they will", guild_id)
                new = {}
            await repos.put_overlay_vectors(guild_id, self.encoder.model_id, keys, new)
        await repos.bump_kb_version(guild_id, self.clock())

    async def versions(self) -> dict[int, int]:
        """Every server's overlay version, so other processes notice changes and reload."""
        async with self.store.transaction() as repos:
            return await repos.kb_versions()

    async def search_entries(
        self,
        guild_id: int,
        text: str,
        *,
        include_base: bool = True,
        include_removed: bool = False,
        origin: Scope = "any",
        limit: int = AUTOCOMPLETE_LIMIT,
    ) -> list[tuple[str, str, Origin]]:
        """(doc_id, title, origin) for autocomplete: this server's entries first, then shipped ones.

        ``origin`` narrows it: "overlay" (the server's), "base" (shipped, not hidden), "hidden" (shipped, hidden here).
        """
        async with self.store.transaction() as repos:
            entries = await repos.overlay_entries(guild_id, include_deleted=include_removed)
            hidden = await repos.hidden_docs(guild_id)
        candidates: list[tuple[str, str, Origin]] = []
        if origin in ("any", "overlay"):
            candidates += [(e.doc_id, e.title, "removed" if e.deleted else "server") for e in entries]
        if include_base and origin != "overlay":
            candidates += [
                (d.id, d.title, "shipped")
                for d in self.shipped.values()
                if origin == "any" or (d.id in hidden) == (origin == "hidden")
            ]
        query = text.lower().strip()
        words = query.split()
        scored = []
        for rank, candidate in enumerate(candidates):
            doc_id, title, _ = candidate
            haystack = f"{title} {doc_id}".lower()
            if not all(w in haystack for w in words):
                continue
            score = 0 if title.lower().startswith(query) else 1 if query in haystack else 2
            scored.append((score, rank, candidate))
        scored.sort(key=lambda s: (s[0], s[1]))
        return [found for _, _, found in scored[:limit]]

    async def entry(self, guild_id: int, doc_id: str) -> EntryView:
        """A server entry (live or removed) or a shipped one, with whether this server hides it."""
        async with self.store.transaction() as repos:
            own = await repos.get_entry(guild_id, doc_id)
            hidden = doc_id in await repos.hidden_docs(guild_id)
        if own is not None:
            return EntryView(
                own.doc_id,
                own.title,
                own.skill,
                own.body,
                own.kind,
                "removed" if own.deleted else "server",
                own.url,
                own.tags,
                own.revision,
            )
        doc = self.shipped.get(doc_id)
        if doc is None:
            raise UnknownEntry(doc_id)
        body = self.kb.resources[doc_id].why if doc.kind == "resource" else doc.body
        return EntryView(doc.id, doc.title, doc.skill, body, doc.kind, "shipped", doc.url, doc.tags, None, hidden)

    # imports and exports ----------------------------------------------------------------------------------

    async def import_files(self, actor: Actor, files: list[tuple[str, bytes]], reason: str = "") -> ImportSummary:
        """All or nothing: every file is validated first; any problem raises InvalidUpload and nothing changes."""
        upload = await asyncio.to_thread(parse_uploads, files)  # up to 1 MB of YAML: keep the event loop free
        target = ", ".join(name for name, _ in files)
        async with self.moderation.transaction(actor, "kb.import", target) as repos:
            existing = {e.doc_id: e for e in await repos.overlay_entries(actor.guild_id, include_deleted=True)}
            live = {d for d, e in existing.items() if not e.deleted}
            resolve_sources(upload, self.shipped.keys(), live)
            for doc in upload.docs:
                old = existing.get(doc.doc_id)
                if old is not None and old.kind != doc.kind:
                    upload.problems.append(f"{doc.where}: id: '{doc.doc_id}' is already this server's {old.kind}")
            if upload.problems:
                raise InvalidUpload(upload.problems)
            added = updated = unchanged = 0
            for doc in upload.docs:
                old = existing.get(doc.doc_id)
                if old is not None and _same(old, doc):
                    unchanged += 1
                    continue
                revision = self._revision(
                    actor, "import", reason, title=doc.title, skill=doc.skill, body=doc.body, url=doc.url, tags=doc.tags
                )
                await self._write(repos, actor, old, revision, doc.doc_id, doc.kind)
                added, updated = (added + 1, updated) if old is None else (added, updated + 1)
            items = {r.item_id for r in await repos.exportable_quiz_items(actor.guild_id)} if upload.quiz else set()
            now = self.clock()
            for q in upload.quiz:
                data = q.item.model_dump(mode="json")
                await repos.put_quiz_item(
                    QuizOverlayRecord(actor.guild_id, q.item.id, q.item.skill.value, data, actor.user_id, now, now)
                )
            quiz_updated = sum(q.item.id in items for q in upload.quiz)
            summary = ImportSummary(added, updated, unchanged, len(upload.quiz) - quiz_updated, quiz_updated)
            await self.moderation.audit(repos, actor, "kb.import", target, f"{summary}. {reason}".strip())
            if added or updated or upload.quiz:
                await self._publish(repos, actor.guild_id)
        log.info("guild %s imported %d file(s): %s", actor.guild_id, len(files), summary)
        return summary

    async def export(self, guild_id: int) -> dict[str, str]:
        """The server's overlay as knowledge files (relative path → text), in the shipped layout and id scheme."""
        async with self.store.transaction() as repos:
            entries = await repos.overlay_entries(guild_id)
            quiz = await repos.exportable_quiz_items(guild_id)
        return render_overlay(guild_id, entries, quiz)
