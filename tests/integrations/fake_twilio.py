"""A small, real Twilio Messages API on 127.0.0.1 for tests, and Twilio's signed webhooks.

It speaks the part of Twilio's REST API that eal uses:

* ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded, HTTP
  Basic auth (account SID, auth token) checked against the configured
  accounts: ``To`` must be E.164, ``Body`` 1 to 1,600 characters, and exactly
  one of ``From`` (E.164) and ``MessagingServiceSid`` given (Twilio itself
  lets a Messaging Service override ``From``; the fake is stricter so a client
  that sends both is caught). It answers 201 with a Twilio-shaped message
  resource: ``sid`` "SM" + 32 hex digits, ``status`` "queued" (or "accepted"
  for a Messaging Service, as Twilio does);
* ``GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`` returns one message.

Errors have Twilio's shape, ``{"code", "message", "more_info", "status"}``: 401
with code 20003 for bad credentials, 400 with 21211/21212/21602/21603/21617
for bad parameters, 21610 for a number that opted out, 404 with 20404. Tests
can make the next N requests fail (5xx, 429, or any Twilio error code), delay
answers, mark numbers as opted out, and read what was received.

It also plays Twilio's side of the webhooks: :meth:`FakeTwilio.send_status_callback`
and :meth:`FakeTwilio.send_inbound_sms` POST form-encoded requests signed
with ``X-Twilio-Signature`` exactly as Twilio signs them, to a URL through a
given httpx client (an ASGI-transport client reaches an app in-process) or a
new one. :meth:`FakeTwilio.signed` builds such a request without sending it,
for tests that tamper with one.

The server is an asyncio HTTP/1.1 server (keep-alive, Content-Length bodies)
on its own event loop in a background thread, like the fake JobNimbus; state
is guarded by one lock because tests read and steer it from their own thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from eal.integrations.twilio import API_VERSION, SIGNATURE_HEADER, request_signature

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-f]{32}$")
MAX_BODY_CHARS = 1600
# The keywords Twilio's default opt-out handling acts on for long codes.
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})

_ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service Unavailable",
    21211: "Invalid 'To' Phone Number",
    21212: "Invalid 'From' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' phone number or a Messaging Service SID is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21701: "The Messaging Service Sid is invalid.",
}

_STATUS_CODES = {401: 20003, 403: 20003, 404: 20404, 429: 20429, 503: 20503}


def twilio_error(status: int, code: int, message: str | None = None) -> dict[str, Any]:
    """An error body as Twilio writes one."""
    return {
        "code": code,
        "message": message or _ERROR_MESSAGES.get(code, HTTPStatus(status).phrase),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the fake received it, whatever it was answered."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]
    raw_body: bytes


@dataclass(frozen=True)
class SentWebhook:
    """A webhook the fake posted: where, what, and how it was answered."""

    url: str
    params: dict[str, str]
    signature: str
    status_code: int
    response_text: str


@dataclass
class _Failure:
    remaining: int
    status: int
    body: dict[str, Any]


@dataclass
class _State:
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[ReceivedRequest] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    webhooks: list[SentWebhook] = field(default_factory=list)
    opted_out: set[str] = field(default_factory=set)
    delay_seconds: float = 0.0


class FakeTwilio:
    """Handle on a running fake: controls, recorded traffic, and Twilio's webhooks."""

    def __init__(self, accounts: Mapping[str, str], port: int, *, handle_opt_out: bool) -> None:
        if not accounts:
            raise ValueError("the fake needs at least one account (sid -> auth token)")
        self.accounts = dict(accounts)
        self.base_url = f"http://127.0.0.1:{port}"
        self.handle_opt_out = handle_opt_out
        self._lock = threading.Lock()
        self._state = _State()

    # --- controls -----------------------------------------------------------

    def fail_next(
        self, count: int, status: int, *, code: int | None = None, message: str | None = None
    ) -> None:
        """Answer the next ``count`` authenticated sends with ``status`` and a Twilio error body.

        ``code`` defaults to Twilio's code for 401, 403, 404, 429 and 5xx
        statuses; other statuses need one (e.g. ``code=21610`` with 400).
        Calls queue up in order.
        """
        if code is None:
            code = _STATUS_CODES.get(status, 20500 if status >= 500 else None)
        if code is None:
            raise ValueError(f"give the Twilio error code to answer with HTTP {status}")
        body = twilio_error(status, code, message)
        with self._lock:
            self._state.failures.append(_Failure(count, status, body))

    def set_delay(self, seconds: float) -> None:
        """Hold every answer for ``seconds`` (0 turns it off)."""
        with self._lock:
            self._state.delay_seconds = seconds

    def opt_out(self, number: str) -> None:
        """Refuse every later send to ``number`` with error 21610, as Twilio does after STOP."""
        with self._lock:
            self._state.opted_out.add(number)

    def opt_in(self, number: str) -> None:
        """Let sends to ``number`` through again, as Twilio does after START."""
        with self._lock:
            self._state.opted_out.discard(number)

    # --- observations -------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Requests received so far, oldest first."""
        with self._lock:
            return list(self._state.requests)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Messages created, in creation order (copies of the resources)."""
        with self._lock:
            return [dict(message) for message in self._state.messages.values()]

    @property
    def webhooks(self) -> list[SentWebhook]:
        """Webhooks posted so far, oldest first."""
        with self._lock:
            return list(self._state.webhooks)

    def message(self, sid: str) -> dict[str, Any]:
        """One created message's resource (a copy); KeyError if there is none."""
        with self._lock:
            return dict(self._state.messages[sid])

    # --- Twilio's webhooks (run on the caller's event loop) ---------------------

    def signed(
        self, url: str, params: Mapping[str, str], *, account_sid: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of a form POST of ``params`` to ``url``, signed as Twilio signs it."""
        token = self.accounts[account_sid or self._default_account()]
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
            SIGNATURE_HEADER: request_signature(token, url, params),
        }
        return headers, urlencode(list(params.items())).encode("ascii")

    async def post_signed(
        self,
        url: str,
        params: Mapping[str, str],
        *,
        account_sid: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """POST ``params`` to ``url`` signed as Twilio would, through ``client`` or a new one."""
        headers, body = self.signed(url, params, account_sid=account_sid)
        if client is None:
            async with httpx.AsyncClient(timeout=10.0) as own:
                response = await own.post(url, content=body, headers=headers)
        else:
            response = await client.post(url, content=body, headers=headers)
        with self._lock:
            self._state.webhooks.append(
                SentWebhook(
                    url,
                    dict(params),
                    headers[SIGNATURE_HEADER],
                    response.status_code,
                    response.text,
                )
            )
        return response

    async def send_status_callback(
        self,
        sid: str,
        status: str,
        *,
        error_code: int | None = None,
        url: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """Move message ``sid`` to Twilio status ``status`` and post the status callback.

        Goes to the message's ``StatusCallback`` unless ``url`` is given, with
        the fields Twilio sends (``MessageSid``, ``MessageStatus``,
        ``ErrorCode`` for failed and undelivered messages, ...).
        """
        with self._lock:
            message = self._state.messages[sid]
            message["status"] = status
            message["error_code"] = error_code
            target = url or message.get("status_callback")
            params = {
                "AccountSid": message["account_sid"],
                "ApiVersion": API_VERSION,
                "MessageSid": sid,
                "MessageStatus": status,
                "SmsSid": sid,
                "SmsStatus": status,
                "To": message["to"],
            }
            if message.get("from"):
                params["From"] = message["from"]
            if message.get("messaging_service_sid"):
                params["MessagingServiceSid"] = message["messaging_service_sid"]
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        if not target:
            raise ValueError(f"message {sid} has no StatusCallback; pass url=")
        return await self.post_signed(
            target, params, account_sid=params["AccountSid"], client=client
        )

    async def send_inbound_sms(
        self,
        url: str,
        *,
        from_number: str,
        to_number: str,
        body: str,
        account_sid: str | None = None,
        messaging_service_sid: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """Post an incoming message from ``from_number`` to ``to_number`` as Twilio would.

        With ``handle_opt_out``, STOP-like and START-like bodies also change
        whether the fake lets sends to ``from_number`` through, as Twilio's
        default opt-out handling does.
        """
        account = account_sid or self._default_account()
        sid = "SM" + secrets.token_hex(16)
        params = {
            "ToCountry": "US",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": body,
            "To": to_number,
            "NumSegments": str(_segments(body)),
            "MessageSid": sid,
            "AccountSid": account,
            "From": from_number,
            "FromCountry": "US",
            "ApiVersion": API_VERSION,
        }
        if messaging_service_sid is not None:
            params["MessagingServiceSid"] = messaging_service_sid
        keyword = body.strip().upper()
        if self.handle_opt_out and keyword in OPT_OUT_KEYWORDS:
            self.opt_out(from_number)
        elif self.handle_opt_out and keyword in OPT_IN_KEYWORDS:
            self.opt_in(from_number)
        return await self.post_signed(url, params, account_sid=account, client=client)

    def _default_account(self) -> str:
        return next(iter(self.accounts))

    # --- request handling (runs on the server's event loop) ------------------

    async def handle(self, request: ReceivedRequest) -> tuple[int, dict[str, Any]]:
        """Return (status, JSON body) for one request; runs on the server's loop."""
        with self._lock:
            self._state.requests.append(request)
            delay = self._state.delay_seconds
        if delay:
            await asyncio.sleep(delay)
        account = self._authenticated(request.headers.get("authorization", ""))
        if account is None:
            return 401, twilio_error(401, 20003)
        with self._lock:
            failure = self._take_failure()
            if failure is not None:
                return failure.status, failure.body
            return self._route(account, request)

    def _authenticated(self, header: str) -> str | None:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        expected = self.accounts.get(user)
        if expected is None or not secrets.compare_digest(password, expected):
            return None
        return user

    def _take_failure(self) -> _Failure | None:
        failures = self._state.failures
        while failures and failures[0].remaining <= 0:
            failures.pop(0)
        if not failures:
            return None
        failures[0].remaining -= 1
        return failures[0]

    def _route(self, account: str, request: ReceivedRequest) -> tuple[int, dict[str, Any]]:
        prefix = f"/{API_VERSION}/Accounts/{account}/Messages"
        if request.method == "POST" and request.path == prefix + ".json":
            return self._create(account, request)
        if (
            request.method == "GET"
            and request.path.startswith(prefix + "/")
            and request.path.endswith(".json")
        ):
            message = self._state.messages.get(request.path[len(prefix) + 1 : -len(".json")])
            if message is not None and message["account_sid"] == account:
                return 200, dict(message)
        # Twilio also answers 404 for another account's resources.
        return 404, twilio_error(404, 20404)

    def _create(self, account: str, request: ReceivedRequest) -> tuple[int, dict[str, Any]]:
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return 400, twilio_error(400, 21604, "A 'To' phone number is required.")
        form = request.form
        to, body = form.get("To", ""), form.get("Body", "")
        sender, service = form.get("From"), form.get("MessagingServiceSid")
        if not E164.match(to):
            return 400, twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not body:
            return 400, twilio_error(400, 21602)
        if len(body) > MAX_BODY_CHARS:
            return 400, twilio_error(400, 21617)
        if (sender is None) == (service is None):
            return 400, twilio_error(400, 21603)
        if sender is not None and not E164.match(sender):
            return 400, twilio_error(400, 21212, f"Invalid From Number (caller ID): {sender}")
        if service is not None and not MESSAGING_SERVICE_SID.match(service):
            return 400, twilio_error(400, 21701)
        if to in self._state.opted_out:
            return 400, twilio_error(400, 21610)
        sid = "SM" + secrets.token_hex(16)
        now = format_datetime(datetime.now(UTC))
        uri = f"/{API_VERSION}/Accounts/{account}/Messages/{sid}.json"
        message = {
            "account_sid": account,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service is not None else "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": to,
            "uri": uri,
            # Not part of Twilio's resource: kept so status callbacks know where to go.
            "status_callback": form.get("StatusCallback"),
        }
        self._state.messages[sid] = message
        return 201, {k: v for k, v in message.items() if k != "status_callback"}


_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def _segments(body: str) -> int:
    """SMS segments ``body`` takes: GSM-7 160/153 characters, otherwise UCS-2 70/67."""
    single, multi = (160, 153) if set(body) <= _GSM7 else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // multi)


class _HttpServer:
    """Minimal HTTP/1.1 server on a private event loop in a daemon thread."""

    def __init__(self, fake_factory: Callable[[int], FakeTwilio]) -> None:
        self._fake_factory = fake_factory
        self._fake: FakeTwilio | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-twilio", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    def start(self) -> FakeTwilio:
        self._thread.start()
        port = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        self._fake = self._fake_factory(port)
        return self._fake

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._on_connection, "127.0.0.1", 0, backlog=1024)
        return int(self._server.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        # Cancelling also releases requests parked in an injected delay.
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Own the task so shutdown can cancel it without asyncio logging the cancellation.
        task = self._loop.create_task(self._serve_connection(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away mid-request, e.g. after its own timeout
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; return whether the connection stays open."""
        line = await reader.readline()
        if not line:
            return False
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        headers: dict[str, str] = {}
        while True:
            header_line = await reader.readline()
            if header_line in (b"\r\n", b"\n", b""):
                break
            name, _, value = header_line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if len(parts) != 3 or "chunked" in headers.get("transfer-encoding", "").lower():
            await _respond(writer, 400, twilio_error(400, 20001, "unsupported framing"), False)
            return False
        method, target, version = parts
        length = int(headers.get("content-length") or 0)
        raw = await reader.readexactly(length) if length else b""
        form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        request = ReceivedRequest(method, urlsplit(target).path, headers, form, raw)
        assert self._fake is not None
        try:
            status, payload = await self._fake.handle(request)
        except Exception as exc:  # surface fake bugs as 500s instead of hangs
            status, payload = 500, twilio_error(500, 20500, f"fake error: {exc!r}")
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        await _respond(writer, status, payload, keep_alive)
        return keep_alive


async def _respond(
    writer: asyncio.StreamWriter, status: int, payload: dict[str, Any], keep_alive: bool
) -> None:
    data = json.dumps(payload).encode()
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Status"
    extra = 'WWW-Authenticate: Basic realm="Twilio API"\r\n' if status == 401 else ""
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"{extra}"
        f"Content-Length: {len(data)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    writer.write(head.encode("latin-1") + data)
    await writer.drain()


@contextmanager
def run_fake_twilio(
    accounts: Mapping[str, str], *, handle_opt_out: bool = False
) -> Iterator[FakeTwilio]:
    """Run a fake Twilio on 127.0.0.1 (ephemeral port) for the duration of the block.

    ``accounts`` maps account SIDs to auth tokens. ``handle_opt_out`` makes
    inbound STOP/START bodies opt the sender out and in, as Twilio's default
    opt-out handling does (off: the application's own handling is tested).
    """
    server = _HttpServer(lambda port: FakeTwilio(accounts, port, handle_opt_out=handle_opt_out))
    fake = server.start()
    try:
        yield fake
    finally:
        server.stop()
