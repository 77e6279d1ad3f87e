"""Discord's size limits, in one place. Exceeding any of them makes Discord reject the whole request."""

from __future__ import annotations

MESSAGE_LIMIT = 2000  # characters in a message's content
EMBED_TITLE = 256  # characters in an embed title, field name or author name
EMBED_DESCRIPTION = 4096  # characters in an embed description
EMBED_FIELD_VALUE = 1024  # characters in an embed field's value
EMBED_FIELDS = 25  # fields in one embed
EMBED_TOTAL = 6000  # characters across every text part of a message's embeds
THREAD_NAME = 100  # characters in a thread name
AUTOCOMPLETE_CHOICES = 25  # choices an autocomplete may offer
CHOICE_NAME = 100  # characters in an autocomplete choice's name
BUTTON_LABEL = 80  # characters in a button label
CUSTOM_ID = 100  # characters in a component's custom_id (persistent buttons encode their state in it)
MODAL_TITLE = 45  # characters in a modal's title
TEXT_INPUT_PLACEHOLDER = 100  # characters in a text input's placeholder
TEXT_INPUT_VALUE = 4000  # characters a modal's text input (short or paragraph) may hold
