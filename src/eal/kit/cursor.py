"""Keyset pagination cursors: opaque base64url JSON of the last row's (created_at, id).

A page query compares `(created_at, id)` with the cursor's values through an
index on the same columns, so page 5,000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import ColumnElement, literal, tuple_

from eal.errors import InvalidRequest, ValidationFailed
from eal.kit.schemas import check_timestamp

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class Cursor:
    """A position in a list ordered by (created_at, id)."""

    created_at: datetime
    id: uuid.UUID


def encode_cursor(created_at: datetime, id_: uuid.UUID) -> str:
    """The opaque cursor pointing just after the row (created_at, id)."""
    raw = orjson.dumps({"created_at": created_at.isoformat(), "id": str(id_)})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(token: str | None) -> Cursor | None:
    """Parse a cursor from a query string; anything malformed is a 400."""
    if token is None or token == "":
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.b64decode(padded, altchars=b"-_", validate=True))
        if not isinstance(data, dict) or set(data) != {"created_at", "id"}:
            raise ValueError("unexpected cursor fields")
        # Both values must be strings: uuid.UUID(5) raises AttributeError, not ValueError.
        if not isinstance(data["created_at"], str) or not isinstance(data["id"], str):
            raise ValueError("cursor values must be strings")
        # The rule every timestamp input follows (timezone, years 1900-2999):
        # an edited cursor must not reach the database as one it cannot convert.
        created_at = check_timestamp(datetime.fromisoformat(data["created_at"]))
        return Cursor(created_at=created_at, id=uuid.UUID(data["id"]))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError, KeyError) as exc:
        raise InvalidRequest(
            "The cursor is not valid: pass next_cursor from a previous response unchanged.",
            details={"cursor": "malformed"},
        ) from exc


def check_limit(limit: int) -> int:
    """Validate a page size (1..MAX_LIMIT)."""
    if limit < 1 or limit > MAX_LIMIT:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_LIMIT}",
            details={
                "fields": [{"field": "limit", "message": f"must be between 1 and {MAX_LIMIT}"}]
            },
        )
    return limit


def older_than(cursor: Cursor, created_at: Any, id_: Any) -> ColumnElement[bool]:
    """The keyset condition for a newest-first page that continues after `cursor`.

    A row comparison is an index range condition on (created_at, id); the
    equivalent OR form is a filter that makes deep pages scan.
    """
    return tuple_(created_at, id_) < tuple_(literal(cursor.created_at), literal(cursor.id))


def newer_than(cursor: Cursor, created_at: Any, id_: Any) -> ColumnElement[bool]:
    """The keyset condition for an oldest-first page that continues after `cursor`."""
    return tuple_(created_at, id_) > tuple_(literal(cursor.created_at), literal(cursor.id))


def page_of(rows: Sequence[T], limit: int) -> tuple[Sequence[T], str | None]:
    """Split `limit + 1` fetched rows into the page and the cursor of the next one."""
    page = rows[:limit]
    if len(rows) <= limit:
        return page, None
    last: Any = page[-1]
    return page, encode_cursor(last.created_at, last.id)
