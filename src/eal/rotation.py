"""Re-encrypting stored secrets under the newest key.

Once a new key is configured first (`EAL_SECRET_KEY="new,old"` or
`eal secrets add-key`) and every process runs with it, `rotate_stored_secrets`
rewrites each stored ciphertext the newest key does not open yet:

- webhook signing secrets, current and previous (`webhook_endpoints`);
- credentials in `organizations.settings.integrations.<name>`: every key ending
  in `_encrypted`, at any depth, of every integration;
- sealed responses of the Idempotency-Key replay store (`idempotency_keys`).

The walk goes one organization at a time, each in a transaction of its own:
its rows are read in keyset batches locked `FOR UPDATE`, rewritten, and one
`secrets.rotated` audit entry (counts only, never ciphertexts) commits with
them. Memory stays bounded by the batch size, and row locks last one
organization's pass. A value no configured key opens is counted, listed and
left untouched; the other values are still rewritten. Values already under
the newest key are not written, so running again rewrites nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from eal import events
from eal.db.tx import Tx
from eal.kit.clock import Clock
from eal.kit.identity import Actor, Source
from eal.kit.secretbox import SecretBox

log = structlog.get_logger(__name__)

WEBHOOK_SECRETS = "webhook_secrets"
WEBHOOK_PREVIOUS_SECRETS = "webhook_previous_secrets"
INTEGRATION_SECRETS = "integration_secrets"
IDEMPOTENT_RESPONSES = "idempotent_responses"
KINDS = (WEBHOOK_SECRETS, WEBHOOK_PREVIOUS_SECRETS, INTEGRATION_SECRETS, IDEMPOTENT_RESPONSES)
"""The kinds of stored secrets, as the report and the audit entry name them."""

AUDIT_ACTION = events.Action.SECRETS_ROTATED
ENCRYPTED_SUFFIX = "_encrypted"
DEFAULT_BATCH_SIZE = 500
MAX_LISTED_UNREADABLE = 100
"""Unreadable values listed by location in a report (all of them are counted)."""

# Deadlock, serialization failure: the organization's pass is rolled back and run again.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
_ATTEMPTS = 5


@dataclass
class Counts:
    """What happened to the values of one kind."""

    rewritten: int = 0
    already_current: int = 0
    unreadable: int = 0

    def add(self, other: Counts) -> None:
        """Add `other`'s counts to these."""
        self.rewritten += other.rewritten
        self.already_current += other.already_current
        self.unreadable += other.unreadable

    def as_dict(self) -> dict[str, int]:
        """The counts as JSON."""
        return {
            "rewritten": self.rewritten,
            "already_current": self.already_current,
            "unreadable": self.unreadable,
        }


def _no_counts() -> dict[str, Counts]:
    return {kind: Counts() for kind in KINDS}


@dataclass(frozen=True)
class UnreadableValue:
    """Where a value that no configured key opens is stored."""

    kind: str
    organization_id: uuid.UUID
    table: str
    row: dict[str, str]
    field: str

    def as_dict(self) -> dict[str, Any]:
        """The location as JSON."""
        return {
            "kind": self.kind,
            "organization_id": str(self.organization_id),
            "table": self.table,
            "row": self.row,
            "field": self.field,
        }


@dataclass
class RotationReport:
    """The outcome of one rotation run."""

    keys: int
    counts: dict[str, Counts] = field(default_factory=_no_counts)
    organizations: int = 0
    """Organizations walked."""
    organizations_rewritten: int = 0
    """Organizations with at least one value rewritten (one audit entry each)."""
    unreadable_values: list[UnreadableValue] = field(default_factory=list)
    """The first MAX_LISTED_UNREADABLE unreadable values."""

    def _total(self, name: str) -> int:
        return sum(getattr(counts, name) for counts in self.counts.values())

    @property
    def rewritten(self) -> int:
        """Values rewritten under the newest key."""
        return self._total("rewritten")

    @property
    def already_current(self) -> int:
        """Values that already were under the newest key."""
        return self._total("already_current")

    @property
    def unreadable(self) -> int:
        """Values no configured key opens (left as they were)."""
        return self._total("unreadable")

    @property
    def complete(self) -> bool:
        """True when every stored value is now under the newest key."""
        return self.unreadable == 0

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON (counts and locations, never ciphertexts)."""
        return {
            "status": "ok" if self.complete else "unreadable",
            "keys": self.keys,
            "organizations": self.organizations,
            "organizations_rewritten": self.organizations_rewritten,
            "rewritten": self.rewritten,
            "already_current": self.already_current,
            "unreadable": self.unreadable,
            "kinds": {kind: counts.as_dict() for kind, counts in self.counts.items()},
            "unreadable_values": [value.as_dict() for value in self.unreadable_values],
        }


async def rotate_stored_secrets(
    conn: AsyncConnection,
    box: SecretBox,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    correlation_id: str | None = None,
    clock: Clock | None = None,
) -> RotationReport:
    """Rewrite every stored secret that `box`'s newest key does not open yet.

    `conn` is a connection as the schema owner (the system engine). Outside a
    transaction, each organization's pass commits on its own (the CLI's way:
    locks and work are held one organization at a time); inside the caller's
    transaction, each pass is a savepoint and everything commits with the
    caller. `correlation_id` is stored on the audit entries, which take their
    time from `clock` (the runtime's).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    run = _Run(conn, box, batch_size, correlation_id, clock)
    report = RotationReport(keys=box.key_count)
    after: uuid.UUID | None = None
    while True:
        async with _unit(conn):
            rows = await _page(conn, "SELECT id FROM organizations", "id", after, batch_size)
        if not rows:
            return report
        for row in rows:
            done = await _rotate_with_retries(run, row.id)
            report.organizations += 1
            if done.rewritten:
                report.organizations_rewritten += 1
                log.info(AUDIT_ACTION.value, organization_id=str(row.id), rewritten=done.rewritten)
            for kind, counts in done.counts.items():
                report.counts[kind].add(counts)
            room = MAX_LISTED_UNREADABLE - len(report.unreadable_values)
            report.unreadable_values.extend(done.unreadable[: max(room, 0)])
        after = rows[-1].id


@dataclass(frozen=True)
class _Run:
    """What every organization's pass of one rotation run shares."""

    conn: AsyncConnection
    box: SecretBox
    batch_size: int
    correlation_id: str | None
    clock: Clock | None


@asynccontextmanager
async def _unit(conn: AsyncConnection) -> AsyncIterator[None]:
    """A transaction of its own, or a savepoint inside the caller's transaction."""
    if conn.in_transaction():
        async with conn.begin_nested():
            yield
    else:
        async with conn.begin():
            yield


async def _page(
    conn: AsyncConnection,
    select_from: str,
    key: str,
    after: Any,
    limit: int,
    *,
    where: str = "",
    params: dict[str, Any] | None = None,
    lock: bool = False,
) -> list[Any]:
    """One keyset page: the rows of `select_from` whose `key` follows `after`, in `key` order."""
    conditions = [c for c in (where, f"{key} > :after" if after is not None else "") if c]
    sql = select_from
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    sql += f" ORDER BY {key} LIMIT :limit"
    if lock:
        sql += " FOR UPDATE"
    values = {**(params or {}), "limit": limit}
    if after is not None:
        values["after"] = after
    return list((await conn.execute(text(sql), values)).all())


@dataclass
class _OrganizationPass:
    """One organization's values, classified and (where needed) re-encrypted."""

    run: _Run
    organization_id: uuid.UUID
    counts: dict[str, Counts] = field(default_factory=_no_counts)
    unreadable: list[UnreadableValue] = field(default_factory=list)

    @property
    def conn(self) -> AsyncConnection:
        """The run's connection."""
        return self.run.conn

    @property
    def rewritten(self) -> int:
        """Values of this organization rewritten so far."""
        return sum(counts.rewritten for counts in self.counts.values())

    def renewed(
        self, kind: str, token: str, table: str, row: dict[str, str], at: str
    ) -> str | None:
        """The value re-encrypted under the newest key; None when it stays as it is."""
        counts = self.counts[kind]
        box = self.run.box
        if box.is_current(token):
            counts.already_current += 1
            return None
        try:
            fresh = box.rotate(token)
        except ValueError:
            counts.unreadable += 1
            if len(self.unreadable) < MAX_LISTED_UNREADABLE:
                self.unreadable.append(UnreadableValue(kind, self.organization_id, table, row, at))
            return None
        counts.rewritten += 1
        return fresh


async def _rotate_with_retries(run: _Run, organization_id: uuid.UUID) -> _OrganizationPass:
    """One organization's pass in its own unit of work, run again after a deadlock.

    The pass locks rows in another order than API requests do (their webhook
    changes lock the endpoint, then the organization; an idempotent request
    stores its response after its audit entry), so PostgreSQL may pick it as
    a deadlock victim; it is rolled back whole and nothing is counted twice.
    """
    for attempt in range(1, _ATTEMPTS + 1):
        work = _OrganizationPass(run, organization_id)
        try:
            async with _unit(run.conn):
                actor = Actor(organization_id, Source.SYSTEM, run.correlation_id)
                tx = Tx(run.conn, actor=actor, clock=run.clock)
                await tx.set_tenant(organization_id)
                # Idempotency rows first: the organization row, which webhook
                # updates lock too (their trigger raises its config revision),
                # is then held for the shortest time.
                await _rotate_idempotent_responses(work)
                await _rotate_webhook_secrets(work)
                await _rotate_integration_secrets(work)
                await _record(tx, work)
        except DBAPIError as exc:
            sqlstate = getattr(exc.orig, "sqlstate", None)
            if sqlstate not in _RETRYABLE_SQLSTATES or attempt == _ATTEMPTS:
                raise
            log.warning(
                "secrets.rotation_retried", organization_id=str(organization_id), sqlstate=sqlstate
            )
            continue
        return work
    raise AssertionError("unreachable")  # the loop returns or raises


_IDEMPOTENCY_UPDATE = text(
    "UPDATE idempotency_keys AS i SET response_body = v.body "
    "FROM unnest(CAST(:ikeys AS text[]), CAST(:bodies AS bytea[])) AS v(ikey, body) "
    "WHERE i.api_key_id = :kid AND i.idempotency_key = v.ikey"
)


async def _rotate_idempotent_responses(work: _OrganizationPass) -> None:
    # Stored responses belong to the organization of the key that sent the
    # request (POSTs never act for another organization), so they are walked
    # key by key along the primary key (api_key_id, idempotency_key).
    key_after: uuid.UUID | None = None
    while True:
        keys = await _page(
            work.conn,
            "SELECT id FROM api_keys",
            "id",
            key_after,
            work.run.batch_size,
            where="organization_id = :org",
            params={"org": work.organization_id},
        )
        if not keys:
            return
        for key in keys:
            await _rotate_responses_of_key(work, key.id)
        key_after = keys[-1].id


async def _rotate_responses_of_key(work: _OrganizationPass, key_id: uuid.UUID) -> None:
    after: str | None = None
    while True:
        rows = await _page(
            work.conn,
            "SELECT idempotency_key, response_body FROM idempotency_keys",
            "idempotency_key",
            after,
            work.run.batch_size,
            where="api_key_id = :kid",
            params={"kid": key_id},
            lock=True,
        )
        if not rows:
            return
        ikeys: list[str] = []
        bodies: list[bytes] = []
        for row in rows:
            # A body that is not even ASCII cannot be a token: it counts as unreadable.
            token = bytes(row.response_body).decode("ascii", errors="replace")
            where = {"api_key_id": str(key_id), "idempotency_key": row.idempotency_key}
            fresh = work.renewed(
                IDEMPOTENT_RESPONSES, token, "idempotency_keys", where, "response_body"
            )
            if fresh is not None:
                ikeys.append(row.idempotency_key)
                bodies.append(fresh.encode("ascii"))
        if ikeys:
            await work.conn.execute(
                _IDEMPOTENCY_UPDATE, {"kid": key_id, "ikeys": ikeys, "bodies": bodies}
            )
        after = rows[-1].idempotency_key


# coalesce: a NULL in the batch means "this column stays as it is".
_WEBHOOK_UPDATE = text(
    "UPDATE webhook_endpoints AS e "
    "SET secret_encrypted = coalesce(v.secret, e.secret_encrypted), "
    "previous_secret_encrypted = coalesce(v.previous, e.previous_secret_encrypted) "
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:secrets AS text[]), CAST(:previous AS text[])) "
    "AS v(id, secret, previous) "
    "WHERE e.id = v.id"
)


async def _rotate_webhook_secrets(work: _OrganizationPass) -> None:
    # Deleted endpoints too: their rows keep a secret that the old key must
    # not be needed for once it is removed.
    after: uuid.UUID | None = None
    while True:
        rows = await _page(
            work.conn,
            "SELECT id, secret_encrypted, previous_secret_encrypted FROM webhook_endpoints",
            "id",
            after,
            work.run.batch_size,
            where="organization_id = :org",
            params={"org": work.organization_id},
            lock=True,
        )
        if not rows:
            return
        ids: list[uuid.UUID] = []
        secrets: list[str | None] = []
        previous: list[str | None] = []
        for row in rows:
            where = {"id": str(row.id)}
            secret = work.renewed(
                WEBHOOK_SECRETS,
                row.secret_encrypted,
                "webhook_endpoints",
                where,
                "secret_encrypted",
            )
            older = (
                work.renewed(
                    WEBHOOK_PREVIOUS_SECRETS,
                    row.previous_secret_encrypted,
                    "webhook_endpoints",
                    where,
                    "previous_secret_encrypted",
                )
                if row.previous_secret_encrypted is not None
                else None
            )
            if secret is not None or older is not None:
                ids.append(row.id)
                secrets.append(secret)
                previous.append(older)
        if ids:
            await work.conn.execute(
                _WEBHOOK_UPDATE, {"ids": ids, "secrets": secrets, "previous": previous}
            )
        after = rows[-1].id


_INTEGRATIONS = text(
    "SELECT settings -> 'integrations' AS integrations FROM organizations WHERE id = :org "
    "FOR UPDATE"
).columns(integrations=JSONB)


def encrypted_values(integrations: Any) -> Iterator[tuple[list[str], str]]:
    """(path in settings, ciphertext) of every `*_encrypted` string under `integrations`."""
    if not isinstance(integrations, dict):
        return
    for name, config in integrations.items():
        yield from _encrypted_within(config, ["integrations", str(name)])


def _encrypted_within(value: Any, path: list[str]) -> Iterator[tuple[list[str], str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and str(key).endswith(ENCRYPTED_SUFFIX):
                yield [*path, str(key)], item
            else:
                yield from _encrypted_within(item, [*path, str(key)])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _encrypted_within(item, [*path, str(index)])


async def _rotate_integration_secrets(work: _OrganizationPass) -> None:
    integrations = await work.conn.scalar(_INTEGRATIONS, {"org": work.organization_id})
    changes: list[tuple[list[str], str]] = []
    for path, token in encrypted_values(integrations):
        at = ".".join(["settings", *path])
        where = {"id": str(work.organization_id)}
        fresh = work.renewed(INTEGRATION_SECRETS, token, "organizations", where, at)
        if fresh is not None:
            changes.append((path, fresh))
    if not changes:
        return
    # jsonb_set at each path rewrites those strings and nothing else: the rest
    # of the settings never goes through Python (numbers keep their precision).
    expression = "settings"
    params: dict[str, Any] = {"org": work.organization_id}
    for index, (path, fresh) in enumerate(changes):
        expression = (
            f"jsonb_set({expression}, CAST(:path_{index} AS text[]), "
            f"to_jsonb(CAST(:value_{index} AS text)), false)"
        )
        params[f"path_{index}"] = path
        params[f"value_{index}"] = fresh
    await work.conn.execute(
        text(f"UPDATE organizations SET settings = {expression} WHERE id = :org"), params
    )


async def _record(tx: Tx, work: _OrganizationPass) -> None:
    """One audit entry for the organization when something of it was rewritten."""
    if not work.rewritten:
        return
    counts = {kind: c.as_dict() for kind, c in work.counts.items() if c != Counts()}
    await events.record(tx, AUDIT_ACTION, {"counts": counts}, organization_id=work.organization_id)
