"""Organizations, child organizations, invites and grants (no HTTP)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from eal import events
from eal.auth import service as keys_service
from eal.auth.context import Actor
from eal.auth.scopes import Environment, Scope
from eal.db.engine import set_tenant
from eal.errors import Conflict, Forbidden, NotFound, field_error
from eal.kit.clock import isoformat, utcnow
from eal.kit.cursor import Cursor, newer_than, page_of
from eal.kit.secretbox import SecretBox, mask
from eal.organizations.models import org_grants, org_invites, organizations
from eal.organizations.schemas import CrmSettingsIn, GrantCreate, OrganizationCreate, SettingsIn
from eal.webhooks.url_safety import UnsafeWebhookUrl, check_webhook_url

INVITE_TTL = timedelta(days=7)
INVITE_PREFIX = "itok_"
DEFAULT_SETTINGS = {"timezone": "America/New_York", "default_locale": "en-US"}


def _hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def public_settings(stored: dict[str, Any]) -> dict[str, Any]:
    """Settings as the API shows them: credentials replaced by a masked hint."""
    shown = dict(stored)
    integrations = dict(shown.get("integrations") or {})
    crm = integrations.get("crm")
    if isinstance(crm, dict):
        integrations["crm"] = {k: v for k, v in crm.items() if k != "api_key_encrypted"}
        shown["integrations"] = integrations
    return shown


def _crm_secret(settings: dict[str, Any]) -> str | None:
    crm = (settings.get("integrations") or {}).get("crm")
    return crm.get("api_key_encrypted") if isinstance(crm, dict) else None


def _encrypt_unless_unchanged(previous: Any, secret: str, box: SecretBox) -> str:
    # Re-sending the stored key must stay a no-op: encryption is randomised, so
    # a fresh ciphertext of the same key would look like a change.
    stored = previous.get("api_key_encrypted") if isinstance(previous, dict) else None
    if stored:
        try:
            if box.decrypt(stored) == secret:
                return str(stored)
        except ValueError:
            pass  # made with another secret key: replace it
    return box.encrypt(secret)


def merge_settings(current: dict[str, Any], patch: SettingsIn, box: SecretBox) -> dict[str, Any]:
    """Apply a settings patch: keys sent replace stored ones; an explicit null removes one."""
    merged = dict(current)
    for key in patch.model_fields_set:
        value = getattr(patch, key)
        if value is None:
            merged.pop(key, None)
        elif key == "integrations":
            integrations = dict(merged.get("integrations") or {})
            for name in value.model_fields_set:
                item = getattr(value, name)
                if item is None:
                    integrations.pop(name, None)
                elif name == "crm":
                    integrations["crm"] = _crm_settings(integrations.get("crm"), item, box)
            if integrations:
                merged["integrations"] = integrations
            else:
                # No integration left: drop the key, so removing nothing stays a no-op.
                merged.pop("integrations", None)
        else:
            merged[key] = (
                value.model_dump(exclude_none=True) if hasattr(value, "model_dump") else value
            )
    return merged


def _crm_settings(stored: Any, item: CrmSettingsIn, box: SecretBox) -> dict[str, Any]:
    """The stored form of CRM settings; without a new api_key the stored one is kept."""
    if item.api_key is None:
        if not isinstance(stored, dict) or stored.get("vendor") != item.vendor:
            raise field_error(
                "settings.integrations.crm.api_key",
                f"is required: no {item.vendor} key is stored for this organization",
            )
        encrypted, hint = stored["api_key_encrypted"], stored["api_key_hint"]
    else:
        encrypted = _encrypt_unless_unchanged(stored, item.api_key, box)
        hint = mask(item.api_key)
    return {
        "vendor": item.vendor,
        "base_url": item.base_url,
        "lead_id_field": item.lead_id_field,
        "api_key_hint": hint,
        "api_key_encrypted": encrypted,
    }


async def check_outbound_urls(settings: SettingsIn | None, *, allow_private: bool) -> None:
    """Refuse vendor URLs that point into private networks, when the settings are saved."""
    integrations = settings.integrations if settings else None
    crm = integrations.crm if integrations else None
    if crm is None or crm.base_url is None:
        return
    try:
        await check_webhook_url(crm.base_url, allow_private=allow_private)
    except UnsafeWebhookUrl as exc:
        raise field_error("settings.integrations.crm.base_url", exc.reason) from exc


def _flatten(settings: dict[str, Any], prefix: str = "settings") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        path = f"{prefix}.{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, path))
        else:
            flat[path] = value
    return flat


def _audit_view(org: dict[str, Any]) -> dict[str, Any]:
    view = {"name": org["name"]}
    view.update(_flatten(public_settings(org["settings"])))
    return view


def org_out(row: Any) -> dict[str, Any]:
    """An organizations row as the API returns it."""
    return {
        "id": row.id,
        "name": row.name,
        "industry": row.industry,
        "parent_organization_id": row.parent_organization_id,
        "settings": public_settings(row.settings),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


async def insert_organization(
    conn: AsyncConnection,
    actor: Actor,
    *,
    name: str,
    industry: str = "restoration",
    settings: dict[str, Any] | None = None,
    parent_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Create an organization row and its first audit entry (tenant switched to it)."""
    new_id = uuid.uuid4()
    now = utcnow()
    values = {**DEFAULT_SETTINGS, **(settings or {})}
    row = (
        await conn.execute(
            insert(organizations)
            .values(
                id=new_id,
                name=name,
                industry=industry,
                settings=values,
                parent_organization_id=parent_id,
                created_at=now,
                updated_at=now,
            )
            .returning(*organizations.c)
        )
    ).one()
    await set_tenant(conn, new_id)
    await events.record(
        conn,
        Actor(
            organization_id=new_id,
            source=actor.source,
            correlation_id=actor.correlation_id,
            key_id=actor.key_id,
        ),
        "organization.created",
        {
            "organization_id": str(new_id),
            "parent_organization_id": str(parent_id) if parent_id else None,
            "created_by_organization_id": str(actor.organization_id) if parent_id else None,
            "diff": {
                k: {"from": None, "to": v} for k, v in _audit_view(dict(row._mapping)).items()
            },
        },
    )
    return org_out(row)


async def get_organization(conn: AsyncConnection, organization_id: uuid.UUID) -> dict[str, Any]:
    """One organization visible to the current tenant."""
    row = (
        await conn.execute(select(organizations).where(organizations.c.id == organization_id))
    ).first()
    if row is None:
        raise NotFound(f"Organization {organization_id} not found.")
    return org_out(row)


async def create_child(
    conn: AsyncConnection,
    actor: Actor,
    body: OrganizationCreate,
    box: SecretBox,
    *,
    public_url: str,
) -> dict[str, Any]:
    """Create a child organization of the caller and an admin invite for it."""
    parent_id = actor.organization_id
    settings = merge_settings({}, body.settings, box) if body.settings else {}
    org = await insert_organization(
        conn, actor, name=body.name, industry=body.industry, settings=settings, parent_id=parent_id
    )
    token = INVITE_PREFIX + secrets.token_urlsafe(24)
    expires_at = utcnow() + INVITE_TTL
    await conn.execute(
        insert(org_invites).values(
            id=uuid.uuid4(),
            organization_id=org["id"],
            token_hash=_hash_token(token),
            primary_admin_email=body.primary_admin_email,
            expires_at=expires_at,
            created_at=utcnow(),
        )
    )
    await set_tenant(conn, parent_id)
    await events.record(
        conn,
        actor,
        "organization.child_created",
        {
            "organization_id": str(org["id"]),
            "name": org["name"],
            "primary_admin_email": body.primary_admin_email,
            "invite_expires_at": expires_at.isoformat(),
        },
    )
    return {
        **org,
        "invite_url": f"{public_url.rstrip('/')}/api/v1/invites/{token}/accept",
        "invite_expires_at": expires_at,
    }


async def list_children(
    conn: AsyncConnection, parent_id: uuid.UUID, cursor: Cursor | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """The caller's child organizations with the scopes of their active grants."""
    query = select(
        organizations.c.id,
        organizations.c.name,
        organizations.c.industry,
        organizations.c.created_at,
    ).where(organizations.c.parent_organization_id == parent_id)
    if cursor is not None:
        # A row comparison is an index range condition on (parent, created_at, id).
        query = query.where(newer_than(cursor, organizations.c.created_at, organizations.c.id))
    rows = (
        await conn.execute(
            query.order_by(organizations.c.created_at, organizations.c.id).limit(limit + 1)
        )
    ).all()
    page, next_cursor = page_of(rows, limit)
    ids = [r.id for r in page]
    grants_by_org: dict[uuid.UUID, list[str]] = {i: [] for i in ids}
    if ids:
        grant_rows = await conn.execute(
            select(org_grants.c.organization_id, org_grants.c.scopes).where(
                org_grants.c.organization_id.in_(ids),
                org_grants.c.parent_organization_id == parent_id,
                org_grants.c.expires_at > func.now(),
            )
        )
        for g in grant_rows:
            grants_by_org[g.organization_id].extend(g.scopes)
    data = [
        {
            "id": r.id,
            "name": r.name,
            "industry": r.industry,
            "grants": sorted(set(grants_by_org[r.id])),
            "created_at": r.created_at,
        }
        for r in page
    ]
    return data, next_cursor


async def update_organization(
    conn: AsyncConnection,
    actor: Actor,
    organization_id: uuid.UUID,
    *,
    name: str | None,
    settings: SettingsIn | None,
    box: SecretBox,
) -> dict[str, Any]:
    """Rename or change settings of the caller's own organization."""
    if organization_id != actor.organization_id:
        raise NotFound(f"Organization {organization_id} not found.")
    current = (
        await conn.execute(
            # NO KEY UPDATE: a concurrent audit insert's foreign-key check takes KEY SHARE
            # on this row while holding the chain head; FOR UPDATE would deadlock with it.
            select(organizations)
            .where(organizations.c.id == organization_id)
            .with_for_update(key_share=True)
        )
    ).first()
    if current is None:
        raise NotFound(f"Organization {organization_id} not found.")
    before = dict(current._mapping)
    after = dict(before)
    if name is not None:
        after["name"] = name
    if settings is not None:
        after["settings"] = merge_settings(before["settings"], settings, box)
    changes = events.diff(_audit_view(before), _audit_view(after))
    old_secret, new_secret = _crm_secret(before["settings"]), _crm_secret(after["settings"])
    if old_secret != new_secret:
        # A credential was set, rotated or removed: record that it changed, never what it is.
        changes["settings.integrations.crm.api_key"] = {
            "from": "***" if old_secret else None,
            "to": "***" if new_secret else None,
        }
    if not changes:
        return org_out(current)
    row = (
        await conn.execute(
            update(organizations)
            .where(organizations.c.id == organization_id)
            .values(name=after["name"], settings=after["settings"], updated_at=utcnow())
            .returning(*organizations.c)
        )
    ).one()
    events.config_changed(conn)
    await events.record(
        conn,
        actor,
        "organization.updated",
        {"organization_id": str(organization_id), "diff": changes},
    )
    return org_out(row)


async def create_grant(
    conn: AsyncConnection, actor: Actor, organization_id: uuid.UUID, body: GrantCreate
) -> dict[str, Any]:
    """The caller (a child) grants its parent read scopes until `expires_at`."""
    if organization_id != actor.organization_id:
        is_child = await conn.scalar(
            select(organizations.c.id).where(
                organizations.c.id == organization_id,
                organizations.c.parent_organization_id == actor.organization_id,
            )
        )
        if is_child is not None:
            raise Forbidden(
                "Only the child organization can grant its parent access: "
                "use an admin key of that organization."
            )
        raise NotFound(f"Organization {organization_id} not found.")
    parent = await conn.scalar(
        select(organizations.c.parent_organization_id).where(organizations.c.id == organization_id)
    )
    if parent is None:
        raise field_error("parent_organization_id", "this organization has no parent organization")
    if body.parent_organization_id != parent:
        raise field_error("parent_organization_id", "is not this organization's parent")
    if body.expires_at <= utcnow():
        raise field_error("expires_at", "must be in the future")
    now = utcnow()
    scopes = [s.value for s in body.scopes]
    row = (
        await conn.execute(
            insert(org_grants)
            .values(
                id=uuid.uuid4(),
                organization_id=organization_id,
                parent_organization_id=parent,
                scopes=scopes,
                expires_at=body.expires_at,
                created_at=now,
            )
            .returning(*org_grants.c)
        )
    ).one()
    await events.record(
        conn,
        actor,
        "grant.created",
        {
            "grant_id": str(row.id),
            "parent_organization_id": str(parent),
            "scopes": scopes,
            "expires_at": isoformat(body.expires_at),
        },
    )
    return {
        "grant_id": row.id,
        "organization_id": organization_id,
        "parent_organization_id": parent,
        "scopes": scopes,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
    }


_OPEN_INVITE = text(
    "SELECT invite_id, organization_id, expires_at, accepted_at FROM eal_open_invite(:hash)"
)


async def accept_invite(
    conn: AsyncConnection, token: str, *, correlation_id: str | None
) -> dict[str, Any]:
    """Redeem an invite once: returns the child organization and its first admin key."""
    invite = (await conn.execute(_OPEN_INVITE, {"hash": _hash_token(token)})).first()
    if invite is None:
        raise NotFound("This invite does not exist.")
    if invite.accepted_at is not None:
        raise Conflict(
            "This invite has already been accepted.", details={"reason": "already_accepted"}
        )
    claimed = (
        await conn.execute(
            update(org_invites)
            .where(
                org_invites.c.id == invite.invite_id,
                org_invites.c.accepted_at.is_(None),
                org_invites.c.expires_at > func.now(),
            )
            .values(accepted_at=utcnow())
            .returning(org_invites.c.id)
        )
    ).first()
    if claimed is None:
        expired = invite.expires_at <= utcnow()
        raise Conflict(
            "This invite has expired; ask the parent organization for a new one."
            if expired
            else "This invite has already been accepted.",
            details={"reason": "expired" if expired else "already_accepted"},
        )
    actor = Actor(
        organization_id=invite.organization_id, source="api", correlation_id=correlation_id
    )
    await events.record(conn, actor, "invite.accepted", {"invite_id": str(invite.invite_id)})
    key = await keys_service.create_api_key(
        conn,
        actor,
        organization_id=invite.organization_id,
        scopes=[Scope.ADMIN],
        environment=Environment.LIVE,
        name="First admin key (invite)",
    )
    org = await get_organization(conn, invite.organization_id)
    return {
        "organization": org,
        "api_key": key,
        "warning": "Save this API key now. It will not be shown again.",
    }
