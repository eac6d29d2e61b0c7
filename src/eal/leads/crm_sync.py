"""Pushing a lead to the organization's CRM, once.

Idempotency, including two pushes racing for one lead:

* The lead row is locked (``SELECT ... FOR UPDATE``) before the vendor is
  called, so a concurrent push of the same lead waits, then reads the
  external id the first one stored and returns it without calling the vendor.
* A lead whose last push ended in error may exist at the vendor anyway (the
  vendor created it, the answer was lost). Before creating, the vendor is
  asked whether it already holds a contact for this lead.

Failure must both answer 502 and leave ``crm_sync.status = "error"`` stored,
yet the request's transaction rolls back on any error. So the lock and the
vendor call run inside a savepoint of the request transaction: on vendor
failure the savepoint is rolled back, which also releases the row lock, and
the error state is written and committed by a separate short transaction
(:meth:`Database.tenant_transaction`) before the 502 is raised. On success
everything stays in the request transaction, one connection, one commit.

Test-environment keys never call the vendor: the sync is recorded with
status ``"simulated"`` and external id ``"sim_" + <lead id hex>`` (stable, so
repeated simulated pushes agree).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from eal import events
from eal.auth.context import Actor
from eal.db.engine import Database
from eal.errors import BadGateway, Conflict, NotFound
from eal.integrations.crm import (
    CrmContact,
    CrmError,
    CrmUnavailable,
    UnknownCrmVendor,
    get_crm_client,
)
from eal.kit.clock import isoformat
from eal.kit.secretbox import SecretBox
from eal.leads.models import leads
from eal.leads.schemas import CrmStatus
from eal.leads.service import LOCK_LEAD, SELECT_LEAD, UPDATE_LEAD, crm_sync_out, now_ms
from eal.organizations.models import organizations
from eal.webhooks.url_safety import UnsafeWebhookUrl, check_webhook_url

SIMULATED_PREFIX = "sim_"
_MAX_ERROR_CHARS = 500
UPDATE_UNLESS_SYNCED = UPDATE_LEAD.where(leads.c.crm_status.is_distinct_from(CrmStatus.OK.value))
_CONFIGURE_HINT = (
    "Set settings.integrations.crm {vendor, api_key, base_url?} with "
    "PATCH /api/v1/organizations/{id}."
)


@dataclass(frozen=True)
class CrmConfig:
    """An organization's CRM settings, key decrypted."""

    vendor: str
    api_key: str
    base_url: str | None
    options: dict[str, str]


@dataclass(frozen=True)
class PushEnvironment:
    """What a push needs from the process: the database, secrets, HTTP, URL policy."""

    db: Database
    secret_box: SecretBox
    http: httpx.AsyncClient
    allow_private_urls: bool


class _VendorFailed(Exception):
    def __init__(self, vendor: str, error: CrmError) -> None:
        super().__init__(error.message)
        self.vendor = vendor
        self.error = error


async def _crm_config(
    conn: AsyncConnection, organization_id: uuid.UUID, box: SecretBox
) -> CrmConfig:
    settings = await conn.scalar(
        select(organizations.c.settings).where(organizations.c.id == organization_id)
    )
    crm = ((settings or {}).get("integrations") or {}).get("crm")
    if not isinstance(crm, dict) or not crm.get("vendor") or not crm.get("api_key_encrypted"):
        raise Conflict(
            f"No CRM is configured for this organization. {_CONFIGURE_HINT}",
            details={"reason": "crm_not_configured"},
        )
    try:
        api_key = box.decrypt(crm["api_key_encrypted"])
    except ValueError as exc:
        raise Conflict(
            f"The stored CRM API key cannot be decrypted; set it again. {_CONFIGURE_HINT}",
            details={"reason": "crm_credentials_unreadable"},
        ) from exc
    # Vendor-specific options: JobNimbus's custom field holding our lead id.
    options = {"lead_id_field": crm["lead_id_field"]} if crm.get("lead_id_field") else {}
    return CrmConfig(
        vendor=crm["vendor"], api_key=api_key, base_url=crm.get("base_url"), options=options
    )


def contact_of(row: Any) -> CrmContact:
    """The lead as a vendor-neutral CRM contact.

    The lead source goes into the description rather than the vendor's own
    source field: CRMs such as JobNimbus refuse a source their account does
    not list, which would make every push fail.
    """
    first = last = None
    if row.name:
        first, _, rest = row.name.partition(" ")
        last = rest.strip() or None
    lines = [row.message] if row.message else []
    if row.source:
        lines.append(f"Lead source: {row.source}")
    if row.ai_reasoning:
        lines.append(f"Score {row.lead_score}: {row.ai_reasoning}")
    return CrmContact(
        lead_id=str(row.id),
        first_name=first,
        last_name=last,
        display_name=row.name or row.company or row.email,
        company=row.company,
        email=row.email,
        phone=row.phone,
        address=row.address,
        postal_code=row.postal_code,
        description="\n\n".join(lines) or None,
    )


async def _store(
    conn: AsyncConnection,
    actor: Actor,
    row: Any,
    *,
    vendor: str,
    external_id: str | None,
    status: CrmStatus,
    error: str | None = None,
) -> dict[str, Any]:
    now = now_ms()
    values: dict[str, Any] = {
        "crm_vendor": vendor,
        "crm_status": status.value,
        "crm_error": error,
        "updated_at": now,
    }
    if status is not CrmStatus.ERROR:
        values.update(crm_external_id=external_id, crm_last_synced_at=now)
    values.update(b_org=actor.organization_id, b_id=row.id)
    # A push that started after a failed one may have succeeded in the
    # meantime; its result must not be overwritten by the error.
    statement = UPDATE_UNLESS_SYNCED if status is CrmStatus.ERROR else UPDATE_LEAD
    stored = (await conn.execute(statement, values)).first()
    if stored is None:
        current = (
            await conn.execute(SELECT_LEAD, {"b_org": actor.organization_id, "b_id": row.id})
        ).one()
        return _sync(current)
    action = "lead.crm_sync_failed" if status is CrmStatus.ERROR else "lead.crm_synced"
    await events.record(
        conn,
        actor,
        action,
        {
            "lead_id": str(row.id),
            "vendor": vendor,
            "status": status.value,
            "external_id": stored.crm_external_id,
            "error": error,
        },
    )
    return _sync(stored)


def _sync(row: Any) -> dict[str, Any]:
    out = crm_sync_out(row)
    assert out is not None
    return out


def _already_synced(row: Any, is_test: bool) -> bool:
    if row.crm_external_id is None:
        return False
    if row.crm_status == CrmStatus.OK.value:
        return True
    # A simulated sync satisfies test keys only; a live key pushes for real.
    return is_test and row.crm_status == CrmStatus.SIMULATED.value


async def _vendor_push(env: PushEnvironment, config: CrmConfig, row: Any) -> str:
    if config.base_url is not None:
        try:
            await check_webhook_url(config.base_url, allow_private=env.allow_private_urls)
        except UnsafeWebhookUrl as exc:
            raise Conflict(
                f"The CRM base_url is refused: {exc}. {_CONFIGURE_HINT}",
                details={"reason": "crm_base_url_refused"},
            ) from exc
    try:
        client = get_crm_client(
            config.vendor,
            api_key=config.api_key,
            base_url=config.base_url,
            http=env.http,
            options=config.options,
        )
    except UnknownCrmVendor as exc:
        raise Conflict(f"{exc}. {_CONFIGURE_HINT}", details={"reason": "crm_unknown"}) from exc
    try:
        if row.crm_status == CrmStatus.ERROR.value:
            # The failed attempt may have created the contact before failing.
            found = await client.find_contact_by_lead_id(str(row.id))
            if found is not None:
                return found
        return (await client.push_contact(contact_of(row))).external_id
    except CrmError as exc:
        raise _VendorFailed(config.vendor, exc) from exc


async def push_lead(
    conn: AsyncConnection,
    env: PushEnvironment,
    actor: Actor,
    lead_id: uuid.UUID,
    *,
    is_test: bool,
) -> dict[str, Any]:
    """Push the lead to the configured CRM unless it is there already; returns crm_sync.

    Raises NotFound, Conflict (no or unusable CRM settings) and BadGateway
    (vendor failure, with the error state already committed).
    """
    organization_id = actor.organization_id
    try:
        async with conn.begin_nested():
            row = (
                await conn.execute(LOCK_LEAD, {"b_org": organization_id, "b_id": lead_id})
            ).first()
            if row is None:
                raise NotFound(f"Lead {lead_id} not found.")
            config = await _crm_config(conn, organization_id, env.secret_box)
            if _already_synced(row, is_test):
                return _sync(row)
            if is_test:
                return await _store(
                    conn,
                    actor,
                    row,
                    vendor=config.vendor,
                    external_id=SIMULATED_PREFIX + row.id.hex,
                    status=CrmStatus.SIMULATED,
                )
            external_id = await _vendor_push(env, config, row)
            return await _store(
                conn, actor, row, vendor=config.vendor, external_id=external_id, status=CrmStatus.OK
            )
    except _VendorFailed as failed:
        message = failed.error.message[:_MAX_ERROR_CHARS]
        # The savepoint is gone and with it the row lock; this commits on its own.
        async with env.db.tenant_transaction(organization_id) as own:
            row = (await own.execute(LOCK_LEAD, {"b_org": organization_id, "b_id": lead_id})).one()
            sync = await _store(
                own,
                actor,
                row,
                vendor=failed.vendor,
                external_id=None,
                status=CrmStatus.ERROR,
                error=message,
            )
        if sync["status"] == CrmStatus.OK.value:
            return sync  # a concurrent push got through while this one failed
        raise BadGateway(
            f"The CRM ({failed.vendor}) failed: {message}",
            details={
                "vendor": failed.vendor,
                "reason": type(failed.error).__name__,
                "vendor_status": failed.error.status_code,
                "crm_sync": {**sync, "last_synced_at": isoformat(sync["last_synced_at"])},
                # Unavailable: retry later as is; auth or rejected: fix settings or data first.
                "transient": isinstance(failed.error, CrmUnavailable),
            },
        ) from failed
