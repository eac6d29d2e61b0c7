"""The entry points import structlog and httpx without rich and pygments (eal.kit.lean)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import eal.cli
from eal.app import create_app
from eal.config import Settings

create_app(Settings(database_url="postgresql://u@127.0.0.1:1/x"), run_worker=True)
loaded = sorted({"rich", "pygments"} & {m.split(".")[0] for m in sys.modules})
assert not loaded, f"loaded: {loaded}"
import structlog.dev
assert structlog.dev.rich is None  # plain tracebacks, whatever is installed
import rich.console  # still importable for typer's help
"""


def test_the_entry_points_load_neither_rich_nor_pygments() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_the_command_line_still_renders_its_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eal.cli", "keys", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout and "create" in done.stdout
