"""The SDK under test, and a real eal server on a thread for it to talk to.

The SDK is its own distribution (sdk/python) that the main package does not
install, so its source directory goes on sys.path here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SDK_SRC = Path(__file__).resolve().parents[2] / "sdk" / "python" / "src"
if str(SDK_SRC) not in sys.path:
    sys.path.insert(0, str(SDK_SRC))

from eal.app import create_app  # noqa: E402
from eal.config import Settings  # noqa: E402
from tests.cli.servers import threaded_server  # noqa: E402


@pytest.fixture(scope="session")
def server_url(settings: Settings) -> Iterator[str]:
    """The API served over real HTTP by uvicorn on a thread, on the test database."""
    with threaded_server(create_app(settings)) as base:
        yield base
