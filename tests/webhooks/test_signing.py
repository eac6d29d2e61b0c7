"""Signing secrets, delivery signature headers and the receiver-side verifier."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
import standardwebhooks

import eal.webhooks
from eal.webhooks.signing import generate_secret, secret_prefix, signature_headers
from eal.webhooks.verify import WebhookVerificationError, verify

BODY = '{"event":"lead.created","data":{"id":"ld_1","name":"Café Ünïcode"}}'.encode()
DELIVERY_ID = "whd_8w3p1m"
EVENT = "lead.created"


def _headers(secrets: list[str], *, timestamp: int, body: bytes = BODY) -> dict[str, str]:
    return signature_headers(
        secrets, body=body, timestamp=timestamp, delivery_id=DELIVERY_ID, event_type=EVENT
    )


def _without(headers: dict[str, str], *names: str) -> dict[str, str]:
    drop = {n.lower() for n in names}
    return {k: v for k, v in headers.items() if k.lower() not in drop}


def _std_only(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.startswith("webhook-")}


# --- secrets -----------------------------------------------------------------


def test_generate_secret_is_prefixed_base64_of_32_random_bytes() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    raw = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    assert len(raw) == 32
    assert len({generate_secret() for _ in range(50)}) == 50


def test_secret_prefix_is_first_twelve_characters() -> None:
    secret = generate_secret()
    assert secret_prefix(secret) == secret[:12]
    assert secret_prefix(secret).startswith("whsec_")
    assert len(secret_prefix(secret)) == 12


# --- headers and reference HMAC values ----------------------------------------


def test_headers_carry_metadata_and_match_hand_computed_hmacs() -> None:
    secret = generate_secret()
    t = 1714000000
    headers = _headers([secret], timestamp=t)

    eal_ref = hmac.new(secret.encode(), b"1714000000." + BODY, hashlib.sha256).hexdigest()
    key = base64.b64decode(secret[len("whsec_") :])
    std_ref = base64.b64encode(
        hmac.new(key, b"whd_8w3p1m.1714000000." + BODY, hashlib.sha256).digest()
    ).decode()

    assert headers == {
        "Content-Type": "application/json",
        "User-Agent": "eal-webhooks/1",
        "X-EAL-Signature": f"t=1714000000,v1={eal_ref}",
        "X-EAL-Event": "lead.created",
        "X-EAL-Delivery": "whd_8w3p1m",
        "X-EAL-Timestamp": "1714000000",
        "webhook-id": "whd_8w3p1m",
        "webhook-timestamp": "1714000000",
        "webhook-signature": f"v1,{std_ref}",
    }


def test_rotation_adds_one_signature_per_secret_in_order() -> None:
    old, new = generate_secret(), generate_secret()
    t = 1714000000
    headers = _headers([new, old], timestamp=t)
    refs = [
        hmac.new(s.encode(), b"1714000000." + BODY, hashlib.sha256).hexdigest() for s in (new, old)
    ]
    assert headers["X-EAL-Signature"] == f"t=1714000000,v1={refs[0]},v1={refs[1]}"
    entries = headers["webhook-signature"].split(" ")
    assert len(entries) == 2
    assert all(e.startswith("v1,") for e in entries)


def test_delivery_id_and_timestamp_are_echoed_so_retries_share_an_id() -> None:
    secret = generate_secret()
    first = _headers([secret], timestamp=100)
    retry = _headers([secret], timestamp=200)
    assert first["X-EAL-Delivery"] == retry["X-EAL-Delivery"] == DELIVERY_ID
    assert first["X-EAL-Signature"] != retry["X-EAL-Signature"]


@pytest.mark.parametrize(
    ("secrets", "delivery_id", "event_type", "timestamp"),
    [
        ([], DELIVERY_ID, EVENT, 1),
        (["not-a-secret"], DELIVERY_ID, EVENT, 1),
        (["whsec_"], DELIVERY_ID, EVENT, 1),
        (["whsec_!!not base64!!"], DELIVERY_ID, EVENT, 1),
        (None, "whd_1\r\nX-Injected: 1", EVENT, 1),
        (None, "", EVENT, 1),
        (None, DELIVERY_ID, "lead created", 1),
        (None, DELIVERY_ID, EVENT, -1),
    ],
)
def test_signature_headers_refuses_bad_input(
    secrets: list[str] | None, delivery_id: str, event_type: str, timestamp: int
) -> None:
    with pytest.raises(ValueError):
        signature_headers(
            secrets if secrets is not None else [generate_secret()],
            body=BODY,
            timestamp=timestamp,
            delivery_id=delivery_id,
            event_type=event_type,
        )


# --- our verifier -------------------------------------------------------------


def test_verify_accepts_our_headers_in_any_case() -> None:
    secret = generate_secret()
    t = 1714000000
    headers = _headers([secret], timestamp=t)
    verify(secret, headers, BODY, now=t)
    verify(secret, {k.lower(): v for k, v in headers.items()}, BODY, now=t)
    verify(secret, {k.upper(): v for k, v in headers.items()}, BODY, now=t)


def test_verify_works_through_package_export_and_httpx_headers() -> None:
    secret = generate_secret()
    t = int(time.time())
    headers = httpx.Headers(_headers([secret], timestamp=t))
    eal.webhooks.verify(secret, headers, BODY)
    assert eal.webhooks.__all__ == ["WebhookVerificationError", "verify"]
    assert eal.webhooks.WebhookVerificationError is WebhookVerificationError


def test_verify_falls_back_to_standard_headers() -> None:
    secret = generate_secret()
    t = 1714000000
    headers = _std_only(_headers([secret], timestamp=t))
    verify(secret, headers, BODY, now=t)
    with pytest.raises(WebhookVerificationError, match="no webhook-signature v1"):
        verify(generate_secret(), headers, BODY, now=t)


def test_during_rotation_each_secret_alone_verifies_both_schemes() -> None:
    old, new = generate_secret(), generate_secret()
    t = 1714000000
    headers = _headers([new, old], timestamp=t)
    for secret in (old, new):
        verify(secret, headers, BODY, now=t)
        verify(secret, _std_only(headers), BODY, now=t)
    with pytest.raises(WebhookVerificationError):
        verify(generate_secret(), headers, BODY, now=t)


def test_verify_rejects_wrong_secret_and_tampered_body() -> None:
    secret = generate_secret()
    t = 1714000000
    headers = _headers([secret], timestamp=t)
    with pytest.raises(WebhookVerificationError, match="no X-EAL-Signature v1"):
        verify(generate_secret(), headers, BODY, now=t)
    tampered = BODY.replace(b"ld_1", b"ld_2")
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, tampered, now=t)
    with pytest.raises(WebhookVerificationError):
        verify(secret, _std_only(headers), tampered, now=t)


def test_verify_rejects_tampered_timestamp() -> None:
    secret = generate_secret()
    t = 1714000000
    headers = _headers([secret], timestamp=t)
    moved = dict(headers)
    moved["X-EAL-Signature"] = headers["X-EAL-Signature"].replace(f"t={t}", f"t={t + 60}")
    with pytest.raises(WebhookVerificationError, match="no X-EAL-Signature v1"):
        verify(secret, moved, BODY, now=t)
    std = _std_only(headers)
    std["webhook-timestamp"] = str(t + 60)
    with pytest.raises(WebhookVerificationError, match="no webhook-signature v1"):
        verify(secret, std, BODY, now=t)


def test_verify_does_not_fall_back_when_eal_signature_is_bad() -> None:
    secret = generate_secret()
    t = 1714000000
    headers = _headers([secret], timestamp=t)
    headers["X-EAL-Signature"] = f"t={t},v1={'0' * 64}"
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, BODY, now=t)


@pytest.mark.parametrize("std", [False, True])
def test_verify_enforces_tolerance_both_ways(std: bool) -> None:
    secret = generate_secret()
    t = 1714000000
    headers = _headers([secret], timestamp=t)
    if std:
        headers = _std_only(headers)
    verify(secret, headers, BODY, now=t + 300)
    verify(secret, headers, BODY, now=t - 300)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(secret, headers, BODY, now=t + 301)
    with pytest.raises(WebhookVerificationError, match="future"):
        verify(secret, headers, BODY, now=t - 301)
    verify(secret, headers, BODY, tolerance=1000, now=t + 999)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(secret, headers, BODY, tolerance=10, now=t + 11)


def test_verify_uses_the_clock_when_now_is_not_given() -> None:
    secret = generate_secret()
    verify(secret, _headers([secret], timestamp=int(time.time())), BODY)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(secret, _headers([secret], timestamp=int(time.time()) - 3600), BODY)


@pytest.mark.parametrize(
    "signature",
    [
        "v1=abc",
        "t=1714000000",
        "t=1714000000,t=1714000000,v1=abc",
        "t=abc,v1=abc",
        "t=-5,v1=abc",
        "garbage",
    ],
)
def test_verify_rejects_malformed_eal_signature(signature: str) -> None:
    secret = generate_secret()
    with pytest.raises(WebhookVerificationError):
        verify(secret, {"X-EAL-Signature": signature}, BODY, now=1714000000)


def test_verify_rejects_missing_headers_and_malformed_secret() -> None:
    secret = generate_secret()
    t = 1714000000
    headers = _headers([secret], timestamp=t)
    with pytest.raises(WebhookVerificationError, match="missing signature headers"):
        verify(secret, _without(headers, "X-EAL-Signature", "webhook-signature"), BODY, now=t)
    with pytest.raises(WebhookVerificationError, match="missing signature headers"):
        verify(secret, {}, BODY, now=t)
    with pytest.raises(WebhookVerificationError, match="whsec_"):
        verify(secret.removeprefix("whsec_"), headers, BODY, now=t)


def test_verify_skips_unknown_and_malformed_standard_entries() -> None:
    secret = generate_secret()
    t = 1714000000
    std = _std_only(_headers([secret], timestamp=t))
    std["webhook-signature"] = f"v2,abc v1 v1,!!! {std['webhook-signature']}"
    verify(secret, std, BODY, now=t)


# --- interoperability with the Standard Webhooks reference library -----------


def test_standardwebhooks_library_accepts_a_single_secret() -> None:
    secret = generate_secret()
    headers = _headers([secret], timestamp=int(time.time()))
    payload = standardwebhooks.Webhook(secret).verify(BODY, headers)
    assert payload["data"]["name"] == "Café Ünïcode"


def test_standardwebhooks_library_accepts_each_secret_during_rotation() -> None:
    old, new = generate_secret(), generate_secret()
    headers = _headers([new, old], timestamp=int(time.time()))
    for secret in (old, new):
        standardwebhooks.Webhook(secret).verify(BODY, headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(generate_secret()).verify(BODY, headers)


def test_standardwebhooks_library_rejects_tampering_and_expiry() -> None:
    secret = generate_secret()
    wh = standardwebhooks.Webhook(secret)
    now = int(time.time())
    headers = _headers([secret], timestamp=now)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        wh.verify(BODY.replace(b"ld_1", b"ld_2"), headers)
    moved = dict(headers, **{"webhook-timestamp": str(now - 1)})
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        wh.verify(BODY, moved)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError, match="too old"):
        wh.verify(BODY, _headers([secret], timestamp=now - 3600))


# --- the documented stdlib receiver, on a real local server -------------------


@pytest.fixture
def receiver() -> Iterator[tuple[str, str, list[bytes]]]:
    """Run the receiver from verify()'s docstring on 127.0.0.1."""
    secret = generate_secret()
    accepted: list[bytes] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                verify(secret, dict(self.headers.items()), body)
            except WebhookVerificationError:
                return self.send_error(400)
            accepted.append(body)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/webhook", secret, accepted
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_documented_receiver_accepts_signed_and_refuses_tampered(
    receiver: tuple[str, str, list[bytes]],
) -> None:
    url, secret, accepted = receiver
    headers = _headers([secret], timestamp=int(time.time()))
    with httpx.Client() as client:
        ok = client.post(url, content=BODY, headers=headers)
        bad = client.post(url, content=BODY + b" ", headers=headers)
        unsigned = client.post(url, content=BODY)
    assert (ok.status_code, bad.status_code, unsigned.status_code) == (204, 400, 400)
    assert accepted == [BODY]


def test_verify_accepts_a_text_body_as_its_utf8_bytes() -> None:
    from eal.webhooks import verify as verify_delivery
    from eal.webhooks.signing import generate_secret, signature_headers

    secret = generate_secret()
    body = '{"type":"lead.created","data":{"name":"Zoë"}}'
    headers = signature_headers(
        [secret], body=body.encode(), timestamp=1_800_000_000, delivery_id="whd_1", event_type="x"
    )
    verify_delivery(secret, headers, body, now=1_800_000_000)
