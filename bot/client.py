"""The Discord bot: wires the domain services into discord.py and runs until SIGTERM.

Start-up order: settings → database (migrated) → Discord, with the index loaded (or built) in the background
meanwhile: until it is ready, questions get "still loading" and everything else works. The bot is a thin shell:
every feature lives in ``bot/exts/<feature>/`` and talks only to the services held here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import logging
import pkgutil
import secrets
import signal
import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands
from prometheus_client import REGISTRY

from bot import metrics
from bot.app import Services, open_bot_services, open_indexes
from bot.domain.asking import RateLimiter
from bot.domain.errors import StudyBotError
from bot.exts import _ui
from bot.retrieval.answerer import Answerer
from bot.retrieval.servers import GuildIndexes, GuildIndexStatus, KbSync
from bot.settings import Settings
from bot.storage.notify import KbListener

log = logging.getLogger(__name__)

# discord.py names the tasks it starts for interactions and events; these are the ones a shutdown waits for.
_IN_FLIGHT = ("CommandTree-invoker", "discord-ui-", "discord.py: on_message")


class StudyTree(app_commands.CommandTree["StudyBot"]):
    async def on_error(self, interaction: _ui.Interaction, error: app_commands.AppCommandError) -> None:
        await _ui.report(interaction, error)


def intents() -> discord.Intents:
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = True  # mentions and help channels carry the question in the message text
    return wanted


class StudyBot(commands.Bot):
    def __init__(self, settings: Settings, services: Services, **kwargs: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,  # no text commands; slash commands only
            intents=intents(),
            allowed_mentions=_ui.NO_PINGS,  # the default for every message this bot sends
            tree_cls=StudyTree,
            help_command=None,
            **kwargs,
        )
        if services.answerer is None:
            raise ValueError("the bot answers questions: open its services with open_bot_services")
        self.settings = settings
        self.services = services
        self.answerer: Answerer = services.answerer
        self.ask_limiter = RateLimiter(settings.ask_rate_limit, timedelta(seconds=settings.ask_rate_window))
        self.background: set[asyncio.Task[Any]] = set()
        self.closing = False
        self.kb_sync: KbSync | None = None  # made once the index is loaded
        self.index_error: BaseException | None = None  # why the index could not load; answering stays off

    async def setup_hook(self) -> None:
        for name in extension_modules():
            await self.load_extension(name)
        if self.settings.shard_ids is None or 0 in self.settings.shard_ids:
            await self.sync_commands()  # commands are per application: one cluster registers them for all
        # Connect first, load after: a fresh data folder builds the index for minutes, and the bot must not be
        # offline meanwhile (issue 13: connected and commands registered within 10 s).
        self.spawn(self.load_index(), "index-load")

    async def load_index(self) -> None:
        """Load (or build) the index on a thread, then answer from it and keep server knowledge in sync."""
        try:
            indexes = await _in_daemon_thread(open_indexes, self.settings, lambda msg: log.info("%s", msg))
        except Exception as exc:  # no answers, but quizzes, streaks and the rest keep working
            self.index_error = exc
            error_id = secrets.token_hex(4)
            self.answerer.fail(error_id)
            log.error(
                "the index could not be loaded (error id %s): %s; questions are refused until a restart, "
                "everything else keeps working",
                error_id,
                exc,
                exc_info=exc,
            )
            return
        self.answerer.attach(indexes)
        if indexes.query_embedder is not None:  # from now on, a change published here carries its vectors
            from bot.retrieval.overlay_vectors import OverlayVectors

            self.services.kb_admin.encoder = OverlayVectors(indexes.query_embedder, self.answerer.executor)
        feed = None
        if self.settings.kb_listen and self.services.store.backend == "postgresql":
            feed = KbListener(self.services.store.engine)
        self.kb_sync = KbSync(
            indexes,
            self.services.kb_admin,
            poll_seconds=self.settings.kb_poll_seconds,
            serves=self.settings.serves,
            feed=feed,
        )
        await self.kb_sync.start()
        log.info("index loaded: answering questions")
        # Everything loaded so far (index, model, knowledge base) lives as long as the process. Without this,
        # each full garbage collection walks it all and stalls the event loop for ~0.3 s (bench discord).
        gc.freeze()

    def knowledge_changed(self, guild_id: int) -> None:
        """Re-index a server after one of its moderators changed its knowledge (other processes hear of it by
        NOTIFY or poll). While the index loads there is nothing to rebuild: the sync's first poll sees the change."""
        if self.kb_sync is not None:
            self.kb_sync.kick(guild_id)

    def index_ready(self) -> bool:
        return self.answerer.ready

    def index_state(self) -> str:
        """The index check of /readyz: "ok", "loading", or why loading failed."""
        if self.index_error is not None:
            return f"failed ({type(self.index_error).__name__})"
        return "ok" if self.answerer.ready else "loading"

    def kb_status(self, guild_id: int) -> GuildIndexStatus:
        return self.answerer.status(guild_id)

    async def sync_commands(self) -> None:
        guild_id = self.settings.dev_guild_id
        if guild_id is not None:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to server %s", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global commands (they can take up to an hour to appear)", len(synced))

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        """Start a background task that is kept referenced and whose failure is logged, never lost."""
        task = asyncio.create_task(coro, name=name)
        self.background.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self.background.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                log.error("background task %s failed", name, exc_info=finished.exception())

        task.add_done_callback(done)
        return task

    def gateway_state(self) -> str:
        """Returns "ok" when every shard this process runs is connected; otherwise what is wrong (for /readyz)."""
        if self.is_closed():
            return "closed"
        if not self.is_ready():
            return "connecting"
        ws = self.ws
        if ws is None or not ws.open:
            return "disconnected"
        return "ok"

    def shard_latencies(self) -> list[tuple[int, float]]:
        return [(0, self.latency)]

    async def on_message(self, message: discord.Message, /) -> None:
        """No text commands: mentions are questions, handled by the ask feature's listener."""

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        """Answer a button or form nothing handles (an old message, an expired form) instead of leaving it silent.

        Decided here, as the event is dispatched: discord.py has just handed the interaction to every view, dynamic
        item and modal that wants it, and none of them has run yet, so the answer can never be a second one.
        """
        super().dispatch(event_name, *args, **kwargs)
        if event_name == "interaction" and args and not _ui.routed(self, args[0]):
            self.spawn(_ui.answer_unrouted(args[0]), name="discord-ui-unrouted")

    async def on_ready(self) -> None:
        log.info("connected as %s (id %s) to %d server(s)", self.user, self.user and self.user.id, len(self.guilds))

    async def close(self) -> None:
        """Let in-flight interactions finish (bounded), then disconnect and close the database."""
        if self.closing:
            return
        self.closing = True
        current = asyncio.current_task()
        pending = [
            t for t in asyncio.all_tasks() if t is not current and t.get_name().startswith(_IN_FLIGHT) and not t.done()
        ]
        if pending:
            log.info("shutting down: waiting for %d in-flight interaction(s)", len(pending))
            await asyncio.wait(pending, timeout=self.settings.shutdown_grace)
        cancelled = [task for task in self.background if task is not current]  # SIGTERM runs this as one
        for task in cancelled:
            task.cancel()
        if cancelled:
            # A task cancelled mid-query makes SQLAlchemy close its connection gracefully in a task of its own;
            # wait for that to finish, or closing the database (and any later cancel) leaves it hanging.
            await asyncio.wait(cancelled, timeout=self.settings.shutdown_grace)
        await super().close()
        if self.kb_sync is not None:
            await self.kb_sync.stop()
        await self.services.close()
        log.info("shut down cleanly")


class ShardedStudyBot(StudyBot, commands.AutoShardedBot):
    """The same bot, sharded: for servers beyond what one gateway connection may carry (2,500 guilds).

    With ``STUDYBOT_SHARD_IDS`` it runs only those shards: a cluster. Discord routes each server's events to
    the one shard that owns it, so each server is served by exactly one process; PostgreSQL is the shared state.
    """

    def gateway_state(self) -> str:
        if self.is_closed():
            return "closed"
        if not self.is_ready():
            return "connecting"
        down = sorted(shard_id for shard_id, shard in self.shards.items() if shard.is_closed())
        return f"shard(s) {', '.join(map(str, down))} disconnected" if down else "ok"

    def shard_latencies(self) -> list[tuple[int, float]]:
        return list(self.latencies)


def point_at(settings: Settings) -> None:
    """Send REST and gateway traffic to a Discord-compatible endpoint when configured (proxies, tests)."""
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway)


async def start_bot(settings: Settings) -> StudyBot:
    """Build the bot with its services (database migrated; the index loads once it starts); the caller logs it in."""
    point_at(settings)
    services = await open_bot_services(settings)
    if settings.shard_ids is not None:
        log.info("cluster: shards %s of %d", ",".join(map(str, settings.shard_ids)), settings.shard_count)
        return ShardedStudyBot(settings, services, shard_count=settings.shard_count, shard_ids=list(settings.shard_ids))
    if settings.shard_count is not None:
        return ShardedStudyBot(settings, services, shard_count=settings.shard_count)
    return StudyBot(settings, services)


async def run_bot(settings: Settings, started: Callable[[StudyBot], None] | None = None) -> None:
    """`studybot run`: connect and serve until SIGTERM or Ctrl-C, then shut down gracefully.

    ``started`` receives the bot before it logs in (the end-to-end tests use it to stop the bot).
    """
    if settings.discord_token is None:
        raise RuntimeError("STUDYBOT_DISCORD_TOKEN is not set")
    bot = await start_bot(settings)
    loop = asyncio.get_running_loop()
    server, gauges = None, None
    if settings.metrics_port is not None:
        gauges = metrics.LiveGauges(bot.shard_latencies, bot.answerer.memory_bytes)
        REGISTRY.register(gauges)
        server = metrics.serve(settings.metrics_port, settings.metrics_host, partial(readiness, bot, loop))
    handled = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread, or not Unix
            loop.add_signal_handler(sig, lambda: bot.spawn(bot.close(), "shutdown"))
            handled.append(sig)
    if started is not None:
        started(bot)
    try:
        async with bot:
            await bot.start(settings.discord_token.get_secret_value())
    except discord.LoginFailure:
        raise StudyBotError(
            "Discord rejected the token. Reset it in the Developer Portal and update STUDYBOT_DISCORD_TOKEN."
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise StudyBotError(
            "Enable the MESSAGE CONTENT intent for the bot in the Developer Portal (Bot page), then start again."
        ) from None
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        if not bot.closing:
            await bot.close()
        if server is not None:
            await asyncio.to_thread(server.shutdown)
            server.server_close()
        if gauges is not None:
            REGISTRY.unregister(gauges)


async def _in_daemon_thread(work: Callable[..., GuildIndexes], *args: Any) -> GuildIndexes:
    """``asyncio.to_thread`` on a daemon thread: Ctrl-C during a minutes-long first build must not wait for it
    (``asyncio.run`` joins the default executor's threads; a killed build leaves only a temporary folder)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[GuildIndexes] = loop.create_future()

    def settle(result: GuildIndexes | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        result, error = None, None
        try:
            result = work(*args)
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (the bot stopped): nobody waits
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="index-load", daemon=True).start()
    return await future


def readiness(bot: StudyBot, loop: asyncio.AbstractEventLoop, timeout: float = 3.0) -> dict[str, str]:
    """Each readiness check's state ("ok" or why not); called on the metrics server's thread, never the loop's.

    The database check runs on the bot's event loop, so a wedged loop shows up here as a failing check too.
    """
    checks = {"gateway": bot.gateway_state(), "database": "ok", "index": bot.index_state()}
    if loop.is_closed():
        checks["database"] = "event loop stopped"
        return checks
    future = asyncio.run_coroutine_threadsafe(bot.services.store.ping(), loop)
    try:
        future.result(timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        checks["database"] = f"no answer within {timeout:g} s"
    except Exception as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
    return checks


def permissions() -> discord.Permissions:
    """What the bot needs in a server, and nothing more (the README lists the same)."""
    return discord.Permissions(
        view_channel=True,
        send_messages=True,
        send_messages_in_threads=True,
        create_public_threads=True,
        embed_links=True,
        attach_files=True,
        read_message_history=True,
    )


def application_id(settings: Settings) -> int | None:
    """The configured id, or the one encoded in the token's first segment (Discord's token format)."""
    import base64
    import binascii

    if settings.discord_application_id is not None:
        return settings.discord_application_id
    if settings.discord_token is None:
        return None
    first = settings.discord_token.get_secret_value().split(".", 1)[0]
    try:
        return int(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def invite_url(app_id: int) -> str:
    return discord.utils.oauth_url(app_id, permissions=permissions(), scopes=("bot", "applications.commands"))


def extension_modules() -> list[str]:
    import bot.exts

    return [
        m.name
        for m in pkgutil.iter_modules(bot.exts.__path__, "bot.exts.")
        if not m.name.rsplit(".", 1)[-1].startswith("_")
    ]
