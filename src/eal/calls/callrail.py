"""CallRail calls as eal calls: the webhook's signature check and the field mapping."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from eal.calls.service import IncomingCall, check_recording_url
from eal.errors import Unauthenticated
from eal.integrations.callrail import SIGNATURE_HEADER, CallRailCall, verify_webhook
from eal.kit.secretbox import SecretBox
from eal.leads.phone import normalize_phone

SOURCE = "callrail"
#: Imported calls older than this are classified but never dispatched automatically.
DISPATCH_HORIZON = timedelta(hours=2)


def verify_signature(settings: dict[str, Any], box: SecretBox, body: bytes, signature: str) -> None:
    """Check CallRail's `Signature` header against the organization's signing key (else 401)."""
    item = (settings.get("integrations") or {}).get("callrail") or {}
    encrypted = item.get("signing_key_encrypted")
    if not encrypted:
        raise Unauthenticated(
            "No CallRail signing key is configured for this organization: set "
            "settings.integrations.callrail.signing_key with PATCH /api/v1/organizations/{id}.",
            details={"header": SIGNATURE_HEADER},
        )
    try:
        key = box.decrypt(encrypted)
    except ValueError as exc:
        raise Unauthenticated(
            "The stored CallRail signing key cannot be decrypted; set it again.",
            details={"header": SIGNATURE_HEADER},
        ) from exc
    if not signature or not verify_webhook(key, body, signature):
        raise Unauthenticated(
            f"The {SIGNATURE_HEADER} header does not match this organization's CallRail "
            "signing key.",
            details={"header": SIGNATURE_HEADER},
        )


def incoming_of_callrail(
    call: CallRailCall, *, allow_private: bool, now: datetime | None = None
) -> IncomingCall:
    """A CallRail call as an incoming call; what CallRail left empty does not erase ours.

    With `now` (an import), a call older than the dispatch horizon is never dispatched.
    """
    check_recording_url(call.recording, allow_private=allow_private, field_name="recording")
    tracking = call.tracking_phone_number
    if tracking is not None:
        # Kept as CallRail sent it when it does not parse: the call matters more than its format.
        with contextlib.suppress(ValueError):
            tracking = normalize_phone(tracking)
    values: dict[str, Any] = {
        "tracking_number": tracking,
        "caller_number": call.customer_phone_number,
        "duration_seconds": call.duration_seconds,
        "transcript": call.transcript,
        "recording_url": call.recording,
        "caller_name": call.customer_name,
        "caller_postal_code": call.customer_postal_code,
        "caller_city": call.customer_city,
        "caller_state": call.customer_state,
        "voicemail": call.voicemail,
        "answered": call.answered,
    }
    absent = frozenset(name for name, value in values.items() if value is None)
    return IncomingCall(
        source=SOURCE,
        external_id=call.id,
        tracking_number=tracking,
        caller_number=call.customer_phone_number or "",
        duration_seconds=call.duration_seconds or 0,
        received_at=call.start_time,
        transcript=call.transcript,
        recording_url=call.recording,
        caller_name=call.customer_name,
        caller_postal_code=call.customer_postal_code,
        caller_city=call.customer_city,
        caller_state=call.customer_state,
        voicemail=call.voicemail,
        answered=call.answered,
        dispatch_allowed=now is None or now - call.start_time <= DISPATCH_HORIZON,
        absent=absent,
    )
