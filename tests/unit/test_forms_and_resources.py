"""Rules that used to live in cogs: which entries a form may edit, and which resources a server shows."""

import pytest

from bot.domain.content import Skill
from bot.domain.forms import FORM_BODY_LIMIT, NotFormEditable, check_form_editable
from bot.domain.knowledge_admin import EntryView
from bot.domain.ports import LOCAL_GUILD, KbOverlay
from bot.domain.resources import ResourceCatalog
from index.chunking import Document

GUILD = 900


def entry(origin="server", body="Short body.", title="Title"):
    return EntryView(doc_id="guild-x", title=title, skill="math", body=body, kind="entry", origin=origin)


def test_a_form_edits_the_servers_own_entries_that_fit_it():
    """A server entry that fits the form's fields passes the check."""
    check_form_editable(entry())
    check_form_editable(entry(body="x" * FORM_BODY_LIMIT))


@pytest.mark.parametrize(
    "view",
    [entry(origin="shipped"), entry(origin="removed"), entry(body="x" * (FORM_BODY_LIMIT + 1)), entry(title="t" * 121)],
)
def test_a_form_refuses_shipped_removed_and_oversized_entries(view):
    """Shipped and removed entries, and those too long for a form, are refused with a way forward."""
    with pytest.raises(NotFormEditable, match="studybot kb export"):
        check_form_editable(view)


class FakeOverlays:
    def __init__(self, overlay: KbOverlay) -> None:
        self.value = overlay
        self.asked: list[int] = []

    async def overlay(self, guild_id: int) -> KbOverlay:
        self.asked.append(guild_id)
        return self.value


def pick(skill: str = "math") -> Document:
    return Document(
        id="guild-linear-algebra-videos",
        title="Linear algebra videos",
        path="",
        body="Short visual lessons on vectors and matrices.\nMore detail.",
        skill=skill,
        kind="resource",
        url="https://example.org/la",
    )


async def test_resources_put_the_servers_picks_first_and_leave_out_hidden_ones(shipped_kb):
    """A server sees its own picks first, then the shipped resources it did not hide, filtered by skill."""
    hidden = next(r for r in shipped_kb.resources.values() if r.skill == Skill.MATH)
    overlays = FakeOverlays(KbOverlay(GUILD, 3, (pick(),), frozenset({hidden.id})))
    links = await ResourceCatalog(shipped_kb, overlays).for_server(GUILD, Skill.MATH)
    assert links[0].own and links[0].title == "Linear algebra videos"
    assert links[0].why == "Short visual lessons on vectors and matrices."
    assert hidden.title not in {link.title for link in links}
    assert all(link.skill == Skill.MATH for link in links)
    assert len(links) == 1 + sum(r.skill == Skill.MATH for r in shipped_kb.resources.values()) - 1


async def test_without_a_server_only_shipped_resources_are_listed(shipped_kb):
    """Direct messages and the console read no overlay and list every shipped resource."""
    overlays = FakeOverlays(KbOverlay(GUILD, 3, (pick(),)))
    catalog = ResourceCatalog(shipped_kb, overlays)
    for guild in (None, LOCAL_GUILD):
        links = await catalog.for_server(guild)
        assert len(links) == len(shipped_kb.resources) and not any(link.own for link in links)
    assert overlays.asked == []
