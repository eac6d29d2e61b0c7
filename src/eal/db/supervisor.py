"""Keeping the embedded PostgreSQL running while `eal serve` or `eal worker` runs.

A thread checks once a second that the server process still runs (a couple
of reads of /proc: nothing is sent to the server). When it has died, the
thread starts it again, PostgreSQL replaying its WAL on the way up (crash
recovery), and tries again with a growing pause while a start fails, for as
long as it takes. The start happens under the data directory's lock
(`EmbeddedServer.restart_if_down`): when several processes share the server,
the first to get the lock starts it and the others find it running.

The socket path never changes, so the process's connection pools need
nothing: connections to the dead server are closed, and the pools replace
them (see `db.engine`); workers reconnect by themselves.

One line is logged when the server is found dead (`embedded_database_down`)
and one when it runs again (`embedded_database_restarted`, with the
downtime); a failing start is logged when it first fails and then at most
once a minute.

A thread rather than a task of the event loop: the check keeps its pace
while the loop is busy, and a start (pg_ctl waits for the server to be
ready) blocks no request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from eal.db.embedded import EmbeddedServer

log = structlog.get_logger(__name__)

CHECK_INTERVAL_SECONDS = 1.0
FIRST_RETRY_SECONDS = 0.25
MAX_RETRY_SECONDS = 5.0
#: While a start keeps failing, a reminder is logged this often.
FAILURE_REPORT_SECONDS = 60.0


class EmbeddedSupervisor:
    """Restarts one embedded server whenever its process is found dead."""

    def __init__(
        self,
        server: EmbeddedServer,
        *,
        interval: float = CHECK_INTERVAL_SECONDS,
        first_retry: float = FIRST_RETRY_SECONDS,
        max_retry: float = MAX_RETRY_SECONDS,
    ) -> None:
        """Watch `server` every `interval` seconds once started; retry failed
        starts after `first_retry` seconds, doubling up to `max_retry`."""
        self.server = server
        self.interval = interval
        self.first_retry = first_retry
        self.max_retry = max_retry
        self.restarts = 0
        """Times the server was found dead and is running again."""
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> EmbeddedSupervisor:
        """Start watching in a background thread; stopped before the server is let go of."""
        self._thread = threading.Thread(target=self._run, name="eal-db-supervisor", daemon=True)
        self.server.before_detach(self.stop)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watching (waits for a start in progress, up to `timeout` seconds)."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        last_alive = time.monotonic()
        while not self._stopping.wait(self.interval):
            if self.server.is_running():
                last_alive = time.monotonic()
                continue
            self._recover(last_alive)
            last_alive = time.monotonic()

    def _recover(self, last_alive: float) -> None:
        """Start the dead server again, retrying with a growing pause until it runs."""
        log.error(
            "embedded_database_down",
            data_dir=str(self.server.data_dir),
            pid=self.server.postmaster_pid,
        )
        # Imported here: a process on an external server never loads the embedded one's code.
        from eal.db.embedded import EmbeddedServerError

        pause = self.first_retry
        attempts = 0
        reported_at: float | None = None
        while not self._stopping.is_set():
            attempts += 1
            try:
                started_here = self.server.restart_if_down()
            except EmbeddedServerError as exc:
                now = time.monotonic()
                if reported_at is None or now - reported_at >= FAILURE_REPORT_SECONDS:
                    reported_at = now
                    log.warning(
                        "embedded_database_restart_failed",
                        error=str(exc),
                        attempts=attempts,
                        retry_in_seconds=pause,
                    )
                if self._stopping.wait(pause):
                    return
                pause = min(pause * 2, self.max_retry)
                continue
            self.restarts += 1
            log.warning(
                "embedded_database_restarted",
                # From the last check that saw it running: an upper bound.
                downtime_seconds=round(time.monotonic() - last_alive, 1),
                attempts=attempts,
                started_here=started_here,
                pid=self.server.postmaster_pid,
            )
            return


@contextmanager
def supervising(server: EmbeddedServer | None) -> Iterator[EmbeddedSupervisor | None]:
    """Supervise `server` (if it is an embedded one) for the duration of the block."""
    if server is None:
        yield None
        return
    supervisor = EmbeddedSupervisor(server).start()
    try:
        yield supervisor
    finally:
        supervisor.stop()
