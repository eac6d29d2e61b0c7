"""Shared schema building blocks: timestamps in the API's format, strict bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer

from eal.kit.clock import isoformat

Timestamp = Annotated[datetime, PlainSerializer(isoformat, return_type=str, when_used="json")]
"""A datetime rendered as ISO 8601 UTC with milliseconds and a `Z`."""


class StrictBody(BaseModel):
    """Request bodies: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Page(BaseModel):
    """A page of a list endpoint."""

    data: list[Any]
    next_cursor: str | None
