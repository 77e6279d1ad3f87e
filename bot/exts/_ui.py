"""What every Discord feature shares: the one error handler and safe text (the size limits are in ``_limits``)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot import metrics
from bot.domain.errors import StudyBotError
from bot.exts._limits import EMBED_FIELD_VALUE, EMBED_FIELDS, EMBED_TOTAL, MESSAGE_LIMIT

if TYPE_CHECKING:
    from bot.client import StudyBot

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()


Interaction = discord.Interaction["StudyBot"]


def clip(text: str, limit: int) -> str:
    """Shorten to ``limit`` characters, ending with an ellipsis when something was cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def safe(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """User text to echo back: mentions and markdown neutralised, then clipped.

    Escaping first and clipping after can leave a dangling backslash; drop it so the ellipsis still shows.
    """
    escaped = discord.utils.escape_markdown(discord.utils.escape_mentions(" ".join(text.split())))
    clipped = clip(escaped, limit)
    if clipped.endswith("\\…"):
        clipped = clipped[:-2] + "…"
    return clipped


def whole_lines(lines: Iterable[str], limit: int = EMBED_FIELD_VALUE) -> str:
    """Join lines without ever cutting one (a cut Markdown link renders as garbage); say how many were left out."""
    lines = list(lines)
    kept: list[str] = []
    for n, line in enumerate(lines):
        more = len(lines) - n - 1
        tail = f"\n…and {more} more" if more else ""
        candidate = "\n".join([*kept, line])
        if len(candidate) + len(tail) > limit:
            note = f"…and {len(lines) - n} more"
            while kept and len("\n".join([*kept, note])) > limit:
                kept.pop()
                note = f"…and {len(lines) - len(kept)} more"
            return "\n".join([*kept, note]) if kept or len(note) <= limit else ""
        kept.append(line)
    return "\n".join(kept)


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """Drop trailing fields until the embed fits Discord's 6,000-character and 25-field totals."""
    while len(embed.fields) > EMBED_FIELDS or (len(embed) > EMBED_TOTAL and embed.fields):
        embed.remove_field(len(embed.fields) - 1)
    if len(embed) > EMBED_TOTAL and embed.description:
        embed.description = clip(embed.description, max(0, len(embed.description) - (len(embed) - EMBED_TOTAL)))
    return embed


# ------------------------------------------------------------------------------------------------ errors


def error_message(error: BaseException) -> tuple[str, bool]:
    """The text a user sees for an error, and whether it was expected (no traceback needed in the log)."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        error = error.__cause__ or error
        if isinstance(error, app_commands.CommandInvokeError):
            error = error.original
    if isinstance(error, StudyBotError):
        return error.message, True
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} s.", True
    if isinstance(error, app_commands.NoPrivateMessage):
        return "That command only works in a server.", True
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use that command here.", True
    return "", False


async def report(interaction: Interaction, error: BaseException) -> None:
    """The one place errors become messages: friendly and ephemeral, with an id to quote when unexpected."""
    await send_ephemeral(interaction, _explain(error, _what(interaction), interaction.user.id))


def _explain(error: BaseException, where: str, user_id: int) -> str:
    message, expected = error_message(error)
    if expected:
        log.info("refused %s for user %s: %s", where, user_id, message)
        return clip(message, MESSAGE_LIMIT)  # a long list of import problems must still be deliverable
    error_id = log_unexpected(error, where)
    return f"Sorry, something went wrong on my side. If it keeps happening, tell a moderator the error id `{error_id}`."


def log_unexpected(error: BaseException, where: str) -> str:
    """Log an unexpected error with its traceback under a fresh id, and return the id for the user to quote."""
    error_id = secrets.token_hex(4)
    metrics.ERRORS.inc()
    log.error("error %s in %s", error_id, where, exc_info=getattr(error, "original", error))
    return error_id


async def report_message(message: discord.Message, error: BaseException) -> None:
    """The same mapping for plain messages (mentions, help channels), answered with a reply."""
    text = _explain(error, f"message in channel {message.channel.id}", message.author.id)
    try:
        await message.reply(text, allowed_mentions=NO_PINGS)
    except discord.HTTPException:
        log.warning("could not reply in channel %s", message.channel.id, exc_info=True)


def _what(interaction: Interaction) -> str:
    if interaction.command is not None:
        return f"/{interaction.command.qualified_name}"
    data: Any = interaction.data or {}
    return f"component {data.get('custom_id', '?')}"


async def send_ephemeral(interaction: Interaction, content: str, **kwargs: Any) -> None:
    """Reply privately whatever state the interaction is in (fresh, deferred in public, or answered).

    Once deferred, the reply goes through ``followup``, so a failing route costs a retry, not the reply.
    """
    if interaction.is_expired():
        log.warning("interaction expired before a reply could be sent: %s", _what(interaction))
        return
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(content, ephemeral=True, allowed_mentions=NO_PINGS, **kwargs)
            return
        private = True
        if interaction.extras.pop("public_defer", False):
            if interaction.extras.get("followup_failing"):
                # Deleting the public "thinking…" message would leave no route but the failing one: the
                # message goes into it instead, in public.
                private = False
            else:
                # A public "thinking…" message would turn the reply public; remove it so the reply can be private.
                await interaction.delete_original_response()
        await followup(interaction, content=content, ephemeral=private, allowed_mentions=NO_PINGS, **kwargs)
    except discord.HTTPException:
        log.warning("could not deliver a reply for %s", _what(interaction), exc_info=True)


# Discord's interaction token lives 15 minutes; a reply still failing this close to the end is given up.
TOKEN_MARGIN_S = 30.0
# Pauses between rounds of tries on the two reply routes. Each try is already discord.py's own five attempts
# (about 25 s for a 5xx); the last pause repeats until the token runs out.
REDELIVERY_PAUSES = (2.0, 10.0, 30.0, 60.0)
# What an edit of the original response can carry (it takes no ``ephemeral``: it keeps the placeholder's).
_EDITABLE = frozenset({"content", "embed", "embeds", "view", "allowed_mentions", "attachments", "ephemeral"})


def _transient(error: discord.HTTPException) -> bool:
    """Worth another try: Discord rate-limited the request (429) or failed on its side (5xx)."""
    return error.status == 429 or error.status >= 500


async def followup(interaction: Interaction, **reply: Any) -> discord.Message:
    """Send a deferred interaction's reply by whichever of its two routes works, retrying within the token's life.

    The followup webhook is the usual route. When Discord keeps failing it (5xx or 429 after discord.py's own
    retries), the reply goes into the "thinking…" placeholder by editing the original response instead, which
    is where the first followup would have put it. Rounds of both repeat after ``REDELIVERY_PAUSES`` until the
    token is about to expire; then the last failure is raised, for ``report`` to handle like any other. A
    followup that Discord failed but wrote after all can show twice, the risk discord.py's own retries take.
    """
    pauses = iter(REDELIVERY_PAUSES)
    pause = 0.0
    while True:
        try:
            message = await interaction.followup.send(wait=True, **reply)
        except discord.HTTPException as error:
            if not _transient(error):
                raise
            failure = error
            interaction.extras["followup_failing"] = True
            log.warning("the followup route failed for %s (HTTP %s)", _what(interaction), error.status)
        else:
            interaction.extras.pop("followup_failing", None)
            return message
        if set(reply) <= _EDITABLE and await _is_placeholder(interaction, private=bool(reply.get("ephemeral"))):
            try:
                edited = await interaction.edit_original_response(
                    **{key: value for key, value in reply.items() if key != "ephemeral"}
                )
            except discord.HTTPException as error:
                if not _transient(error):
                    raise
                failure = error
                log.warning("editing the original response failed for %s (HTTP %s)", _what(interaction), error.status)
            else:
                log.info("delivered the reply for %s by editing the original response", _what(interaction))
                return edited
        pause = next(pauses, pause)
        left = (interaction.expires_at - discord.utils.utcnow()).total_seconds()
        if left < pause + TOKEN_MARGIN_S:
            raise failure
        await asyncio.sleep(pause)


async def _is_placeholder(interaction: Interaction, *, private: bool) -> bool:
    """Whether the original response is still the "thinking…" placeholder (so an edit replaces nothing the learner
    saw), and as private as the reply must be. discord.py keeps the first fetch: later rounds ask it again free."""
    if interaction.response.type is not discord.InteractionResponseType.deferred_channel_message:
        return False
    try:
        original = await interaction.original_response()
    except discord.DiscordException:  # HTTP, or discord.py unable to place the message (no channel)
        return False
    return original.flags.loading and (original.flags.ephemeral or not private)


UNROUTED_BUTTON = "This button no longer works: it's from an older message. Run the command again for a fresh one."
UNROUTED_FORM = "This form expired before it was sent, so nothing was saved. Please open it again."


def routed(bot: discord.Client, interaction: discord.Interaction[Any]) -> bool:
    """Whether discord.py found a handler for this click or form; commands and autocomplete always count as found.

    Reads discord.py's view store, which has no public lookup. If its shape ever changes, this says "found", so
    the cost is a silent old button again, never a second answer.
    """
    kind = interaction.type
    if kind not in (discord.InteractionType.component, discord.InteractionType.modal_submit):
        return True
    store = getattr(getattr(bot, "_connection", None), "_view_store", None)
    modals, views, dynamic = (getattr(store, name, None) for name in ("_modals", "_views", "_dynamic_items"))
    if not (isinstance(modals, dict) and isinstance(views, dict) and isinstance(dynamic, dict)):
        return True
    data: Any = interaction.data or {}
    custom_id = str(data.get("custom_id", ""))
    if kind is discord.InteractionType.modal_submit:
        return custom_id in modals
    if any(pattern.fullmatch(custom_id) for pattern in dynamic):
        return True
    key = (int(data.get("component_type", 0)), custom_id)
    message_id = interaction.message.id if interaction.message is not None else None
    return key in views.get(message_id, {}) or key in views.get(None, {})


async def answer_unrouted(interaction: Interaction) -> None:
    form = interaction.type is discord.InteractionType.modal_submit
    log.info("no handler for %s %r", "form" if form else "component", (interaction.data or {}).get("custom_id"))
    await send_ephemeral(interaction, UNROUTED_FORM if form else UNROUTED_BUTTON)


class Guarded:
    """Mixin for buttons and modals: route any failure to ``report`` (discord.py would only log it)."""

    async def callback(self, interaction: Any) -> Any:  # Any: matches Item.callback for every client type
        try:
            await self.run(interaction)
        except Exception as error:
            await report(interaction, error)

    async def run(self, interaction: Interaction) -> None:
        raise NotImplementedError


class GuardedModal(discord.ui.Modal):
    async def on_error(self, interaction: Interaction, error: Exception) -> None:  # type: ignore[override]
        await report(interaction, error)


def bot_of(interaction: Interaction) -> StudyBot:
    return interaction.client
