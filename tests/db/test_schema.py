"""The table models describe the migrated database, and the migration tree stays well-formed.

Two comparisons hold the models (every `eal.*.models` module, on
`eal.db.base.metadata`) to the schema the migrations create:
- Alembic's autogenerate comparison: tables, columns, types, nullability,
  server defaults, foreign keys (with their ON DELETE), unique constraints
  and indexes (columns and their order);
- the catalog comparison, for what Alembic does not look at (CHECK
  constraints, partial index predicates, INCLUDE columns, primary keys,
  constraint names): the models are created in a scratch schema and each
  column, constraint and index definition PostgreSQL prints for them must
  read as it does for the migrated tables.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from pprint import pformat
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, Text, text
from sqlalchemy.engine import Connection

import eal
from eal.db import base
from eal.db.engine import Database, driver_connection
from eal.db.migrate import MIGRATIONS_DIR

# PgQueuer's tables (pgqueuer, pgqueuer_log, ...) and its enum type
# pgqueuer_status belong to that library, which creates and upgrades them.
FOREIGN_PREFIX = "pgqueuer"
ALEMBIC_TABLE = "alembic_version"


def _raise(name: str) -> None:
    raise ImportError(f"cannot import {name} while looking for models")


def model_metadata() -> MetaData:
    """`eal.db.base.metadata` with every `models` module of the `eal` package imported."""
    for module in pkgutil.walk_packages(eal.__path__, "eal.", onerror=_raise):
        if module.name.rsplit(".", 1)[-1] == "models":
            importlib.import_module(module.name)
    return base.metadata


def include_name(name: str | None, type_: str, parent_names: Mapping[str, Any]) -> bool:
    """Alembic name filter: leave out PgQueuer's objects and Alembic's own table."""
    if name is None:
        return True
    if type_ == "table" and name == ALEMBIC_TABLE:
        return False
    return not name.startswith(FOREIGN_PREFIX)


def schema_differences(connection: Connection, metadata: MetaData) -> list[Any]:
    """Alembic's differences between `metadata` and the tables `connection` sees.

    Server defaults are compared as text first; a default written differently
    (`'restoration'` for `'restoration'::text`) is evaluated on both sides by
    the server, so a volatile default must be written as PostgreSQL prints it
    (`gen_random_uuid()` is).
    """
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_name": include_name,
        },
    )
    return list(compare_metadata(context, metadata))


def summary(differences: list[Any]) -> set[tuple[str, str, str]]:
    """(kind, table, object) of each difference, e.g. ("add_column", "leads", "nickname")."""
    out: set[tuple[str, str, str]] = set()
    for diff in differences:
        # Column modifications come grouped, as lists of tuples.
        for item in diff if isinstance(diff, list) else [diff]:
            kind, obj = item[0], item[-1]
            if kind.startswith("modify_"):
                out.add((kind, item[2], item[3]))
            elif kind.endswith("_column"):
                out.add((kind, item[2], obj.name))
            elif kind.endswith("_table"):
                out.add((kind, obj.name, obj.name))
            else:
                out.add((kind, obj.table.name, obj.name))
    return out


_CATALOG = text(
    """
    SELECT c.relname, 'column ' || a.attname,
           format_type(a.atttypid, a.atttypmod)
           || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
           || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE c.relnamespace = CAST(:schema AS regnamespace) AND c.relkind = 'r'
       AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT c.relname, 'constraint ' || k.conname, pg_get_constraintdef(k.oid)
      FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
     WHERE c.relnamespace = CAST(:schema AS regnamespace)
    UNION ALL
    SELECT c.relname, 'index ' || i.relname, pg_get_indexdef(x.indexrelid)
      FROM pg_index x
      JOIN pg_class i ON i.oid = x.indexrelid
      JOIN pg_class c ON c.oid = x.indrelid
     WHERE c.relnamespace = CAST(:schema AS regnamespace)
    """
)


def catalog(connection: Connection, schema: str) -> dict[str, dict[str, str]]:
    """Per table of `schema`: each column, constraint and index as PostgreSQL prints it.

    Schema qualifications are dropped, so that two schemas compare by content.
    """
    qualified = re.compile(rf"\b{re.escape(schema)}\.")
    out: dict[str, dict[str, str]] = {}
    for table, item, definition in connection.execute(_CATALOG, {"schema": schema}):
        if include_name(table, "table", {}):
            out.setdefault(table, {})[item] = qualified.sub("", definition)
    return out


def catalog_differences(
    migrated: dict[str, dict[str, str]], models: dict[str, dict[str, str]]
) -> list[str]:
    """Every item whose definition differs (or exists on one side only)."""
    out = []
    for table in sorted(migrated.keys() | models.keys()):
        ours, theirs = migrated.get(table, {}), models.get(table, {})
        for item in sorted(ours.keys() | theirs.keys()):
            if ours.get(item) != theirs.get(item):
                out.append(
                    f"{table} {item}: migrations {ours.get(item)!r}, models {theirs.get(item)!r}"
                )
    return out


def create_in_scratch_schema(connection: Connection, metadata: MetaData) -> str:
    """Create `metadata`'s tables in a new schema and make it the only one searched.

    For the length of the caller's transaction, which should be rolled back.
    """
    schema = f"eal_models_{uuid.uuid4().hex[:12]}"
    connection.execute(text(f"CREATE SCHEMA {schema}"))
    connection.execute(text(f"SET LOCAL search_path TO {schema}"))
    metadata.create_all(connection)
    return schema


async def test_models_match_the_migrated_database(db: Database) -> None:
    metadata = model_metadata()
    async with db.system.connect() as conn:
        differences = await conn.run_sync(schema_differences, metadata)
    assert differences == [], pformat(differences)


async def test_models_print_as_the_migrated_catalog(db: Database) -> None:
    metadata = model_metadata()
    async with db.system.connect() as conn, conn.begin() as transaction:
        migrated_schema = await conn.scalar(text("SELECT current_schema()"))
        migrated = await conn.run_sync(catalog, migrated_schema)
        scratch = await conn.run_sync(create_in_scratch_schema, metadata)
        models = await conn.run_sync(catalog, scratch)
        await transaction.rollback()
    assert set(models) == set(metadata.tables)
    assert catalog_differences(migrated, models) == []


async def test_comparison_reports_a_column_the_database_lacks(db: Database) -> None:
    metadata = MetaData(naming_convention=base.NAMING_CONVENTION)
    for table in model_metadata().sorted_tables:
        table.to_metadata(metadata)
    metadata.tables["leads"].append_column(Column("nickname", Text))
    async with db.system.connect() as conn:
        differences = await conn.run_sync(schema_differences, metadata)
    assert summary(differences) == {("add_column", "leads", "nickname")}


_DRIFT = [
    "ALTER TABLE leads ADD COLUMN nickname text",
    "DROP INDEX leads_page_idx",
    "ALTER TABLE organizations ALTER COLUMN industry SET DEFAULT 'water'",
    "ALTER TABLE api_keys ALTER COLUMN prefix TYPE varchar(8)",
    "ALTER TABLE org_invites ALTER COLUMN primary_admin_email SET NOT NULL",
    "ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_id_fkey,"
    " ADD CONSTRAINT webhook_attempts_delivery_id_fkey"
    " FOREIGN KEY (delivery_id) REFERENCES webhook_deliveries(id)",
    "CREATE TABLE extra_things (id bigint PRIMARY KEY)",
    # Not ours: ignored.
    "CREATE TYPE pgqueuer_status AS ENUM ('queued', 'picked')",
    "CREATE TABLE pgqueuer (id serial PRIMARY KEY, status pgqueuer_status NOT NULL)",
    "CREATE TABLE pgqueuer_log (id bigserial PRIMARY KEY, job_id integer NOT NULL)",
    "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)",
]


async def test_comparison_reports_drift_of_the_database(db: Database) -> None:
    metadata = model_metadata()
    async with db.system.connect() as conn, conn.begin() as transaction:
        await conn.run_sync(create_in_scratch_schema, metadata)
        before = await conn.run_sync(schema_differences, metadata)
        for statement in _DRIFT:
            await conn.execute(text(statement))
        after = await conn.run_sync(schema_differences, metadata)
        await transaction.rollback()
    assert before == []
    assert summary(after) == {
        ("remove_column", "leads", "nickname"),
        ("add_index", "leads", "leads_page_idx"),
        ("modify_default", "organizations", "industry"),
        ("modify_type", "api_keys", "prefix"),
        ("modify_nullable", "org_invites", "primary_admin_email"),
        ("remove_fk", "webhook_attempts", "webhook_attempts_delivery_id_fkey"),
        ("add_fk", "webhook_attempts", "webhook_attempts_delivery_id_fkey"),
        ("remove_table", "extra_things", "extra_things"),
    }, pformat(after)


async def test_comparison_ignores_pgqueuer_schema(db: Database) -> None:
    """PgQueuer's own install script (tables, enum, indexes, trigger) leaves both comparisons clean."""
    pytest.importorskip("pgqueuer")
    from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment

    install = QueryBuilderEnvironment().build_install_query(create_schema=False)
    metadata = model_metadata()
    async with db.system.connect() as conn, conn.begin() as transaction:
        scratch = await conn.run_sync(create_in_scratch_schema, metadata)
        # A multi-statement script: asyncpg's simple-query path, in the same transaction.
        await (await driver_connection(conn)).execute(install)
        installed = await conn.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s AND tablename LIKE 'pgq%'"),
            {"s": scratch},
        )
        pgqueuer_tables = set(installed)
        differences = await conn.run_sync(schema_differences, metadata)
        tables = set(await conn.run_sync(catalog, scratch))
        await transaction.rollback()
    assert {"pgqueuer", "pgqueuer_log"} <= pgqueuer_tables
    assert differences == [], pformat(differences)
    assert tables == set(metadata.tables)


_UNSEEN_BY_ALEMBIC = [
    "DROP INDEX webhook_deliveries_due_idx",
    "CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)"
    " WHERE status = 'pending'",
    "ALTER TABLE leads DROP CONSTRAINT leads_lead_score_check,"
    " ADD CONSTRAINT leads_lead_score_check CHECK (lead_score BETWEEN 0 AND 99)",
    "ALTER TABLE audit_chain_purged DROP CONSTRAINT audit_chain_purged_pkey,"
    " ADD CONSTRAINT audit_chain_purged_pkey PRIMARY KEY (seq, organization_id)",
]


async def test_catalog_comparison_reports_what_alembic_does_not(db: Database) -> None:
    metadata = model_metadata()
    async with db.system.connect() as conn, conn.begin() as transaction:
        migrated_schema = await conn.scalar(text("SELECT current_schema()"))
        migrated = await conn.run_sync(catalog, migrated_schema)
        scratch = await conn.run_sync(create_in_scratch_schema, metadata)
        for statement in _UNSEEN_BY_ALEMBIC:
            await conn.execute(text(statement))
        alembic_sees = await conn.run_sync(schema_differences, metadata)
        drifted = await conn.run_sync(catalog, scratch)
        await transaction.rollback()
    assert alembic_sees == []
    changed = [line.split(":")[0] for line in catalog_differences(migrated, drifted)]
    assert changed == [
        "audit_chain_purged constraint audit_chain_purged_pkey",
        "audit_chain_purged index audit_chain_purged_pkey",
        "leads constraint leads_lead_score_check",
        "webhook_deliveries index webhook_deliveries_due_idx",
    ]


# --- the migration tree ---------------------------------------------------------------------

VERSIONS_DIR = MIGRATIONS_DIR / "versions"
FILE_NAME = re.compile(r"(\d{4})_[a-z][a-z0-9]*(?:_[a-z][a-z0-9]*)*")
MEANINGLESS_TITLES = {"empty message", "migration"}


@dataclass(frozen=True)
class MigrationFile:
    """What a migration module says about itself, read without running it."""

    path: Path
    revision: object
    down_revisions: tuple[object, ...]
    docstring: str


def read_migration(path: Path) -> MigrationFile:
    """Parse a migration module's `revision`, `down_revision` and docstring."""
    module = ast.parse(path.read_text(encoding="utf-8"))
    values: dict[str, object] = {}
    for node in module.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            values[target.id] = ast.literal_eval(value)
    down = values.get("down_revision")
    downs = tuple(down) if isinstance(down, (tuple, list)) else (down,)
    return MigrationFile(
        path=path,
        revision=values.get("revision"),
        down_revisions=tuple(d for d in downs if d is not None),
        docstring=ast.get_docstring(module) or "",
    )


def migration_files(versions: Path) -> list[Path]:
    """The migration modules of a versions folder."""
    return sorted(p for p in versions.glob("*.py") if p.name != "__init__.py")


def _header(docstring: str, label: str) -> str | None:
    match = re.search(rf"^{label}:[ \t]*(.*)$", docstring, re.MULTILINE)
    return None if match is None else match.group(1).strip()


def migration_problems(paths: list[Path]) -> Iterator[str]:
    """Each way the migration files fail to be named for their content."""
    migrations = [read_migration(path) for path in paths]
    revisions = {m.revision for m in migrations}
    numbers: dict[str, str] = {}
    roots = []
    for m in migrations:
        stem, name = m.path.stem, m.path.name
        match = FILE_NAME.fullmatch(stem)
        if match is None:
            yield f"{name}: not named NNNN_<lower_case_words>.py"
        elif match.group(1) in numbers:
            yield f"{name}: number {match.group(1)} is also {numbers[match.group(1)]}"
        else:
            numbers[match.group(1)] = name
        if m.revision != stem:
            yield f"{name}: revision is {m.revision!r}, not the file stem {stem!r}"
        for down in m.down_revisions:
            if down not in revisions:
                yield f"{name}: down_revision {down!r} is no migration's revision"
        if not m.down_revisions:
            roots.append(name)
        title = m.docstring.splitlines()[0].strip() if m.docstring.strip() else ""
        if title.rstrip(".").lower() in MEANINGLESS_TITLES | {""}:
            yield f"{name}: the docstring's first line ({title!r}) does not describe the change"
        # The header Alembic's template writes must not tell another story.
        revision_id = _header(m.docstring, "Revision ID")
        if revision_id is not None and revision_id != stem:
            yield f"{name}: docstring says Revision ID {revision_id!r}"
        revises = _header(m.docstring, "Revises")
        if revises is not None and {r.strip() for r in revises.split(",") if r.strip()} != set(
            m.down_revisions
        ):
            yield f"{name}: docstring says Revises {revises!r}, down_revision is {m.down_revisions}"
    if len(roots) != 1:
        yield f"the tree has {len(roots)} roots, not one: {roots}"


def test_migration_tree_has_one_head() -> None:
    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    assert len(heads) == 1, f"several heads, add a merge migration: {sorted(heads)}"


def test_migration_files_are_named_for_their_content() -> None:
    paths = migration_files(VERSIONS_DIR)
    assert paths
    assert list(migration_problems(paths)) == []


def _write(folder: Path, name: str, doc: str, revision: str, down: object) -> Path:
    path = folder / name
    path.write_text(f'"""{doc}"""\n\nrevision = {revision!r}\ndown_revision = {down!r}\n')
    return path


def test_migration_checks_report_each_misnamed_file(tmp_path: Path) -> None:
    paths = [
        _write(
            tmp_path, "0001_core.py", "Core tables.\n\nRevision ID: 0001_core\n", "0001_core", None
        ),
        _write(tmp_path, "0002_Leads-Table.py", "Leads.", "0002_Leads-Table", "0001_core"),
        _write(tmp_path, "0003_hooks.py", "Webhooks.", "a1b2c3d4e5f6", "0001_core"),
        _write(tmp_path, "0003_more.py", "More.", "0003_more", "0001_core"),
        _write(tmp_path, "0004_gap.py", "Gap.", "0004_gap", ("0003_more", "0009_missing")),
        _write(tmp_path, "0005_blank.py", "Empty message", "0005_blank", "0004_gap"),
        _write(tmp_path, "0006_root.py", "Migration.\n\nRevises: 0005_blank\n", "0006_root", None),
    ]
    assert sorted(migration_problems(paths)) == sorted(
        [
            "0002_Leads-Table.py: not named NNNN_<lower_case_words>.py",
            "0003_more.py: number 0003 is also 0003_hooks.py",
            "0003_hooks.py: revision is 'a1b2c3d4e5f6', not the file stem '0003_hooks'",
            "0004_gap.py: down_revision '0009_missing' is no migration's revision",
            "0005_blank.py: the docstring's first line ('Empty message') does not describe the change",
            "0006_root.py: the docstring's first line ('Migration.') does not describe the change",
            "0006_root.py: docstring says Revises '0005_blank', down_revision is ()",
            "the tree has 2 roots, not one: ['0001_core.py', '0006_root.py']",
        ]
    )


def test_two_branches_make_two_heads(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    _write(versions, "0001_core.py", "Core.", "0001_core", None)
    _write(versions, "0002_leads.py", "Leads.", "0002_leads", "0001_core")
    _write(versions, "0003_webhooks.py", "Webhooks.", "0003_webhooks", "0001_core")
    assert sorted(ScriptDirectory(str(tmp_path)).get_heads()) == ["0002_leads", "0003_webhooks"]
