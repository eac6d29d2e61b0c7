"""`eal audit ...`: verifying and purging the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from eal.cli.common import emit, fail, parse_uuid, run_with_runtime

if TYPE_CHECKING:
    from eal.audit.chain import ChainReport
    from eal.runtime import Runtime

app = typer.Typer(help="The audit log.")


@app.command("verify")
def verify(
    org: Annotated[str | None, typer.Option(help="Verify one organization only.")] = None,
) -> None:
    """Verify the audit log hash chains; exit 1 at the first broken link."""
    org_id = (
        parse_uuid(org, f"--org: {org!r} is not an organization id (a UUID)")
        if org is not None
        else None
    )

    async def work(runtime: Runtime) -> ChainReport:
        from eal.audit.chain import verify_chains
        from eal.organizations import repository

        # One snapshot for the whole walk: appends committing meanwhile are not half-seen.
        async with runtime.db.snapshot_transaction() as conn:
            if org_id is not None and not await repository.exists(conn, org_id):
                fail(f"--org: organization {org_id} does not exist", 2)
            return await verify_chains(conn, org_id)

    report = run_with_runtime(work)
    emit(
        {
            "ok": report.ok,
            "organizations": report.organizations,
            "entries": report.entries,
            "broken": [
                {
                    "organization_id": b.organization_id,
                    "entry_id": b.entry_id,
                    "seq": b.seq,
                    "reason": b.reason,
                }
                for b in report.broken
            ],
        }
    )
    if not report.ok:
        raise typer.Exit(1)


@app.command("purge")
def purge() -> None:
    """Delete audit entries older than the 7-year retention period now."""

    async def work(runtime: Runtime) -> int:
        from eal.audit.retention import purge_expired_entries

        async with runtime.db.system_transaction() as conn:
            return await purge_expired_entries(conn)

    emit({"deleted": run_with_runtime(work)})
