"""eal_sdk.webhooks against signatures and bodies made by the server's own code."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from eal_sdk.webhooks import Event, WebhookVerificationError, parse_event, verify

from eal.events.bodies import event_body
from eal.webhooks.signing import generate_secret, signature_headers


def delivery(secrets: list[str], timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
    """A delivery signed now (or at `timestamp`): read when the test runs, not when collected."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    body = event_body(
        event_id=uuid.uuid4(),
        event_type="lead.created",
        created_at=datetime.now(UTC),
        organization_id=uuid.uuid4(),
        data={"id": str(uuid.uuid4()), "name": "Sarah Mitchell"},
    ).encode()
    headers = signature_headers(
        secrets, body=body, timestamp=timestamp, delivery_id="whd_1", event_type="lead.created"
    )
    return headers, body


def test_verifies_both_schemes_and_parses_the_event() -> None:
    secret = generate_secret()
    headers, body = delivery([secret])
    verify(secret, headers, body)
    verify(secret, {k.upper(): v for k, v in headers.items()}, body.decode())
    standard_only = {k: v for k, v in headers.items() if k.lower() != "x-eal-signature"}
    verify(secret, standard_only, body)

    event = parse_event(body)
    assert isinstance(event, Event)
    assert event.type == "lead.created" and event.id.startswith("evt_")
    assert event.data["name"] == "Sarah Mitchell"


def test_either_secret_verifies_during_a_rotation() -> None:
    old, new = generate_secret(), generate_secret()
    headers, body = delivery([new, old])
    verify(old, headers, body)
    verify(new, headers, body)


@pytest.mark.parametrize("scheme", ["eal", "standard"])
def test_refuses_a_wrong_secret_a_changed_body_and_an_old_timestamp(scheme: str) -> None:
    secret = generate_secret()
    signed_at = int(time.time()) - 600
    headers, body = delivery([secret], timestamp=signed_at)
    fresh_headers, fresh_body = delivery([secret])
    if scheme == "standard":
        headers = {k: v for k, v in headers.items() if k != "X-EAL-Signature"}
        fresh_headers = {k: v for k, v in fresh_headers.items() if k != "X-EAL-Signature"}
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(secret, headers, body)
    verify(secret, headers, body, now=signed_at)
    with pytest.raises(WebhookVerificationError, match="matches"):
        verify(generate_secret(), fresh_headers, fresh_body)
    with pytest.raises(WebhookVerificationError, match="matches"):
        verify(secret, fresh_headers, fresh_body + b" ")


def test_refuses_missing_headers_and_a_malformed_secret() -> None:
    secret = generate_secret()
    _, body = delivery([secret])
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify(secret, {}, body)
    with pytest.raises(WebhookVerificationError):
        verify("not-a-secret", {}, body)
    with pytest.raises(ValueError):
        parse_event(b'{"id": 1}')
