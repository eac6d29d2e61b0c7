"""The shared SQLAlchemy metadata and column helpers for table definitions.

Tables are described with SQLAlchemy Core for typed queries; the schema
itself (RLS, triggers, roles) is created by the hand-written migrations. The
models describe the tables exactly as the migrations create them (columns,
types, nullability, server defaults, keys, constraints, indexes), and
tests/db/test_schema.py holds them to it.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, MetaData, text
from sqlalchemy.dialects.postgresql import TIMESTAMP, UUID

# The names PostgreSQL gives constraints the migrations leave unnamed, so that
# every constraint here carries the name it has in the database.
NAMING_CONVENTION = {
    "pk": "%(table_name)s_pkey",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def uuid_pk() -> Column[object]:
    """The `id uuid PRIMARY KEY DEFAULT gen_random_uuid()` column."""
    return Column(
        "id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def organization_id(*, primary_key: bool = False) -> Column[object]:
    """The `organization_id uuid NOT NULL REFERENCES organizations(id)` column of a tenant table."""
    return Column(
        "organization_id",
        UUID(as_uuid=True),
        ForeignKey("organizations.id"),
        primary_key=primary_key,
        nullable=False,
    )


def timestamptz(name: str, *, nullable: bool = False, default_now: bool = False) -> Column[object]:
    """A `timestamptz` column; `default_now` gives it `DEFAULT now()`."""
    return Column(
        name,
        TIMESTAMP(timezone=True),
        nullable=nullable,
        server_default=text("now()") if default_now else None,
    )
