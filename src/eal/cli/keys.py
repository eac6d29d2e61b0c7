"""`eal keys ...`: API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from eal.cli.common import emit, fail, parse_uuid, run_with_runtime, system_actor

if TYPE_CHECKING:
    from eal.apikeys.schemas import ApiKeyCreated, ApiKeyRevoked
    from eal.auth.scopes import Scope
    from eal.kit.identity import Environment
    from eal.runtime import Runtime

app = typer.Typer(help="API keys.")


def _parse_scopes(value: str) -> list[Scope]:
    """`--scopes` as scopes, in the order given; a clean failure naming the bad one."""
    from eal.auth.scopes import Scope

    valid = ", ".join(Scope)
    names = [part.strip() for part in value.split(",") if part.strip()]
    if not names:
        fail(f"--scopes: name at least one scope; valid: {valid}", 2)
    for name in names:
        if name not in Scope._value2member_map_:
            fail(f"--scopes: unknown scope {name!r}; valid: {valid}", 2)
    return [Scope(name) for name in names]


def _parse_environment(value: str) -> Environment:
    """`--environment` as an environment; a clean failure listing the valid ones."""
    from eal.kit.identity import Environment

    if value not in Environment._value2member_map_:
        valid = ", ".join(Environment)
        fail(f"--environment: unknown environment {value!r}; valid: {valid}", 2)
    return Environment(value)


@app.command("create")
def create(
    org: Annotated[str, typer.Option(help="Organization id.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: read,write,admin.")] = "read",
    environment: Annotated[str, typer.Option(help="live or test.")] = "live",
    name: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
) -> None:
    """Issue an API key; the secret is printed once."""
    org_id = parse_uuid(org, f"--org: {org!r} is not an organization id (a UUID)")
    scope_list = _parse_scopes(scopes)
    env = _parse_environment(environment)
    if name is not None:
        name = name.strip()
        if not 1 <= len(name) <= 200:
            fail("--name: must be 1 to 200 characters", 2)

    async def work(runtime: Runtime) -> ApiKeyCreated:
        from eal.apikeys.service import create_api_key
        from eal.db.tx import Tx
        from eal.organizations import repository

        async with runtime.db.system_transaction() as conn:
            if not await repository.exists(conn, org_id):
                fail(f"--org: organization {org_id} does not exist", 2)
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


@app.command("list")
def list_keys(
    org: Annotated[str, typer.Option(help="Organization id.")],
    limit: Annotated[int, typer.Option(help="At most this many (1-1000), oldest first.")] = 100,
    after: Annotated[
        str | None,
        typer.Option(help="Continue after this key id (the previous page's next_after)."),
    ] = None,
) -> None:
    """List the organization's keys, revoked ones included (never a secret or its hash)."""
    from eal.kit.paging import PageQuery

    org_id = parse_uuid(org, f"--org: {org!r} is not an organization id (a UUID)")
    if not 1 <= limit <= 1000:
        fail(f"--limit: must be between 1 and 1000 (got {limit})", 2)
    after_id = (
        parse_uuid(after, f"--after: {after!r} is not a key id (a UUID)")
        if after is not None
        else None
    )

    async def work(runtime: Runtime) -> list[dict[str, Any]]:
        from eal.apikeys import repository as keys
        from eal.organizations import repository as organizations

        async with runtime.db.system_transaction() as conn:
            if not await organizations.exists(conn, org_id):
                fail(f"--org: organization {org_id} does not exist", 2)
            cursor = None
            if after_id is not None:
                cursor = await keys.position(conn, org_id, after_id)
                if cursor is None:
                    fail(f"--after: organization {org_id} has no API key {after_id}", 2)
            rows = await keys.organization_page(conn, org_id, PageQuery(limit, cursor))
        return [row._asdict() for row in rows]

    rows = run_with_runtime(work)
    shown = rows[:limit]
    emit(
        {
            "organization_id": org_id,
            "keys": shown,
            "count": len(shown),
            "next_after": shown[-1]["id"] if len(rows) > limit else None,
        }
    )


@app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke an API key immediately."""
    kid = parse_uuid(key_id, f"KEY_ID: {key_id!r} is not a key id (a UUID)")

    async def work(runtime: Runtime) -> ApiKeyRevoked:
        from eal.apikeys import repository
        from eal.apikeys.service import revoke_api_key
        from eal.db.tx import Tx
        from eal.errors import NotFound

        async with runtime.db.system_transaction() as conn:
            org_id = await repository.organization_of(conn, kid)
            if org_id is None:
                fail(f"no API key {kid}", 2)
            tx = Tx(conn, actor=system_actor(org_id), clock=runtime.clock)
            await tx.set_tenant(org_id)
            try:
                return await revoke_api_key(tx, kid)
            except NotFound:
                fail(f"API key {kid} is already revoked", 2)

    emit(run_with_runtime(work))
