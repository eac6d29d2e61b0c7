"""`eal calls ...`: importing call history."""

from __future__ import annotations

import sys
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from eal.cli.common import emit, fail, parse_uuid, run_with_runtime, system_actor

if TYPE_CHECKING:
    from eal.calls.importer import ImportSummary
    from eal.runtime import Runtime

app = typer.Typer(help="Calls: imports from call trackers.")


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not a date as YYYY-MM-DD", 2)


@app.command("import-callrail")
def import_callrail(
    org: Annotated[str, typer.Option(help="Organization id.")],
    since: Annotated[str, typer.Option(help="First day to import, YYYY-MM-DD.")],
    until: Annotated[str | None, typer.Option(help="Last day to import (default: today).")] = None,
) -> None:
    """Backfill calls from CallRail API v3; running it again adds nothing.

    Calls older than two hours are classified but never dispatched automatically.
    """
    org_id = parse_uuid(org, f"--org: {org!r} is not an organization id (a UUID)")
    first = _day(since, "--since")
    last = _day(until, "--until") if until is not None else None
    if last is not None and last < first:
        fail("--until must not be before --since", 2)
    interactive = sys.stderr.isatty()

    def progress(summary: ImportSummary) -> None:
        if interactive:
            sys.stderr.write(
                f"\rimporting: {summary.listed} calls read, {summary.created} new, "
                f"{summary.updated} updated"
            )
            sys.stderr.flush()

    async def work(runtime: Runtime) -> ImportSummary:
        from eal.calls.importer import import_callrail as run_import
        from eal.errors import AppError
        from eal.integrations.callrail import CallRailError
        from eal.kit.outbound import UnsafeUrl

        try:
            return await run_import(
                runtime, system_actor(org_id), first, until=last, progress=progress
            )
        except AppError as exc:
            fail(exc.message, 2)
        except CallRailError as exc:
            fail(f"CallRail: {exc.message}", 1)
        except UnsafeUrl as exc:
            fail(f"CallRail: the API URL is refused: {exc}", 2)

    summary = run_with_runtime(work)
    if interactive:
        sys.stderr.write("\n")
    emit(
        {
            "organization_id": summary.organization_id,
            "since": summary.since.isoformat(),
            "listed": summary.listed,
            "created": summary.created,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "outbound_skipped": summary.outbound_skipped,
            "refused": summary.refused,
        }
    )
