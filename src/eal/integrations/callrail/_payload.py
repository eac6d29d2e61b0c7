"""CallRail webhook signatures and call payloads (see :mod:`eal.integrations.callrail`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal
from urllib.parse import urlsplit

__all__ = [
    "LEGACY_KEYS",
    "SIGNATURE_HEADER",
    "CallRailCall",
    "CallRailPayloadError",
    "Direction",
    "parse_call",
    "render_conversation",
    "sign_webhook",
    "verify_webhook",
]

SIGNATURE_HEADER = "Signature"

LEGACY_KEYS: Final[frozenset[str]] = frozenset(
    {
        "callercity",  # customer_city
        "callercountry",  # customer_country
        "callername",  # customer_name
        "callernum",  # customer_phone_number
        "callerstate",  # customer_state
        "callsource",  # source
        "datetime",  # start_time, in UTC without an offset
        "destinationnum",  # business_phone_number
        "ip",
        "kissmetrics_id",
        "landingpage",  # landing_page_url
        "referrer",  # referring_url
        "referrermedium",  # medium
        "score",
        "tag",  # tags
        "trackingnum",  # tracking_phone_number
    }
)
"""Keys of CallRail's old webhook format, still sent beside the documented ones; never read."""

Direction = Literal["inbound", "outbound"]

_AGENT_SPEAKERS = frozenset({"agent", "rep", "representative", "employee", "business", "staff"})
_CALLER_SPEAKERS = frozenset({"customer", "caller", "client", "lead", "contact", "prospect"})


# --- webhook signatures ------------------------------------------------------------


def sign_webhook(signing_key: str, body: bytes) -> str:
    """The ``Signature`` CallRail sends with ``body``: base64 HMAC-SHA1 keyed by ``signing_key``."""
    digest = hmac.new(signing_key.encode("utf-8"), body, hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_webhook(signing_key: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` (the ``Signature`` header) signs the raw ``body`` with ``signing_key``.

    Compared in constant time. An empty key never verifies: anyone can
    compute an HMAC under it.
    """
    if not signing_key:
        return False
    try:
        given = signature.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    expected = sign_webhook(signing_key, body).encode("ascii")
    return hmac.compare_digest(expected, given)


# --- call payloads -----------------------------------------------------------------


class CallRailPayloadError(ValueError):
    """A call payload without the documented shape; ``field`` names the offending key."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRailCall:
    """One CallRail call, from a webhook or the API, in the terms eal uses.

    Text fields are None when CallRail sends nothing (null or ``""``); phone
    numbers are as CallRail sends them (E.164 in practice, not re-checked
    here). ``duration_seconds`` and ``answered`` are None while a call is in
    progress. ``conversational_transcript`` is CallRail's speaker-separated
    transcript rendered as ``Caller: ...`` / ``Agent: ...`` lines.
    ``customer_postal_code`` is the API's ``zip_code`` (webhooks do not send
    it). ``changes`` lists what a call-modified webhook says changed.
    """

    id: str
    start_time: datetime
    direction: Direction
    duration_seconds: int | None
    answered: bool | None
    voicemail: bool
    customer_phone_number: str | None
    tracking_phone_number: str | None
    customer_name: str | None
    customer_city: str | None
    customer_state: str | None
    customer_country: str | None
    customer_postal_code: str | None
    recording: str | None
    transcription: str | None
    conversational_transcript: str | None
    call_type: str | None
    changes: tuple[str, ...] = field(default=())

    @property
    def transcript(self) -> str | None:
        """The best transcript there is: the speaker-separated one, else the plain one."""
        return self.conversational_transcript or self.transcription


def parse_call(payload: Mapping[str, Any]) -> CallRailCall:
    """Map a webhook's call payload, or an API v3 call object, to a :class:`CallRailCall`.

    Reads only the documented keys (:data:`LEGACY_KEYS` are ignored).
    Required: an id (``resource_id`` or ``id``) and ``start_time`` (ISO 8601
    with an offset, year 1900-2999). Raises :class:`CallRailPayloadError`
    naming the first field that is malformed.
    """
    if not isinstance(payload, Mapping):
        raise CallRailPayloadError("body", "must be a JSON object")
    direction = _text(payload, "direction") or "inbound"
    if direction not in ("inbound", "outbound"):
        raise CallRailPayloadError("direction", "must be inbound or outbound")
    voicemail = _flag(payload, "voicemail")
    return CallRailCall(
        id=_call_id(payload),
        start_time=_timestamp(payload, "start_time"),
        direction="inbound" if direction == "inbound" else "outbound",
        duration_seconds=_seconds(payload, "duration"),
        answered=_flag(payload, "answered"),
        voicemail=bool(voicemail),
        customer_phone_number=_text(payload, "customer_phone_number"),
        tracking_phone_number=_text(payload, "tracking_phone_number"),
        customer_name=_text(payload, "customer_name"),
        customer_city=_text(payload, "customer_city"),
        customer_state=_text(payload, "customer_state"),
        customer_country=_text(payload, "customer_country"),
        customer_postal_code=_text(payload, "zip_code"),
        recording=_url(payload, "recording"),
        transcription=_text(payload, "transcription"),
        conversational_transcript=_conversation(payload, "conversational_transcript"),
        call_type=_text(payload, "call_type"),
        changes=_changes(payload),
    )


def render_conversation(entries: Sequence[Any], field: str = "conversational_transcript") -> str:
    """Render speaker-separated phrases as lines: ``Caller: ...`` and ``Agent: ...``.

    Each entry is an object with a speaker (``speaker``, or ``role``/``channel``)
    and its words (``phrase``, or ``text``/``content``/``sentence``).
    Consecutive phrases of one speaker share a line; a speaker that is neither
    the business nor the customer keeps its own name. Raises
    :class:`CallRailPayloadError` for an entry that is not such an object.
    """
    lines: list[tuple[str, str]] = []
    for index, entry in enumerate(entries):
        where = f"{field}[{index}]"
        if not isinstance(entry, Mapping):
            raise CallRailPayloadError(where, "must be an object with a speaker and a phrase")
        speaker = _first_text(entry, ("speaker", "role", "channel"), where)
        phrase = _first_text(entry, ("phrase", "text", "content", "sentence"), where)
        if not phrase:
            continue
        label = _speaker_label(speaker)
        if lines and lines[-1][0] == label:
            lines[-1] = (label, f"{lines[-1][1]} {phrase}")
        else:
            lines.append((label, phrase))
    return "\n".join(f"{label}: {phrase}" for label, phrase in lines)


def _speaker_label(speaker: str | None) -> str:
    name = (speaker or "").strip()
    lowered = name.lower()
    if lowered in _AGENT_SPEAKERS:
        return "Agent"
    if lowered in _CALLER_SPEAKERS:
        return "Caller"
    return name[:1].upper() + name[1:] if name else "Unknown"


def _first_text(entry: Mapping[str, Any], keys: Sequence[str], where: str) -> str | None:
    for key in keys:
        value = entry.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise CallRailPayloadError(f"{where}.{key}", "must be text")
        return " ".join(value.split()) or None
    return None


def _call_id(payload: Mapping[str, Any]) -> str:
    for key in ("resource_id", "id"):
        value = payload.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise CallRailPayloadError(key, "must be text or a number")
        text = str(value).strip()
        if not text or "\x00" in text or len(text) > 100:
            raise CallRailPayloadError(key, "must be 1 to 100 characters")
        return text
    raise CallRailPayloadError("id", "is required")


def _text(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CallRailPayloadError(key, "must be text")
    if "\x00" in value:
        raise CallRailPayloadError(key, "must not contain a NUL character")
    return value.strip() or None


def _flag(payload: Mapping[str, Any], key: str) -> bool | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise CallRailPayloadError(key, "must be true or false")


def _seconds(payload: Mapping[str, Any], key: str) -> int | None:
    value = payload.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or number < 0:
        raise CallRailPayloadError(key, "must be a whole number of seconds, 0 or more")
    return number


def _timestamp(payload: Mapping[str, Any], key: str) -> datetime:
    value = payload.get(key)
    if value is None or value == "":
        raise CallRailPayloadError(key, "is required")
    if not isinstance(value, str):
        raise CallRailPayloadError(key, "must be an ISO 8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CallRailPayloadError(key, "must be an ISO 8601 timestamp") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise CallRailPayloadError(key, "must carry a timezone offset")
    if not 1900 <= parsed.year <= 2999:
        raise CallRailPayloadError(key, "must have a year from 1900 to 2999")
    return parsed


def _url(payload: Mapping[str, Any], key: str) -> str | None:
    value = _text(payload, key)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or " " in value:
        raise CallRailPayloadError(key, "must be an http(s) URL")
    return value


def _conversation(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return _text(payload, key)
    if isinstance(value, Mapping):
        # Some shapes wrap the phrases: {"sentences": [...]}.
        for inner in ("sentences", "phrases", "transcript"):
            if isinstance(value.get(inner), list):
                value = value[inner]
                break
        else:
            raise CallRailPayloadError(key, "must be a list of speaker phrases")
    if not isinstance(value, list):
        raise CallRailPayloadError(key, "must be a list of speaker phrases")
    return render_conversation(value, key) or None


def _changes(payload: Mapping[str, Any]) -> tuple[str, ...]:
    value = payload.get("changes")
    if value is None or value == "":
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CallRailPayloadError("changes", "must be a list of field names")
    return tuple(item for item in value if item)
