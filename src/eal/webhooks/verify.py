"""Receiver-side verification of signed webhook deliveries.

Only the standard library is needed, so a receiver can verify deliveries with
nothing but ``eal`` installed.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Mapping

from eal.webhooks.signing import (
    HEADER_SIGNATURE,
    HEADER_STD_ID,
    HEADER_STD_SIGNATURE,
    HEADER_STD_TIMESTAMP,
    eal_signature,
    standard_key,
    standard_signature,
)

DEFAULT_TOLERANCE_SECONDS = 300


class WebhookVerificationError(Exception):
    """A delivery failed verification: missing headers, bad signature or stale timestamp."""


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: int | None = None,
) -> None:
    """Check that ``body`` was signed with ``secret`` within ``tolerance`` seconds.

    ``secret`` is the full ``whsec_...`` string shown when the webhook was
    registered or rotated. ``headers`` are the request headers (any casing) and
    ``body`` the raw request bytes, before any JSON parsing. ``X-EAL-Signature``
    is checked when present, otherwise the Standard Webhooks headers
    (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``). A timestamp
    more than ``tolerance`` seconds before or after ``now`` (default: the
    current time) is refused, which limits replays. Returns ``None`` on success
    and raises :class:`WebhookVerificationError` otherwise.

    Receiver example, standard library only::

        from http.server import BaseHTTPRequestHandler, HTTPServer
        from eal.webhooks import WebhookVerificationError, verify

        SECRET = "whsec_..."  # shown once at registration or rotation

        class Receiver(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    verify(SECRET, dict(self.headers.items()), body)
                except WebhookVerificationError:
                    return self.send_error(400)
                # Delivery is at least once: act once per X-EAL-Delivery header.
                self.send_response(204)
                self.end_headers()

        HTTPServer(("", 8000), Receiver).serve_forever()
    """
    if tolerance < 0:
        raise WebhookVerificationError("tolerance must not be negative")
    try:
        key = standard_key(secret)
    except ValueError as exc:
        raise WebhookVerificationError(
            f"secret must be the full 'whsec_...' signing secret: {exc}"
        ) from exc
    if isinstance(body, str):
        # Frameworks that hand over text decoded it from UTF-8; the signature covers the bytes.
        body = body.encode("utf-8")
    lowered = {name.lower(): value for name, value in headers.items()}
    current = int(time.time()) if now is None else now

    eal_header = lowered.get(HEADER_SIGNATURE.lower())
    if eal_header is not None:
        _verify_eal(secret, eal_header, body, tolerance, current)
        return
    _verify_standard(key, lowered, body, tolerance, current)


def _parse_timestamp(value: str) -> int:
    value = value.strip()
    # isdigit() alone would accept non-ASCII digits that int() also parses.
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
            raise WebhookVerificationError(f"malformed {HEADER_SIGNATURE} header")
        if name == "t":
            if timestamp_value is not None:
                raise WebhookVerificationError(f"{HEADER_SIGNATURE} has more than one t=")
            timestamp_value = value
        elif name == "v1":
            candidates.append(value.strip())
        # Other schemes are skipped so a future v2 can be added alongside v1.
    if timestamp_value is None:
        raise WebhookVerificationError(f"{HEADER_SIGNATURE} has no t= timestamp")
    if not candidates:
        raise WebhookVerificationError(f"{HEADER_SIGNATURE} has no v1= signature")
    timestamp = _parse_timestamp(timestamp_value)
    _check_fresh(timestamp, tolerance, now)

    expected = eal_signature(secret, timestamp=timestamp, body=body).encode("ascii")
    # Compare every candidate, without stopping early, in constant time each.
    matched = False
    for candidate in candidates:
        if hmac.compare_digest(expected, candidate.lower().encode("utf-8")):
            matched = True
    if not matched:
        raise WebhookVerificationError(f"no {HEADER_SIGNATURE} v1 signature matches the secret")


def _verify_standard(
    key: bytes, headers: Mapping[str, str], body: bytes, tolerance: int, now: int
) -> None:
    msg_id = headers.get(HEADER_STD_ID)
    timestamp_value = headers.get(HEADER_STD_TIMESTAMP)
    signature = headers.get(HEADER_STD_SIGNATURE)
    if not (msg_id and timestamp_value and signature):
        raise WebhookVerificationError(
            f"missing signature headers: expected {HEADER_SIGNATURE} or "
            f"{HEADER_STD_ID}, {HEADER_STD_TIMESTAMP} and {HEADER_STD_SIGNATURE}"
        )
    timestamp = _parse_timestamp(timestamp_value)
    _check_fresh(timestamp, tolerance, now)

    expected = standard_signature(key, msg_id=msg_id, timestamp=timestamp, body=body)
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
        raise WebhookVerificationError(f"no {HEADER_STD_SIGNATURE} v1 signature matches the secret")
