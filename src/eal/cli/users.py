"""`eal users ...`: people who sign in to the console."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from eal.cli.common import emit, fail, parse_uuid, run_with_runtime, system_actor

if TYPE_CHECKING:
    from eal.runtime import Runtime

app = typer.Typer(help="Console users.")
ROLES = ("owner", "manager", "staff")


@app.command("create")
def create(
    org: Annotated[str, typer.Option(help="Organization id.")],
    email: Annotated[str, typer.Option(help="The person's email address.")],
    role: Annotated[str, typer.Option(help="owner, manager or staff.")] = "staff",
) -> None:
    """Add a console user; prints a one-time sign-in link (valid 24 hours)."""
    from email_validator import EmailNotValidError, validate_email

    org_id = parse_uuid(org, f"--org: {org!r} is not an organization id (a UUID)")
    if role not in ROLES:
        fail(f"--role: unknown role {role!r}; valid: {', '.join(ROLES)}", 2)
    try:
        address = validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        fail(f"--email: {email!r} is not an email address ({exc})", 2)

    async def work(runtime: Runtime) -> dict[str, Any]:
        from eal.console import service
        from eal.console.roles import Role
        from eal.db.tx import Tx
        from eal.errors import Conflict
        from eal.organizations import repository

        async with runtime.db.system_transaction() as conn:
            if not await repository.exists(conn, org_id):
                fail(f"--org: organization {org_id} does not exist", 2)
            tx = Tx(conn, actor=system_actor(org_id), clock=runtime.clock)
            await tx.set_tenant(org_id)
            try:
                user = await service.create_user(tx, address, Role(role))
            except Conflict as exc:
                fail(exc.message, 1)
            token = await service.issue_link(tx, user.id)
        base = runtime.settings.public_url.rstrip("/")
        return {
            "id": user.id,
            "organization_id": user.organization_id,
            "email": user.email,
            "role": user.role.value,
            "sign_in_url": f"{base}/console/sign-in/{token}",
            "sign_in_expires_in_hours": int(service.LINK_TTL.total_seconds() // 3600),
        }

    emit(run_with_runtime(work))


@app.command("link")
def link(
    org: Annotated[str, typer.Option(help="Organization id.")],
    email: Annotated[str, typer.Option(help="The user's email address.")],
) -> None:
    """Print a new one-time sign-in link for an existing user (valid 24 hours)."""
    org_id = parse_uuid(org, f"--org: {org!r} is not an organization id (a UUID)")

    async def work(runtime: Runtime) -> dict[str, Any]:
        from eal.console import service
        from eal.db.tx import Tx

        async with runtime.db.system_transaction() as conn:
            tx = Tx(conn, actor=system_actor(org_id), clock=runtime.clock)
            await tx.set_tenant(org_id)
            user = await service.find_user(tx, email)
            if user is None:
                fail(f"--email: organization {org_id} has no console user {email!r}", 2)
            token = await service.issue_link(tx, user.id)
        base = runtime.settings.public_url.rstrip("/")
        return {"email": user.email, "sign_in_url": f"{base}/console/sign-in/{token}"}

    emit(run_with_runtime(work))
