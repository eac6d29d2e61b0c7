"""Sending one delivery attempt: which secrets sign it, the HTTP POST, and what it means.

The connections come from :mod:`eal.webhooks.http1`, which connects only to
addresses the outbound policy (:mod:`eal.kit.outbound`) checks at connect time.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from datetime import datetime

import h11

from eal.kit.outbound import OutboundPolicy, UnsafeUrl
from eal.webhooks.http1 import Http1Client

ERROR_MAX_CHARS = 500
"""Stored error texts are cut to this length."""
RESPONSE_SNIPPET_BYTES = 2048
"""At most this much of a receiver's response body is read (and quoted in errors)."""


def valid_secrets(
    current: str,
    previous: str | None,
    previous_expires_at: datetime | None,
    now: datetime,
) -> list[str]:
    """The secrets that sign a delivery sent at `now`: the current one first, then the
    previous one while its rotation overlap lasts."""
    secrets = [current]
    if previous and previous_expires_at is not None and now < previous_expires_at:
        secrets.append(previous)
    return secrets


def truncate_error(message: str) -> str:
    """An error text short enough to store and show in the delivery log."""
    message = " ".join(message.split())
    if len(message) <= ERROR_MAX_CHARS:
        return message
    return message[: ERROR_MAX_CHARS - 3] + "..."


@dataclass(frozen=True)
class SendResult:
    """What one HTTP attempt produced."""

    response_status: int | None
    latency_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        """A 2xx answer: the delivery is done."""
        return self.response_status is not None and 200 <= self.response_status < 300

    @property
    def gone(self) -> bool:
        """410 Gone: the receiver asks us to stop sending to this endpoint."""
        return self.response_status == 410


class WebhookSender:
    """POSTs signed bodies to receivers over kept-alive connections."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        policy: OutboundPolicy,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self._client = Http1Client(policy, ssl_context=ssl_context)

    def sweep(self) -> None:
        """Close idle connections that expired or that receivers closed."""
        self._client.sweep()

    async def aclose(self) -> None:
        """Close every kept-alive connection."""
        await self._client.aclose()

    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        """POST `body` to `url`; never raises for receiver or network failures.

        The whole attempt (connect, TLS, send, the response and the first
        RESPONSE_SNIPPET_BYTES of its body) must finish within the timeout.
        """
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(self.timeout_seconds):
                status, snippet = await self._client.post(
                    url, body, headers, max_body=RESPONSE_SNIPPET_BYTES
                )
            if not 200 <= status < 300:
                text = snippet.decode("utf-8", errors="replace").strip()
                error = f"HTTP {status}" + (f": {text}" if text else "")
        except TimeoutError:
            error = f"timed out after {self.timeout_seconds:g}s"
        except UnsafeUrl as exc:
            error = f"refused: {exc.reason}"
        except ssl.SSLError as exc:
            error = f"TLS error: {exc.reason or exc}"
        except OSError as exc:
            error = f"connection failed: {exc.strerror or exc}"
        except h11.ProtocolError as exc:
            error = f"invalid HTTP response: {exc}"
        except ValueError as exc:
            error = f"invalid webhook URL: {exc}"
        latency_ms = round((time.perf_counter() - started) * 1000)
        return SendResult(
            response_status=status,
            latency_ms=latency_ms,
            error=truncate_error(error) if error else None,
        )
