"""`eal orgs ...`: organizations (tenants)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer

from eal.cli.common import emit, fail, parse_uuid, run_with_database, system_actor

app = typer.Typer(help="Organizations (tenants).", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Display name.")],
    industry: Annotated[str, typer.Option()] = "restoration",
    timezone: Annotated[str, typer.Option(help="IANA time zone.")] = "America/New_York",
    parent: Annotated[str | None, typer.Option(help="Parent organization id.")] = None,
) -> None:
    """Create an organization and print it as JSON."""
    from typing import get_args

    from eal.organizations.schemas import Industry, check_timezone

    try:
        check_timezone(timezone)
    except ValueError as exc:
        fail(str(exc), 2)
    if industry not in get_args(Industry):
        fail(f"--industry must be one of {', '.join(get_args(Industry))}", 2)
    name = name.strip()
    if not name or len(name) > 200:
        fail("--name must be 1 to 200 characters", 2)
    parent_id = parse_uuid(parent, "--parent must be an organization id (UUID)") if parent else None

    async def work(db: Any) -> dict[str, Any]:
        from sqlalchemy import select

        from eal.db.engine import set_tenant
        from eal.organizations.models import organizations
        from eal.organizations.service import insert_organization

        async with db.system_transaction() as conn:
            if parent_id is not None:
                exists = await conn.scalar(
                    select(organizations.c.id).where(organizations.c.id == parent_id)
                )
                if exists is None:
                    fail(f"parent organization {parent_id} does not exist", 2)
                await set_tenant(conn, parent_id)
            return await insert_organization(
                conn,
                system_actor(parent_id or uuid.uuid4()),
                name=name,
                industry=industry,
                settings={"timezone": timezone},
                parent_id=parent_id,
            )

    emit(run_with_database(work))
