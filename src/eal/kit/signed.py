"""Signed tokens for links the service hands out: unsubscribe, open tracking, recordings.

One helper, with a purpose and an expiry in every token, so a token made for
one use (an unsubscribe link) cannot be replayed for another (a recording).
A token is `<data>.<expiry>.<mac>` in URL-safe base64: the data is opaque ids
(never an address in clear), the expiry Unix seconds (0: none), and the MAC
HMAC-SHA256 over purpose, data and expiry, cut to 128 bits. Keys come from the
secret keys (`SecretBox.derive`), newest first: a token signed before a key
rotation still verifies while its key is configured.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

MAC_BYTES = 16
SIGNING_PURPOSE = "eal-signed-links"


class InvalidToken(ValueError):
    """The token is malformed, was altered, or was made for another purpose."""


class ExpiredToken(InvalidToken):
    """The token was genuine but its time is up."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("malformed token") from exc


class Signer:
    """Signs and verifies tokens; keys newest first (the first signs, any verifies)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a signer needs at least one key")
        self._keys = list(keys)

    def _mac(self, key: bytes, purpose: str, data: bytes, expires: int) -> bytes:
        message = b"\x00".join((purpose.encode("utf-8"), data, str(expires).encode("ascii")))
        return hmac.new(key, message, hashlib.sha256).digest()[:MAC_BYTES]

    def sign(self, purpose: str, data: bytes, *, expires_at: datetime | None = None) -> str:
        """A token carrying `data` for `purpose`, valid until `expires_at` (or forever)."""
        expires = int(expires_at.timestamp()) if expires_at is not None else 0
        mac = self._mac(self._keys[0], purpose, data, expires)
        return f"{_b64(data)}.{_b64(str(expires).encode('ascii'))}.{_b64(mac)}"

    def verify(self, purpose: str, token: str, *, now: datetime) -> bytes:
        """The data of a genuine, unexpired token for `purpose`; InvalidToken otherwise."""
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("malformed token")
        data, raw_expires, mac = (_unb64(p) for p in parts)
        try:
            expires = int(raw_expires.decode("ascii"))
        except (UnicodeError, ValueError) as exc:
            raise InvalidToken("malformed token") from exc
        if not any(
            hmac.compare_digest(mac, self._mac(key, purpose, data, expires)) for key in self._keys
        ):
            raise InvalidToken("the token was altered or made for another use")
        if expires and now.timestamp() > expires:
            raise ExpiredToken("the token has expired")
        return data

    def sign_query(self, purpose: str, subject: str, *, expires_at: datetime) -> tuple[int, str]:
        """(`exp`, `sig`) query values for a URL naming `subject` (e.g. a call id)."""
        expires = int(expires_at.timestamp())
        return expires, _b64(self._mac(self._keys[0], purpose, subject.encode("utf-8"), expires))

    def verify_query(
        self, purpose: str, subject: str, *, exp: int, sig: str, now: datetime
    ) -> None:
        """Check `sign_query`'s values for `subject`; InvalidToken or ExpiredToken otherwise."""
        mac = _unb64(sig)
        if not any(
            hmac.compare_digest(mac, self._mac(key, purpose, subject.encode("utf-8"), exp))
            for key in self._keys
        ):
            raise InvalidToken("the signature does not match")
        if now.timestamp() > exp:
            raise ExpiredToken("the link has expired")
