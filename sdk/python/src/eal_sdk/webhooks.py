"""Verifying signed webhook deliveries and reading their events.

Every delivery is a POST whose raw body is signed twice with the endpoint's
signing secret (the ``whsec_...`` string shown once at registration or
rotation):

* ``X-EAL-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]``: HMAC-SHA256 of
  ``"<t>.<body>"`` keyed by the UTF-8 bytes of the whole secret;
* Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature``): HMAC-SHA256 of ``"<id>.<t>.<body>"`` keyed by the
  base64-decoded part of the secret after ``whsec_``, as space-separated
  ``v1,<base64>`` entries.

During a rotation's overlap window each scheme carries one signature per valid
secret, so a receiver holding either the new or the old secret verifies.

Receiver example::

    from eal_sdk.webhooks import WebhookVerificationError, parse_event, verify

    def handle(secret: str, headers: dict[str, str], body: bytes) -> int:
        try:
            verify(secret, headers, body)
        except WebhookVerificationError:
            return 400
        event = parse_event(body)
        if event.type == "lead.created":
            print(event.data["id"])
        return 204  # delivery is at least once: act once per event.id
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError

from eal_sdk._exceptions import WebhookVerificationError

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "Event",
    "WebhookVerificationError",
    "parse_event",
    "verify",
]

DEFAULT_TOLERANCE_SECONDS: Final = 300
"""How far (seconds) a signature's timestamp may be from now, either way."""

_SECRET_PREFIX = "whsec_"
_HEADER_SIGNATURE = "x-eal-signature"
_HEADER_STD_ID = "webhook-id"
_HEADER_STD_TIMESTAMP = "webhook-timestamp"
_HEADER_STD_SIGNATURE = "webhook-signature"


class Event(BaseModel):
    """One delivered event: ``{"id", "type", "created_at", "organization_id", "data"}``.

    ``id`` (``evt_...``) stays the same across retries of a delivery: act once
    per id. ``data`` is the resource as the API returns it (for
    ``audit.log.event``, the audit entry).
    """

    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    created_at: datetime
    organization_id: UUID
    data: Any = None


def parse_event(body: bytes | str) -> Event:
    """The event of a delivery body (verify it first). Raises ``ValueError`` if malformed."""
    try:
        return Event.model_validate_json(body)
    except ValidationError as exc:
        raise ValueError(f"not a webhook event body: {exc}") from exc


def _standard_key(secret: str) -> bytes:
    if not secret.startswith(_SECRET_PREFIX):
        raise WebhookVerificationError(f"secret must be the full {_SECRET_PREFIX!r}... string")
    encoded = secret[len(_SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "==", validate=False)
    except (binascii.Error, ValueError) as exc:
        raise WebhookVerificationError("secret is not valid base64 after 'whsec_'") from exc
    # A lenient decode drops stray characters; refuse a mangled secret instead.
    if not key or base64.b64encode(key).decode("ascii").rstrip("=") != encoded.rstrip("="):
        raise WebhookVerificationError("secret is not valid base64 after 'whsec_'")
    return key


def _timestamp(value: str) -> int:
    value = value.strip()
    if not value.isascii() or not value.isdigit():
        raise WebhookVerificationError("signature timestamp is not a whole number of seconds")
    return int(value)


def _check_fresh(timestamp: int, tolerance: int, now: int) -> None:
    if timestamp < now - tolerance:
        raise WebhookVerificationError(
            f"signature timestamp is too old ({now - timestamp}s, tolerance {tolerance}s)"
        )
    if timestamp > now + tolerance:
        raise WebhookVerificationError(
            f"signature timestamp is too far in the future ({timestamp - now}s ahead)"
        )


def _verify_eal(secret: str, header: str, body: bytes, tolerance: int, now: int) -> None:
    timestamp_value: str | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookVerificationError("malformed X-EAL-Signature header")
        if name == "t":
            if timestamp_value is not None:
                raise WebhookVerificationError("X-EAL-Signature has more than one t=")
            timestamp_value = value
        elif name == "v1":
            candidates.append(value.strip())
        # Other schemes are skipped, so a future v2 can appear alongside v1.
    if timestamp_value is None:
        raise WebhookVerificationError("X-EAL-Signature has no t= timestamp")
    if not candidates:
        raise WebhookVerificationError("X-EAL-Signature has no v1= signature")
    timestamp = _timestamp(timestamp_value)
    _check_fresh(timestamp, tolerance, now)
    message = str(timestamp).encode("ascii") + b"." + body
    expected = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest().encode()
    matched = False
    for candidate in candidates:  # every one, each in constant time
        if hmac.compare_digest(expected, candidate.lower().encode("utf-8")):
            matched = True
    if not matched:
        raise WebhookVerificationError("no X-EAL-Signature v1 signature matches the secret")


def _verify_standard(
    key: bytes, headers: Mapping[str, str], body: bytes, tolerance: int, now: int
) -> None:
    msg_id = headers.get(_HEADER_STD_ID)
    timestamp_value = headers.get(_HEADER_STD_TIMESTAMP)
    signature = headers.get(_HEADER_STD_SIGNATURE)
    if not (msg_id and timestamp_value and signature):
        raise WebhookVerificationError(
            "missing signature headers: expected X-EAL-Signature or "
            "webhook-id, webhook-timestamp and webhook-signature"
        )
    timestamp = _timestamp(timestamp_value)
    _check_fresh(timestamp, tolerance, now)
    message = f"{msg_id}.{timestamp}.".encode() + body
    expected = hmac.new(key, message, hashlib.sha256).digest()
    matched = False
    for entry in signature.split():
        version, sep, encoded = entry.partition(",")
        if not sep or version != "v1":
            continue
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, candidate):
            matched = True
    if not matched:
        raise WebhookVerificationError("no webhook-signature v1 signature matches the secret")


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: int | None = None,
) -> None:
    """Check that ``body`` was signed with ``secret`` within ``tolerance`` seconds of now.

    ``headers`` are the request's headers (any casing), ``body`` its raw bytes
    before any JSON parsing. ``X-EAL-Signature`` is checked when present,
    otherwise the Standard Webhooks headers. ``now`` (Unix seconds) defaults to
    the current time. Returns None; raises :class:`WebhookVerificationError`
    for a missing header, a wrong signature, or a timestamp outside the
    tolerance (which limits replays).
    """
    if tolerance < 0:
        raise WebhookVerificationError("tolerance must not be negative")
    key = _standard_key(secret)
    raw = body.encode("utf-8") if isinstance(body, str) else body
    lowered = {name.lower(): value for name, value in headers.items()}
    current = int(time.time()) if now is None else now
    eal_header = lowered.get(_HEADER_SIGNATURE)
    if eal_header is not None:
        _verify_eal(secret, eal_header, raw, tolerance, current)
        return
    _verify_standard(key, lowered, raw, tolerance, current)
