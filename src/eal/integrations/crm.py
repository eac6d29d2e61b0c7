"""Vendor-neutral CRM client interface and the registry of CRM vendors.

A lead is pushed to a franchise's CRM as a contact; a dispatched call becomes a
job (a project) linked to its caller's contact. Every vendor module
implements :class:`CrmClient` and exposes a module-level ``create_client``
factory; the registry below maps a vendor name to that module, so adding a
vendor is one new module plus one line in ``_VENDOR_MODULES``.

Exception hierarchy::

    CrmError                 base; has ``message`` and optional ``status_code``
    ├── CrmAuthError         the vendor refused our credentials (401/403)
    ├── CrmUnavailable       network error, timeout, 5xx, 429: retry later
    └── CrmRejected          the vendor refused the payload (other 4xx): do not retry

    UnknownCrmVendor         (a ValueError) no client for the configured vendor name

A client given a policy-built ``http`` client (:mod:`eal.kit.outbound`) lets
the policy's refusal (``UnsafeUrl``) through unchanged: the vendor's address
is refused, which is neither a vendor failure nor worth a retry.

Messages never contain the vendor API key: clients build them themselves and
pass any vendor-supplied text through :func:`redact`.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, cast, runtime_checkable

import httpx

__all__ = [
    "SUPPORTED_CRM_VENDORS",
    "CrmAuthError",
    "CrmClient",
    "CrmClientFactory",
    "CrmContact",
    "CrmError",
    "CrmJob",
    "CrmPushResult",
    "CrmRejected",
    "CrmUnavailable",
    "UnknownCrmVendor",
    "get_crm_client",
    "redact",
    "response_detail",
]

# Vendor name -> module exposing ``create_client`` (a CrmClientFactory).
# Modules are imported on first use so vendor modules can import this one.
_VENDOR_MODULES: dict[str, str] = {
    "jobnimbus": "eal.integrations.jobnimbus",
}

SUPPORTED_CRM_VENDORS: tuple[str, ...] = tuple(_VENDOR_MODULES)

_REDACTED = "[redacted]"


@dataclass(frozen=True, slots=True, kw_only=True)
class CrmContact:
    """A lead as a CRM contact, in vendor-neutral terms.

    ``lead_id`` is our lead UUID as a string; vendors store it on the record
    so a push can be made idempotent. ``phone`` is E.164 (``+15125550100``).
    At least one of first/last/display name or company must be set, because
    every CRM we target refuses a nameless contact.
    """

    lead_id: str
    first_name: str | None = None
    last_name: str | None = None
    display_name: str | None = None
    company: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    postal_code: str | None = None
    source: str | None = None
    description: str | None = None
    city: str | None = None
    state: str | None = None

    def __post_init__(self) -> None:
        if not self.lead_id.strip():
            raise ValueError("CrmContact.lead_id must not be empty")
        names = (self.first_name, self.last_name, self.display_name, self.company)
        if not any(name and name.strip() for name in names):
            raise ValueError(
                "CrmContact needs at least one of first_name, last_name, display_name, company"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class CrmJob:
    """A dispatched call as a CRM job (a project), in vendor-neutral terms.

    ``call_id`` is our call's id; vendors store it on the job so a push can be
    made idempotent. ``contact_external_id`` is the vendor's id of the contact
    the job belongs to: the ``external_id`` that :meth:`CrmClient.push_contact`
    returned. ``name`` is the job's title as the CRM lists it (e.g. "Dana
    Whitfield - water damage"); ``state`` is a two-letter code such as "TX".
    """

    call_id: str
    contact_external_id: str
    name: str
    description: str | None = None
    address: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        for name in ("call_id", "contact_external_id", "name"):
            if not getattr(self, name).strip():
                raise ValueError(f"CrmJob.{name} must not be empty")


@dataclass(frozen=True, slots=True)
class CrmPushResult:
    """Outcome of a successful push: the vendor's id for the contact or job."""

    external_id: str
    vendor: str


class CrmError(Exception):
    """Base class for CRM call failures; ``status_code`` is the vendor's HTTP status if any."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})"


class CrmAuthError(CrmError):
    """The vendor rejected the API key (HTTP 401/403)."""


class CrmUnavailable(CrmError):
    """The vendor could not be reached or failed on its side; the call may be retried."""


class CrmRejected(CrmError):
    """The vendor refused the request itself (4xx other than auth); retrying will not help."""


class UnknownCrmVendor(ValueError):
    """No CRM client is registered under the requested vendor name."""

    def __init__(self, vendor: str) -> None:
        supported = ", ".join(SUPPORTED_CRM_VENDORS)
        super().__init__(f"unknown CRM vendor {vendor!r}; supported: {supported}")
        self.vendor = vendor


@runtime_checkable
class CrmClient(Protocol):
    """What the lead service needs from any CRM vendor."""

    vendor: str

    async def push_contact(self, contact: CrmContact) -> CrmPushResult:
        """Create the contact at the vendor, or return the one already stored for its lead.

        Raises CrmAuthError, CrmUnavailable or CrmRejected.
        """
        ...

    async def find_contact_by_lead_id(self, lead_id: str) -> str | None:
        """Return the vendor id of the contact carrying ``lead_id``, or None if there is none."""
        ...

    async def push_job(self, job: CrmJob) -> CrmPushResult:
        """Create the job at the vendor, linked to its contact, or return the one already
        stored for its call.

        Raises CrmAuthError, CrmUnavailable or CrmRejected.
        """
        ...

    async def find_job_by_call_id(self, call_id: str) -> str | None:
        """Return the vendor id of the job carrying ``call_id``, or None if there is none."""
        ...


class CrmClientFactory(Protocol):
    """Signature of each vendor module's ``create_client``."""

    def __call__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        http: httpx.AsyncClient | None,
        options: Mapping[str, str],
    ) -> CrmClient: ...


def get_crm_client(
    vendor: str,
    *,
    api_key: str,
    base_url: str | None,
    http: httpx.AsyncClient | None = None,
    options: Mapping[str, str] | None = None,
) -> CrmClient:
    """Build the client for ``vendor``.

    ``base_url`` None means the vendor's production API. ``http`` is an
    optional shared client (its connection pool is reused; it is never
    closed here). ``options`` carries vendor-specific settings, documented
    in each vendor module. Raises UnknownCrmVendor for an unregistered name.
    """
    module_name = _VENDOR_MODULES.get(vendor)
    if module_name is None:
        raise UnknownCrmVendor(vendor)
    factory = cast(CrmClientFactory, importlib.import_module(module_name).create_client)
    return factory(api_key=api_key, base_url=base_url, http=http, options=options or {})


def redact(text: str, secret: str) -> str:
    """Return ``text`` with every occurrence of ``secret`` replaced, for safe error messages."""
    if not secret:
        return text
    return text.replace(secret, _REDACTED)


def response_detail(response: httpx.Response, secret: str, *, limit: int = 200) -> str:
    """The most readable reason in a vendor's error response, redacted, on one line, cut to
    ``limit`` characters.

    Picks ``message``, ``error``, ``errors`` or ``detail`` from a JSON object
    (one level into a nested ``error`` object, as OpenAI-style APIs answer),
    else the body's text. Call it only on a response whose body has been read.
    """
    text = response.text.strip()
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        nested = body.get("error")
        if isinstance(nested, dict) and nested.get("message"):
            body = nested
        for key in ("message", "error", "errors", "detail"):
            if body.get(key):
                value = body[key]
                text = value if isinstance(value, str) else json.dumps(value)
                break
    text = " ".join(redact(text, secret).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
