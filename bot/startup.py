"""Why `studybot run` could not start, in one line that says what to check.

Every start-up failure ends the same way: one friendly line on the terminal, a non-zero exit, and the
traceback in the log file only. Secrets never appear in either (``bot.logs.scrub``).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _discord_status(chain: list[BaseException]) -> int | None:
    """The HTTP status of a failed Discord request in the chain (discord.HTTPException and its kinds), if any."""
    for error in chain:
        status = getattr(error, "status", None)
        if type(error).__module__.split(".")[0] == "discord" and isinstance(status, int):
            return status
    return None


FOLDER_HINT = "check STUDYBOT_DATA_DIR (or the path in STUDYBOT_DATABASE_URL): it must be a folder StudyBot can create and write to"


def storage_path_problem(exc: BaseException) -> str | None:
    """The line for a data folder or SQLite file that cannot be created or written, else None.

    The ``studybot`` commands that need the folder (ask, chat, run) show this instead of a traceback.
    """
    chain = _chain(exc)
    for error in chain:
        if isinstance(error, OSError) and error.filename and not isinstance(error, ConnectionError):
            in_the_way = isinstance(error, NotADirectoryError | FileExistsError)
            reason = "a file is in the way" if in_the_way else (error.strerror or type(error).__name__)
            return f"StudyBot can't create or write {error.filename} ({reason}): {FOLDER_HINT}."
    if any("unable to open database file" in str(e) for e in chain):
        return f"StudyBot can't open its SQLite database file: {FOLDER_HINT}."
    return None


def explain(exc: BaseException) -> str:
    """The one line for a start-up failure: what went wrong, and what to check."""
    chain = _chain(exc)
    names = {type(e).__name__ for e in chain}
    modules = {type(e).__module__.split(".")[0] for e in chain}
    text = " ".join(str(e) for e in chain).lower()
    storage = storage_path_problem(exc)
    if storage is not None:
        return storage
    if names & {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"} or "password authentication" in text:
        return "The database refused the user name or password: check them in STUDYBOT_DATABASE_URL."
    if names & {"InvalidCatalogNameError"} or ("database" in text and "does not exist" in text):
        return "The database named in STUDYBOT_DATABASE_URL does not exist: create it, or fix the name."
    if "invalid literal for int" in text or any(
        isinstance(e, ValueError | OverflowError | TypeError) and "port" in str(e).lower() for e in chain
    ):
        return "STUDYBOT_DATABASE_URL has an invalid port: it must be a number from 1 to 65535."
    status = _discord_status(chain)
    if status is not None and (status == 429 or status >= 500):
        return (
            f"Discord answered with an error (HTTP {status}) while StudyBot was connecting: Discord is having "
            "trouble or is rate-limiting this bot. Try again in a few minutes."
        )
    if "discord" in modules or "aiohttp" in modules or names & {"ClientConnectorError", "GatewayNotFound"}:
        return (
            "Can't reach Discord: check the network connection, a firewall or proxy, "
            "and STUDYBOT_DISCORD_API_BASE / STUDYBOT_DISCORD_GATEWAY if you set them."
        )
    if "asyncpg" in modules or "sqlalchemy" in modules or names & {"ConnectionRefusedError", "OperationalError"}:
        return "Can't reach the database: check that it is running and the host and port in STUDYBOT_DATABASE_URL."
    if isinstance(chain[0], OSError):
        return f"StudyBot could not start ({chain[0].strerror or type(chain[0]).__name__}): check the data folder and network."
    return f"StudyBot could not start ({type(chain[0]).__name__})."
