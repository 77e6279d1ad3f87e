"""The curated resources a server's learners see: the server's own picks first, then the shipped ones it did not hide."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.domain.content import KnowledgeBase, Skill
from bot.domain.ports import LOCAL_GUILD, KbOverlay

WHY_LIMIT = 300  # characters of a server pick's first line, like a shipped resource's ``why`` (schema limit)


@dataclass(frozen=True)
class ResourceLink:
    title: str
    url: str
    skill: str
    why: str
    own: bool  # one of this server's picks (its moderators chose it for these learners)
    detail: str = ""  # for a shipped resource: "kind, level, cost"


class Overlays(Protocol):
    async def overlay(self, guild_id: int) -> KbOverlay: ...


class ResourceCatalog:
    """Merges a server's own resources with the shipped ones, minus those it hid."""

    def __init__(self, kb: KnowledgeBase, overlays: Overlays) -> None:
        self.kb = kb
        self.overlays = overlays

    async def for_server(self, guild_id: int | None, skill: Skill | None = None) -> list[ResourceLink]:
        """Every resource a learner in ``guild_id`` may see (None or the console: the shipped ones), own first."""
        overlay = await self.overlays.overlay(guild_id) if guild_id and guild_id != LOCAL_GUILD else None
        hidden = overlay.hidden if overlay is not None else frozenset()
        own = [
            ResourceLink(d.title, d.url, d.skill, (d.body.splitlines() or [""])[0][:WHY_LIMIT], own=True)
            for d in (overlay.documents if overlay is not None else ())
            if d.kind == "resource" and d.url
        ]
        shipped = [
            ResourceLink(r.title, str(r.url), r.skill, r.why, own=False, detail=f"{r.kind}, {r.level}, {r.cost_label}")
            for r in self.kb.resources.values()
            if r.id not in hidden
        ]
        return [r for r in [*own, *shipped] if skill is None or r.skill == skill]
