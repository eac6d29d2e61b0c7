"""The shared SQLAlchemy metadata and column helpers for table definitions.

Tables are described with SQLAlchemy Core for typed queries; the schema
itself (RLS, triggers, roles) is created by the hand-written migrations.
"""

from __future__ import annotations

from sqlalchemy import Column, MetaData, text
from sqlalchemy.dialects.postgresql import TIMESTAMP, UUID

metadata = MetaData()


def uuid_pk() -> Column[object]:
    """The `id uuid PRIMARY KEY DEFAULT gen_random_uuid()` column."""
    return Column(
        "id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def timestamptz(name: str, *, nullable: bool = False) -> Column[object]:
    """A `timestamptz` column."""
    return Column(
        name,
        TIMESTAMP(timezone=True),
        nullable=nullable,
        server_default=None if nullable else text("now()"),
    )
