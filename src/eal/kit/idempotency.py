"""`Idempotency-Key` on POST: replay the first response, refuse a changed or concurrent retry.

Within the request's own transaction:
1. a transaction-scoped advisory lock on (API key, Idempotency-Key): if another
   request holds it, that request is still in flight -> 409;
2. a stored response younger than 24 h: same request hash -> replay it, a
   different hash -> 409;
3. otherwise the request runs, and a 2xx response is stored in the same
   transaction as the work, so "work done" and "response stored" commit together.
A request that fails (validation, conflict, crash) rolls back and stores nothing.

Stored bodies are encrypted with the secret box: a first response may carry a
secret shown only once (an invite link, a new API key), and the replay store
must not keep it readable in the database.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from eal.errors import Conflict, InvalidRequest
from eal.kit.secretbox import SecretBox

MAX_KEY_LENGTH = 255
REPLAY_WINDOW = "24 hours"
REPLAYED_HEADER = "idempotent-replayed"
# Response headers worth replaying (the rest are per-request: ids, rate limits).
_REPLAYED_HEADERS = ("content-type", "location")

_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:lock_key, 0))")
_FIND = text(
    "SELECT request_hash, response_status, response_body, response_headers "
    "FROM idempotency_keys WHERE api_key_id = :kid AND idempotency_key = :ikey "
    f"AND created_at > CAST(:now AS timestamptz) - interval '{REPLAY_WINDOW}'"
)
_STORE = text(
    "INSERT INTO idempotency_keys (api_key_id, idempotency_key, organization_id, request_hash, "
    "response_status, response_body, response_headers, created_at) "
    "VALUES (:kid, :ikey, :org, :hash, :status, :body, CAST(:headers AS jsonb), :now) "
    "ON CONFLICT (api_key_id, idempotency_key) DO UPDATE SET request_hash = EXCLUDED.request_hash, "
    "response_status = EXCLUDED.response_status, response_body = EXCLUDED.response_body, "
    "response_headers = EXCLUDED.response_headers, created_at = EXCLUDED.created_at"
)
_PURGE = text(
    "DELETE FROM idempotency_keys "
    f"WHERE created_at < CAST(:now AS timestamptz) - interval '{REPLAY_WINDOW}'"
)


class IdempotentReplay(Exception):
    """Raised to short-circuit a request with its stored first response."""

    def __init__(self, response: Response) -> None:
        super().__init__("idempotent replay")
        self.response = response


@dataclass(frozen=True)
class IdempotencyClaim:
    """A key this request holds and must store its response under."""

    api_key_id: uuid.UUID
    organization_id: uuid.UUID
    key: str
    request_hash: bytes


def request_fingerprint(method: str, path: str, query: str, body: bytes) -> bytes:
    """What makes two requests 'the same' for replay purposes.

    A JSON body counts by its content, not its bytes: a client that re-serialises
    the same object (other spacing, other key order) is retrying, not changing it.
    """
    digest = hashlib.sha256()
    digest.update(f"{method} {path}?{query}\n".encode())
    try:
        digest.update(orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS))
    except orjson.JSONDecodeError:
        digest.update(body)
    return digest.digest()


def check_key(raw: str) -> str:
    """Validate the header value."""
    if not raw or len(raw) > MAX_KEY_LENGTH or not raw.isprintable():
        raise InvalidRequest(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
            details={"header": "Idempotency-Key"},
        )
    return raw


def _seal(box: SecretBox, body: bytes) -> bytes:
    # latin-1 maps every byte to one character and back, so any body survives.
    return box.encrypt(body.decode("latin-1")).encode("ascii")


def _open(box: SecretBox, sealed: bytes) -> bytes:
    return box.decrypt(sealed.decode("ascii")).encode("latin-1")


async def claim(
    conn: AsyncConnection,
    *,
    api_key_id: uuid.UUID,
    organization_id: uuid.UUID,
    key: str,
    request_hash: bytes,
    box: SecretBox,
    now: datetime,
) -> IdempotencyClaim:
    """Lock the key for this transaction; replay or refuse if it was used before.

    `now` (the runtime clock's time) decides which stored responses are still
    inside the replay window.
    """
    locked = await conn.scalar(_LOCK, {"lock_key": f"{api_key_id}:{key}"})
    if not locked:
        raise Conflict(
            "A request with this Idempotency-Key is still in progress; retry after it completes.",
            details={"header": "Idempotency-Key", "reason": "in_flight"},
        )
    row = (await conn.execute(_FIND, {"kid": api_key_id, "ikey": key, "now": now})).first()
    if row is not None:
        if bytes(row.request_hash) != request_hash:
            raise Conflict(
                "This Idempotency-Key was already used for a different request "
                "(another method, path or body).",
                details={"header": "Idempotency-Key", "reason": "body_mismatch"},
            )
        try:
            content = _open(box, bytes(row.response_body))
        except ValueError as exc:
            # Sealed under another secret key: it cannot be replayed, and running
            # the request again could do the work twice.
            raise Conflict(
                "The stored response for this Idempotency-Key can no longer be replayed; "
                "use a new key.",
                details={"header": "Idempotency-Key", "reason": "unreadable"},
            ) from exc
        headers = dict(row.response_headers or {})
        headers[REPLAYED_HEADER] = "true"
        raise IdempotentReplay(
            Response(content=content, status_code=row.response_status, headers=headers)
        )
    return IdempotencyClaim(api_key_id, organization_id, key, request_hash)


async def store(
    conn: AsyncConnection,
    held: IdempotencyClaim,
    response: Response,
    box: SecretBox,
    *,
    now: datetime,
) -> None:
    """Remember a successful response under the claimed key (same transaction as the work)."""
    headers = {k: v for k, v in response.headers.items() if k.lower() in _REPLAYED_HEADERS}
    await conn.execute(
        _STORE,
        {
            "kid": held.api_key_id,
            "ikey": held.key,
            "org": held.organization_id,
            "hash": held.request_hash,
            "status": response.status_code,
            "body": _seal(box, bytes(response.body)),
            "headers": orjson.dumps(headers).decode(),
            "now": now,
        },
    )


async def purge_expired(conn: AsyncConnection, *, now: datetime) -> int:
    """Delete stored responses past the replay window (system connection)."""
    result = await conn.execute(_PURGE, {"now": now})
    return int(result.rowcount or 0)
