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

from eal import events
from eal.db.engine import Database
from eal.db.tx import Tx
from eal.errors import BadGateway, Conflict, NotFound
from eal.events import Action
from eal.integrations.crm import (
    CrmContact,
    CrmError,
    CrmUnavailable,
    UnknownCrmVendor,
    get_crm_client,
)
from eal.kit.outbound import OutboundClient, UnsafeUrl
from eal.kit.secretbox import SecretBox
from eal.leads import repository
from eal.leads.schemas import CrmStatus, CrmSyncOut
from eal.organizations import repository as organizations

SIMULATED_PREFIX = "sim_"
#: The CRM settings passed to the vendor client as options.
CRM_OPTIONS = ("lead_id_field", "call_id_field", "job_record_type_name", "job_status_name")
_MAX_ERROR_CHARS = 500
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
    """What a push needs from the process: the database, secrets and the outbound client.

    ``http`` is built by the outbound policy: the vendor URL is checked against
    that policy before the push, and every connection the client opens is
    checked again at connect time, so a name that resolves elsewhere by then
    is refused too.
    """

    db: Database
    secret_box: SecretBox
    http: OutboundClient


class _VendorFailed(Exception):
    def __init__(self, vendor: str, error: CrmError) -> None:
        super().__init__(error.message)
        self.vendor = vendor
        self.error = error


async def crm_config(tx: Tx, organization_id: uuid.UUID, box: SecretBox) -> CrmConfig:
    settings = await organizations.settings_of(tx.conn, organization_id)
    crm = (settings.get("integrations") or {}).get("crm")
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
    # Vendor-specific options: JobNimbus's custom fields holding our ids, its job workflow.
    options = {key: crm[key] for key in CRM_OPTIONS if crm.get(key)}
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
        # A number kept as the lead gave it would be refused by the CRM: left out.
        phone=row.phone if getattr(row, "phone_valid", True) is not False else None,
        address=row.address,
        postal_code=row.postal_code,
        description="\n\n".join(lines) or None,
    )


async def _store(
    tx: Tx,
    row: Any,
    *,
    vendor: str,
    external_id: str | None,
    status: CrmStatus,
    error: str | None = None,
) -> CrmSyncOut:
    now = tx.now()
    organization_id = tx.actor.organization_id
    values: dict[str, Any] = {
        "crm_vendor": vendor,
        "crm_status": status.value,
        "crm_error": error,
        "updated_at": now,
    }
    if status is not CrmStatus.ERROR:
        values.update(crm_external_id=external_id, crm_last_synced_at=now)
    # A push that started after a failed one may have succeeded in the
    # meantime; its result must not be overwritten by the error.
    stored = await repository.update_columns(
        tx.conn, organization_id, row.id, values, unless_synced=status is CrmStatus.ERROR
    )
    if stored is None:
        return _sync(await repository.get(tx.conn, organization_id, row.id))
    action = Action.LEAD_CRM_SYNC_FAILED if status is CrmStatus.ERROR else Action.LEAD_CRM_SYNCED
    await events.record(
        tx,
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


def _sync(row: Any) -> CrmSyncOut:
    out = repository.crm_sync_of(row)
    assert out is not None
    return out


def _already_synced(row: Any, is_test: bool) -> bool:
    if row.crm_external_id is None:
        return False
    if row.crm_status == CrmStatus.OK.value:
        return True
    # A simulated sync satisfies test keys only; a live key pushes for real.
    return is_test and row.crm_status == CrmStatus.SIMULATED.value


def _url_refused(exc: UnsafeUrl) -> Conflict:
    return Conflict(
        f"The CRM base_url is refused: {exc.reason}. {_CONFIGURE_HINT}",
        details={"reason": "crm_base_url_refused"},
    )


async def _vendor_push(env: PushEnvironment, config: CrmConfig, row: Any) -> str:
    if config.base_url is not None:
        try:
            await env.http.policy.check_url(config.base_url)
        except UnsafeUrl as exc:
            raise _url_refused(exc) from exc
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
    except UnsafeUrl as exc:
        # Refused at connect time: the name resolves elsewhere than when checked.
        raise _url_refused(exc) from exc
    except CrmError as exc:
        raise _VendorFailed(config.vendor, exc) from exc


async def push_lead(tx: Tx, env: PushEnvironment, lead_id: uuid.UUID) -> CrmSyncOut:
    """Push the lead to the configured CRM unless it is there already; returns crm_sync.

    Test-environment actors never call the vendor (the sync is simulated).
    Raises NotFound, Conflict (no or unusable CRM settings) and BadGateway
    (vendor failure, with the error state already committed).
    """
    organization_id = tx.actor.organization_id
    is_test = tx.actor.is_test
    try:
        async with tx.conn.begin_nested():
            row = await repository.lock(tx.conn, organization_id, lead_id)
            if row is None:
                raise NotFound(f"Lead {lead_id} not found.")
            config = await crm_config(tx, organization_id, env.secret_box)
            if _already_synced(row, is_test):
                return _sync(row)
            if is_test:
                return await _store(
                    tx,
                    row,
                    vendor=config.vendor,
                    external_id=SIMULATED_PREFIX + row.id.hex,
                    status=CrmStatus.SIMULATED,
                )
            external_id = await _vendor_push(env, config, row)
            return await _store(
                tx, row, vendor=config.vendor, external_id=external_id, status=CrmStatus.OK
            )
    except _VendorFailed as failed:
        message = failed.error.message[:_MAX_ERROR_CHARS]
        # The savepoint is gone and with it the row lock; this commits on its own.
        async with env.db.tenant_transaction(organization_id) as own:
            error_tx = Tx(own, actor=tx.actor, clock=tx.clock)
            row = await repository.lock(own, organization_id, lead_id)
            sync = await _store(
                error_tx,
                row,
                vendor=failed.vendor,
                external_id=None,
                status=CrmStatus.ERROR,
                error=message,
            )
        if sync.status == CrmStatus.OK.value:
            return sync  # a concurrent push got through while this one failed
        raise BadGateway(
            f"The CRM ({failed.vendor}) failed: {message}",
            details={
                "vendor": failed.vendor,
                "reason": type(failed.error).__name__,
                "vendor_status": failed.error.status_code,
                "crm_sync": sync.model_dump(mode="json"),
                # Unavailable: retry later as is; auth or rejected: fix settings or data first.
                "transient": isinstance(failed.error, CrmUnavailable),
            },
        ) from failed
