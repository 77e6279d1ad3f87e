"""Which entries a moderator may edit in a form; the rest go through a file (export, edit, import)."""

from __future__ import annotations

from bot.domain.errors import StudyBotError
from bot.domain.knowledge_admin import EntryView

FORM_BODY_LIMIT = 4000  # a form's paragraph field holds at most 4,000 characters (Discord's modal limit)
FORM_TITLE_LIMIT = 120  # the entry schema's title limit


class NotFormEditable(StudyBotError):
    def __init__(self) -> None:
        super().__init__(
            "A form can only edit this server's own live entries of up to 4,000 characters. For this one, "
            "export it with `studybot kb export`, edit the file, and bring it back with /kb import."
        )


def check_form_editable(entry: EntryView) -> None:
    """Shipped or removed entries, and entries too long for the form's fields, raise ``NotFormEditable``."""
    if entry.origin != "server" or len(entry.body) > FORM_BODY_LIMIT or len(entry.title) > FORM_TITLE_LIMIT:
        raise NotFormEditable()
