"""structlog configuration: JSON lines on stderr (or console rendering for humans).

Two sources, one format: structlog events (ours) and stdlib records (uvicorn's
start-up, shutdown and error lines, libraries' warnings) are rendered by the
same processors, so every line on stderr is one JSON object with `event`,
`level` and `timestamp` (stdlib records add `logger`).
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import orjson
import structlog

from eal.config import Settings

#: uvicorn's own loggers: shown at the configured level (its access logger stays off).
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")

_handler: logging.Handler | None = None


def _json_bytes(logger: Any, method_name: str, event_dict: Any) -> bytes:
    """The event as one JSON line's bytes (orjson: the access log writes one per request)."""
    try:
        return orjson.dumps(event_dict, default=repr, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # what orjson cannot encode (an int past 64 bits): never lose the line
        return json.dumps(event_dict, default=repr).encode()


def _json_text(logger: Any, method_name: str, event_dict: Any) -> str:
    return _json_bytes(logger, method_name, event_dict).decode()


def configure_logging(settings: Settings) -> None:
    """Route stdlib and structlog output to stderr in the configured format."""
    global _handler
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    shared: list[structlog.typing.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    text_renderer: structlog.typing.Processor
    renderer: structlog.typing.Processor
    factory: Any
    binary = getattr(sys.stderr, "buffer", None)
    if settings.log_format == "console":
        renderer = text_renderer = structlog.dev.ConsoleRenderer()
        factory = structlog.WriteLoggerFactory(file=sys.stderr)
    elif binary is not None:
        renderer, text_renderer = _json_bytes, _json_text
        factory = structlog.BytesLoggerFactory(file=binary)
    else:
        renderer = text_renderer = _json_text
        factory = structlog.WriteLoggerFactory(file=sys.stderr)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # One write (and flush) per line, so a stdlib record written meanwhile
        # cannot land inside it.
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                text_renderer,
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
