"""`eal worker` as its own process: it stops cleanly whenever it is asked to."""

from __future__ import annotations

import time
from pathlib import Path

from tests.cli.servers import EAL, cli_env, eal_serve, process


def test_a_worker_stopped_while_it_starts_exits_cleanly(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data", None)
    with eal_serve(env, tmp_path, timeout=90), process([EAL, "worker"], env, tmp_path) as worker:
        deadline = time.monotonic() + 30
        # The database is chosen before the worker imports its tasks and opens
        # its pools: a SIGTERM now arrives in the middle of its start-up.
        while "using database" not in worker.stderr():
            assert worker.popen.poll() is None, worker.stderr()
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.02)
        assert worker.stop() == 0, worker.stderr()
