"""`eal keys ...`: API keys."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from eal.cli.common import emit, fail, parse_uuid, run_with_database, system_actor

app = typer.Typer(help="API keys.", no_args_is_help=True)


@app.command("create")
def create(
    org: Annotated[str, typer.Option(help="Organization id.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: read,write,admin.")] = "read",
    environment: Annotated[str, typer.Option(help="live or test.")] = "live",
    name: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
) -> None:
    """Issue an API key; the secret is printed once."""
    from eal.auth.scopes import Environment, Scope

    try:
        org_id = parse_uuid(org, "invalid option: --org must be an organization id (UUID)")
        scope_list = [Scope(s.strip()) for s in scopes.split(",") if s.strip()]
        env = Environment(environment)
    except ValueError as exc:
        fail(f"invalid option: {exc}", 2)
    if name is not None and not 1 <= len(name.strip()) <= 200:
        fail("--name must be 1 to 200 characters", 2)
    if not scope_list:
        fail("--scopes must name at least one of read, write, admin", 2)

    async def work(db: Any) -> dict[str, Any]:
        from sqlalchemy import select

        from eal.auth.service import create_api_key
        from eal.db.engine import set_tenant
        from eal.organizations.models import organizations

        async with db.system_transaction() as conn:
            exists = await conn.scalar(
                select(organizations.c.id).where(organizations.c.id == org_id)
            )
            if exists is None:
                fail(f"organization {org_id} does not exist", 2)
            await set_tenant(conn, org_id)
            return await create_api_key(
                conn,
                system_actor(org_id),
                organization_id=org_id,
                scopes=scope_list,
                environment=env,
                name=name,
            )

    emit(run_with_database(work))


@app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke an API key immediately."""
    kid = parse_uuid(key_id, "KEY_ID must be a key id (UUID)")

    async def work(db: Any) -> dict[str, Any]:
        from sqlalchemy import select

        from eal.auth.models import api_keys
        from eal.auth.service import revoke_api_key
        from eal.db.engine import set_tenant
        from eal.errors import NotFound

        async with db.system_transaction() as conn:
            org_id = await conn.scalar(
                select(api_keys.c.organization_id).where(api_keys.c.id == kid)
            )
            if org_id is None:
                fail(f"no API key {kid}", 2)
            await set_tenant(conn, org_id)
            try:
                result: dict[str, Any] = await revoke_api_key(conn, system_actor(org_id), kid)
            except NotFound:
                fail(f"API key {kid} is already revoked", 2)
            return result

    emit(run_with_database(work))
