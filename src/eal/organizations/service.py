"""Organizations, child organizations, invites and grants (no HTTP)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from eal import events, jobs
from eal.apikeys import service as keys_service
from eal.auth.scopes import Scope
from eal.db.tx import Tx
from eal.errors import Conflict, Forbidden, NotFound, field_error
from eal.events import Action
from eal.kit.clock import isoformat
from eal.kit.identity import Actor, Environment
from eal.kit.outbound import OutboundPolicy, UnsafeUrl
from eal.kit.paging import Page, PageQuery, paginate
from eal.kit.secretbox import SecretBox
from eal.organizations import repository
from eal.organizations.schemas import (
    ChildOrganizationOut,
    GrantCreate,
    GrantOut,
    InviteAccepted,
    OrganizationCreate,
    OrganizationCreated,
    OrganizationOut,
    SettingsIn,
)
from eal.organizations.settings import (
    DEFAULT_SETTINGS,
    audit_view,
    merge_settings,
    public_settings,
    stored_secrets,
)

INVITE_TTL = timedelta(days=7)
INVITE_PREFIX = "itok_"
INVITE_WARNING = "Save this API key now. It will not be shown again."


def _hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def organization_of(row: Any) -> OrganizationOut:
    """An organizations row as the API shows it (credentials masked)."""
    return OrganizationOut(
        id=row.id,
        name=row.name,
        industry=row.industry,
        parent_organization_id=row.parent_organization_id,
        settings=public_settings(row.settings),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def check_outbound_urls(settings: SettingsIn | None, policy: OutboundPolicy) -> None:
    """Refuse vendor URLs and hosts that reach private networks, when the settings are saved.

    The same policy checks them again whenever a connection is opened.
    """
    integrations = settings.integrations if settings else None
    if integrations is None:
        return
    urls = {
        "crm.base_url": integrations.crm.base_url if integrations.crm else None,
        "sms.base_url": integrations.sms.base_url if integrations.sms else None,
        "wordpress.site_url": integrations.wordpress.site_url if integrations.wordpress else None,
        "google_business.base_url": (
            integrations.google_business.base_url if integrations.google_business else None
        ),
        "companycam.base_url": integrations.companycam.base_url
        if integrations.companycam
        else None,
    }
    for name, url in urls.items():
        if url is None:
            continue
        try:
            await policy.check_url(url)
        except UnsafeUrl as exc:
            raise field_error(f"settings.integrations.{name}", exc.reason) from exc
    email = integrations.email
    if email is not None:
        assert email.port is not None  # filled in by the schema
        try:
            await policy.addresses(email.host, email.port)
        except UnsafeUrl as exc:
            raise field_error("settings.integrations.email.host", exc.reason) from exc


async def insert_organization(
    tx: Tx,
    *,
    name: str,
    industry: str = "restoration",
    settings: dict[str, Any] | None = None,
    parent_id: uuid.UUID | None = None,
) -> OrganizationOut:
    """Create an organization and its first audit entry; the tenant is switched to it.

    The entry is recorded in the new organization's own log; when a parent
    creates it, `created_by_organization_id` names the acting organization.
    """
    new_id = uuid.uuid4()
    values = {**DEFAULT_SETTINGS, **(settings or {})}
    row = await repository.insert(
        tx.conn,
        organization_id=new_id,
        name=name,
        industry=industry,
        settings=values,
        parent_id=parent_id,
        now=tx.clock.now(),
    )
    acting = tx.actor.organization_id
    await tx.set_tenant(new_id)
    await events.record(
        tx,
        Action.ORGANIZATION_CREATED,
        {
            "organization_id": str(new_id),
            "parent_organization_id": str(parent_id) if parent_id else None,
            "created_by_organization_id": str(acting) if parent_id else None,
            "diff": {
                k: {"from": None, "to": v} for k, v in audit_view(row.name, row.settings).items()
            },
        },
        organization_id=new_id,
    )
    return organization_of(row)


async def get_organization(tx: Tx, organization_id: uuid.UUID) -> OrganizationOut:
    """One organization visible to the current tenant."""
    row = await repository.get(tx.conn, organization_id)
    if row is None:
        raise NotFound(f"Organization {organization_id} not found.")
    return organization_of(row)


async def create_child(
    tx: Tx, body: OrganizationCreate, box: SecretBox, *, public_url: str
) -> OrganizationCreated:
    """Create a child organization of the caller and an admin invite for it."""
    parent_id = tx.actor.organization_id
    settings = merge_settings({}, body.settings, box) if body.settings else {}
    org = await insert_organization(
        tx, name=body.name, industry=body.industry, settings=settings, parent_id=parent_id
    )
    token = INVITE_PREFIX + secrets.token_urlsafe(24)
    now = tx.clock.now()
    expires_at = now + INVITE_TTL
    await repository.insert_invite(
        tx.conn,
        organization_id=org.id,
        token_hash=_hash_token(token),
        primary_admin_email=body.primary_admin_email,
        expires_at=expires_at,
        now=now,
    )
    await tx.set_tenant(parent_id)
    await events.record(
        tx,
        Action.ORGANIZATION_CHILD_CREATED,
        {
            "organization_id": str(org.id),
            "name": org.name,
            "primary_admin_email": body.primary_admin_email,
            "invite_expires_at": expires_at.isoformat(),
        },
    )
    invite_url = f"{public_url.rstrip('/')}/invite/{token}"
    if body.primary_admin_email and await _parent_sends_email(tx, parent_id):
        # The link is a credential: the queued job holds it encrypted.
        await jobs.defer(
            tx,
            INVITE_EMAIL_TASK,
            InviteEmail(
                email=body.primary_admin_email,
                organization_name=org.name,
                url_encrypted=box.encrypt(invite_url),
            ),
        )
    return OrganizationCreated(
        **org.model_dump(),
        invite_url=invite_url,
        invite_expires_at=expires_at,
    )


#: The job that emails a new location's invite to its primary_admin_email.
INVITE_EMAIL_TASK = "console.invite_email"


class InviteEmail(jobs.NoPayload):
    """Who gets the invite of which organization, and the link (encrypted)."""

    email: str
    organization_name: str
    url_encrypted: str


async def _parent_sends_email(tx: Tx, parent_id: uuid.UUID) -> bool:
    settings = await repository.settings_of(tx.conn, parent_id)
    return isinstance((settings.get("integrations") or {}).get("email"), dict)


async def list_children(tx: Tx, page: PageQuery) -> Page[ChildOrganizationOut]:
    """The caller's child organizations, oldest first, with the scopes of their active grants."""
    parent_id = tx.actor.organization_id
    rows = await repository.children_page(tx.conn, parent_id, page)
    scopes = await repository.active_grant_scopes(
        tx.conn, parent_id, [r.id for r in rows[: page.limit]], tx.now()
    )
    return paginate(
        rows,
        page,
        lambda r: ChildOrganizationOut(
            id=r.id, name=r.name, industry=r.industry, grants=scopes[r.id], created_at=r.created_at
        ),
    )


async def update_organization(
    tx: Tx,
    organization_id: uuid.UUID,
    *,
    name: str | None,
    settings: SettingsIn | None,
    box: SecretBox,
) -> OrganizationOut:
    """Rename or change settings of the caller's own organization."""
    if organization_id != tx.actor.organization_id:
        raise NotFound(f"Organization {organization_id} not found.")
    current = await repository.lock(tx.conn, organization_id)
    if current is None:
        raise NotFound(f"Organization {organization_id} not found.")
    new_name = name if name is not None else current.name
    new_settings = (
        merge_settings(current.settings, settings, box)
        if settings is not None
        else current.settings
    )
    changes = events.diff(
        audit_view(current.name, current.settings), audit_view(new_name, new_settings)
    )
    old_secrets, new_secrets = stored_secrets(current.settings), stored_secrets(new_settings)
    for name in dict.fromkeys([*old_secrets, *new_secrets]):
        if old_secrets.get(name) != new_secrets.get(name):
            # A credential was set, rotated or removed: record that it changed, never what it is.
            changes[f"settings.integrations.{name}"] = {
                "from": "***" if name in old_secrets else None,
                "to": "***" if name in new_secrets else None,
            }
    if not changes:
        return organization_of(current)
    row = await repository.update(
        tx.conn, organization_id, name=new_name, settings=new_settings, now=tx.clock.now()
    )
    await events.record(
        tx,
        Action.ORGANIZATION_UPDATED,
        {"organization_id": str(organization_id), "diff": changes},
    )
    return organization_of(row)


async def create_grant(tx: Tx, organization_id: uuid.UUID, body: GrantCreate) -> GrantOut:
    """The caller (a child) grants its parent read scopes until `expires_at`."""
    acting = tx.actor.organization_id
    if organization_id != acting:
        if await repository.is_child_of(tx.conn, organization_id, acting):
            raise Forbidden(
                "Only the child organization can grant its parent access: "
                "use an admin key of that organization."
            )
        raise NotFound(f"Organization {organization_id} not found.")
    parent = await repository.parent_of(tx.conn, organization_id)
    if parent is None:
        raise field_error("parent_organization_id", "this organization has no parent organization")
    if body.parent_organization_id != parent:
        raise field_error("parent_organization_id", "is not this organization's parent")
    now = tx.clock.now()
    if body.expires_at <= now:
        raise field_error("expires_at", "must be in the future")
    scopes = [s.value for s in body.scopes]
    row = await repository.insert_grant(
        tx.conn,
        organization_id=organization_id,
        parent_id=parent,
        scopes=scopes,
        expires_at=body.expires_at,
        now=now,
    )
    await events.record(
        tx,
        Action.GRANT_CREATED,
        {
            "grant_id": str(row.id),
            "parent_organization_id": str(parent),
            "scopes": scopes,
            "expires_at": isoformat(body.expires_at),
        },
    )
    return GrantOut(
        grant_id=row.id,
        organization_id=organization_id,
        parent_organization_id=parent,
        scopes=scopes,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


@dataclass(frozen=True, slots=True)
class InviteView:
    """What an invite's page shows before it is accepted."""

    organization_name: str
    primary_admin_email: str | None
    expires_at: datetime
    accepted: bool
    expired: bool


async def view_invite(tx: Tx, token: str) -> InviteView:
    """An invite as its page shows it (404 for an unknown token); accepts nothing."""
    invite = await repository.open_invite(tx.conn, _hash_token(token))
    if invite is None:
        raise NotFound("This invite does not exist.")
    tx.tenant = invite.organization_id
    name, email = await repository.invite_details(tx.conn, invite.invite_id)
    return InviteView(
        organization_name=name,
        primary_admin_email=email,
        expires_at=invite.expires_at,
        accepted=invite.accepted_at is not None,
        expired=invite.expires_at <= tx.clock.now(),
    )


async def accept_invite(tx: Tx, token: str, *, correlation_id: str | None) -> InviteAccepted:
    """Redeem an invite once: returns the child organization and its first admin key.

    The caller has no key yet: the invite names the organization, which
    becomes the transaction's tenant and the actor of the audit entries.
    """
    invite = await repository.open_invite(tx.conn, _hash_token(token))
    if invite is None:
        raise NotFound("This invite does not exist.")
    if invite.accepted_at is not None:
        raise Conflict(
            "This invite has already been accepted.", details={"reason": "already_accepted"}
        )
    now = tx.clock.now()
    if not await repository.claim_invite(tx.conn, invite.invite_id, now):
        expired = invite.expires_at <= now
        raise Conflict(
            "This invite has expired; ask the parent organization for a new one."
            if expired
            else "This invite has already been accepted.",
            details={"reason": "expired" if expired else "already_accepted"},
        )
    tx.bind(
        Actor(organization_id=invite.organization_id, correlation_id=correlation_id),
        config_revision=None,
    )
    await events.record(tx, Action.INVITE_ACCEPTED, {"invite_id": str(invite.invite_id)})
    key = await keys_service.create_api_key(
        tx,
        organization_id=invite.organization_id,
        scopes=[Scope.ADMIN],
        environment=Environment.LIVE,
        name="First admin key (invite)",
    )
    org = await get_organization(tx, invite.organization_id)
    return InviteAccepted(organization=org, api_key=key, warning=INVITE_WARNING)
