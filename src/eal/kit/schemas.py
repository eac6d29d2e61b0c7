"""Shared schema building blocks: timestamps in the API's format, strict bodies, text rules.

Every text and timestamp a client sends passes one rule here, whether it comes
in a body (`StrictBody`, `TimestampIn`), a query string or a path
(`text_problem`, `query_problems`), or a cursor (`check_timestamp`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import unquote, unquote_to_bytes

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)

from eal.kit.clock import isoformat

Timestamp = Annotated[
    datetime,
    PlainSerializer(isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]
"""A datetime rendered as ISO 8601 UTC with milliseconds and a `Z`."""

BLANK_CHARS = r"\s\x1c-\x1f\x85"
"""What Python's `str.strip` removes, as a character-class body for document patterns."""
NON_BLANK = rf"[^{BLANK_CHARS}]"
"""The pattern of a text that must not be blank: bodies strip surrounding whitespace first.

Python strips more than the ECMAScript whitespace class matches (the separators U+001C-U+001F and
NEL, U+0085), so those are named: a text of only them is blank here and in the document.
"""


def stripped_at_least(count: int) -> str:
    """The document pattern of a text of at least `count` (>= 2) characters once stripped.

    `min_length` alone counts the text as sent; the body strips it first, so
    " x" meets a minimum of 2 in the document yet is refused. The stripped
    text runs from its first non-blank character to its last.
    """
    if count < 2:
        raise ValueError("one character is NON_BLANK")
    return rf"{NON_BLANK}[\s\S]{{{count - 2},}}{NON_BLANK}"


#: An http(s) / https URL with a host and no blank anywhere (the same in JSON Schema's
#: regex dialect and Python's: their "\s" differ, so the blanks are spelled out).
HTTP_URL_PATTERN = rf"^https?://[^{BLANK_CHARS}/?#@]+([/?#]{NON_BLANK}*)?$"
HTTPS_URL_PATTERN = rf"^https://[^{BLANK_CHARS}/?#@]+([/?#]{NON_BLANK}*)?$"


MIN_YEAR = 1900
MAX_YEAR = 2999
TIMEZONE_REQUIRED = "must include a timezone (e.g. 2026-04-27T00:00:00Z)"
OUT_OF_RANGE = f"must be in the years {MIN_YEAR} to {MAX_YEAR}"
NUL_REFUSED = "must not contain NUL (\\u0000) characters"
NOT_UTF8 = "must be valid UTF-8 text (no lone surrogates)"


def check_timestamp(value: datetime) -> datetime:
    """`value` in UTC if it has a timezone and its year (as written) is 1900-2999; else ValueError.

    The year is checked before converting: year 1 with a positive offset, or
    9999 with a negative one, has no UTC equivalent and would overflow (a 500
    in whatever converts it later: Python or the database driver). Any
    accepted time converts safely (at worst to 1899-12-31 or 3000-01-01 UTC).
    """
    if value.utcoffset() is None:
        raise ValueError(TIMEZONE_REQUIRED)
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(OUT_OF_RANGE)
    return value.astimezone(UTC)


TimestampIn = Annotated[
    datetime,
    AfterValidator(check_timestamp),
    # The rule in the document too, so clients and generated tests send valid times.
    WithJsonSchema(
        {"type": "string", "format": "date-time", "pattern": "^(19[0-9]{2}|2[0-9]{3})-"}
    ),
]
"""A timestamp a client sends (body or query): timezone required, years 1900-2999, in UTC."""


def check_date(value: date) -> date:
    """A calendar date a client sends: years 1900-2999."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(OUT_OF_RANGE)
    return value


DateIn = Annotated[
    date,
    AfterValidator(check_date),
    WithJsonSchema({"type": "string", "format": "date", "pattern": "^(19[0-9]{2}|2[0-9]{3})-"}),
]
"""A calendar date a client sends (YYYY-MM-DD), years 1900-2999."""


def omittable(*, schema: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """The default of a body field a client may leave out but must not send as null.

    Type the field `T | None` and refuse None in a validator (a validator runs
    only for values sent): validation and its error locations stay those of an
    optional field, and the document shows `T` alone, without `null` or a
    `null` default, as the server behaves. `schema` adds keywords to the
    field's document (rules its validator checks).
    """
    extra = dict(schema or {})

    def document(field_schema: dict[str, Any]) -> None:
        field_schema.pop("default", None)
        branches = field_schema.pop("anyOf", None)
        if branches is not None:
            kept = [branch for branch in branches if branch != {"type": "null"}]
            if len(kept) == 1:
                field_schema.update(kept[0])
            else:
                field_schema["anyOf"] = kept
        field_schema.update(extra)

    return Field(default=None, json_schema_extra=document, **kwargs)


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as PostgreSQL text (NUL, lone surrogate), or None."""
    if "\x00" in value:
        return NUL_REFUSED
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return NOT_UTF8
    return None


def query_problems(query_string: bytes) -> list[dict[str, str]]:
    """One `{"field", "message"}` per query parameter whose name or value is not storable text.

    Checked on the raw bytes because Starlette decodes them leniently: `%00`
    arrives as a NUL, and invalid UTF-8 such as an encoded lone surrogate
    (`%ED%A0%80`) silently becomes U+FFFD. Both are refused here instead of
    being searched for (or failing as a 500 in the database).
    """
    # The common query (nothing percent-encoded) cannot hold either.
    if b"%" not in query_string and b"\x00" not in query_string:
        return []
    problems: list[dict[str, str]] = []
    # Decoded as Starlette does: latin-1 bytes, '&'-separated pairs, '+' for space.
    for pair in query_string.decode("latin-1").split("&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition("=")
        name = unquote(raw_name.replace("+", " "))
        message = None
        for part in (raw_name, raw_value):
            raw = unquote_to_bytes(part.replace("+", " "))
            try:
                message = text_problem(raw.decode("utf-8"))
            except UnicodeDecodeError:
                message = NOT_UTF8
            if message is not None:
                break
        if message is not None:
            problems.append({"field": name.replace("\x00", "\\u0000"), "message": message})
    return problems


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_nul(v) for v in value)
    return False


class StrictBody(BaseModel):
    """Request bodies: unknown fields are an error, never silently dropped.

    Strings may not contain U+0000: PostgreSQL text and jsonb cannot store it,
    so it is refused here as a 422 naming the field instead of failing as a 500.
    (Lone surrogates never get this far: the JSON parser refuses them.)
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError(NUL_REFUSED)
        return value
