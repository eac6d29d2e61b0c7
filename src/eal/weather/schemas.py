"""Weather-event kinds, and the request and response bodies of the weather-events endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from eal import geo
from eal.kit.clock import utcnow
from eal.kit.paging import Page
from eal.kit.schemas import StrictBody, Timestamp, TimestampIn

MAX_POSTAL_CODES = 1000
# Clocks of feeds and operators drift; a few minutes ahead is still "now".
FUTURE_TOLERANCE = timedelta(minutes=5)
Severity = Literal["minor", "moderate", "severe", "extreme"]


class WeatherEventType(StrEnum):
    """Kinds of severe weather an organization records (each has a lead-scoring weight)."""

    STORM = "storm"
    FREEZE = "freeze"
    FLOOD = "flood"
    HAIL = "hail"
    HURRICANE = "hurricane"
    TORNADO = "tornado"
    WILDFIRE = "wildfire"


class WeatherEventCreate(StrictBody):
    """POST /weather-events: a storm, freeze, flood... that hit these postal codes."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event_type": "storm",
                    "postal_codes": ["30075", "30076"],
                    "occurred_at": "2026-04-26T21:00:00Z",
                    "severity": "severe",
                    "description": "Severe thunderstorm with hail and flash flooding",
                }
            ]
        }
    )

    event_type: WeatherEventType
    postal_codes: list[
        Annotated[str, Field(max_length=10, json_schema_extra={"pattern": geo.POSTAL_CODE_PATTERN})]
    ] = Field(min_length=1, max_length=MAX_POSTAL_CODES)
    occurred_at: TimestampIn = Field(description="When it happened: not in the future.")
    severity: Severity | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None

    @field_validator("postal_codes")
    @classmethod
    def _postal_codes(cls, value: list[str]) -> list[str]:
        codes: set[str] = set()
        for raw in value:
            code = geo.normalize_postal_code(raw)
            if code is None:
                raise ValueError(f"{raw!r} is not a US postal code (e.g. 30075 or 30075-1234)")
            codes.add(code)
        return sorted(codes)

    @field_validator("occurred_at")
    @classmethod
    def _occurred_at(cls, value: datetime) -> datetime:
        if value > utcnow() + FUTURE_TOLERANCE:
            raise ValueError("must not be in the future")
        return value


class WeatherEventOut(BaseModel):
    """A recorded weather event."""

    id: uuid.UUID
    organization_id: uuid.UUID
    event_type: str
    postal_codes: list[str]
    occurred_at: Timestamp
    severity: str | None
    description: str | None
    created_at: Timestamp


class WeatherEventPage(Page[WeatherEventOut]):
    """GET /weather-events."""
