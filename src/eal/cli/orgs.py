"""`eal orgs ...`: organizations (tenants)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

from eal.cli.common import emit, fail, parse_uuid, run_with_runtime, system_actor

if TYPE_CHECKING:
    from eal.organizations.schemas import OrganizationOut
    from eal.runtime import Runtime

app = typer.Typer(help="Organizations (tenants).")


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Display name.")],
    industry: Annotated[str, typer.Option(help="Line of business, e.g. water_damage.")] = (
        "restoration"
    ),
    timezone: Annotated[str, typer.Option(help="IANA time zone.")] = "America/New_York",
    parent: Annotated[str | None, typer.Option(help="Parent organization id.")] = None,
) -> None:
    """Create an organization and print it as JSON."""
    from eal.organizations.schemas import INDUSTRIES, check_timezone

    try:
        check_timezone(timezone)
    except ValueError as exc:
        fail(f"--timezone: {exc}", 2)
    if industry not in INDUSTRIES:
        fail(f"--industry: unknown industry {industry!r}; valid: {', '.join(INDUSTRIES)}", 2)
    name = name.strip()
    if not 1 <= len(name) <= 200:
        fail("--name: must be 1 to 200 characters", 2)
    parent_id = (
        parse_uuid(parent, f"--parent: {parent!r} is not an organization id (a UUID)")
        if parent is not None
        else None
    )

    async def work(runtime: Runtime) -> OrganizationOut:
        from eal.db.tx import Tx
        from eal.organizations import repository
        from eal.organizations.service import insert_organization

        async with runtime.db.system_transaction() as conn:
            tx = Tx(conn, actor=system_actor(parent_id or uuid.uuid4()), clock=runtime.clock)
            if parent_id is not None:
                if not await repository.exists(conn, parent_id):
                    fail(f"--parent: organization {parent_id} does not exist", 2)
                await tx.set_tenant(parent_id)
            return await insert_organization(
                tx,
                name=name,
                industry=industry,
                settings={"timezone": timezone},
                parent_id=parent_id,
            )

    emit(run_with_runtime(work))


@app.command("list")
def list_orgs(
    limit: Annotated[int, typer.Option(help="At most this many (1-1000), oldest first.")] = 100,
    after: Annotated[
        str | None,
        typer.Option(help="Continue after this organization id (the previous page's next_after)."),
    ] = None,
) -> None:
    """List every organization, oldest first, a page at a time."""
    from eal.kit.paging import PageQuery

    if not 1 <= limit <= 1000:
        fail(f"--limit: must be between 1 and 1000 (got {limit})", 2)
    after_id = (
        parse_uuid(after, f"--after: {after!r} is not an organization id (a UUID)")
        if after is not None
        else None
    )

    async def work(runtime: Runtime) -> list[dict[str, Any]]:
        from eal.organizations import repository

        async with runtime.db.system_transaction() as conn:
            cursor = None
            if after_id is not None:
                cursor = await repository.position(conn, after_id)
                if cursor is None:
                    fail(f"--after: organization {after_id} does not exist", 2)
            rows = await repository.all_page(conn, PageQuery(limit, cursor))
        return [row._asdict() for row in rows]

    rows = run_with_runtime(work)
    shown = rows[:limit]
    emit(
        {
            "organizations": shown,
            "count": len(shown),
            "next_after": shown[-1]["id"] if len(rows) > limit else None,
        }
    )
