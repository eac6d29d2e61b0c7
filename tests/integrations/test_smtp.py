"""Email through a real aiosmtpd server on 127.0.0.1: plain, STARTTLS and implicit TLS with a
self-signed certificate for a name the policy's resolver maps to 127.0.0.1, AUTH, refusals,
temporary failures, connection failures, and the From header."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from eal.integrations.smtp import (
    SmtpConfig,
    SmtpConfigurationError,
    SmtpError,
    SmtpRecipientRefused,
    SmtpRejected,
    SmtpResult,
    SmtpUnavailable,
    format_mailbox,
    send_email,
    sender_header,
)
from eal.kit.outbound import OutboundPolicy, UnsafeUrl

HOST = "mail.example.test"
LOOPBACK = "127.0.0.1"
PUBLIC = "93.184.216.34"
SENDER = "dispatch@puroclean-westcobb.example"
RECIPIENT = "dana.whitfield@example.com"
USER, PASSWORD = "dispatch", "s3cret-Passw0rd!"
TIMEOUT = 5.0


class Answers:
    """A resolver that answers `first` to the first lookup and `then` to every later one."""

    def __init__(self, first: list[str], then: list[str] | None = None) -> None:
        self.first, self.then = first, first if then is None else then
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return list(self.first if len(self.calls) == 1 else self.then)


def local_policy() -> OutboundPolicy:
    """Private targets allowed, and HOST resolving to 127.0.0.1."""
    return OutboundPolicy(True, Answers([LOOPBACK]))


# -- the server ---------------------------------------------------------------------------


@dataclass
class Delivery:
    mail_from: str | None
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    auth: Any
    helo: str | None


@dataclass
class Recorder:
    """aiosmtpd handler: records deliveries; replies can be scripted per address or step."""

    deliveries: list[Delivery] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    mail_reply: str | None = None
    data_reply: str | None = None
    connections: int = 0

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.mail_reply is not None:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        assert isinstance(envelope.content, bytes)
        tls = server.transport is not None and server.transport.get_extra_info("sslcontext")
        self.deliveries.append(
            Delivery(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.content,
                bool(tls),
                session.auth_data,
                session.host_name,
            )
        )
        return "250 2.0.0 Ok: queued as 7F3A21C"


def authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    assert isinstance(auth_data, LoginPassword)
    ok = auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
    # handled=False: aiosmtpd answers 235 or 535 itself.
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None)


@dataclass
class Server:
    port: int
    recorder: Recorder
    server_names: list[str | None]


@asynccontextmanager
async def smtp_server(
    *,
    implicit_tls: ssl.SSLContext | None = None,
    starttls: ssl.SSLContext | None = None,
    auth: bool = False,
    auth_require_tls: bool = True,
) -> AsyncIterator[Server]:
    """A real aiosmtpd SMTP server on 127.0.0.1, on this event loop."""
    recorder = Recorder()
    names: list[str | None] = []

    def record_name(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(name)

    for context in (implicit_tls, starttls):
        if context is not None:
            context.sni_callback = record_name

    def factory() -> SMTP:
        recorder.connections += 1
        return SMTP(
            recorder,
            hostname=HOST,
            tls_context=starttls,
            require_starttls=False,
            authenticator=authenticator if auth else None,
            auth_require_tls=auth_require_tls,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, LOOPBACK, 0, ssl=implicit_tls)
    try:
        yield Server(server.sockets[0].getsockname()[1], recorder, names)
    finally:
        server.close()
        await server.wait_closed()


def certificate(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for `name`, and a client trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    return server, ssl.create_default_context(cafile=str(cert_path))


@asynccontextmanager
async def raw_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[int]:
    writers: list[asyncio.StreamWriter] = []

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await handle(reader, writer)

    server = await asyncio.start_server(tracked, LOOPBACK, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


# -- messages ----------------------------------------------------------------------------


def config(port: int, security: str = "none", **overrides: Any) -> SmtpConfig:
    values: dict[str, Any] = {
        "host": HOST,
        "port": port,
        "security": security,
        "from_address": SENDER,
        "from_name": "PuroClean of West Cobb",
    }
    values.update(overrides)
    return SmtpConfig(**values)


def make_message(smtp: SmtpConfig, to: str = RECIPIENT) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender_header(smtp)
    message["To"] = to
    message["Subject"] = "Your drying plan — day 2 ✓"
    message["Message-ID"] = make_msgid(domain="puroclean-westcobb.example")
    message["List-Unsubscribe"] = "<https://eal.example/u/tok>, <mailto:unsubscribe@example.com>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content("Hello Dana,\n.\n.a line starting with a dot\nDehumidifiers stay on.\n")
    message.add_alternative("<p>Hello Dana, <b>dehumidifiers</b> stay on. Zoë</p>", subtype="html")
    # Flattening invents a boundary each time unless one is set: set one, so
    # the bytes built here are the bytes that must arrive.
    message.set_boundary("eal-test-7f3a21c")
    return message


def wire(message: EmailMessage) -> bytes:
    """The message as built, in the form SMTP carries it (CRLF line ends)."""
    return message.as_bytes(policy=email.policy.SMTP)


async def deliver(
    smtp: SmtpConfig, message: EmailMessage | None = None, **kwargs: Any
) -> SmtpResult:
    kwargs.setdefault("timeout", TIMEOUT)
    kwargs.setdefault("local_hostname", "worker1.eal.example")
    return await send_email(smtp, message or make_message(smtp), local_policy(), **kwargs)


# -- sending -----------------------------------------------------------------------------


async def test_plain_delivery_arrives_byte_exact() -> None:
    async with smtp_server() as server:
        smtp = config(server.port)
        message = make_message(smtp)
        result = await deliver(smtp, message)

    assert result == SmtpResult(accepted=True, code=250, response="2.0.0 Ok: queued as 7F3A21C")
    [delivery] = server.recorder.deliveries
    assert delivery.content == wire(message)
    assert (delivery.mail_from, delivery.rcpt_tos) == (SENDER, [RECIPIENT])
    assert not delivery.tls and delivery.helo == "worker1.eal.example"
    parsed = email.message_from_bytes(delivery.content, policy=email.policy.default)
    assert parsed["Subject"] == "Your drying plan — day 2 ✓"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Message-ID"].strip() == message["Message-ID"]
    body = parsed.get_body(("plain",))
    assert body is not None and ".a line starting with a dot" in body.get_content()


async def test_bcc_is_delivered_but_not_transmitted() -> None:
    async with smtp_server() as server:
        smtp = config(server.port)
        message = make_message(smtp)
        message["Bcc"] = "owner@example.com"
        await deliver(smtp, message)
    [delivery] = server.recorder.deliveries
    assert delivery.rcpt_tos == [RECIPIENT, "owner@example.com"]
    assert b"owner@example.com" not in delivery.content


async def test_starttls_verifies_the_configured_name(tmp_path: Path) -> None:
    server_ctx, trusted = certificate(tmp_path, HOST)
    async with smtp_server(starttls=server_ctx) as server:
        smtp = config(server.port, "starttls")
        message = make_message(smtp)
        result = await deliver(smtp, message, tls_context=trusted)
    assert result.accepted
    [delivery] = server.recorder.deliveries
    assert delivery.tls and delivery.content == wire(message)
    assert server.server_names == [HOST]


async def test_implicit_tls_verifies_the_configured_name(tmp_path: Path) -> None:
    server_ctx, trusted = certificate(tmp_path, HOST)
    async with smtp_server(implicit_tls=server_ctx) as server:
        smtp = config(server.port, "tls")
        message = make_message(smtp)
        await deliver(smtp, message, tls_context=trusted)
    [delivery] = server.recorder.deliveries
    assert delivery.tls and delivery.content == wire(message)
    assert server.server_names == [HOST]


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_a_certificate_for_another_name_is_refused(tmp_path: Path, security: str) -> None:
    # The connection goes to 127.0.0.1 either way; only the name decides.
    server_ctx, trusted = certificate(tmp_path, "other.example.test")
    starttls = server_ctx if security == "starttls" else None
    implicit = server_ctx if security == "tls" else None
    async with smtp_server(starttls=starttls, implicit_tls=implicit) as server:
        with pytest.raises(SmtpConfigurationError, match="TLS with SMTP server") as info:
            await deliver(config(server.port, security), tls_context=trusted)
    assert "mail.example.test" in str(info.value)
    assert not info.value.transient and not info.value.recipient_refused
    assert server.recorder.deliveries == []


async def test_the_default_tls_context_does_not_trust_a_self_signed_certificate(
    tmp_path: Path,
) -> None:
    server_ctx, _trusted = certificate(tmp_path, HOST)
    async with smtp_server(starttls=server_ctx) as server:
        with pytest.raises(SmtpConfigurationError, match="certificate"):
            await deliver(config(server.port, "starttls"))
    assert server.recorder.deliveries == []


async def test_starttls_is_required_when_configured() -> None:
    # A server that does not offer STARTTLS gets nothing, not a message in clear.
    async with smtp_server() as server:
        with pytest.raises(SmtpConfigurationError, match="STARTTLS") as info:
            await deliver(config(server.port, "starttls"))
    assert not info.value.transient
    assert server.recorder.deliveries == []


async def test_auth_with_the_configured_credentials(tmp_path: Path) -> None:
    server_ctx, trusted = certificate(tmp_path, HOST)
    async with smtp_server(starttls=server_ctx, auth=True) as server:
        smtp = config(server.port, "starttls", username=USER, password=PASSWORD)
        await deliver(smtp, tls_context=trusted)
    [delivery] = server.recorder.deliveries
    assert delivery.auth == USER and delivery.tls


async def test_refused_credentials_are_a_configuration_error(tmp_path: Path) -> None:
    server_ctx, trusted = certificate(tmp_path, HOST)
    wrong = "wr0ng-Passw0rd-xyz"
    async with smtp_server(starttls=server_ctx, auth=True) as server:
        smtp = config(server.port, "starttls", username=USER, password=wrong)
        with pytest.raises(SmtpConfigurationError, match="refused the credentials") as info:
            await deliver(smtp, tls_context=trusted)
    error = info.value
    assert (error.code, error.transient, error.recipient_refused) == (535, False, False)
    assert wrong not in str(error) and wrong not in repr(error) and wrong not in repr(smtp)
    assert server.recorder.deliveries == []


async def test_auth_over_a_plain_relay() -> None:
    async with smtp_server(auth=True, auth_require_tls=False) as server:
        smtp = config(server.port, username=USER, password=PASSWORD)
        await deliver(smtp)
    assert server.recorder.deliveries[0].auth == USER


# -- refusals and failures ------------------------------------------------------------------


async def test_a_recipient_refused_for_good_is_a_hard_bounce() -> None:
    async with smtp_server() as server:
        server.recorder.rcpt_replies[RECIPIENT] = "550 5.1.1 <dana>: Recipient address rejected"
        with pytest.raises(SmtpRecipientRefused) as info:
            await deliver(config(server.port))
    error = info.value
    assert error.recipient_refused and not error.transient
    assert (error.code, error.response) == (550, "5.1.1 <dana>: Recipient address rejected")
    assert error.refused == {RECIPIENT: (550, "5.1.1 <dana>: Recipient address rejected")}
    assert server.recorder.deliveries == []


async def test_a_temporary_recipient_refusal_is_transient() -> None:
    async with smtp_server() as server:
        server.recorder.rcpt_replies[RECIPIENT] = "450 4.2.0 Greylisted, try again later"
        with pytest.raises(SmtpUnavailable, match="deferred the recipient") as info:
            await deliver(config(server.port))
    assert info.value.transient and not info.value.recipient_refused
    assert info.value.code == 450 and not info.value.maybe_sent


async def test_some_recipients_refused_is_a_partial_result() -> None:
    async with smtp_server() as server:
        server.recorder.rcpt_replies["gone@example.com"] = "550 5.1.1 No such user"
        smtp = config(server.port)
        result = await deliver(smtp, recipients=[RECIPIENT, "gone@example.com"])
    assert not result.accepted and result.code == 250
    assert result.refused == {"gone@example.com": (550, "5.1.1 No such user")}
    assert server.recorder.deliveries[0].rcpt_tos == [RECIPIENT]


@pytest.mark.parametrize(
    ("reply", "kind", "recipient_refused"),
    [
        ("451 4.3.0 Temporary local problem", SmtpUnavailable, False),
        ("554 5.7.1 Message rejected as spam", SmtpRejected, False),
        ("550 5.1.1 The email account does not exist", SmtpRecipientRefused, True),
    ],
)
async def test_replies_to_the_message_itself(
    reply: str, kind: type[SmtpError], recipient_refused: bool
) -> None:
    async with smtp_server() as server:
        server.recorder.data_reply = reply
        with pytest.raises(kind, match="refused the message") as info:
            await deliver(config(server.port))
    assert type(info.value) is kind
    assert info.value.code == int(reply[:3])
    assert info.value.recipient_refused is recipient_refused
    assert info.value.transient is (reply[0] == "4")


async def test_a_refused_sender_is_permanent_but_not_a_bounce() -> None:
    async with smtp_server() as server:
        server.recorder.mail_reply = "553 5.7.1 Sender address rejected: not owned by user"
        with pytest.raises(SmtpRejected, match="refused the sender") as info:
            await deliver(config(server.port))
    assert type(info.value) is SmtpRejected
    assert info.value.code == 553 and not info.value.recipient_refused


async def test_connection_refused_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]
    with pytest.raises(SmtpUnavailable, match="could not connect") as info:
        await deliver(config(port))
    assert info.value.transient and not info.value.maybe_sent and info.value.code is None


async def test_a_server_that_closes_at_once_is_transient() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with raw_server(hang_up) as port:
        with pytest.raises(SmtpUnavailable) as info:
            await deliver(config(port))
    assert info.value.transient and not info.value.maybe_sent


async def test_a_busy_greeting_is_transient_and_a_refusal_permanent() -> None:
    async def greet(text: bytes) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(text)
            await writer.drain()
            await reader.read()

        return handle

    async with raw_server(await greet(b"421 4.3.2 Too busy, try later\r\n")) as port:
        with pytest.raises(SmtpUnavailable, match="refused the connection") as busy:
            await deliver(config(port))
    async with raw_server(await greet(b"554 5.7.1 No service for you\r\n")) as port:
        with pytest.raises(SmtpRejected, match="refused the connection") as refused:
            await deliver(config(port))
    assert (busy.value.code, refused.value.code) == (421, 554)
    assert not refused.value.recipient_refused


async def test_the_whole_exchange_is_bounded_by_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never greets

    async with raw_server(silent) as port:
        with pytest.raises(SmtpUnavailable, match="timed out") as info:
            await deliver(config(port), timeout=0.3)
    assert info.value.transient and not info.value.maybe_sent


async def test_a_message_without_recipients_is_refused_locally() -> None:
    smtp = config(25)
    message = make_message(smtp)
    del message["To"]
    with pytest.raises(ValueError, match="no recipients"):
        await deliver(smtp, message)


# -- the outbound policy ---------------------------------------------------------------------


@pytest.mark.parametrize("host", [HOST, LOOPBACK])
async def test_a_private_host_is_refused_when_the_policy_forbids_it(host: str) -> None:
    async with smtp_server() as server:
        smtp = config(server.port, host=host)
        policy = OutboundPolicy(False, Answers([LOOPBACK]))
        with pytest.raises(UnsafeUrl, match=r"private or reserved address \(127\.0\.0\.1\)"):
            await send_email(smtp, make_message(smtp), policy, timeout=TIMEOUT)
    assert server.recorder.connections == 0


async def test_dns_rebinding_is_refused_at_send_time() -> None:
    async with smtp_server() as server:
        resolver = Answers([PUBLIC], then=[LOOPBACK])
        policy = OutboundPolicy(False, resolver)
        await policy.addresses(HOST, server.port)  # when the settings are saved: public
        smtp = config(server.port)
        with pytest.raises(UnsafeUrl, match=r"private or reserved address \(127\.0\.0\.1\)"):
            await send_email(smtp, make_message(smtp), policy, timeout=TIMEOUT)
    assert resolver.calls == [(HOST, server.port)] * 2
    assert server.recorder.connections == 0


async def test_a_host_that_does_not_resolve_is_transient() -> None:
    async def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    smtp = config(25)
    with pytest.raises(SmtpUnavailable, match="did not resolve") as info:
        await send_email(smtp, make_message(smtp), OutboundPolicy(True, failing), timeout=TIMEOUT)
    assert info.value.transient


async def test_the_next_address_is_tried_when_one_refuses() -> None:
    async with smtp_server() as server:
        # 127.0.0.2 is loopback too, but nothing listens there on this port.
        policy = OutboundPolicy(True, Answers(["127.0.0.2", LOOPBACK]))
        smtp = config(server.port)
        await send_email(smtp, make_message(smtp), policy, timeout=TIMEOUT)
    assert len(server.recorder.deliveries) == 1


async def test_the_default_ehlo_name_is_a_name_or_an_address_literal() -> None:
    async with smtp_server() as server:
        smtp = config(server.port)
        await send_email(smtp, make_message(smtp), local_policy(), timeout=TIMEOUT)
    helo = server.recorder.deliveries[0].helo
    assert helo is not None
    if helo.startswith("["):
        ipaddress.ip_address(helo[1:-1])
    else:
        assert "." in helo


# -- the From header -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "address", "header"),
    [
        (None, SENDER, SENDER),
        ("", SENDER, SENDER),
        ("PuroClean West Cobb", SENDER, f"PuroClean West Cobb <{SENDER}>"),
        ("Smith, Jo & Co.", "jo@example.com", '"Smith, Jo & Co." <jo@example.com>'),
        ('Say "hi"', "jo@example.com", '"Say \\"hi\\"" <jo@example.com>'),
        ("Jo", "jo@bücher.example", "Jo <jo@xn--bcher-kva.example>"),
    ],
)
def test_from_header_quotes_specials(name: str | None, address: str, header: str) -> None:
    assert format_mailbox(name, address) == header


@pytest.mark.parametrize(
    "name",
    ["Zoë's Restoration", "Ремонт после потопа", "水害復旧サービス " * 6, "Café, Bar & Grill"],
)
def test_from_header_encodes_non_ascii_names(name: str) -> None:
    header = format_mailbox(name, SENDER)
    assert header.isascii() and "\r" not in header and "\n" not in header
    assert header.endswith(f"<{SENDER}>")
    words = [word for word in header.split() if word.startswith("=?")]
    assert words and all(len(word) <= 75 for word in words)  # RFC 2047's limit
    # Decoded as RFC 2047 says (the space between adjacent encoded words is
    # dropped), the name comes back as it went in.
    display, _, rest = header.rpartition(" <")
    assert str(make_header(decode_header(display))) == name.strip()
    assert rest == SENDER + ">"


async def test_an_encoded_from_name_arrives_intact() -> None:
    async with smtp_server() as server:
        smtp = config(server.port, from_name="Zoë Ångström Restoration")
        await deliver(smtp)
    raw = server.recorder.deliveries[0].content
    from_line = next(line for line in raw.split(b"\r\n") if line.startswith(b"From:"))
    assert from_line.isascii() and b"=?utf-8?" in from_line
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["From"].addresses[0].display_name == "Zoë Ångström Restoration"


def test_from_header_refuses_what_it_cannot_write() -> None:
    with pytest.raises(ValueError, match="control characters"):
        format_mailbox("Evil\r\nBcc: victim@example.com", SENDER)
    with pytest.raises(ValueError, match="not ASCII"):
        format_mailbox("Jo", "jö@example.com")
    with pytest.raises(ValueError, match="not an email address"):
        format_mailbox("Jo", "nobody")


def test_config_rules_and_the_hidden_password() -> None:
    with pytest.raises(ValueError, match="security"):
        config(25, "ssl")
    with pytest.raises(ValueError, match="port"):
        config(0)
    with pytest.raises(ValueError, match="needs a username"):
        config(25, password=PASSWORD)
    assert PASSWORD not in repr(config(25, username=USER, password=PASSWORD))
