"""Shared schema building blocks: timestamps in the API's format, strict bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, field_validator

from eal.kit.clock import isoformat

Timestamp = Annotated[datetime, PlainSerializer(isoformat, return_type=str, when_used="json")]
"""A datetime rendered as ISO 8601 UTC with milliseconds and a `Z`."""


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
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("must not contain NUL (\\u0000) characters")
        return value
