"""A small, real CallRail API v3 on 127.0.0.1 for tests, and CallRail's signed webhooks.

It speaks the part of CallRail that eal uses:

* ``GET /v3/a/{account_id}/calls.json``: ``Authorization: Token token="<api
  key>"`` exactly (else 401 ``{"error": "HTTP Token: Access denied."}``);
  ``start_date`` / ``end_date`` (``YYYY-MM-DD``, both days included, judged in
  each call's own offset); ``per_page`` 1-250 (default 100); ``fields``, each
  of which must be a documented *additional* field (else 400), added to the
  default fields of each call (``transcription`` only when asked for, as
  CallRail does); newest first. Offset pagination (``page``; answers
  ``page``, ``per_page``, ``total_pages``, ``total_records``, ``calls``) or
  relative pagination (``relative_pagination=true``, ``offset``; answers
  ``has_next_page`` and ``next_page``, a full URL);
* ``GET /v3/a/{account_id}/calls/{id}/recording.json`` answers
  ``{"url": <the recording's redirect URL>}``;
* ``GET /calls/{id}/recording/redirect?access_key=...`` (no API key: the
  access key is the credential) answers 302 to the audio's URL;
* ``GET /media/{id}.mp3?signature=...`` serves the audio, and refuses a
  request that carries an ``Authorization`` header, as a pre-signed storage
  URL does.

Tests can make the next N API requests fail, delay answers, point a
recording's redirect elsewhere, and read what was received.
:func:`send_webhook` posts a body signed with CallRail's ``Signature``
exactly as CallRail signs it, and :func:`webhook_payload` turns a call into
the JSON a post-call or call-modified webhook carries, legacy keys included.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import threading
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from eal.integrations.callrail import SIGNATURE_HEADER, sign_webhook
from tests.integrations.stand_in import Received, Reply, StandInServer

API_PREFIX = "/v3"
MAX_PER_PAGE = 250

DEFAULT_FIELDS = (
    "answered",
    "business_phone_number",
    "customer_city",
    "customer_country",
    "customer_name",
    "customer_phone_number",
    "customer_state",
    "direction",
    "duration",
    "id",
    "recording",
    "recording_duration",
    "recording_player",
    "start_time",
    "tracking_phone_number",
    "voicemail",
)
"""Fields every listed call carries."""

ADDITIONAL_FIELDS = frozenset(
    {
        "agent_email",
        "call_highlights",
        "call_summary",
        "call_type",
        "campaign",
        "company_id",
        "company_name",
        "company_time_zone",
        "created_at",
        "device_type",
        "first_call",
        "gclid",
        "keywords",
        "landing_page_url",
        "lead_status",
        "medium",
        "milestones",
        "note",
        "person_id",
        "prior_calls",
        "referring_url",
        "sentiment",
        "source",
        "source_name",
        "tags",
        "timeline_url",
        "total_calls",
        "tracker_id",
        "transcription",
        "utm_campaign",
        "value",
        "zip_code",
    }
)
"""Fields the calls list returns only when ``fields=`` names them (anything else: 400)."""


@dataclass(frozen=True)
class SentWebhook:
    """A webhook posted by :meth:`FakeCallRail.post_webhook`, and how it was answered."""

    url: str
    body: bytes
    signature: str
    status: int


@dataclass
class _Failure:
    remaining: int
    status: int
    body: bytes


@dataclass
class _Recording:
    audio: bytes
    content_type: str
    access_key: str = field(default_factory=lambda: secrets.token_hex(10))
    signature: str = field(default_factory=lambda: secrets.token_hex(16))
    redirect_to: str | None = None


@dataclass
class _State:
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    recordings: dict[str, _Recording] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    webhooks: list[SentWebhook] = field(default_factory=list)
    delay_seconds: float = 0.0


class FakeCallRail:
    """Handle on a running fake: its calls, controls and recorded traffic."""

    def __init__(self, api_key: str, account_id: str, port: int) -> None:
        self.api_key = api_key
        self.account_id = account_id
        self.origin = f"http://127.0.0.1:{port}"
        self.base_url = self.origin + API_PREFIX
        self._lock = threading.Lock()
        self._state = _State()

    # --- data ---------------------------------------------------------------

    def add_call(self, **fields: Any) -> dict[str, Any]:
        """Store a call (an API v3 call object, defaults filled in); returns a copy.

        ``start_time`` should be an ISO 8601 string with an offset.
        """
        call: dict[str, Any] = {
            "id": "CAL" + secrets.token_hex(16),
            "answered": True,
            "business_phone_number": "+15125550199",
            "customer_city": "Austin",
            "customer_country": "US",
            "customer_name": "Dana Whitfield",
            "customer_phone_number": "+15125550143",
            "customer_state": "TX",
            "direction": "inbound",
            "duration": 184,
            "recording": None,
            "recording_duration": None,
            "recording_player": None,
            "start_time": "2026-03-02T09:15:00.000-06:00",
            "tracking_phone_number": "+15125550100",
            "voicemail": False,
            "call_type": "answered",
            "transcription": None,
            "zip_code": None,
            "source": "Google Organic",
            "tags": [],
        }
        call.update(fields)
        with self._lock:
            self._state.calls[call["id"]] = call
            return dict(call)

    def set_recording(self, call_id: str, audio: bytes, content_type: str = "audio/mpeg") -> str:
        """Give a call a recording; the API then lists ``recording`` as its ``recording.json``
        URL. Returns the webhook form of the URL (the redirect one)."""
        with self._lock:
            call = self._state.calls[call_id]
            self._state.recordings[call_id] = _Recording(audio, content_type)
            call["recording"] = (
                f"{self.base_url}/a/{self.account_id}/calls/{call_id}/recording.json"
            )
            call["recording_duration"] = max(1, len(audio) // 4000)
        return self.recording_redirect_url(call_id)

    def recording_redirect_url(self, call_id: str) -> str:
        """The URL a webhook's ``recording`` holds: it redirects to the audio."""
        with self._lock:
            key = self._state.recordings[call_id].access_key
        return f"{self.origin}/calls/{call_id}/recording/redirect?access_key={key}"

    def redirect_recording_to(self, call_id: str, location: str) -> None:
        """Make the recording's redirect point at ``location`` instead of the audio."""
        with self._lock:
            self._state.recordings[call_id].redirect_to = location

    def call(self, call_id: str) -> dict[str, Any]:
        """A stored call (a copy); KeyError if there is none."""
        with self._lock:
            return dict(self._state.calls[call_id])

    # --- controls -----------------------------------------------------------

    def fail_next(self, count: int, status: int, body: str | None = None) -> None:
        """Answer the next ``count`` authorised API requests with ``status`` and ``body``."""
        text = body if body is not None else json.dumps({"error": f"HTTP {status}"})
        with self._lock:
            self._state.failures.append(_Failure(count, status, text.encode()))

    def set_delay(self, seconds: float) -> None:
        """Hold every answer for ``seconds`` (0 turns it off)."""
        with self._lock:
            self._state.delay_seconds = seconds

    # --- observations -------------------------------------------------------

    @property
    def requests(self) -> list[Received]:
        """Requests received so far, oldest first."""
        with self._lock:
            return list(self._state.requests)

    @property
    def webhooks(self) -> list[SentWebhook]:
        """Webhooks posted by :meth:`post_webhook`, oldest first."""
        with self._lock:
            return list(self._state.webhooks)

    # --- CallRail's webhooks (run on the caller's event loop) -----------------

    async def post_webhook(
        self,
        url: str,
        call_id: str,
        signing_key: str,
        *,
        changes: Sequence[str] | None = None,
        http: httpx.AsyncClient | None = None,
        **overrides: Any,
    ) -> httpx.Response:
        """POST the webhook for a stored call to ``url``, signed with ``signing_key``.

        ``changes`` makes it a call-modified webhook; ``overrides`` replace
        payload keys. ``http`` may be an ASGI-transport client that reaches an
        app in-process.
        """
        with self._lock:
            call = dict(self._state.calls[call_id])
            has_recording = call_id in self._state.recordings
        payload = webhook_payload(call, changes=changes)
        if has_recording:
            # Webhooks carry the redirect form of the URL, not the API's recording.json.
            payload["recording"] = self.recording_redirect_url(call_id)
        payload.update(overrides)
        body = json.dumps(payload, separators=(",", ":")).encode()
        response = await send_webhook(url, body, signing_key=signing_key, http=http)
        with self._lock:
            self._state.webhooks.append(
                SentWebhook(url, body, sign_webhook(signing_key, body), response.status_code)
            )
        return response

    # --- request handling (runs on the server's event loop) ------------------

    async def handle(self, request: Received) -> Reply:
        """Answer one request."""
        with self._lock:
            self._state.requests.append(request)
            delay = self._state.delay_seconds
        if delay:
            await asyncio.sleep(delay)
        if request.method != "GET":
            return Reply.json(405, {"error": "Method Not Allowed"})
        parts = request.path.strip("/").split("/")
        if parts[:1] == ["calls"] and len(parts) == 4 and parts[2:] == ["recording", "redirect"]:
            return self._redirect(parts[1], request)
        if parts[:1] == ["media"] and len(parts) == 2:
            return self._media(parts[1].rsplit(".", 1)[0], request)
        if request.path.startswith(API_PREFIX + "/"):
            return self._api(parts[1:], request)
        return Reply.json(404, {"error": "Not Found"})

    def _api(self, parts: list[str], request: Received) -> Reply:
        if request.headers.get("authorization") != f'Token token="{self.api_key}"':
            return Reply.json(401, {"error": "HTTP Token: Access denied."})
        with self._lock:
            failure = self._take_failure()
            if failure is not None:
                return Reply(failure.status, failure.body, (("Content-Type", "application/json"),))
            if len(parts) < 3 or parts[:2] != ["a", self.account_id]:
                return Reply.json(404, {"error": "Not Found"})
            if parts[2:] == ["calls.json"]:
                return self._list(request)
            if len(parts) == 5 and parts[2] == "calls" and parts[4] == "recording.json":
                call_id = parts[3]
                recording = self._state.recordings.get(call_id)
                if recording is None:
                    return Reply.json(404, {"error": "Recording not found"})
                url = f"{self.origin}/calls/{call_id}/recording/redirect"
                return Reply.json(200, {"url": f"{url}?access_key={recording.access_key}"})
        return Reply.json(404, {"error": "Not Found"})

    def _take_failure(self) -> _Failure | None:
        failures = self._state.failures
        while failures and failures[0].remaining <= 0:
            failures.pop(0)
        if not failures:
            return None
        failures[0].remaining -= 1
        return failures[0]

    def _list(self, request: Received) -> Reply:
        query = request.query
        try:
            per_page = int(query.get("per_page", "100"))
            start = date.fromisoformat(query["start_date"]) if "start_date" in query else None
            end = date.fromisoformat(query["end_date"]) if "end_date" in query else None
        except ValueError as exc:
            return Reply.json(400, {"error": str(exc)})
        if not 1 <= per_page <= MAX_PER_PAGE:
            return Reply.json(400, {"error": f"per_page must be between 1 and {MAX_PER_PAGE}"})
        requested = [name for name in query.get("fields", "").split(",") if name]
        unknown = [name for name in requested if name not in ADDITIONAL_FIELDS]
        if unknown:
            return Reply.json(400, {"error": f"Invalid field(s): {', '.join(unknown)}"})
        shown = (*DEFAULT_FIELDS, *requested)
        matches = []
        for call in self._state.calls.values():
            day = datetime.fromisoformat(call["start_time"]).date()
            if (start is None or day >= start) and (end is None or day <= end):
                matches.append(call)
        matches.sort(key=lambda c: datetime.fromisoformat(c["start_time"]), reverse=True)
        if query.get("relative_pagination") == "true":
            offset = int(query.get("offset", "0"))
            page = matches[offset * per_page : (offset + 1) * per_page]
            has_next = (offset + 1) * per_page < len(matches)
            body: dict[str, Any] = {
                "per_page": per_page,
                "has_next_page": has_next,
                "next_page": None,
                "calls": [{k: c.get(k) for k in shown} for c in page],
            }
            if has_next:
                following = {**query, "offset": str(offset + 1)}
                body["next_page"] = f"{self.origin}{request.path}?{urlencode(following)}"
            return Reply.json(200, body)
        number = int(query.get("page", "1"))
        total_pages = math.ceil(len(matches) / per_page)
        page = matches[(number - 1) * per_page : number * per_page]
        return Reply.json(
            200,
            {
                "page": number,
                "per_page": per_page,
                "total_pages": total_pages,
                "total_records": len(matches),
                "calls": [{k: c.get(k) for k in shown} for c in page],
            },
        )

    def _redirect(self, call_id: str, request: Received) -> Reply:
        with self._lock:
            recording = self._state.recordings.get(call_id)
        if recording is None or request.query.get("access_key") != recording.access_key:
            return Reply.json(403, {"error": "Forbidden"})
        location = recording.redirect_to or (
            f"{self.origin}/media/{call_id}.mp3?signature={recording.signature}"
        )
        return Reply(302, b"", (("Location", location),))

    def _media(self, call_id: str, request: Received) -> Reply:
        with self._lock:
            recording = self._state.recordings.get(call_id)
        if "authorization" in request.headers:
            # What a pre-signed storage URL answers to a second credential.
            return Reply(400, b"<Error>Only one auth mechanism allowed</Error>")
        if recording is None or request.query.get("signature") != recording.signature:
            return Reply(403, b"<Error>AccessDenied</Error>")
        return Reply(200, recording.audio, (("Content-Type", recording.content_type),))


def webhook_payload(
    call: Mapping[str, Any], *, changes: Sequence[str] | None = None
) -> dict[str, Any]:
    """The JSON body of CallRail's post-call webhook for an API-style ``call``.

    As CallRail sends it: the masked id as ``resource_id`` beside a numeric
    legacy ``id``, ``duration`` as a string, ``""`` for absent values, and the
    legacy duplicate keys. ``changes`` makes it a call-modified webhook.
    """

    def text(value: Any) -> Any:
        return "" if value is None else value

    start = datetime.fromisoformat(call["start_time"])
    payload: dict[str, Any] = {
        "answered": call.get("answered"),
        "business_phone_number": text(call.get("business_phone_number")),
        "call_type": text(call.get("call_type")),
        "customer_city": text(call.get("customer_city")),
        "customer_country": text(call.get("customer_country")),
        "customer_name": text(call.get("customer_name")),
        "customer_phone_number": text(call.get("customer_phone_number")),
        "customer_state": text(call.get("customer_state")),
        "direction": call.get("direction", "inbound"),
        "duration": "" if call.get("duration") is None else str(call["duration"]),
        "id": zlib.crc32(call["id"].encode()),  # the legacy numeric id
        "recording": text(call.get("recording")),
        "recording_duration": text(call.get("recording_duration")),
        "start_time": call["start_time"],
        "tags": list(call.get("tags") or []),
        "tracking_phone_number": text(call.get("tracking_phone_number")),
        "transcription": text(call.get("transcription")),
        "conversational_transcript": text(call.get("conversational_transcript")),
        "voicemail": bool(call.get("voicemail")),
        # The legacy duplicates CallRail still sends.
        "callercity": text(call.get("customer_city")),
        "callercountry": text(call.get("customer_country")),
        "callername": text(call.get("customer_name")),
        "callernum": text(call.get("customer_phone_number")),
        "callerstate": text(call.get("customer_state")),
        "callsource": "google_organic",
        "datetime": start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "destinationnum": text(call.get("business_phone_number")),
        "trackingnum": text(call.get("tracking_phone_number")),
        "timestamp": call["start_time"],
        "resource_id": call["id"],
    }
    if changes is not None:
        payload["changes"] = list(changes)
    return payload


async def send_webhook(
    url: str,
    body: bytes | Mapping[str, Any],
    *,
    signing_key: str,
    http: httpx.AsyncClient | None = None,
    signature: str | None = None,
) -> httpx.Response:
    """POST ``body`` (bytes as they are, or a mapping as compact JSON) to ``url`` with
    CallRail's ``Signature`` header (``signature`` overrides it, for forgeries)."""
    raw = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature if signature is not None else sign_webhook(signing_key, raw),
        "User-Agent": "CallRail Webhooks",
    }
    if http is not None:
        return await http.post(url, content=raw, headers=headers)
    async with httpx.AsyncClient(timeout=10.0) as client:
        return await client.post(url, content=raw, headers=headers)


@contextmanager
def run_fake_callrail(api_key: str, account_id: str = "ACC8f3k2q9w") -> Iterator[FakeCallRail]:
    """Run a fake CallRail on 127.0.0.1 (ephemeral port) for the duration of the block."""
    server = StandInServer("fake-callrail")
    port = server.start()
    fake = FakeCallRail(api_key, account_id, port)
    server.serve(fake.handle)
    try:
        yield fake
    finally:
        server.stop()
