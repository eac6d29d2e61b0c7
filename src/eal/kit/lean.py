"""Imported first by the entry points (`eal.cli`, `eal.app`): structlog and httpx without rich.

Both import rich when it is installed (as typer makes it): structlog to offer
rich tracebacks, httpx for its own command-line client, which also loads
pygments. eal uses neither (exceptions are rendered as plain text by
`format_exc_info` before every renderer), and loading them cost every server,
worker and command about 5 MB of memory. So structlog and httpx are imported
here, once, with rich and pygments hidden; both stay importable afterwards
(typer's help uses rich). In a process that imported any of them already,
this does nothing.
"""

from __future__ import annotations

import importlib
import sys

HIDDEN = ("rich", "pygments")
IMPORTED = ("httpx", "structlog")


def _import_without_rich() -> None:
    if any(name in sys.modules for name in (*HIDDEN, *IMPORTED)):
        return
    for name in HIDDEN:
        sys.modules[name] = None  # type: ignore[assignment]  # importing it raises ImportError
    try:
        for name in IMPORTED:
            importlib.import_module(name)
    finally:
        for name in HIDDEN:
            del sys.modules[name]


_import_without_rich()
