"""Verifying the per-organization SHA-256 hash chain of the audit log.

Each entry stores its predecessor's hash (`prev_hash`) and its own (`hash`,
computed by the database from prev_hash and the entry's content, see the
`eal_audit_hash` SQL function). Verification walks a chain in `seq` order,
streaming, and checks that:

- it starts right after the organization's anchor (seq 1 and the zero hash
  until retention has folded purged entries into the anchor);
- every entry's content still matches its hash (nothing was altered);
- every `seq` follows the previous one (nothing was deleted) and every
  `prev_hash` is the previous entry's hash;
- it ends at the organization's chain head (nothing was cut off the end).

Entries removed by retention while an older entry of the chain is still held
are represented by their links in `audit_chain_purged` (seq and hashes, no
content), so retention never reads as tampering.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

ZERO_HASH = bytes(32)

_ORGS = text("SELECT id FROM organizations ORDER BY id")
_HEAD = text(
    "SELECT last_seq, last_hash, anchor_seq, anchor_hash FROM audit_chain_heads "
    "WHERE organization_id = :org"
)
# Held entries (content re-hashed by the database) merged with purged links, in chain order.
_CHAIN = text(
    "SELECT seq, id, prev_hash, hash, eal_audit_hash(prev_hash, id, organization_id, seq, "
    "action, source, correlation_id, payload, created_at) AS computed "
    "FROM platform_events WHERE organization_id = :org "
    "UNION ALL "
    "SELECT seq, NULL, prev_hash, hash, NULL FROM audit_chain_purged WHERE organization_id = :org "
    "ORDER BY seq"
)


@dataclass
class BrokenLink:
    """The first place where an organization's chain does not hold.

    `entry_id` is the held entry at that place, or None when the break is at
    a purged link or at the end of a chain whose entries are all gone.
    """

    organization_id: uuid.UUID
    entry_id: uuid.UUID | None
    seq: int
    reason: str


@dataclass
class ChainReport:
    """The result of verifying one or more chains."""

    organizations: int = 0
    entries: int = 0
    broken: list[BrokenLink] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every verified chain is intact."""
        return not self.broken


def _missing(first: int, last: int) -> str:
    if first == last:
        return f"entry seq {first} is missing"
    return f"entries seq {first}..{last} are missing"


async def verify_organization(
    conn: AsyncConnection, organization_id: uuid.UUID
) -> tuple[int, BrokenLink | None]:
    """Walk one chain; return (held entries checked, first broken link or None)."""
    head = (await conn.execute(_HEAD, {"org": organization_id})).first()
    last_seq, last_hash = (head.last_seq, bytes(head.last_hash)) if head else (0, ZERO_HASH)
    prev_seq, prev_hash = (head.anchor_seq, bytes(head.anchor_hash)) if head else (0, ZERO_HASH)
    checked = 0
    last_id: uuid.UUID | None = None

    def broken(entry_id: uuid.UUID | None, seq: int, reason: str) -> BrokenLink:
        return BrokenLink(organization_id, entry_id, seq, reason)

    result = await conn.stream(_CHAIN.execution_options(yield_per=2000), {"org": organization_id})
    async for row in result:
        held = row.id is not None
        checked += held
        if row.seq == last_seq and bytes(row.hash) != last_hash:
            return checked, broken(row.id, row.seq, "the entry does not match the chain head")
        if row.seq != prev_seq + 1:
            if row.seq <= prev_seq:
                return checked, broken(row.id, row.seq, "seq repeats or precedes the anchor")
            return checked, broken(row.id, row.seq, _missing(prev_seq + 1, row.seq - 1))
        if held and bytes(row.computed) != bytes(row.hash):
            return checked, broken(
                row.id, row.seq, "content does not match its hash (entry altered)"
            )
        if bytes(row.prev_hash) != prev_hash:
            return checked, broken(row.id, row.seq, "prev_hash does not match the preceding entry")
        prev_seq, prev_hash, last_id = row.seq, bytes(row.hash), row.id
    if prev_seq < last_seq:
        return checked, broken(last_id, prev_seq, _missing(prev_seq + 1, last_seq))
    # Entries past the head committed after it was read (a concurrent append);
    # they were linked above. A chain with entries must have a head, though.
    if head is None and prev_seq > 0:
        head = (await conn.execute(_HEAD, {"org": organization_id})).first()
        if head is None:
            return checked, broken(last_id, prev_seq, "the chain head is missing")
    return checked, None


async def verify_chains(
    conn: AsyncConnection, organization_id: uuid.UUID | None = None
) -> ChainReport:
    """Verify one organization's chain, or every organization's (system connection).

    Run it in a snapshot (see `Database.snapshot_transaction`) so concurrent
    appends and retention cannot change the chains half-way through a walk.
    """
    report = ChainReport()
    if organization_id is not None:
        orgs = [organization_id]
    else:
        orgs = [r[0] for r in (await conn.execute(_ORGS)).all()]
    for org in orgs:
        checked, broken = await verify_organization(conn, org)
        report.organizations += 1
        report.entries += checked
        if broken is not None:
            report.broken.append(broken)
    return report
