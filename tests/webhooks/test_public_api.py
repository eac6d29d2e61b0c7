"""The receiver helper's public surface: exactly `eal.webhooks.__all__`, usable with the stdlib alone."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import eal.webhooks

SRC = Path(__file__).resolve().parents[2] / "src"


def test_the_public_surface_is_exactly_all() -> None:
    # Submodules appear as attributes once anything imports them; they are
    # not part of what receivers import from the package.
    public = sorted(
        name
        for name, value in vars(eal.webhooks).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    )
    assert public == sorted(eal.webhooks.__all__)
    for name in eal.webhooks.__all__:
        assert getattr(eal.webhooks, name).__doc__, f"{name} has no docstring"


def test_a_receiver_needs_nothing_but_the_standard_library() -> None:
    probe = (
        "import sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from eal.webhooks import WebhookVerificationError, verify\n"
        "loaded = sorted(m.split('.')[0] for m in sys.modules)\n"
        "print(','.join(sorted(set(loaded) & {'pydantic', 'sqlalchemy', 'httpx', 'fastapi'})))\n"
    )
    # -I -S: no site-packages at all, only the source tree.
    run = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, str(SRC)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""
