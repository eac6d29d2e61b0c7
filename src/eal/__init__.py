"""eal: the orchestration layer between lead, call, job and follow-up for restoration franchises."""

import sys

__version__ = "0.1.0"


def _import_without_rich() -> None:
    """Import structlog and httpx with rich and pygments hidden, once, before any eal module.

    Both import rich when it is installed (as typer makes it): structlog to offer
    rich tracebacks, httpx for its own command-line client, which also loads
    pygments and click. eal uses neither (exceptions are rendered as plain text
    by `format_exc_info` before every renderer), and loading them cost every
    server, worker and command about 5 MB of memory. rich stays importable
    afterwards: typer's help uses it.
    """
    hidden = ("rich", "pygments")
    if any(name in sys.modules for name in (*hidden, "structlog", "httpx")):
        return
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # importing it raises ImportError
    try:
        import httpx  # noqa: F401
        import structlog  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]


_import_without_rich()
