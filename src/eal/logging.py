"""structlog configuration: JSON lines on stderr (or console rendering for humans).

Two sources, one format: structlog events (ours) and stdlib records (uvicorn's
start-up, shutdown and error lines, libraries' warnings) are rendered by the
same processors, so every line on stderr is one JSON object with `event`,
`level` and `timestamp` (stdlib records add `logger`).
"""

from __future__ import annotations

import json
import logging
import re
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


def bind_organization(organization_id: object) -> None:
    """Name the tenant on every line logged from here to the end of the request or job
    (the edge middleware and the job runner reset the context they bound)."""
    structlog.contextvars.bind_contextvars(organization_id=str(organization_id))


REDACTED = "[redacted]"
#: Fields whose value is never written, whatever it holds.
_SENSITIVE_FIELD = re.compile(
    r"password|passwd|secret|authorization|api_?key|token|cookie|credential|"
    r"^body$|_body$|^transcript$",
    re.IGNORECASE,
)
# Tokens the service issues (API keys, webhook and inbound secrets, invite tokens), credentials
# in a header's words and in URLs: they can reach a line inside an error message or a traceback.
_TOKEN = re.compile(r"\b(eal_live_|eal_test_|whsec_|eis_|itok_)[A-Za-z0-9+/=_\-]{4,}")
_SCHEME_CREDENTIAL = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9+/=._~\-]+", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE)
_MARKERS = ("eal_", "whsec_", "eis_", "itok_", "earer", "EARER", "asic", "ASIC", "://")


def scrub(text: str) -> str:
    """`text` with every token, bearer credential and URL password in it replaced."""
    if not any(marker in text for marker in _MARKERS):
        return text  # the common case: no regex runs
    # The header's whole credential first: a key after "Bearer" is then gone with it.
    text = _SCHEME_CREDENTIAL.sub(lambda m: m.group(1) + " " + REDACTED, text)
    text = _TOKEN.sub(lambda m: m.group(1) + REDACTED, text)
    return _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + "@", text)


def _redacted(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if depth < 3 and isinstance(value, dict):
        return {
            k: REDACTED
            if isinstance(k, str) and _SENSITIVE_FIELD.search(k) and v is not None
            else _redacted(v, depth + 1)
            for k, v in value.items()
        }
    if depth < 3 and isinstance(value, list | tuple):
        return [_redacted(v, depth + 1) for v in value]
    return value


def redact_secrets(logger: Any, method_name: str, event_dict: Any) -> Any:
    """A processor that keeps secrets, keys and message bodies out of every line.

    Fields named like a secret (password, token, authorization, body...) lose their
    value; in every other text, issued tokens (`eal_live_...`, `whsec_...`), bearer
    credentials and URL passwords are replaced. The code logs none of these on
    purpose: this is the net under an exception message or a library's line.
    """
    for key, value in event_dict.items():
        if value is None:
            continue
        if _SENSITIVE_FIELD.search(key):
            event_dict[key] = REDACTED
        elif isinstance(value, str):
            event_dict[key] = scrub(value)
        elif isinstance(value, dict | list | tuple):
            event_dict[key] = _redacted(value)
    return event_dict


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
            redact_secrets,
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
            # A library's line written during a request or a job carries its ids too.
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_logger_name,
                *shared,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_secrets,
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
