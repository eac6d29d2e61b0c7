"""JobNimbus CRM client (REST API v1, ``https://app.jobnimbus.com/api1``).

Protocol, as JobNimbus documents it for contacts:

* every request carries ``Authorization: Bearer <api key>`` and JSON bodies;
* ``POST /contacts`` creates a contact; ``record_type_name`` (a contact
  workflow, e.g. "Customer") and ``status_name`` (a status of that workflow,
  e.g. "Lead") are required, plus one of first/last/display name or company;
  the response is the created contact, whose ``jnid`` is its id;
* ``GET /contacts?filter=<json>`` searches with an Elasticsearch-style bool
  query such as ``{"must": [{"term": {"<field>": "<value>"}}]}`` and answers
  ``{"count": n, "results": [...]}``; ``size``, ``from``, ``sort_field``,
  ``sort_direction`` and ``fields`` page, order and trim the results.

Where our lead id lives: JobNimbus contacts have no built-in external-id
field, so the lead id is written to a *Text custom contact field*. JobNimbus
names custom fields ``cf_string_1`` ... ``cf_string_35`` in the API, and
which number a field gets depends on the account, so the key is the
``lead_id_field`` option (default ``cf_string_1``). Each franchise must
create a Text contact field for it (Settings -> Contact Fields) and
configure its key; otherwise pushes overwrite whatever that field holds and
the lookup cannot see earlier pushes. The id is written as 32 lowercase hex
digits (no hyphens) so an exact ``term`` match works whether JobNimbus
indexes the field as a keyword or as analysed text.

``source_name`` must name a lead source configured in the account, and
``record_type_name``/``status_name`` a contact workflow and status; a
mismatch comes back as a 4xx and is raised as CrmRejected.

Jobs (a dispatched call becomes one), as JobNimbus documents them:

* ``POST /jobs`` creates a job; ``name``, ``record_type_name`` (a *job*
  workflow, e.g. "Residential") and ``status_name`` (a status of that
  workflow, e.g. "Lead") are required; ``primary`` (``{"id": <contact
  jnid>}``) is the job's primary contact and ``related`` (a list of such
  objects) links it to records; address fields are ``address_line1``,
  ``city``, ``state_text`` and ``zip``. The answer is the job, with its ``jnid``;
* ``GET /jobs?filter=<json>`` searches jobs exactly as contacts are searched.

Our call id is stored in a *Text custom job field* (Settings -> Job Fields;
job fields are numbered apart from contact fields), named by the
``call_id_field`` option (default ``cf_string_2``), and looked up before a
job is created, so a push whose answer was lost finds its job instead of
creating a twin. The job workflow and status are the ``job_record_type_name``
(default "Residential") and ``job_status_name`` (default "Lead") options,
and must exist in the account.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from eal.integrations.crm import (
    CrmAuthError,
    CrmContact,
    CrmError,
    CrmJob,
    CrmPushResult,
    CrmRejected,
    CrmUnavailable,
    redact,
)
from eal.kit.outbound import UnsafeUrl

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CALL_ID_FIELD",
    "DEFAULT_JOB_RECORD_TYPE_NAME",
    "DEFAULT_JOB_STATUS_NAME",
    "DEFAULT_LEAD_ID_FIELD",
    "DEFAULT_RECORD_TYPE_NAME",
    "DEFAULT_STATUS_NAME",
    "DEFAULT_TIMEOUT_SECONDS",
    "VENDOR",
    "JobNimbusClient",
    "call_id_value",
    "create_client",
    "lead_id_value",
]

VENDOR = "jobnimbus"
DEFAULT_BASE_URL = "https://app.jobnimbus.com/api1"
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_LEAD_ID_FIELD = "cf_string_1"
DEFAULT_RECORD_TYPE_NAME = "Customer"
DEFAULT_STATUS_NAME = "Lead"
DEFAULT_CALL_ID_FIELD = "cf_string_2"
DEFAULT_JOB_RECORD_TYPE_NAME = "Residential"
DEFAULT_JOB_STATUS_NAME = "Lead"

# Vendor text quoted in our error messages is cut to this many characters.
_MAX_DETAIL_CHARS = 200
# Statuses in the 4xx range that mean "try again later", not "bad request".
_TRANSIENT_4XX = frozenset({408, 429})
# Call ids that are not UUIDs are stored as given, so they must survive an
# analysed text field unchanged: lowercase letters, digits and "_" stay one token.
_PLAIN_CALL_ID = re.compile(r"[a-z0-9_]{1,100}")


def lead_id_value(lead_id: str) -> str:
    """Return the form in which ``lead_id`` (a UUID string) is stored at JobNimbus.

    Raises ValueError if ``lead_id`` is not a UUID.
    """
    try:
        return uuid.UUID(lead_id.strip()).hex
    except ValueError:
        raise ValueError(f"lead id must be a UUID, got {lead_id!r}") from None


def call_id_value(call_id: str) -> str:
    """Return the form in which ``call_id`` is stored at JobNimbus.

    A UUID is stored as 32 lowercase hex digits, like a lead id; any other id
    must be 1 to 100 lowercase letters, digits or underscores (``call_q4n8p2w7``)
    and is stored as given, so an exact ``term`` match finds it whether the
    field is indexed as a keyword or as analysed text. Raises ValueError otherwise.
    """
    value = call_id.strip()
    try:
        return uuid.UUID(value).hex
    except ValueError:
        pass
    if _PLAIN_CALL_ID.fullmatch(value):
        return value
    raise ValueError(
        f"call id must be a UUID or lowercase letters, digits and underscores, got {call_id!r}"
    )


class JobNimbusClient:
    """CrmClient for JobNimbus.

    ``http`` is an optional shared client whose pool is reused and which is
    never closed here; without it a client is created and closed per call.
    Pushes for one lead (or call) must not run concurrently: the
    look-up-then-create in :meth:`push_contact` and :meth:`push_job` makes
    sequential retries idempotent, but two calls racing for the same lead can
    both create a contact.
    """

    vendor = VENDOR

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        lead_id_field: str = DEFAULT_LEAD_ID_FIELD,
        record_type_name: str = DEFAULT_RECORD_TYPE_NAME,
        status_name: str = DEFAULT_STATUS_NAME,
        call_id_field: str = DEFAULT_CALL_ID_FIELD,
        job_record_type_name: str = DEFAULT_JOB_RECORD_TYPE_NAME,
        job_status_name: str = DEFAULT_JOB_STATUS_NAME,
    ) -> None:
        if not api_key:
            raise ValueError("JobNimbus API key must not be empty")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        for name, value in (
            ("call_id_field", call_id_field),
            ("job_record_type_name", job_record_type_name),
            ("job_status_name", job_status_name),
        ):
            if not value.strip():
                raise ValueError(f"{name} must not be empty")
        self._api_key = api_key
        self._base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._http = http
        self._timeout = httpx.Timeout(timeout)
        self._lead_id_field = lead_id_field
        self._record_type_name = record_type_name
        self._status_name = status_name
        self._call_id_field = call_id_field
        self._job_record_type_name = job_record_type_name
        self._job_status_name = job_status_name

    def __repr__(self) -> str:
        # Never show the key, even in debug output.
        return f"JobNimbusClient(base_url={self._base_url!r})"

    async def push_contact(self, contact: CrmContact) -> CrmPushResult:
        """Create ``contact`` in JobNimbus unless a contact for its lead already exists.

        Returns the jnid of the existing or new contact. Raises CrmAuthError,
        CrmUnavailable or CrmRejected; ValueError if the lead id is not a UUID.
        """
        stored_id = lead_id_value(contact.lead_id)
        async with self._session() as http:
            # A previous attempt may have created the record and then lost the
            # response (timeout, crash): find it instead of creating a twin.
            existing = await self._find(http, "/contacts", self._lead_id_field, stored_id)
            if existing is not None:
                return CrmPushResult(external_id=existing, vendor=VENDOR)
            body = await self._request(
                http, "POST", "/contacts", json_body=self._contact_payload(contact, stored_id)
            )
        jnid = body.get("jnid") if isinstance(body, dict) else None
        if not isinstance(jnid, str) or not jnid:
            # The contact may exist now; a retry finds it through the look-up.
            raise CrmUnavailable("JobNimbus accepted the contact but returned no jnid")
        return CrmPushResult(external_id=jnid, vendor=VENDOR)

    async def find_contact_by_lead_id(self, lead_id: str) -> str | None:
        """Return the jnid of the oldest contact carrying ``lead_id``, or None.

        Raises CrmAuthError, CrmUnavailable or CrmRejected; ValueError if the
        lead id is not a UUID.
        """
        stored_id = lead_id_value(lead_id)
        async with self._session() as http:
            return await self._find(http, "/contacts", self._lead_id_field, stored_id)

    async def push_job(self, job: CrmJob) -> CrmPushResult:
        """Create ``job`` in JobNimbus, linked to its contact, unless a job for its call exists.

        Returns the jnid of the existing or new job. Raises CrmAuthError,
        CrmUnavailable or CrmRejected (an unknown contact jnid, workflow or
        status is refused by JobNimbus); ValueError if the call id has no
        stored form (see :func:`call_id_value`).
        """
        stored_id = call_id_value(job.call_id)
        async with self._session() as http:
            existing = await self._find(http, "/jobs", self._call_id_field, stored_id)
            if existing is not None:
                return CrmPushResult(external_id=existing, vendor=VENDOR)
            body = await self._request(
                http, "POST", "/jobs", json_body=self._job_payload(job, stored_id)
            )
        jnid = body.get("jnid") if isinstance(body, dict) else None
        if not isinstance(jnid, str) or not jnid:
            # The job may exist now; a retry finds it through the look-up.
            raise CrmUnavailable("JobNimbus accepted the job but returned no jnid")
        return CrmPushResult(external_id=jnid, vendor=VENDOR)

    async def find_job_by_call_id(self, call_id: str) -> str | None:
        """Return the jnid of the oldest job carrying ``call_id``, or None.

        Raises CrmAuthError, CrmUnavailable or CrmRejected; ValueError if the
        call id has no stored form.
        """
        stored_id = call_id_value(call_id)
        async with self._session() as http:
            return await self._find(http, "/jobs", self._call_id_field, stored_id)

    async def _find(
        self, http: httpx.AsyncClient, path: str, id_field: str, stored_id: str
    ) -> str | None:
        query = {"must": [{"term": {id_field: stored_id}}]}
        params = {
            "filter": json.dumps(query, separators=(",", ":")),
            # Oldest first: if duplicates ever slipped in, always pick the same one.
            "sort_field": "date_created",
            "sort_direction": "asc",
            "size": "1",
            "fields": "jnid",
        }
        body = await self._request(http, "GET", path, params=params)
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            kind = "contact" if path == "/contacts" else "job"
            raise CrmUnavailable(f"JobNimbus {kind} search returned no result list")
        for record in results:
            jnid = record.get("jnid") if isinstance(record, dict) else None
            if isinstance(jnid, str) and jnid:
                return jnid
        return None

    def _contact_payload(self, contact: CrmContact, stored_id: str) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "record_type_name": self._record_type_name,
            "status_name": self._status_name,
            self._lead_id_field: stored_id,
        }
        optional = {
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "display_name": contact.display_name,
            "company": contact.company,
            "email": contact.email,
            "mobile_phone": _jobnimbus_phone(contact.phone) if contact.phone else None,
            "address_line1": contact.address,
            "city": contact.city,
            "state_text": contact.state,
            "zip": contact.postal_code,
            "source_name": contact.source,
            "description": contact.description,
        }
        # Omit unset fields rather than sending nulls that would blank the record.
        payload.update({key: value for key, value in optional.items() if value})
        return payload

    def _job_payload(self, job: CrmJob, stored_id: str) -> dict[str, Any]:
        contact = {"id": job.contact_external_id}
        payload: dict[str, Any] = {
            "record_type_name": self._job_record_type_name,
            "status_name": self._job_status_name,
            "name": job.name,
            self._call_id_field: stored_id,
            # primary makes the contact the job's customer; related lists the
            # job on the contact's record, as linking in the JobNimbus UI does.
            "primary": contact,
            "related": [dict(contact)],
        }
        optional = {
            "description": job.description,
            "address_line1": job.address,
            "city": job.city,
            "state_text": job.state,
            "zip": job.postal_code,
            "source_name": job.source,
        }
        payload.update({key: value for key, value in optional.items() if value})
        return payload

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._http is not None:
            yield self._http
            return
        async with httpx.AsyncClient(timeout=self._timeout) as http:
            yield http

    async def _request(
        self,
        http: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> Any:
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        what = f"JobNimbus {method} {path}"
        try:
            response = await http.request(
                method,
                self._base_url + path,
                params=params,
                json=json_body,
                headers=headers,
                timeout=self._timeout,
            )
        except UnsafeUrl:
            # The outbound policy refused the address: not the vendor's failure,
            # and not worth a retry (it is also an httpx.ConnectError, so first).
            raise
        except httpx.TimeoutException as exc:
            raise CrmUnavailable(f"{what} timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            detail = redact(str(exc), self._api_key)[:_MAX_DETAIL_CHARS]
            raise CrmUnavailable(f"{what} failed: {type(exc).__name__}: {detail}") from exc
        if response.is_success:
            try:
                return response.json()
            except ValueError as exc:
                raise CrmUnavailable(
                    f"{what} returned a body that is not JSON", status_code=response.status_code
                ) from exc
        raise self._status_error(what, response)

    def _status_error(self, what: str, response: httpx.Response) -> CrmError:
        status = response.status_code
        detail = _error_detail(response, self._api_key)
        suffix = f": {detail}" if detail else ""
        if status in (401, 403):
            return CrmAuthError(
                f"{what} was refused (HTTP {status}): check the JobNimbus API key{suffix}",
                status_code=status,
            )
        if status >= 500 or status in _TRANSIENT_4XX:
            return CrmUnavailable(f"{what} failed (HTTP {status}){suffix}", status_code=status)
        return CrmRejected(f"{what} was rejected (HTTP {status}){suffix}", status_code=status)


def create_client(
    *,
    api_key: str,
    base_url: str | None,
    http: httpx.AsyncClient | None,
    options: Mapping[str, str],
) -> JobNimbusClient:
    """Registry factory: build a JobNimbusClient from vendor-neutral settings.

    Recognised ``options``: ``lead_id_field``, ``record_type_name``,
    ``status_name`` (contacts), ``call_id_field``, ``job_record_type_name``,
    ``job_status_name`` (jobs), ``timeout_seconds``. Unknown keys raise
    ValueError so a misspelt setting is not silently ignored.
    """
    known = {
        "lead_id_field",
        "record_type_name",
        "status_name",
        "call_id_field",
        "job_record_type_name",
        "job_status_name",
        "timeout_seconds",
    }
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown JobNimbus options: {', '.join(unknown)}")
    return JobNimbusClient(
        api_key=api_key,
        base_url=base_url,
        http=http,
        timeout=float(options.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)),
        lead_id_field=options.get("lead_id_field", DEFAULT_LEAD_ID_FIELD),
        record_type_name=options.get("record_type_name", DEFAULT_RECORD_TYPE_NAME),
        status_name=options.get("status_name", DEFAULT_STATUS_NAME),
        call_id_field=options.get("call_id_field", DEFAULT_CALL_ID_FIELD),
        job_record_type_name=options.get("job_record_type_name", DEFAULT_JOB_RECORD_TYPE_NAME),
        job_status_name=options.get("job_status_name", DEFAULT_JOB_STATUS_NAME),
    )


def _jobnimbus_phone(e164: str) -> str:
    # JobNimbus is North-American-first and stores 10-digit NANP numbers
    # ("8882223333" in its examples); other countries keep the E.164 form.
    if e164.startswith("+1") and len(e164) == 12 and e164[1:].isdigit():
        return e164[2:]
    return e164


def _error_detail(response: httpx.Response, api_key: str) -> str:
    """Best human-readable reason from an error response, redacted and shortened."""
    text = response.text.strip()
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "error", "errors", "detail"):
            if body.get(key):
                value = body[key]
                text = value if isinstance(value, str) else json.dumps(value)
                break
    text = " ".join(redact(text, api_key).split())
    if len(text) > _MAX_DETAIL_CHARS:
        text = text[: _MAX_DETAIL_CHARS - 1] + "…"
    return text
