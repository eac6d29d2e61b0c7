"""`eal keys ...`: API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from eal.cli.common import emit, fail, parse_uuid, run_with_runtime, system_actor

if TYPE_CHECKING:
    from eal.apikeys.schemas import ApiKeyCreated, ApiKeyRevoked
    from eal.runtime import Runtime

app = typer.Typer(help="API keys.", no_args_is_help=True)


@app.command("create")
def create(
    org: Annotated[str, typer.Option(help="Organization id.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: read,write,admin.")] = "read",
    environment: Annotated[str, typer.Option(help="live or test.")] = "live",
    name: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
) -> None:
    """Issue an API key; the secret is printed once."""
    from eal.auth.scopes import Scope
    from eal.kit.identity import Environment

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

    async def work(runtime: Runtime) -> ApiKeyCreated:
        from eal.apikeys.service import create_api_key
        from eal.db.tx import Tx
        from eal.organizations import repository

        async with runtime.db.system_transaction() as conn:
            if not await repository.exists(conn, org_id):
                fail(f"organization {org_id} does not exist", 2)
            tx = Tx(conn, actor=system_actor(org_id), clock=runtime.clock)
            await tx.set_tenant(org_id)
            return await create_api_key(
                tx,
                organization_id=org_id,
                scopes=scope_list,
                environment=env,
                name=name,
            )

    emit(run_with_runtime(work))


@app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke an API key immediately."""
    kid = parse_uuid(key_id, "KEY_ID must be a key id (UUID)")

    async def work(runtime: Runtime) -> ApiKeyRevoked:
        from sqlalchemy import select

        from eal.apikeys.models import api_keys
        from eal.apikeys.service import revoke_api_key
        from eal.db.tx import Tx
        from eal.errors import NotFound

        async with runtime.db.system_transaction() as conn:
            org_id = await conn.scalar(
                select(api_keys.c.organization_id).where(api_keys.c.id == kid)
            )
            if org_id is None:
                fail(f"no API key {kid}", 2)
            tx = Tx(conn, actor=system_actor(org_id), clock=runtime.clock)
            await tx.set_tenant(org_id)
            try:
                return await revoke_api_key(tx, kid)
            except NotFound:
                fail(f"API key {kid} is already revoked", 2)

    emit(run_with_runtime(work))
