"""The Twilio client against a real local stand-in of Twilio's Messages API, the status
mapping, request signatures (Twilio's documented example), TwiML and the outbound policy."""

from __future__ import annotations

import asyncio
import base64
import socket
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from eal.integrations.twilio import (
    STATUS,
    TWIML_CONTENT_TYPE,
    SentSms,
    TwilioAuthError,
    TwilioClient,
    TwilioConfig,
    TwilioError,
    TwilioRejected,
    TwilioUnavailable,
    parse_form,
    parse_inbound_sms,
    parse_status_callback,
    request_signature,
    status_advances,
    twiml,
    verify_request,
)
from eal.kit.outbound import OutboundPolicy, UnsafeConnection, UnsafeUrl
from tests.integrations.fake_twilio import FakeTwilio, run_fake_twilio

SID = "AC" + "3f" * 16
TOKEN = "b7c1d2e3f4a5968778695a4b3c2d1e0f"
OTHER_SID = "AC" + "9e" * 16
OTHER_TOKEN = "0123456789abcdef0123456789abcdef"
SERVICE = "MG" + "5a" * 16
SENDER = "+15125550100"
RECIPIENT = "+16785550143"
CALLBACK = "https://eal.example/api/v1/integrations/twilio/org/status"
PUBLIC = "93.184.216.34"
LOOPBACK = "127.0.0.1"

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with run_fake_twilio({SID: TOKEN, OTHER_SID: OTHER_TOKEN}) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with OutboundPolicy(True).http_client(timeout=5.0) as client:
        yield client


def config(fake: FakeTwilio, **overrides: str | None) -> TwilioConfig:
    values: dict[str, str | None] = {
        "account_sid": SID,
        "auth_token": TOKEN,
        "from_number": SENDER,
        "messaging_service_sid": None,
        "base_url": fake.base_url,
    }
    values.update(overrides)
    base_url = values.pop("base_url")
    assert base_url is not None
    return TwilioConfig(**values, base_url=base_url)  # type: ignore[arg-type]


async def send(client: TwilioClient, to: str = RECIPIENT, body: str = "Hi Dana") -> SentSms:
    return await client.send_sms(to=to, body=body, status_callback=CALLBACK)


# -- sending ---------------------------------------------------------------------------


async def test_send_posts_the_documented_form_with_basic_auth(
    fake: FakeTwilio, http: httpx.AsyncClient
) -> None:
    sent = await send(TwilioClient(config(fake), http), body="Crew arrives at 9 & brings fans")

    [message] = fake.messages
    assert sent == SentSms(sid=message["sid"], status="queued", twilio_status="queued")
    assert sent.sid.startswith("SM") and len(sent.sid) == 34
    [request] = fake.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(
        f"{SID}:{TOKEN}".encode()
    ).decode("ascii")
    assert request.form == {
        "To": RECIPIENT,
        "Body": "Crew arrives at 9 & brings fans",
        "From": SENDER,
        "StatusCallback": CALLBACK,
    }
    assert message["to"] == RECIPIENT and message["from"] == SENDER


async def test_send_through_a_messaging_service_omits_from(
    fake: FakeTwilio, http: httpx.AsyncClient
) -> None:
    client = TwilioClient(config(fake, from_number=None, messaging_service_sid=SERVICE), http)
    sent = await client.send_sms(to=RECIPIENT, body="Hello", status_callback=None)

    [request] = fake.requests
    assert request.form == {"To": RECIPIENT, "Body": "Hello", "MessagingServiceSid": SERVICE}
    # Twilio answers "accepted" for a Messaging Service; to us it is still queued.
    assert (sent.status, sent.twilio_status) == ("queued", "accepted")


def test_config_needs_exactly_one_sender_and_hides_the_token() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        TwilioConfig(SID, TOKEN)
    with pytest.raises(ValueError, match="exactly one"):
        TwilioConfig(SID, TOKEN, SENDER, SERVICE)
    with pytest.raises(ValueError, match="required"):
        TwilioConfig(SID, "", SENDER)
    made = TwilioConfig(SID, TOKEN, SENDER)
    assert made.base_url == "https://api.twilio.com"
    assert TOKEN not in repr(made)


async def test_bad_credentials_are_an_auth_error_without_the_token(
    fake: FakeTwilio, http: httpx.AsyncClient
) -> None:
    wrong = "ffffffffffffffffffffffffffffffff"
    client = TwilioClient(config(fake, auth_token=wrong), http)
    with pytest.raises(TwilioAuthError) as info:
        await send(client)

    error = info.value
    assert (error.http_status, error.code, error.transient) == (401, 20003, False)
    assert not error.recipient_opted_out
    for text in (str(error), repr(error), repr(client)):
        assert wrong not in text
    assert fake.messages == []


@pytest.mark.parametrize(("status", "code"), [(500, 20500), (503, 20503), (429, 20429)])
async def test_server_errors_and_rate_limits_are_transient(
    fake: FakeTwilio, http: httpx.AsyncClient, status: int, code: int
) -> None:
    fake.fail_next(1, status)
    client = TwilioClient(config(fake), http)
    with pytest.raises(TwilioUnavailable) as info:
        await send(client)
    assert info.value.transient
    assert (info.value.http_status, info.value.code) == (status, code)
    assert not info.value.maybe_sent
    # The next attempt goes through.
    assert (await send(client)).status == "queued"
    assert len(fake.messages) == 1


async def test_opted_out_recipient_is_permanent_and_flagged(
    fake: FakeTwilio, http: httpx.AsyncClient
) -> None:
    fake.opt_out(RECIPIENT)
    with pytest.raises(TwilioRejected) as info:
        await send(TwilioClient(config(fake), http))

    error = info.value
    assert error.recipient_opted_out and not error.transient
    assert (error.http_status, error.code) == (400, 21610)
    assert error.more_info == "https://www.twilio.com/docs/errors/21610"
    assert "unsubscribed recipient" in error.message
    assert "error 21610" in str(error)


async def test_an_injected_21610_is_recognised(fake: FakeTwilio, http: httpx.AsyncClient) -> None:
    fake.fail_next(1, 400, code=21610)
    with pytest.raises(TwilioError) as info:
        await send(TwilioClient(config(fake), http))
    assert info.value.recipient_opted_out


@pytest.mark.parametrize(
    ("to", "body", "code"),
    [
        ("5125550143", "Hi", 21211),
        (RECIPIENT, "", 21602),
        (RECIPIENT, "x" * 1601, 21617),
    ],
)
async def test_other_client_errors_are_permanent(
    fake: FakeTwilio, http: httpx.AsyncClient, to: str, body: str, code: int
) -> None:
    with pytest.raises(TwilioRejected) as info:
        await send(TwilioClient(config(fake), http), to=to, body=body)
    assert (info.value.http_status, info.value.code) == (400, code)
    assert not info.value.transient and not info.value.recipient_opted_out


async def test_a_body_of_1600_characters_is_accepted(
    fake: FakeTwilio, http: httpx.AsyncClient
) -> None:
    await send(
        TwilioClient(config(fake), http), body="ł" * 1600
    )  # not GSM-7: 67 characters a segment
    assert fake.messages[0]["num_segments"] == "24"


async def test_vendor_text_echoing_the_token_is_redacted(
    fake: FakeTwilio, http: httpx.AsyncClient
) -> None:
    fake.fail_next(1, 400, code=21620, message=f"bad request for token {TOKEN}")
    with pytest.raises(TwilioRejected) as info:
        await send(TwilioClient(config(fake), http))
    assert TOKEN not in str(info.value)
    assert "[redacted]" in str(info.value)


async def test_connection_refused_is_transient_and_not_sent(http: httpx.AsyncClient) -> None:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]
    client = TwilioClient(
        TwilioConfig(SID, TOKEN, SENDER, base_url=f"http://{LOOPBACK}:{port}"), http
    )
    with pytest.raises(TwilioUnavailable, match="could not connect") as info:
        await send(client)
    assert info.value.transient and not info.value.maybe_sent
    assert info.value.http_status is None


async def test_a_lost_answer_is_transient_and_may_have_sent(
    fake: FakeTwilio, http: httpx.AsyncClient
) -> None:
    fake.set_delay(2.0)
    client = TwilioClient(config(fake), http, timeout=0.2)
    with pytest.raises(TwilioUnavailable, match="timed out waiting") as info:
        await send(client)
    assert info.value.transient and info.value.maybe_sent


async def test_a_success_without_a_sid_may_have_sent(http: httpx.AsyncClient) -> None:
    async with one_answer(b"HTTP/1.1 201 Created\r\nContent-Length: 7\r\n\r\nnot-js\n") as url:
        with pytest.raises(TwilioUnavailable, match="no message sid") as info:
            await send(TwilioClient(TwilioConfig(SID, TOKEN, SENDER, base_url=url), http))
    assert info.value.maybe_sent and info.value.http_status == 201


# -- the outbound policy ---------------------------------------------------------------


class Answers:
    """A resolver that answers `first` to the first lookup and `then` to every later one."""

    def __init__(self, first: list[str], then: list[str] | None = None) -> None:
        self.first, self.then = first, first if then is None else then
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return list(self.first if len(self.calls) == 1 else self.then)


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_a_private_base_url_is_refused_when_the_policy_forbids_it(
    fake: FakeTwilio, scheme: str
) -> None:
    base_url = fake.base_url.replace("http", scheme, 1)
    async with OutboundPolicy(False).http_client(timeout=5.0) as strict:
        client = TwilioClient(config(fake, base_url=base_url), strict)
        with pytest.raises(UnsafeConnection) as info:
            await send(client)
    # The policy's refusal comes through as it is: not a Twilio failure to retry.
    assert not isinstance(info.value, TwilioError)
    assert fake.requests == []


async def test_dns_rebinding_is_refused_at_connect_time(fake: FakeTwilio) -> None:
    port = int(fake.base_url.rsplit(":", 1)[1])
    base_url = f"https://api.twilio.test:{port}"
    resolver = Answers([PUBLIC], then=[LOOPBACK])
    outbound = OutboundPolicy(False, resolver)
    await outbound.check_url(base_url)  # when the settings are saved, the name is public

    async with outbound.http_client(timeout=5.0) as strict:
        with pytest.raises(UnsafeUrl, match=r"private or reserved address \(127\.0\.0\.1\)"):
            await send(TwilioClient(config(fake, base_url=base_url), strict))
    assert resolver.calls == [("api.twilio.test", port)] * 2
    assert fake.requests == []


async def test_a_name_the_policy_resolves_to_the_fake_reaches_it(fake: FakeTwilio) -> None:
    # The control for the refusal above: same name, private targets allowed.
    port = int(fake.base_url.rsplit(":", 1)[1])
    outbound = OutboundPolicy(True, Answers([LOOPBACK]))
    async with outbound.http_client(timeout=5.0) as client:
        sent = await send(
            TwilioClient(config(fake, base_url=f"http://api.twilio.test:{port}"), client)
        )
    assert fake.message(sent.sid)["to"] == RECIPIENT
    assert fake.requests[0].headers["host"] == f"api.twilio.test:{port}"


# -- statuses --------------------------------------------------------------------------


def test_every_twilio_status_is_mapped() -> None:
    assert dict(STATUS) == {
        "accepted": "queued",
        "scheduled": "queued",
        "queued": "queued",
        "sending": "queued",
        "sent": "sent",
        "delivered": "delivered",
        "read": "delivered",
        "undelivered": "undelivered",
        "failed": "failed",
        "canceled": "failed",
        "receiving": None,
        "received": None,
    }


@pytest.mark.parametrize(
    ("current", "new", "advances"),
    [
        ("queued", "sent", True),
        ("queued", "delivered", True),
        ("sent", "undelivered", True),
        ("sent", "failed", True),
        ("sent", "sent", False),
        ("delivered", "sent", False),
        ("delivered", "failed", False),
        ("failed", "delivered", False),
        ("sent", "queued", False),
        ("simulated", "sent", False),
        ("queued", "received", False),
    ],
)
def test_status_only_moves_forward(current: str, new: str, advances: bool) -> None:
    assert status_advances(current, new) is advances


# -- signatures ------------------------------------------------------------------------

# Twilio's documented example (its security guide and the twilio library's own tests).
DOC_TOKEN = "12345"
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
DOC_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_signature_matches_twilios_documented_example() -> None:
    assert request_signature(DOC_TOKEN, DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    assert verify_request(DOC_TOKEN, DOC_URL, DOC_PARAMS, DOC_SIGNATURE)
    # The same, given as pairs in the order they arrived (sorting is the algorithm's).
    pairs = list(reversed(DOC_PARAMS.items()))
    assert request_signature(DOC_TOKEN, DOC_URL, pairs) == DOC_SIGNATURE


def test_signature_is_hmac_sha1_over_the_url_and_sorted_params() -> None:
    import hashlib
    import hmac

    signed = DOC_URL + "".join(name + DOC_PARAMS[name] for name in sorted(DOC_PARAMS))
    digest = hmac.new(DOC_TOKEN.encode(), signed.encode(), hashlib.sha1).digest()
    assert base64.b64encode(digest).decode() == DOC_SIGNATURE


def test_repeated_names_are_signed_with_every_value() -> None:
    # Twilio's library example for a repeated parameter.
    pairs = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    assert request_signature(DOC_TOKEN, DOC_URL, pairs) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    assert verify_request(DOC_TOKEN, DOC_URL, pairs, "IK+Dwps556ElfBT0I3Rgjkr1wJU=")
    assert not verify_request(DOC_TOKEN, DOC_URL, pairs[:-1], "IK+Dwps556ElfBT0I3Rgjkr1wJU=")


def test_signature_agrees_with_twilios_validator_on_other_input() -> None:
    params = {"Body": "Stop texting me ✋", "From": RECIPIENT, "To": SENDER, "Empty": ""}
    url = "https://eal.example/api/v1/integrations/twilio/org/sms"
    expected = RequestValidator(TOKEN).compute_signature(url, params)
    assert request_signature(TOKEN, url, params) == expected
    assert verify_request(TOKEN, url, params, expected)


@pytest.mark.parametrize(
    ("signed_url", "received_url"),
    [
        # Twilio signs with or without the port; the received URL may carry either.
        (DOC_URL, "https://mycompany.com:1234/myapp.php?foo=1&bar=2"),
        ("https://mycompany.com:443/myapp.php?foo=1&bar=2", DOC_URL),
        (DOC_URL, "https://mycompany.com:443/myapp.php?foo=1&bar=2"),
        (
            "http://mycompany.com:80/myapp.php?foo=1&bar=2",
            "http://mycompany.com/myapp.php?foo=1&bar=2",
        ),
        (
            "http://mycompany.com:8080/myapp.php?foo=1&bar=2",
            "http://mycompany.com:8080/myapp.php?foo=1&bar=2",
        ),
    ],
)
def test_ports_are_accepted_with_and_without(signed_url: str, received_url: str) -> None:
    signature = request_signature(DOC_TOKEN, signed_url, DOC_PARAMS)
    assert verify_request(DOC_TOKEN, received_url, DOC_PARAMS, signature)


@pytest.mark.parametrize(
    "received_url",
    [
        "https://mycompany.com/myapp.php",  # the query string is part of what is signed
        "https://mycompany.com/myapp.php?bar=2&foo=1",  # ... exactly as sent
        "http://mycompany.com/myapp.php?foo=1&bar=2",  # the scheme
        "https://internal.local/myapp.php?foo=1&bar=2",  # the public host, not a proxy's
        "https://mycompany.com/myapp.php/?foo=1&bar=2",  # the path
    ],
)
def test_any_other_difference_in_the_url_fails(received_url: str) -> None:
    assert not verify_request(DOC_TOKEN, received_url, DOC_PARAMS, DOC_SIGNATURE)


def test_a_port_twilio_signed_must_be_in_the_public_url() -> None:
    # Twilio called (and signed) a non-default port: a public URL without it fails.
    signature = request_signature(DOC_TOKEN, "https://mycompany.com:8443/myapp.php", DOC_PARAMS)
    assert verify_request(DOC_TOKEN, "https://mycompany.com:8443/myapp.php", DOC_PARAMS, signature)
    assert not verify_request(DOC_TOKEN, "https://mycompany.com/myapp.php", DOC_PARAMS, signature)


def test_tampered_params_wrong_token_or_no_signature_fail() -> None:
    assert not verify_request(DOC_TOKEN, DOC_URL, {**DOC_PARAMS, "Digits": "1235"}, DOC_SIGNATURE)
    assert not verify_request(DOC_TOKEN, DOC_URL, {**DOC_PARAMS, "Extra": ""}, DOC_SIGNATURE)
    assert not verify_request("54321", DOC_URL, DOC_PARAMS, DOC_SIGNATURE)
    assert not verify_request(DOC_TOKEN, DOC_URL, DOC_PARAMS, "")
    assert not verify_request(DOC_TOKEN, DOC_URL, DOC_PARAMS, None)
    assert not verify_request(DOC_TOKEN, DOC_URL, DOC_PARAMS, DOC_SIGNATURE[:-2])


def test_parse_form_keeps_empty_and_repeated_fields() -> None:
    assert parse_form(b"Body=&To=%2B15125550100&A=1&A=2") == [
        ("Body", ""),
        ("To", "+15125550100"),
        ("A", "1"),
        ("A", "2"),
    ]
    with pytest.raises(ValueError):
        parse_form(b"\xff=1")


# -- the stand-in's webhooks, received by a real server -------------------------------------


@dataclass
class Received:
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records requests and answers TwiML."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        state.requests.append(Received(lines[0].split(" ")[1], headers, body))
        answer = twiml(None).encode()
        writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Type: {TWIML_CONTENT_TYPE}\r\n"
            f"Content-Length: {len(answer)}\r\nConnection: close\r\n\r\n".encode()
            + answer
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, LOOPBACK, 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def one_answer(raw: bytes) -> AsyncIterator[str]:
    """A server on 127.0.0.1 answering every request with the bytes `raw`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(raw)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, LOOPBACK, 0)
    try:
        yield f"http://{LOOPBACK}:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def test_status_callbacks_are_signed_as_twilio_signs_them(
    fake: FakeTwilio, http: httpx.AsyncClient
) -> None:
    async with receiver() as hooks:
        url = hooks.url("/api/v1/integrations/twilio/org/status?attempt=1")
        sent = await TwilioClient(config(fake), http).send_sms(
            to=RECIPIENT, body="Hi", status_callback=url
        )
        for status, error in (("sent", None), ("undelivered", 30003)):
            response = await fake.send_status_callback(sent.sid, status, error_code=error)
            assert response.status_code == 200

    first, second = hooks.requests
    assert first.target == "/api/v1/integrations/twilio/org/status?attempt=1"
    assert first.headers["content-type"] == "application/x-www-form-urlencoded"
    for request in (first, second):
        params = parse_form(request.body)
        assert verify_request(TOKEN, url, params, request.headers["x-twilio-signature"])
        assert not verify_request(OTHER_TOKEN, url, params, request.headers["x-twilio-signature"])
    update = parse_status_callback(parse_form(second.body))
    assert (update.message_sid, update.account_sid) == (sent.sid, SID)
    assert (update.twilio_status, update.status, update.error_code) == (
        "undelivered",
        "undelivered",
        30003,
    )
    assert (update.to_number, update.from_number) == (RECIPIENT, SENDER)
    assert parse_status_callback(parse_form(first.body)).status == "sent"
    assert fake.message(sent.sid)["status"] == "undelivered"
    assert [hook.status_code for hook in fake.webhooks] == [200, 200]


async def test_inbound_messages_are_signed_and_parsed(
    fake: FakeTwilio, http: httpx.AsyncClient
) -> None:
    async with receiver() as hooks:
        url = hooks.url("/api/v1/integrations/twilio/org/sms")
        await fake.send_inbound_sms(url, from_number=RECIPIENT, to_number=SENDER, body="STOP")

    [request] = hooks.requests
    params = parse_form(request.body)
    assert verify_request(TOKEN, url, params, request.headers["x-twilio-signature"])
    inbound = parse_inbound_sms(params)
    assert (inbound.from_number, inbound.to_number, inbound.body) == (RECIPIENT, SENDER, "STOP")
    assert inbound.account_sid == SID and inbound.message_sid.startswith("SM")
    assert inbound.num_media == 0 and inbound.messaging_service_sid is None
    # Twilio's own opt-out handling is off unless asked for: the number still receives.
    await send(TwilioClient(config(fake), http))


async def test_signed_requests_go_through_an_asgi_client(fake: FakeTwilio) -> None:
    seen: list[bool] = []

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        url = "https://eal.example" + scope["path"]
        seen.append(verify_request(TOKEN, url, parse_form(body), headers.get("x-twilio-signature")))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        url = "https://eal.example/api/v1/integrations/twilio/org/sms"
        response = await fake.send_inbound_sms(
            url, from_number=RECIPIENT, to_number=SENDER, body="Yes, Tuesday works", client=client
        )
        headers, body = fake.signed(url, {"Body": "forged", "From": RECIPIENT})
        await client.post(url, content=body.replace(b"forged", b"FORGED"), headers=headers)
    assert response.status_code == 204
    assert seen == [True, False]


async def test_the_stand_in_can_play_twilios_opt_out_handling(http: httpx.AsyncClient) -> None:
    with run_fake_twilio({SID: TOKEN}, handle_opt_out=True) as fake:
        client = TwilioClient(config(fake), http)
        async with receiver() as hooks:
            url = hooks.url("/sms")
            await fake.send_inbound_sms(url, from_number=RECIPIENT, to_number=SENDER, body=" stop ")
            with pytest.raises(TwilioRejected) as info:
                await send(client)
            await fake.send_inbound_sms(url, from_number=RECIPIENT, to_number=SENDER, body="START")
            await send(client)
    assert info.value.recipient_opted_out
    assert len(fake.messages) == 1


def test_callback_parsers_name_what_is_missing() -> None:
    with pytest.raises(ValueError, match="MessageSid"):
        parse_status_callback({"MessageStatus": "sent", "AccountSid": SID})
    with pytest.raises(ValueError, match="ErrorCode"):
        parse_status_callback(
            {"MessageSid": "SM1", "MessageStatus": "failed", "AccountSid": SID, "ErrorCode": "x"}
        )
    with pytest.raises(ValueError, match="From"):
        parse_inbound_sms({"MessageSid": "SM1", "AccountSid": SID, "To": SENDER, "Body": "hi"})
    unknown = parse_status_callback(
        {"MessageSid": "SM1", "MessageStatus": "Weird", "AccountSid": SID}
    )
    assert (unknown.twilio_status, unknown.status) == ("weird", None)


# -- TwiML -----------------------------------------------------------------------------


def test_twiml_reply_is_escaped_and_well_formed() -> None:
    text = 'You\'re opted out of <Acme & Sons> "alerts". Reply START\x07 to resume.'
    document = twiml(text)
    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>')
    root = ET.fromstring(document)
    assert root.tag == "Response"
    [message] = list(root)
    assert message.tag == "Message"
    assert message.text == text.replace("\x07", "")
    assert "&lt;Acme &amp; Sons&gt;" in document


def test_twiml_without_a_reply_is_an_empty_response() -> None:
    document = twiml(None)
    assert document == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert list(ET.fromstring(document)) == []
    assert TWIML_CONTENT_TYPE == "text/xml"
    with pytest.raises(ValueError, match="pass None"):
        twiml(" \x00 ")
