"""A throwaway PostgreSQL cluster for tests, and the session-scoped `pg_cluster` fixture.

The cluster lives in a fresh temporary directory, listens only on 127.0.0.1 (on a free port) and on a Unix
socket inside that directory, trusts every local/loopback connection, and runs with fsync and synchronous
commit off. The server refuses to run as root, so when we are root it is run as the `postgres` system user.
`stop()` (and, as a safety net, a finalizer that also runs at interpreter exit) shuts it down with
`pg_ctl stop -m fast` and removes the directory. Every subprocess has a timeout.

Use it through the fixture (tests/conftest.py imports it):

    @pytest.mark.postgres
    async def test_something(pg_cluster):
        url = pg_cluster.create_database("t_something")  # an isolated database for this test
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

DEFAULT_DATABASE = "studybot_test"
SUPERUSER = "postgres"
SERVER_OS_USER = "postgres"  # the system user that runs the server when we are root

_SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")
_CLIENT_TOOLS = ("createdb",)
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_MAX_SOCKET_PATH = 100  # sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS); keep a margin

# Timeouts (seconds) for every subprocess we run.
_T_QUICK = 15
_T_INITDB = 120
_T_START = 60  # pg_ctl -t; the subprocess itself gets a little longer
_T_STOP = 30

INSTALL_HINT = (
    "PostgreSQL server binaries not found: install postgresql-15 "
    "(Debian/Ubuntu: `apt-get install postgresql-15`; macOS: `brew install postgresql@15`) "
    "or put `initdb` and `pg_ctl` on PATH. Looked on PATH, in `pg_config --bindir` and in "
    "/usr/lib/postgresql/*/bin."
)


# --------------------------------------------------------------------------------------------- discovery


def _has_tools(directory: Path, tools: tuple[str, ...]) -> bool:
    return all(os.access(directory / tool, os.X_OK) for tool in tools)


def find_pg_bindir() -> Path | None:
    """The directory holding the PostgreSQL server binaries (initdb, pg_ctl, postgres), or None.

    Looks on PATH (following symlinks such as /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb),
    then at `pg_config --bindir`, then at Debian's /usr/lib/postgresql/<version>/bin (newest first).
    """
    candidates: list[Path] = []
    initdb = shutil.which("initdb")
    if initdb:
        candidates += [Path(initdb).resolve().parent, Path(initdb).parent]
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=_T_QUICK, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))

    def version(path: str) -> int:
        digits = Path(path).parent.name
        return int(digits) if digits.isdigit() else 0

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)]
    for directory in candidates:
        if _has_tools(directory, _SERVER_TOOLS):
            return directory
    return None


def _is_root() -> bool:
    return os.geteuid() == 0


def _user_switch() -> str | None:
    """How to run the server as its OS user: "" when not root (run directly), "runuser" or "su"; None if impossible."""
    if not _is_root():
        return ""
    for tool in ("runuser", "su"):
        if shutil.which(tool):
            return tool
    return None


def postgres_unavailable_reason() -> str | None:
    """None when a throwaway cluster can be started here; otherwise a loud, actionable reason."""
    bindir = find_pg_bindir()
    if bindir is None:
        return INSTALL_HINT
    missing = [tool for tool in _CLIENT_TOOLS if not os.access(bindir / tool, os.X_OK)]
    if missing:
        return (
            f"PostgreSQL client binaries missing from {bindir}: {', '.join(missing)} "
            "(install postgresql-client-15 alongside postgresql-15)."
        )
    if _is_root():
        try:
            pwd.getpwnam(SERVER_OS_USER)
        except KeyError:
            return (
                f"Running as root but there is no `{SERVER_OS_USER}` system user to run the server as "
                "(PostgreSQL refuses to run as root): create it, e.g. `useradd --system postgres`, "
                "or install the postgresql-15 package, which creates it."
            )
        if _user_switch() is None:
            return (
                f"Running as root but neither `runuser` nor `su` is available to run PostgreSQL as "
                f"`{SERVER_OS_USER}` (PostgreSQL refuses to run as root): install util-linux."
            )
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------------------------- subprocesses


def _run(cmd: list[str], *, timeout: float, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `cmd` in its own session, killing the whole process group if it outlives `timeout`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}  # no stray PGHOST/PGDATA/...
    env["LC_ALL"] = "C"
    with subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RuntimeError(f"timed out after {timeout}s: {shlex.join(cmd)}") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def _server_cmd(cmd: list[str]) -> list[str]:
    """`cmd` wrapped so that it runs as the server's OS user when we are root."""
    switch = _user_switch()
    if switch == "":
        return cmd
    if switch == "runuser":
        return ["runuser", "-u", SERVER_OS_USER, "--", *cmd]
    if switch == "su":
        return ["su", SERVER_OS_USER, "-s", "/bin/sh", "-c", shlex.join(cmd)]
    raise RuntimeError(postgres_unavailable_reason() or "cannot switch to the postgres user")


def _check(result: subprocess.CompletedProcess[str], what: str, log: Path | None = None) -> None:
    if result.returncode == 0:
        return
    details = f"{result.stdout}\n{result.stderr}".strip()
    if log is not None and log.exists():
        details += f"\n--- server log ({log}) ---\n" + log.read_text(errors="replace")[-4000:]
    raise RuntimeError(f"{what} failed (exit {result.returncode}): {shlex.join(result.args)}\n{details}")


# --------------------------------------------------------------------------------------------- teardown


@dataclasses.dataclass
class _State:
    """What teardown needs; kept apart from PostgresCluster so the finalizer does not keep it alive."""

    bindir: Path
    root: Path  # the temporary directory; everything lives in it

    @property
    def datadir(self) -> Path:
        return self.root / "data"


def _postmaster_pid(datadir: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((datadir / "postmaster.pid").read_text().splitlines()[0])
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _teardown(state: _State) -> None:
    """Stop the server if it runs (fast, then immediate, then SIGKILL) and remove the directory. Never raises."""
    pg_ctl = str(state.bindir / "pg_ctl")
    pid = _postmaster_pid(state.datadir)
    if pid is not None:
        for mode in ("fast", "immediate"):
            with contextlib.suppress(Exception):
                result = _run(
                    _server_cmd([pg_ctl, "-D", str(state.datadir), "-m", mode, "-w", "-t", str(_T_STOP), "stop"]),
                    timeout=_T_STOP + 15,
                    cwd=state.root,
                )
                if result.returncode == 0:
                    break
        if _pid_alive(pid) and _postmaster_pid(state.datadir) == pid:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
    shutil.rmtree(state.root, ignore_errors=True)


# --------------------------------------------------------------------------------------------- the cluster


class PostgresCluster:
    """A throwaway PostgreSQL cluster in a temporary directory; a context manager.

    >>> with PostgresCluster() as pg:
    ...     pg.url_async  # postgresql+asyncpg://postgres@127.0.0.1:PORT/studybot_test
    """

    def __init__(self, tmp_root: Path | None = None) -> None:
        self.tmp_root = tmp_root
        self.port: int | None = None
        self._state: _State | None = None
        self._finalizer: weakref.finalize | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._state is not None

    @property
    def root(self) -> Path:
        """The temporary directory holding the data directory, the socket and the server log."""
        return self._require().root

    @property
    def datadir(self) -> Path:
        return self._require().datadir

    @property
    def logfile(self) -> Path:
        return self._require().root / "server.log"

    def start(self) -> None:
        """initdb, start the server on a free loopback port and create the `studybot_test` database."""
        if self._state is not None:
            raise RuntimeError("PostgresCluster is already started")
        reason = postgres_unavailable_reason()
        if reason is not None:
            raise RuntimeError(reason)
        bindir = find_pg_bindir()
        assert bindir is not None
        root = Path(tempfile.mkdtemp(prefix="studybot-pg-", dir=self.tmp_root)).resolve()
        state = _State(bindir=bindir, root=root)
        self._state = state
        self._finalizer = weakref.finalize(self, _teardown, state)  # also runs at interpreter exit
        try:
            self._start(state)
        except BaseException:
            self.stop()
            raise

    def _start(self, state: _State) -> None:
        root, datadir, log = state.root, state.datadir, state.root / "server.log"
        if len(str(root / ".s.PGSQL.65535")) > _MAX_SOCKET_PATH:
            raise RuntimeError(f"temporary directory path too long for a Unix socket: {root} (pass a shorter tmp_root)")
        if _is_root():
            entry = pwd.getpwnam(SERVER_OS_USER)
            os.chown(root, entry.pw_uid, entry.pw_gid)
            probe = _run(_server_cmd(["test", "-w", str(root), "-a", "-x", str(root)]), timeout=_T_QUICK, cwd=root)
            if probe.returncode != 0:
                raise RuntimeError(
                    f"the `{SERVER_OS_USER}` user cannot write {root}: a parent directory is not traversable "
                    "by it (pytest's tmp_path is 0700, for example); pass a tmp_root under /tmp or leave it None."
                )

        initdb = [str(state.bindir / "initdb"), "-D", str(datadir), "-U", SUPERUSER, "--auth=trust"]
        initdb += ["--encoding=UTF8", "--locale=C", "--no-sync"]
        _check(_run(_server_cmd(initdb), timeout=_T_INITDB, cwd=root), "initdb")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "'" + str(root).replace("'", "''") + "'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "100",
            "shared_buffers": "32MB",
            "log_min_messages": "warning",
        }
        with (datadir / "postgresql.conf").open("a") as conf:  # appending keeps the postgres user as owner
            conf.write("\n# studybot test cluster\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

        # The chosen port could be taken between picking and binding it; retry with a new one then.
        for attempt in range(3):
            port = _free_port()
            pg_ctl = [str(state.bindir / "pg_ctl"), "-D", str(datadir), "-l", str(log), "-o", f"-p {port}"]
            pg_ctl += ["-w", "-t", str(_T_START), "start"]
            result = _run(_server_cmd(pg_ctl), timeout=_T_START + 30, cwd=root)
            if result.returncode == 0:
                self.port = port
                break
            in_use = log.exists() and "already in use" in log.read_text(errors="replace")
            if not in_use or attempt == 2:
                _check(result, "pg_ctl start", log)
            log.unlink(missing_ok=True)
        self.create_database(DEFAULT_DATABASE)

    def stop(self) -> None:
        """Stop the server (pg_ctl stop -m fast) and remove the temporary directory. Idempotent."""
        if self._finalizer is not None:
            self._finalizer()  # runs _teardown once; later calls (and the atexit hook) do nothing
        self._finalizer = None
        self._state = None
        self.port = None

    def pause(self) -> None:
        """Stop the server but keep its data: clients see the database go away (readiness tests)."""
        state = self._require()
        pg_ctl = [str(state.bindir / "pg_ctl"), "-D", str(state.datadir), "-m", "fast", "-w", "-t", str(_T_STOP)]
        _check(_run(_server_cmd([*pg_ctl, "stop"]), timeout=_T_STOP + 15, cwd=state.root), "pg_ctl stop")

    def resume(self) -> None:
        """Start a paused server again on the same port, with the same data."""
        state = self._require()
        log = state.root / "server.log"
        pg_ctl = [str(state.bindir / "pg_ctl"), "-D", str(state.datadir), "-l", str(log), "-o", f"-p {self.port}"]
        _check(
            _run(_server_cmd([*pg_ctl, "-w", "-t", str(_T_START), "start"]), timeout=_T_START + 30, cwd=state.root),
            "pg_ctl start",
            log,
        )

    def __enter__(self) -> PostgresCluster:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- databases and URLs ---------------------------------------------------------------------------------

    def _require(self) -> _State:
        if self._state is None:
            raise RuntimeError("PostgresCluster is not started")
        return self._state

    def url(self, database: str = DEFAULT_DATABASE, *, driver: str | None = None) -> str:
        """A URL for `database`: `postgresql://...`, or `postgresql+<driver>://...` (e.g. driver="asyncpg")."""
        self._require()
        scheme = "postgresql" if driver is None else f"postgresql+{driver}"
        return f"{scheme}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @property
    def url_async(self) -> str:
        """postgresql+asyncpg://postgres@127.0.0.1:PORT/studybot_test (SQLAlchemy's asyncpg dialect)."""
        return self.url(driver="asyncpg")

    @property
    def url_sync(self) -> str:
        """postgresql://postgres@127.0.0.1:PORT/studybot_test (libpq/psql/asyncpg.connect style)."""
        return self.url()

    def create_database(self, name: str) -> str:
        """Create an empty database `name` (lowercase letters, digits, `_`) and return its asyncpg URL."""
        state = self._require()
        if not _DB_NAME.match(name):
            raise ValueError(f"invalid database name {name!r}: use lowercase letters, digits and _ (max 63)")
        _check(
            _run(
                [str(state.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name],
                timeout=_T_QUICK * 2,
                cwd=state.root,
            ),
            f"createdb {name}",
            self.logfile,
        )
        return self.url(name, driver="asyncpg")


# --------------------------------------------------------------------------------------------- fixture


def require_postgres() -> None:
    """Skip the calling test when PostgreSQL is unavailable, or fail it when CI=true (CI must run it)."""
    reason = postgres_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true, so PostgreSQL tests must run, but: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the whole test session (skipped if unavailable; failed on CI)."""
    require_postgres()
    with PostgresCluster() as cluster:
        yield cluster
