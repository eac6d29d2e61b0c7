"""`eal orgs ...`: organizations (tenants)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from eal.cli.common import emit, fail, parse_uuid, run_with_runtime, system_actor

if TYPE_CHECKING:
    from eal.organizations.schemas import OrganizationOut
    from eal.runtime import Runtime

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

    async def work(runtime: Runtime) -> OrganizationOut:
        from eal.db.tx import Tx
        from eal.organizations import repository
        from eal.organizations.service import insert_organization

        async with runtime.db.system_transaction() as conn:
            tx = Tx(conn, actor=system_actor(parent_id or uuid.uuid4()), clock=runtime.clock)
            if parent_id is not None:
                if not await repository.exists(conn, parent_id):
                    fail(f"parent organization {parent_id} does not exist", 2)
                await tx.set_tenant(parent_id)
            return await insert_organization(
                tx,
                name=name,
                industry=industry,
                settings={"timezone": timezone},
                parent_id=parent_id,
            )

    emit(run_with_runtime(work))
