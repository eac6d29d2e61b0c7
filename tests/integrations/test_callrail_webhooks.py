"""CallRail webhooks: signatures against CallRail's published vector, and the mapping of
webhook payloads and API call objects to calls."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from eal.integrations.callrail import (
    LEGACY_KEYS,
    SIGNATURE_HEADER,
    CallRailCall,
    CallRailPayloadError,
    parse_call,
    render_conversation,
    sign_webhook,
    verify_webhook,
)
from tests.integrations.fake_callrail import send_webhook, webhook_payload
from tests.integrations.stand_in import Received, Reply, StandInServer

# CallRail's published test vector (API docs, "Webhooks" > signature validation): this
# signing key over this exact body gives this signature. The body is stored byte for byte;
# a trailing newline an editor might add is not CallRail's and is dropped.
VECTOR_KEY = "072e77e426f92738a72fe23c4d1953b4"
VECTOR_SIGNATURE = "UZAHbUdfm3GqL7qzilGozGzWV64="
VECTOR_BODY = (
    (Path(__file__).parent / "data" / "callrail_post_call.json").read_bytes().rstrip(b"\r\n")
)


# --- signatures --------------------------------------------------------------------


def test_callrails_published_vector_verifies() -> None:
    assert sign_webhook(VECTOR_KEY, VECTOR_BODY) == VECTOR_SIGNATURE
    assert verify_webhook(VECTOR_KEY, VECTOR_BODY, VECTOR_SIGNATURE)


@pytest.mark.parametrize(
    ("key", "body", "signature"),
    [
        ("072e77e426f92738a72fe23c4d1953b5", VECTOR_BODY, VECTOR_SIGNATURE),  # another key
        (VECTOR_KEY, VECTOR_BODY.replace(b'"duration":"13"', b'"duration":"14"'), VECTOR_SIGNATURE),
        (VECTOR_KEY, VECTOR_BODY + b"\n", VECTOR_SIGNATURE),  # the raw bytes are what is signed
        (VECTOR_KEY, VECTOR_BODY, "UZAHbUdfm3GqL7qzilGozGzWV64"),  # cut
        (VECTOR_KEY, VECTOR_BODY, ""),
        (VECTOR_KEY, VECTOR_BODY, "UZAHbUdfm3GqL7qzilGozGzWV64=é"),
        (VECTOR_KEY, VECTOR_BODY, "51900a6d475f9b71aa2fbab38a51a8cc6cd657ae"),  # hex, not base64
        ("", VECTOR_BODY, sign_webhook("", VECTOR_BODY)),  # no key never verifies
    ],
)
def test_anything_else_does_not_verify(key: str, body: bytes, signature: str) -> None:
    assert not verify_webhook(key, body, signature)


def test_a_signature_with_surrounding_whitespace_verifies() -> None:
    assert verify_webhook(VECTOR_KEY, VECTOR_BODY, f" {VECTOR_SIGNATURE}\r\n")


async def test_send_webhook_posts_what_verify_accepts() -> None:
    received: list[Received] = []

    async def receiver(request: Received) -> Reply:
        received.append(request)
        return Reply(204)

    server = StandInServer("receiver")
    port = server.start()
    server.serve(receiver)
    try:
        payload = {"id": 1, "resource_id": "CALabc", "start_time": "2026-03-02T09:15:00-06:00"}
        response = await send_webhook(
            f"http://127.0.0.1:{port}/hooks/callrail", payload, signing_key="whk_1"
        )
        forged = await send_webhook(
            f"http://127.0.0.1:{port}/hooks/callrail",
            VECTOR_BODY,
            signing_key="whk_1",
            signature=VECTOR_SIGNATURE,
        )
    finally:
        server.stop()

    assert (response.status_code, forged.status_code) == (204, 204)
    first, second = received
    assert first.headers["content-type"] == "application/json"
    assert verify_webhook("whk_1", first.body, first.headers[SIGNATURE_HEADER.lower()])
    assert json.loads(first.body) == payload
    assert not verify_webhook("whk_1", second.body, second.headers["signature"])
    assert second.body == VECTOR_BODY


# --- payloads ----------------------------------------------------------------------


def test_the_published_sample_maps_to_a_call() -> None:
    call = parse_call(json.loads(VECTOR_BODY))

    assert call == CallRailCall(
        id="766970532",
        start_time=datetime(2018, 2, 19, 13, 41, 0, 236000, tzinfo=timezone(timedelta(hours=-5))),
        direction="inbound",
        duration_seconds=13,
        answered=False,
        voicemail=True,
        customer_phone_number="+12148654559",
        tracking_phone_number="+14045558514",
        customer_name="Kaylah Mills",
        customer_city="Rochester",
        customer_state="PA",
        customer_country="US",
        customer_postal_code=None,
        recording="https://app.callrail.com/calls/766970532/recording/redirect?access_key=aaaaccccddddeeee",
        transcription=None,
        conversational_transcript=None,
        call_type="voicemail",
        changes=(),
    )
    assert call.transcript is None


def test_legacy_keys_are_never_read() -> None:
    sample = json.loads(VECTOR_BODY)
    assert set(sample) >= LEGACY_KEYS  # the sample carries every one we name
    modern = {
        "customer_phone_number": None,
        "tracking_phone_number": None,
        "customer_name": None,
        "customer_city": None,
        "customer_state": None,
        "customer_country": None,
    }
    call = parse_call({**sample, **modern})

    # callernum, trackingnum, callername, callercity ... are still there and ignored.
    assert sample["callernum"] == "+12148654559"
    assert [getattr(call, name) for name in modern] == [None] * len(modern)
    assert call.start_time.year == 2018 and call.start_time.utcoffset() == timedelta(hours=-5)


def test_a_current_webhook_is_known_by_its_masked_id() -> None:
    payload = webhook_payload(
        {
            "id": "CAL09c8a75d189149a482e881a9590ac1ba",
            "start_time": "2022-12-13T16:54:53.505-05:00",
            "duration": 15,
            "answered": None,
            "customer_phone_number": "+19494846382",
        }
    )
    assert isinstance(payload["id"], int)

    call = parse_call(payload)

    assert call.id == "CAL09c8a75d189149a482e881a9590ac1ba"
    assert call.duration_seconds == 15
    assert call.answered is None
    assert call.customer_name is None  # "" is nothing
    assert call.recording is None


def test_an_api_call_object_maps_the_same_way() -> None:
    call = parse_call(
        {
            "answered": True,
            "business_phone_number": None,
            "customer_city": "Denver",
            "customer_country": "US",
            "customer_name": "RUEGSEGGER SIMO",
            "customer_phone_number": "+13036231131",
            "customer_state": "CO",
            "direction": "inbound",
            "duration": 4,
            "id": "CAL8154748ae6bd4e278a7cddd38a662f4f",
            "recording": "https://api.callrail.com/v3/a/227799611/calls/111222333/recording.json",
            "recording_duration": 27,
            "start_time": "2017-01-24T11:27:48.119-07:00",
            "tracking_phone_number": "+13036161111",
            "voicemail": False,
            "transcription": "Caller: my basement is flooding",
            "zip_code": "80202",
        }
    )

    assert (call.id, call.duration_seconds, call.answered, call.voicemail) == (
        "CAL8154748ae6bd4e278a7cddd38a662f4f",
        4,
        True,
        False,
    )
    assert call.customer_postal_code == "80202"
    assert call.transcript == "Caller: my basement is flooding"


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(13, 13), ("13", 13), (" 7 ", 7), (0, 0), ("0", 0), (12.0, 12), ("", None), (None, None)],
)
def test_duration_may_be_a_number_a_string_or_nothing(raw: object, seconds: int | None) -> None:
    payload = {"id": "CAL1", "start_time": "2026-03-02T09:15:00-06:00", "duration": raw}
    assert parse_call(payload).duration_seconds == seconds


@pytest.mark.parametrize("raw", ["abc", "-3", -3, 1.5, True, [13], "13s"])
def test_a_malformed_duration_is_refused_by_name(raw: object) -> None:
    payload = {"id": "CAL1", "start_time": "2026-03-02T09:15:00-06:00", "duration": raw}
    with pytest.raises(CallRailPayloadError) as caught:
        parse_call(payload)
    assert caught.value.field == "duration"


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("false", False), (True, True), ("", None)]
)
def test_flags_may_be_strings(raw: object, value: bool | None) -> None:
    call = parse_call(
        {"id": 5, "start_time": "2026-03-02T09:15:00Z", "answered": raw, "voicemail": raw}
    )
    assert call.answered is value
    assert call.voicemail is bool(value)
    assert call.id == "5"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"start_time": None}, "start_time"),
        # No offset: the form of the legacy "datetime" key.
        ({"start_time": "2026-03-02 09:15:00"}, "start_time"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"start_time": "0999-03-02T09:15:00Z"}, "start_time"),
        ({"start_time": 1740000000}, "start_time"),
        ({"id": None, "resource_id": None}, "id"),
        ({"resource_id": {"x": 1}}, "resource_id"),
        ({"id": True}, "id"),
        ({"direction": "sideways"}, "direction"),
        ({"answered": "maybe"}, "answered"),
        ({"customer_name": 42}, "customer_name"),
        ({"customer_city": "Aus\x00tin"}, "customer_city"),
        ({"recording": "ftp://files.example/rec.mp3"}, "recording"),
        ({"recording": "not a url"}, "recording"),
        ({"conversational_transcript": 7}, "conversational_transcript"),
        ({"conversational_transcript": ["hello"]}, "conversational_transcript[0]"),
        ({"changes": "note"}, "changes"),
    ],
)
def test_malformed_payloads_name_the_field(changes: dict[str, Any], field: str) -> None:
    payload = {**json.loads(VECTOR_BODY), **changes}
    with pytest.raises(CallRailPayloadError) as caught:
        parse_call(payload)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_a_payload_must_be_an_object() -> None:
    with pytest.raises(CallRailPayloadError) as caught:
        parse_call([1, 2])  # type: ignore[arg-type]
    assert caught.value.field == "body"


def test_conversational_transcript_renders_as_caller_and_agent_lines() -> None:
    payload = {
        **json.loads(VECTOR_BODY),
        "transcription": "thanks for calling my basement is flooding",
        "conversational_transcript": [
            {
                "speaker": "Agent",
                "phrase": "Thanks for calling PuroClean, this is Sam.",
                "start": 0.4,
            },
            {"speaker": "Customer", "phrase": "Hi, my basement is flooding.", "start": 3.1},
            {"speaker": "Customer", "phrase": "  Water is   coming through the ceiling. "},
            {"speaker": "agent", "phrase": "Is the water still running?"},
            {"speaker": "Customer", "phrase": ""},
            {"speaker": "Voicemail", "phrase": "Please leave a message."},
            {"phrase": "(inaudible)"},
        ],
        "changes": ["transcription_text", "call_summary"],
    }

    call = parse_call(payload)

    assert call.conversational_transcript == (
        "Agent: Thanks for calling PuroClean, this is Sam.\n"
        "Caller: Hi, my basement is flooding. Water is coming through the ceiling.\n"
        "Agent: Is the water still running?\n"
        "Voicemail: Please leave a message.\n"
        "Unknown: (inaudible)"
    )
    assert call.transcript == call.conversational_transcript
    assert call.transcription == "thanks for calling my basement is flooding"
    assert call.changes == ("transcription_text", "call_summary")


@pytest.mark.parametrize(
    "shape",
    [
        {"sentences": [{"speaker": "caller", "text": "Mold in the bathroom."}]},
        [{"role": "customer", "content": "Mold in the bathroom."}],
        "Caller: Mold in the bathroom.",
    ],
)
def test_conversational_transcript_shapes(shape: object) -> None:
    payload = {
        "id": "CAL1",
        "start_time": "2026-03-02T09:15:00Z",
        "conversational_transcript": shape,
    }
    assert parse_call(payload).conversational_transcript == "Caller: Mold in the bathroom."


def test_an_empty_conversation_is_none() -> None:
    assert render_conversation([]) == ""
    payload = {"id": "CAL1", "start_time": "2026-03-02T09:15:00Z", "conversational_transcript": []}
    assert parse_call(payload).conversational_transcript is None
