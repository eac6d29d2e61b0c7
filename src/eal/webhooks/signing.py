"""Signing secrets and signature headers for outbound webhook deliveries.

Every delivery carries two signature schemes computed over the same raw body:

* ``X-EAL-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]``: HMAC-SHA256 of
  ``"<t>.<body>"`` keyed by the UTF-8 bytes of the whole ``whsec_...`` string.
* Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature``): HMAC-SHA256 of ``"<id>.<t>.<body>"`` keyed by the
  base64-decoded part of the secret after ``whsec_``, sent as space-separated
  ``v1,<base64>`` entries.

While a secret is being rotated both the new and the old secret are valid, so
each scheme carries one signature per valid secret and a receiver holding either
one verifies the delivery.

This module uses only the standard library because :mod:`eal.webhooks.verify`,
which receivers import, builds on it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _random
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# "whsec_" plus six base64 characters: enough to tell secrets apart in a list,
# far too little to help guess one.
DISPLAY_PREFIX_LENGTH = 12
USER_AGENT = "eal-webhooks/1"

HEADER_SIGNATURE = "X-EAL-Signature"
HEADER_EVENT = "X-EAL-Event"
HEADER_DELIVERY = "X-EAL-Delivery"
HEADER_TIMESTAMP = "X-EAL-Timestamp"
HEADER_STD_ID = "webhook-id"
HEADER_STD_TIMESTAMP = "webhook-timestamp"
HEADER_STD_SIGNATURE = "webhook-signature"


def generate_secret() -> str:
    """Return a new signing secret: ``whsec_`` + standard base64 of 32 random bytes."""
    raw = _random.token_bytes(SECRET_BYTES)
    return SECRET_PREFIX + base64.b64encode(raw).decode("ascii")


def secret_prefix(secret: str) -> str:
    """Return the public display prefix of ``secret`` (its first 12 characters)."""
    return secret[:DISPLAY_PREFIX_LENGTH]


def standard_key(secret: str) -> bytes:
    """Return the Standard Webhooks HMAC key of ``secret``.

    That key is the base64-decoded part after ``whsec_``. Raises ``ValueError``
    when ``secret`` is not a ``whsec_`` string with a non-empty base64 body.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"signing secret must start with {SECRET_PREFIX!r}")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        # Padding is optional in what receivers paste; adding "==" is harmless
        # because the decoder ignores padding beyond what it needs.
        key = base64.b64decode(encoded + "==", validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("signing secret is not valid base64 after 'whsec_'") from exc
    if not key or base64.b64encode(key).decode("ascii").rstrip("=") != encoded.rstrip("="):
        # A lenient decode silently drops stray characters; refuse instead, so a
        # mangled secret fails loudly rather than yielding a different key.
        raise ValueError("signing secret is not valid base64 after 'whsec_'")
    return key


def eal_signature(secret: str, *, timestamp: int, body: bytes) -> str:
    """Return the hex ``v1`` value of ``X-EAL-Signature`` for one secret."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def standard_signature(key: bytes, *, msg_id: str, timestamp: int, body: bytes) -> bytes:
    """Return the raw Standard Webhooks HMAC digest for one decoded key."""
    message = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, message, hashlib.sha256).digest()


def _check_header_token(name: str, value: str) -> None:
    # These values go into header lines and into the signed message, where a
    # separator or control character would corrupt one or the other.
    if not value or any(ch.isspace() or ord(ch) < 0x20 or ch == "\x7f" for ch in value):
        raise ValueError(f"{name} must be non-empty and contain no whitespace or controls")


def signature_headers(
    secrets: Sequence[str],
    *,
    body: bytes,
    timestamp: int,
    delivery_id: str,
    event_type: str,
) -> dict[str, str]:
    """Return the HTTP headers for one delivery attempt of ``body``.

    ``secrets`` are the subscription's currently valid secrets (two during a
    rotation's overlap window); each contributes one signature to both
    ``X-EAL-Signature`` and ``webhook-signature``. ``delivery_id`` must stay the
    same across retries so receivers can de-duplicate. Raises ``ValueError`` when
    no secret is given, a secret is malformed, the timestamp is negative, or an
    identifier contains whitespace or control characters.
    """
    if not secrets:
        raise ValueError("at least one signing secret is required")
    if timestamp < 0:
        raise ValueError("timestamp must be a non-negative number of Unix seconds")
    _check_header_token("delivery_id", delivery_id)
    _check_header_token("event_type", event_type)

    eal_parts = [f"t={timestamp}"]
    std_parts: list[str] = []
    for secret in secrets:
        key = standard_key(secret)
        eal_parts.append("v1=" + eal_signature(secret, timestamp=timestamp, body=body))
        digest = standard_signature(key, msg_id=delivery_id, timestamp=timestamp, body=body)
        std_parts.append("v1," + base64.b64encode(digest).decode("ascii"))

    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        HEADER_SIGNATURE: ",".join(eal_parts),
        HEADER_EVENT: event_type,
        HEADER_DELIVERY: delivery_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_STD_ID: delivery_id,
        HEADER_STD_TIMESTAMP: str(timestamp),
        HEADER_STD_SIGNATURE: " ".join(std_parts),
    }
