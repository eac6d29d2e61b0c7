"""Twilio SMS: sending through the Messages API, status mapping, request signatures, TwiML.

Sending follows Twilio's documented REST API: ``POST
{base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded
``To``, ``Body``, one of ``From`` and ``MessagingServiceSid``, and
``StatusCallback``, with HTTP Basic auth (account SID, auth token). Twilio
answers 201 with the message resource (``sid``, ``status``, ...), or an error
body ``{"code": 21610, "message": ..., "more_info": ..., "status": 400}``.

The ``http`` client handed to :class:`TwilioClient` is the outbound policy's
(:meth:`eal.kit.outbound.OutboundPolicy.http_client`), so a tenant-chosen
``base_url`` is checked at every connection. Its refusal
(:class:`~eal.kit.outbound.UnsafeUrl`) goes through unchanged: the address is
refused, which is neither Twilio's failure nor worth a retry.

Exception hierarchy::

    TwilioError              base: ``message``, ``code`` (Twilio's error code), ``http_status``;
    │                        ``transient``, ``recipient_opted_out`` (code 21610), ``maybe_sent``
    ├── TwilioUnavailable    network error, timeout, 5xx, 429: retry later (``transient``)
    ├── TwilioAuthError      401/403: the account SID or auth token was refused
    └── TwilioRejected       any other 4xx: Twilio refused this message; do not retry

Messages never contain the auth token: they are built here, and Twilio's
text is passed through :func:`~eal.integrations.crm.redact`.

Twilio's requests to us (inbound messages, status callbacks) are signed in
``X-Twilio-Signature``; :func:`verify_request` checks them with the twilio
package's ``RequestValidator``, and :func:`request_signature` makes them (for
the test stand-in).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal
from urllib.parse import parse_qsl, quote
from xml.sax.saxutils import escape

import httpx
from twilio.request_validator import RequestValidator

from eal.integrations.crm import redact
from eal.kit.outbound import UnsafeUrl

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "OPTED_OUT_ERROR_CODE",
    "SIGNATURE_HEADER",
    "STATUS",
    "TWIML_CONTENT_TYPE",
    "FormParams",
    "InboundSms",
    "MessageStatus",
    "SentSms",
    "StatusUpdate",
    "TwilioAuthError",
    "TwilioClient",
    "TwilioConfig",
    "TwilioError",
    "TwilioRejected",
    "TwilioUnavailable",
    "parse_form",
    "parse_inbound_sms",
    "parse_status_callback",
    "request_signature",
    "status_advances",
    "twiml",
    "verify_request",
]

DEFAULT_BASE_URL = "https://api.twilio.com"
API_VERSION = "2010-04-01"
SIGNATURE_HEADER = "X-Twilio-Signature"
TWIML_CONTENT_TYPE = "text/xml"
#: "Attempt to send to unsubscribed recipient": the recipient texted STOP to the sender.
OPTED_OUT_ERROR_CODE = 21610

MessageStatus = Literal["queued", "sent", "delivered", "failed", "undelivered"]
"""Our status of an outbound SMS: queued -> sent -> delivered | failed | undelivered."""

STATUS: Final[Mapping[str, MessageStatus | None]] = {
    # Not yet handed to a carrier: Twilio holds it, so it is still queued to us.
    "accepted": "queued",  # a Messaging Service took it and is choosing a sender
    "scheduled": "queued",  # a scheduled send, waiting for its time
    "queued": "queued",  # in Twilio's queue for the sender's rate
    "sending": "queued",  # being handed to the carrier; it has not accepted it yet
    # Left Twilio: the carrier accepted it.
    "sent": "sent",
    # Terminal outcomes.
    "delivered": "delivered",  # the carrier's delivery receipt confirms it
    "read": "delivered",  # a read receipt (WhatsApp, RCS) implies delivery
    "undelivered": "undelivered",  # the carrier reported it could not deliver it
    "failed": "failed",  # never left Twilio (bad number, queue overflow, account issue)
    "canceled": "failed",  # a scheduled send canceled before it went: it never will
    # Statuses of messages we receive, never of one we send: nothing to record.
    "receiving": None,
    "received": None,
}
"""Twilio's message status -> ours, for status callbacks (None: not an outbound status)."""

_RANK: Final[Mapping[str, int]] = {
    "queued": 0,
    "sent": 1,
    "delivered": 2,
    "failed": 2,
    "undelivered": 2,
}

FormParams = Mapping[str, str] | Iterable[tuple[str, str]]
"""Form fields as a mapping, or as (name, value) pairs when a name may repeat."""

_MAX_DETAIL_CHARS = 200
_TRANSIENT_4XX = frozenset({408, 429})
_MAX_FORM_FIELDS = 200
# XML 1.0 allows these characters only; anything else makes TwiML unreadable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    """A Twilio account and the sender its messages go out from (exactly one of the two)."""

    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str | None = None
    messaging_service_sid: str | None = None
    base_url: str = DEFAULT_BASE_URL

    def __post_init__(self) -> None:
        if not self.account_sid or not self.auth_token:
            raise ValueError("a Twilio account SID and auth token are required")
        if (self.from_number is None) == (self.messaging_service_sid is None):
            raise ValueError("give exactly one of from_number and messaging_service_sid")


@dataclass(frozen=True, slots=True)
class SentSms:
    """Twilio took the message: its SID, our status for it, and Twilio's own status word."""

    sid: str
    status: MessageStatus
    twilio_status: str


class TwilioError(Exception):
    """A send failed; ``code`` is Twilio's error code and ``http_status`` its HTTP status, if any.

    ``maybe_sent`` is True when Twilio may have taken the message although
    the call failed (the answer was lost or unreadable after the request went
    out): Twilio has no idempotency key for sends, so a retry may send twice.
    """

    transient = False

    def __init__(
        self,
        message: str,
        code: int | None = None,
        http_status: int | None = None,
        *,
        more_info: str | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.more_info = more_info
        self.maybe_sent = maybe_sent

    @property
    def recipient_opted_out(self) -> bool:
        """The recipient opted out of this sender (error 21610): suppress the number."""
        return self.code == OPTED_OUT_ERROR_CODE

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code!r}, "
            f"http_status={self.http_status!r})"
        )


class TwilioUnavailable(TwilioError):
    """Twilio could not be reached, timed out, failed on its side or asked us to slow down."""

    transient = True


class TwilioAuthError(TwilioError):
    """Twilio refused the account SID or auth token (HTTP 401/403)."""


class TwilioRejected(TwilioError):
    """Twilio refused this message (a 4xx other than auth); retrying will not help."""


class TwilioClient:
    """Sends SMS for one Twilio account through a shared (policy-built) httpx client.

    ``http`` is never closed here. ``timeout`` overrides the client's own per
    request when given.
    """

    def __init__(
        self, config: TwilioConfig, http: httpx.AsyncClient, *, timeout: float | None = None
    ) -> None:
        self._config = config
        self._http = http
        self._timeout: httpx.Timeout | None = None if timeout is None else httpx.Timeout(timeout)
        base = config.base_url.rstrip("/")
        self._url = (
            f"{base}/{API_VERSION}/Accounts/{quote(config.account_sid, safe='')}/Messages.json"
        )
        credentials = f"{config.account_sid}:{config.auth_token}".encode()
        self._headers = {
            "Authorization": "Basic " + base64.b64encode(credentials).decode("ascii"),
            "Accept": "application/json",
        }

    def __repr__(self) -> str:
        return f"TwilioClient(account_sid={self._config.account_sid!r}, url={self._url!r})"

    async def send_sms(self, *, to: str, body: str, status_callback: str | None) -> SentSms:
        """Ask Twilio to send ``body`` to ``to`` (E.164); Twilio posts status changes to
        ``status_callback`` when given.

        Raises TwilioUnavailable, TwilioAuthError or TwilioRejected (see the
        module's hierarchy), or the policy's UnsafeUrl when the base URL's
        address is refused.
        """
        form = {"To": to, "Body": body}
        if self._config.messaging_service_sid is not None:
            form["MessagingServiceSid"] = self._config.messaging_service_sid
        else:
            assert self._config.from_number is not None  # TwilioConfig holds one of the two
            form["From"] = self._config.from_number
        if status_callback is not None:
            form["StatusCallback"] = status_callback
        try:
            response = await self._http.post(
                self._url,
                data=form,
                headers=self._headers,
                timeout=self._timeout if self._timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except UnsafeUrl:
            raise  # the policy refused the address; also an httpx.ConnectError, so first
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TwilioUnavailable(
                f"Twilio send timed out connecting ({type(exc).__name__})"
            ) from exc
        except httpx.TimeoutException as exc:
            raise TwilioUnavailable(
                f"Twilio send timed out waiting for the answer ({type(exc).__name__})",
                maybe_sent=True,
            ) from exc
        except httpx.ConnectError as exc:
            raise TwilioUnavailable(
                f"Twilio send could not connect: {self._detail(str(exc))}"
            ) from exc
        except httpx.TransportError as exc:
            # The request may have reached Twilio before the connection broke.
            raise TwilioUnavailable(
                f"Twilio send failed: {type(exc).__name__}: {self._detail(str(exc))}",
                maybe_sent=True,
            ) from exc
        if response.is_success:
            return self._sent(response)
        raise self._status_error(response)

    def _sent(self, response: httpx.Response) -> SentSms:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        sid = payload.get("sid") if isinstance(payload, dict) else None
        status = payload.get("status") if isinstance(payload, dict) else None
        if not isinstance(sid, str) or not sid or not isinstance(status, str):
            # Twilio said yes, so the message probably exists; a retry may send it twice.
            raise TwilioUnavailable(
                f"Twilio accepted the message (HTTP {response.status_code}) "
                "but its answer has no message sid and status",
                http_status=response.status_code,
                maybe_sent=True,
            )
        ours = STATUS.get(status)
        return SentSms(sid=sid, status=ours or "queued", twilio_status=status)

    def _status_error(self, response: httpx.Response) -> TwilioError:
        status = response.status_code
        code, text, more_info = _error_body(response)
        detail = self._detail(text) if text else ""
        what = f"Twilio send failed (HTTP {status}" + (f", error {code})" if code else ")")
        message = f"{what}: {detail}" if detail else what
        if status in (401, 403):
            return TwilioAuthError(
                f"{message} (check the account SID and auth token)",
                code,
                status,
                more_info=more_info,
            )
        if status >= 500 or status in _TRANSIENT_4XX:
            return TwilioUnavailable(message, code, status, more_info=more_info)
        return TwilioRejected(message, code, status, more_info=more_info)

    def _detail(self, text: str) -> str:
        text = " ".join(redact(text, self._config.auth_token).split())
        if len(text) > _MAX_DETAIL_CHARS:
            text = text[: _MAX_DETAIL_CHARS - 1] + "…"
        return text


def _error_body(response: httpx.Response) -> tuple[int | None, str, str | None]:
    """(Twilio's error code, its message or the raw text, more_info) of an error answer."""
    try:
        payload = response.json()
    except ValueError:
        return None, response.text.strip(), None
    if not isinstance(payload, dict):
        return None, response.text.strip(), None
    raw_code = payload.get("code")
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    message = payload.get("message")
    more_info = payload.get("more_info")
    return (
        code,
        message if isinstance(message, str) else response.text.strip(),
        more_info if isinstance(more_info, str) else None,
    )


def status_advances(current: str, new: str) -> bool:
    """Whether an SMS in our status ``current`` may move to our status ``new``.

    Twilio's callbacks can arrive out of order ("sent" after "delivered"), so
    a status only moves forward: queued -> sent -> one terminal status, and a
    terminal status never changes. Unknown statuses never advance.
    """
    if current not in _RANK or new not in _RANK:
        return False
    return _RANK[new] > _RANK[current]


# --- Twilio's requests to us -------------------------------------------------------


class _MultiParams:
    """Form fields keeping repeated names, in the shape RequestValidator reads (``getlist``)."""

    def __init__(self, params: FormParams) -> None:
        pairs = params.items() if isinstance(params, Mapping) else params
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(name, []).append(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def getlist(self, name: str) -> list[str]:
        return self._values[name]


def request_signature(auth_token: str, url: str, params: FormParams) -> str:
    """The ``X-Twilio-Signature`` Twilio sends for a POST of ``params`` to ``url``.

    Twilio's algorithm: the full URL, then each parameter name followed by its
    value, names sorted (a repeated name's values sorted too), HMAC-SHA1 keyed
    by the account's auth token, base64.
    """
    signature = RequestValidator(auth_token).compute_signature(url, _MultiParams(params))
    return str(signature)


def verify_request(auth_token: str, url: str, params: FormParams, signature: str | None) -> bool:
    """Whether ``signature`` (the ``X-Twilio-Signature`` header) signs this request.

    ``url`` must be the URL Twilio called, as Twilio knows it: the public URL
    configured at Twilio (``EAL_PUBLIC_URL`` plus the path), not the address
    a proxy forwarded to. Scheme, host and path must match, and the query
    string must be there exactly as sent (Twilio signs it as part of the URL).
    The port is the one exception: Twilio is inconsistent about signing it,
    so the validator accepts the URL with and without the port (the default
    port of the scheme when the URL names none). ``params`` are the POST form
    fields exactly as received (empty values included).
    """
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, _MultiParams(params), signature))


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """The (name, value) pairs of a form-encoded body, empty values kept, for signature checks.

    Raises ValueError when the body is not UTF-8 or has too many fields.
    """
    text = body.decode("utf-8")
    return parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_FORM_FIELDS)


@dataclass(frozen=True, slots=True)
class InboundSms:
    """A message someone sent to one of the account's numbers (Twilio's incoming webhook)."""

    message_sid: str
    account_sid: str
    from_number: str
    to_number: str
    body: str
    num_media: int = 0
    messaging_service_sid: str | None = None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A status callback for a message we sent.

    ``status`` is ours (None for statuses of inbound messages or unknown
    ones); ``twilio_status`` is Twilio's word. ``error_code`` comes with
    failed and undelivered messages (e.g. 30003 unreachable, 30007 filtered).
    """

    message_sid: str
    account_sid: str
    twilio_status: str
    status: MessageStatus | None
    error_code: int | None = None
    to_number: str | None = None
    from_number: str | None = None


def _fields(params: FormParams) -> dict[str, str]:
    pairs = params.items() if isinstance(params, Mapping) else params
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)  # the first value counts, as Twilio sends each once
    return fields


def _required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise ValueError(f"Twilio request has no {name}")
    return value


def parse_inbound_sms(params: FormParams) -> InboundSms:
    """Read an incoming-message webhook's fields; ValueError names a missing one."""
    fields = _fields(params)
    num_media = fields.get("NumMedia", "0").strip() or "0"
    if not num_media.isdigit():
        raise ValueError("Twilio request has a NumMedia that is not a number")
    return InboundSms(
        message_sid=_required(fields, "MessageSid"),
        account_sid=_required(fields, "AccountSid"),
        from_number=_required(fields, "From"),
        to_number=_required(fields, "To"),
        body=fields.get("Body", ""),
        num_media=int(num_media),
        messaging_service_sid=fields.get("MessagingServiceSid") or None,
    )


def parse_status_callback(params: FormParams) -> StatusUpdate:
    """Read a status callback's fields; ValueError names a missing or malformed one."""
    fields = _fields(params)
    twilio_status = _required(fields, "MessageStatus").lower()
    raw_code = fields.get("ErrorCode", "").strip()
    if raw_code and not raw_code.isdigit():
        raise ValueError("Twilio request has an ErrorCode that is not a number")
    return StatusUpdate(
        message_sid=_required(fields, "MessageSid"),
        account_sid=_required(fields, "AccountSid"),
        twilio_status=twilio_status,
        status=STATUS.get(twilio_status),
        error_code=int(raw_code) if raw_code else None,
        to_number=fields.get("To") or None,
        from_number=fields.get("From") or None,
    )


def twiml(message: str | None) -> str:
    """A TwiML answer: one ``<Message>`` replying ``message``, or an empty ``<Response/>``.

    Serve it as :data:`TWIML_CONTENT_TYPE`. The text is XML-escaped, and
    characters XML cannot carry (control characters) are dropped. An empty
    message raises ValueError: pass None to send no reply.
    """
    if message is None:
        return f"{_XML_DECLARATION}<Response/>"
    text = _NOT_XML.sub("", message)
    if not text.strip():
        raise ValueError("a TwiML reply needs text; pass None to send no reply")
    return f"{_XML_DECLARATION}<Response><Message>{escape(text)}</Message></Response>"
