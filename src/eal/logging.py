"""structlog configuration: JSON lines on stderr (or console rendering for humans).

Two sources, one format: structlog events (ours) and stdlib records (uvicorn's
start-up, shutdown and error lines, libraries' warnings) are rendered by the
same processors, so every line on stderr is one JSON object with `event`,
`level` and `timestamp` (stdlib records add `logger`).
"""

from __future__ import annotations

import logging
import sys

import structlog

from eal.config import Settings

#: uvicorn's own loggers: shown at the configured level (its access logger stays off).
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")

_handler: logging.Handler | None = None


def configure_logging(settings: Settings) -> None:
    """Route stdlib and structlog output to stderr in the configured format."""
    global _handler
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer()
        if settings.log_format == "console"
        else structlog.processors.JSONRenderer()
    )
    shared: list[structlog.typing.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # One write per line (PrintLogger writes the line and its newline apart),
        # so a stdlib record written meanwhile cannot land inside it.
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    root.addHandler(handler)
    _handler = handler
    # Libraries speak up from WARNING on; uvicorn's start-up lines are INFO.
    root.setLevel(max(level, logging.WARNING))
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(level)
