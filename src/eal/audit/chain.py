"""Verifying the per-organization SHA-256 hash chain of the audit log.

Each entry stores its predecessor's hash (`prev_hash`) and its own (`hash`,
computed by the database from prev_hash and the entry's content, see the
`eal_audit_hash` SQL function). Verification recomputes every hash and checks
that each entry points at the one before it, streaming in chain order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_ORGS = text("SELECT DISTINCT organization_id FROM audit_chain_heads ORDER BY organization_id")
_CHAIN = text(
    "SELECT id, seq, prev_hash, hash, eal_audit_hash(prev_hash, id, organization_id, seq, action, "
    "source, correlation_id, payload, created_at) AS computed "
    "FROM platform_events WHERE organization_id = :org ORDER BY seq"
)


@dataclass
class BrokenLink:
    """The first place where an organization's chain does not hold."""

    organization_id: uuid.UUID
    entry_id: uuid.UUID
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


async def verify_organization(
    conn: AsyncConnection, organization_id: uuid.UUID
) -> tuple[int, BrokenLink | None]:
    """Walk one chain; return (entries checked, first broken link or None)."""
    checked = 0
    prev_hash: bytes | None = None
    prev_seq: int | None = None
    result = await conn.stream(
        text(_CHAIN.text).execution_options(yield_per=2000), {"org": organization_id}
    )
    async for row in result:
        checked += 1
        if bytes(row.computed) != bytes(row.hash):
            return checked, BrokenLink(
                organization_id, row.id, row.seq, "content does not match its hash (entry altered)"
            )
        if prev_seq is not None:
            if row.seq != prev_seq + 1:
                return checked, BrokenLink(
                    organization_id,
                    row.id,
                    row.seq,
                    f"entries {prev_seq + 1}..{row.seq - 1} are missing",
                )
            if bytes(row.prev_hash) != prev_hash:
                return checked, BrokenLink(
                    organization_id, row.id, row.seq, "prev_hash does not match the preceding entry"
                )
        prev_hash, prev_seq = bytes(row.hash), row.seq
    return checked, None


async def verify_chains(
    conn: AsyncConnection, organization_id: uuid.UUID | None = None
) -> ChainReport:
    """Verify one organization's chain, or every organization's (system connection)."""
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
