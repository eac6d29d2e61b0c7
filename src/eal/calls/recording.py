"""Call recordings: signed links to this service, and fetching the audio from the vendor.

The vendor's recording URL is kept private (CallRail's carries an access key). The API
shows `/api/v1/calls/{id}/recording?exp=...&sig=...` instead: an HMAC over the call id and
the expiry (one hour), which needs no API key, so a browser's audio player or a CRM note can
use it; an altered or expired link is a 403. The audio is streamed from the vendor through
the outbound policy, never stored here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from eal.calls.schemas import CALL_PREFIX
from eal.integrations.callrail import DEFAULT_BASE_URL as CALLRAIL_API
from eal.integrations.callrail import CallRailClient, CallRailError
from eal.kit.ids import public_id
from eal.kit.outbound import OutboundClient, UnsafeUrl, check_url_form
from eal.kit.secretbox import SecretBox
from eal.kit.signed import Signer

RECORDING_PURPOSE = "eal-call-recording"
RECORDING_TTL = timedelta(hours=1)
MAX_REDIRECTS = 3
_AUDIO_EXTENSIONS = {
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/ogg": ".ogg",
    "audio/webm": ".webm",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/flac": ".flac",
}


class RecordingError(Exception):
    """The recording could not be fetched; `transient` when trying later may work."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


def recording_link(signer: Signer, public_url: str, call_id: uuid.UUID, now: datetime) -> str:
    """The signed link to the call's recording, valid for an hour from `now`."""
    subject = public_id(CALL_PREFIX, call_id)
    exp, sig = signer.sign_query(RECORDING_PURPOSE, subject, expires_at=now + RECORDING_TTL)
    return f"{public_url.rstrip('/')}/api/v1/calls/{subject}/recording?exp={exp}&sig={sig}"


@dataclass
class Audio:
    """An open recording: its type, size if announced, and its bytes as they arrive."""

    content_type: str
    content_length: int | None
    chunks: AsyncIterator[bytes]

    @property
    def filename(self) -> str:
        """A name whose extension tells a transcription server the format."""
        return "recording" + _AUDIO_EXTENSIONS.get(self.content_type, ".mp3")

    async def read(self, max_bytes: int) -> bytes:
        """All of it; RecordingError when it is larger than `max_bytes`."""
        if self.content_length is not None and self.content_length > max_bytes:
            raise RecordingError(f"the recording is larger than {max_bytes} bytes", transient=False)
        data = bytearray()
        async for chunk in self.chunks:
            data += chunk
            if len(data) > max_bytes:
                raise RecordingError(
                    f"the recording is larger than {max_bytes} bytes", transient=False
                )
        return bytes(data)


def callrail_client(
    settings: dict[str, Any], box: SecretBox, http: OutboundClient
) -> CallRailClient | None:
    """The organization's CallRail API client, or None without an API key and account."""
    item = (settings.get("integrations") or {}).get("callrail") or {}
    encrypted, account = item.get("api_key_encrypted"), item.get("account_id")
    if not encrypted or not account:
        return None
    return CallRailClient(
        box.decrypt(encrypted), account, http, base_url=item.get("base_url") or CALLRAIL_API
    )


@asynccontextmanager
async def open_recording(
    url: str, *, source: str, settings: dict[str, Any], box: SecretBox, http: OutboundClient
) -> AsyncIterator[Audio]:
    """Open the recording at `url` for streaming. Raises RecordingError, never a vendor error."""
    client = callrail_client(settings, box, http) if source == "callrail" else None
    try:
        if client is not None:
            async with client.recording(url) as recording:
                yield Audio(
                    recording.content_type, recording.content_length, recording.iter_bytes()
                )
            return
        async with _plain(url, http) as audio:
            yield audio
    except CallRailError as exc:
        raise RecordingError(exc.message, transient=exc.transient) from exc
    except UnsafeUrl as exc:
        raise RecordingError(f"the recording URL is refused: {exc}", transient=False) from exc


@asynccontextmanager
async def _plain(url: str, http: OutboundClient) -> AsyncIterator[Audio]:
    """A recording behind a plain URL (any tracker): a GET, following a few redirects."""
    allow_private = http.policy.allow_private
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        check_url_form(current, allow_private=allow_private)
        try:
            response = await http.send(http.build_request("GET", current), stream=True)
        except httpx.TimeoutException as exc:
            raise RecordingError("the recording server timed out", transient=True) from exc
        except httpx.TransportError as exc:
            raise RecordingError(
                f"the recording server could not be reached: {type(exc).__name__}", transient=True
            ) from exc
        if response.is_redirect:
            location = response.headers.get("location", "")
            await response.aclose()
            current = str(response.url.join(location))
            continue
        break
    else:
        raise RecordingError("the recording URL redirected too often", transient=False)
    try:
        if not response.is_success:
            transient = response.status_code in (408, 429) or response.status_code >= 500
            raise RecordingError(
                f"the recording server answered {response.status_code}", transient=transient
            )
        kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if kind.startswith("text/") or kind == "application/json":
            raise RecordingError(f"the recording URL answered {kind}, not audio", transient=False)
        length = response.headers.get("content-length", "")
        yield Audio(
            kind or "application/octet-stream",
            int(length) if length.isdigit() else None,
            _chunks(response),
        )
    finally:
        await response.aclose()


async def _chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes(64 * 1024):
            yield chunk
    except httpx.HTTPError as exc:
        raise RecordingError(
            f"the recording download broke off: {type(exc).__name__}", transient=True
        ) from exc
