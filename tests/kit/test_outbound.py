"""The outbound policy: address rules, URL checks, and connect-time checks in every client.

Only IP literals, numeric host forms, "localhost" and ".invalid" names reach the
system resolver, so no test goes beyond the local one; every other name is
answered by an injected resolver, and every connection goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from eal.integrations.crm import CrmContact
from eal.integrations.jobnimbus import JobNimbusClient
from eal.kit.outbound import (
    HostNotResolved,
    OutboundPolicy,
    UnsafeConnection,
    UnsafeUrl,
    is_public_address,
)
from eal.webhooks.delivery import WebhookSender
from tests.integrations.fake_jobnimbus import FakeJobNimbus, run_fake_jobnimbus

PUBLIC = "93.184.216.34"
LOOPBACK = "127.0.0.1"
REFUSED_LOOPBACK = r"private or reserved address \(127\.0\.0\.1\)"


def policy(allow_private: bool) -> OutboundPolicy:
    return OutboundPolicy(allow_private)


# -- the address rules and URL checks ------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.216.34/x",
        "https://93.184.216.34:8443/hooks?a=1",
        "HTTPS://93.184.216.34/upper-case-scheme",
        "https://[2606:4700:4700::1111]/hook",
    ],
)
async def test_public_https_urls_are_accepted(url: str) -> None:
    await policy(False).check_url(url)


async def test_http_is_refused_without_allow_private() -> None:
    with pytest.raises(UnsafeUrl, match="https") as info:
        await policy(False).check_url("http://93.184.216.34/x")
    assert "http is not allowed" in info.value.reason


@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize("url", ["ftp://93.184.216.34/x", "93.184.216.34/x", "file:///etc/passwd"])
async def test_other_schemes_are_always_refused(url: str, allow_private: bool) -> None:
    with pytest.raises(UnsafeUrl, match="scheme must be https"):
        await policy(allow_private).check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.5/hook",
        "https://192.168.1.10/hook",
        "https://172.16.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/hook",
        "https://100.100.100.200/latest/meta-data/",
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",
        "https://255.255.255.255/hook",
        "https://[::1]/hook",
        "https://[::]/hook",
        "https://[fe80::1]/hook",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::ffff:169.254.169.254]/hook",
    ],
)
async def test_non_public_ip_literals_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl, match="private or reserved address"):
        await policy(False).check_url(url)


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "api.localhost"])
async def test_localhost_names_are_refused(host: str) -> None:
    with pytest.raises(UnsafeUrl, match="loopback name"):
        await policy(False).check_url(f"https://{host}/hook")


@pytest.mark.parametrize("host", ["2130706433", "127.1", "0x7f.0.0.1"])
async def test_numeric_host_forms_are_checked_after_resolution(host: str) -> None:
    # Not IP literals to the ipaddress module, but the C resolver reads them as
    # 127.0.0.1, so the check must see the resolved address.
    with pytest.raises(UnsafeUrl, match=REFUSED_LOOPBACK):
        await policy(False).check_url(f"https://{host}/hook")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost:8080/hook",
        "https://10.0.0.5/hook",
        "https://[::1]:9000/hook",
    ],
)
async def test_allow_private_permits_local_targets(url: str) -> None:
    await policy(True).check_url(url)


@pytest.mark.parametrize("allow_private", [False, True])
async def test_unresolvable_host_is_refused(allow_private: bool) -> None:
    with pytest.raises(HostNotResolved) as info:
        await policy(allow_private).check_url("https://nonexistent.invalid/hook")
    assert info.value.reason == "host does not resolve"
    assert str(info.value) == "host does not resolve"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://user:pass@93.184.216.34/x", "username or password"),
        ("https://user@93.184.216.34/x", "username or password"),
        ("https:///no-host", "no host"),
        ("https://93.184.216.34:0/x", "port"),
        ("https://93.184.216.34:99999/x", "not valid"),
        ("https://93.184.216.34/x\n", "whitespace"),
        ("https://93.184.216.34/a\tb", "whitespace"),
        (" https://93.184.216.34/x", "whitespace"),
        ("https://[::1/x", "not valid"),
    ],
)
async def test_malformed_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrl, match=reason):
        await policy(True).check_url(url)


async def test_addresses_returns_allowed_addresses() -> None:
    assert await policy(False).addresses("93.184.216.34", 443) == ["93.184.216.34"]
    assert await policy(False).addresses("[2606:4700:4700::1111]", 443) == ["2606:4700:4700::1111"]
    assert await policy(True).addresses("127.0.0.1", 8080) == ["127.0.0.1"]
    assert "127.0.0.1" in await policy(True).addresses("localhost", 8080)
    assert await policy(True).addresses("2130706433", 80) == ["127.0.0.1"]


async def test_addresses_refuses_private_unresolvable_and_malformed() -> None:
    with pytest.raises(UnsafeUrl, match="private or reserved"):
        await policy(False).addresses("127.0.0.1", 8080)
    with pytest.raises(HostNotResolved, match="does not resolve"):
        await policy(True).addresses("nonexistent.invalid", 443)
    with pytest.raises(UnsafeUrl, match="no host"):
        await policy(True).addresses("", 443)
    with pytest.raises(UnsafeUrl, match="port"):
        await policy(True).addresses("93.184.216.34", 0)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:93.184.216.34", True),
        ("2002:5db8:d822::1", True),  # 6to4 of 93.184.216.34
        ("64:ff9b::5db8:d822", True),  # NAT64 of 93.184.216.34
        ("127.0.0.1", False),
        ("10.0.0.5", False),
        ("172.31.255.255", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("169.254.1.1", False),
        ("100.64.0.1", False),
        ("100.127.255.254", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("192.0.2.1", False),  # documentation
        ("198.18.0.1", False),  # benchmarking
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fd00:ec2::254", False),
        ("ff02::1", False),
        ("2001:db8::1", False),  # documentation
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.5", False),
        ("::ffff:100.64.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::", False),  # 6to4 of 169.254.169.254
        ("64:ff9b::a00:5", False),  # NAT64 of 10.0.0.5
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo, client 127.0.0.1
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


# -- the injected resolver -----------------------------------------------------


class Answers:
    """A resolver that answers `first` to the first lookup and `then` to every later one."""

    def __init__(self, first: list[str], then: list[str] | None = None) -> None:
        self.first = first
        self.then = first if then is None else then
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return list(self.first if len(self.calls) == 1 else self.then)


async def test_every_address_a_name_resolves_to_must_be_public() -> None:
    resolver = Answers([PUBLIC, "10.0.0.5"])
    with pytest.raises(UnsafeUrl, match=r"private or reserved address \(10\.0\.0\.5\)"):
        await OutboundPolicy(False, resolver).check_url("https://mixed.example/hook")
    assert resolver.calls == [("mixed.example", 443)]


async def test_literals_are_not_looked_up_and_names_are_with_their_port() -> None:
    resolver = Answers([PUBLIC])
    outbound = OutboundPolicy(False, resolver)
    assert await outbound.addresses("[2606:4700:4700::1111]", 443) == ["2606:4700:4700::1111"]
    await outbound.check_url("https://Hooks.Example:8443/x")
    assert resolver.calls == [("hooks.example", 8443)]


@pytest.mark.parametrize("allow_private", [False, True])
async def test_an_answer_that_is_not_an_address_is_refused(allow_private: bool) -> None:
    # Whoever connects must get addresses, never a name to resolve once more.
    outbound = OutboundPolicy(allow_private, Answers(["internal.example"]))
    with pytest.raises(UnsafeUrl, match="not an address"):
        await outbound.addresses("alias.example", 443)


async def test_a_slow_lookup_times_out() -> None:
    async def never(host: str, port: int) -> list[str]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    outbound = OutboundPolicy(False, never, dns_timeout=0.05)
    with pytest.raises(HostNotResolved, match="lookup timed out"):
        await outbound.check_url("https://slow.example/hook")


async def test_resolver_errors_and_empty_answers_mean_unresolved() -> None:
    async def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(HostNotResolved, match="does not resolve"):
        await OutboundPolicy(True, failing).addresses("gone.example", 443)
    with pytest.raises(HostNotResolved, match="does not resolve"):
        await OutboundPolicy(True, Answers([])).addresses("empty.example", 443)


# -- local servers ---------------------------------------------------------------


class Server:
    """An HTTP/1.1 server on 127.0.0.1 (optionally TLS) that answers 200 "ok" and counts."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context
        self.port = 0
        self.connections = 0
        self.requests: list[bytes] = []
        self.server_names: list[str | None] = []
        if ssl_context is not None:
            ssl_context.sni_callback = self._sni

    def _sni(self, _sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        self.server_names.append(name)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            self.requests.append(head)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Server]:
        server = await asyncio.start_server(self._handle, LOOPBACK, 0, ssl=self.ssl_context)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            await server.wait_closed()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async with Server().running() as running:
        yield running


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate (its own CA) for one DNS name or IP address."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "eal outbound test")])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        alt = x509.DNSName(name)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
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
    return cert_path, key_path


@asynccontextmanager
async def tls_server(tmp_path: Path, name: str) -> AsyncIterator[tuple[Server, ssl.SSLContext]]:
    """A TLS server whose certificate names only `name`, and a client context trusting it."""
    cert, key = _certificate(tmp_path, name)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    async with Server(context).running() as running:
        yield running, ssl.create_default_context(cafile=str(cert))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    current: BaseException | None = exc
    while current is not None:
        yield current
        current = current.__cause__ or current.__context__


# -- DNS rebinding: checked when saved, resolved elsewhere at send time -------------


async def test_rebinding_is_refused_at_connect_time_by_the_httpx_client(server: Server) -> None:
    url = f"https://rebind.example:{server.port}/hook"
    resolver = Answers([PUBLIC], then=[LOOPBACK])
    outbound = OutboundPolicy(False, resolver)
    await outbound.check_url(url)  # when the URL is saved, the name is public

    async with outbound.http_client(timeout=2.0) as client:
        with pytest.raises(UnsafeConnection, match=REFUSED_LOOPBACK) as info:
            await client.post(url, json={"event": "lead.created"})

    # A refusal is also an httpx.ConnectError, for callers that only know httpx.
    assert isinstance(info.value, httpx.ConnectError)
    assert info.value.request.url == httpx.URL(url)
    assert resolver.calls == [("rebind.example", server.port)] * 2
    assert server.connections == 0


async def test_rebinding_is_refused_at_connect_time_by_the_webhook_client(server: Server) -> None:
    url = f"https://rebind.example:{server.port}/hook"
    resolver = Answers([PUBLIC], then=[LOOPBACK])
    outbound = OutboundPolicy(False, resolver)
    await outbound.check_url(url)

    sender = WebhookSender(timeout_seconds=2.0, policy=outbound)
    try:
        result = await sender.send(url, b"{}", {"Content-Type": "application/json"})
    finally:
        await sender.aclose()

    assert result.error == "refused: host resolves to a private or reserved address (127.0.0.1)"
    assert resolver.calls == [("rebind.example", server.port)] * 2
    assert server.connections == 0


async def test_both_clients_connect_where_the_resolver_says(server: Server) -> None:
    # The same set-up with private targets allowed reaches the server: the
    # refusals above are the connect-time check, not a name nobody resolves.
    url = f"http://rebind.example:{server.port}/hook"
    outbound = OutboundPolicy(True, Answers([PUBLIC], then=[LOOPBACK]))
    await outbound.check_url(url)
    async with outbound.http_client(timeout=2.0) as client:
        response = await client.post(url, json={})
    sender = WebhookSender(timeout_seconds=2.0, policy=outbound)
    try:
        result = await sender.send(url, b"{}", {})
    finally:
        await sender.aclose()

    assert response.status_code == 200 and response.text == "ok"
    assert result.ok, result
    assert server.connections == 2
    assert all(b"Host: rebind.example:" in head for head in server.requests)


# -- the httpx client --------------------------------------------------------------


async def test_allow_private_reaches_a_local_server(server: Server) -> None:
    async with policy(True).http_client(timeout=2.0) as client:
        response = await client.get(f"http://127.0.0.1:{server.port}/status")
    assert response.status_code == 200
    assert server.connections == 1


async def test_plain_http_is_refused_per_request_without_allow_private(server: Server) -> None:
    outbound = OutboundPolicy(False, Answers([PUBLIC]))
    async with outbound.http_client(timeout=2.0) as client:
        with pytest.raises(UnsafeConnection, match="http is not allowed"):
            await client.get(f"http://public.example:{server.port}/")
    assert server.connections == 0


async def test_an_unresolvable_name_at_connect_time_is_a_connect_error() -> None:
    async def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async with OutboundPolicy(False, failing).http_client(timeout=2.0) as client:
        with pytest.raises(httpx.ConnectError, match="host does not resolve") as info:
            await client.get("https://gone.example/")
    # A network failure like any other, not a refusal by the policy.
    assert not isinstance(info.value, UnsafeUrl)


def _contact() -> CrmContact:
    return CrmContact(lead_id=str(uuid.uuid4()), first_name="Dana", last_name="Whitfield")


@pytest.fixture
def jobnimbus() -> Iterator[FakeJobNimbus]:
    with run_fake_jobnimbus("jn_outbound_key") as fake:
        yield fake


async def test_jobnimbus_works_through_the_policy_client(jobnimbus: FakeJobNimbus) -> None:
    async with policy(True).http_client(timeout=5.0) as http:
        client = JobNimbusClient(api_key="jn_outbound_key", base_url=jobnimbus.base_url, http=http)
        result = await client.push_contact(_contact())
    assert [c["jnid"] for c in jobnimbus.contacts] == [result.external_id]


async def test_jobnimbus_lets_a_refusal_through_unchanged(jobnimbus: FakeJobNimbus) -> None:
    # Not CrmUnavailable (a retry would not help) although it is a ConnectError.
    rebound = jobnimbus.base_url.replace("http://127.0.0.1", "https://crm.example")
    outbound = OutboundPolicy(False, Answers([LOOPBACK]))
    async with outbound.http_client(timeout=5.0) as http:
        client = JobNimbusClient(api_key="jn_outbound_key", base_url=rebound, http=http)
        with pytest.raises(UnsafeConnection, match=REFUSED_LOOPBACK):
            await client.push_contact(_contact())
    assert jobnimbus.requests == []


# -- TLS: the certificate is verified against the URL's name, not the address ------


async def test_tls_verifies_the_url_host_name_not_the_address(tmp_path: Path) -> None:
    outbound = OutboundPolicy(True, Answers([LOOPBACK]))
    async with tls_server(tmp_path, "hooks.example.test") as (server, trusted):
        async with outbound.http_client(timeout=2.0, ssl_context=trusted) as client:
            response = await client.get(f"https://hooks.example.test:{server.port}/")
            with pytest.raises(httpx.ConnectError) as info:
                await client.get(f"https://other.example.test:{server.port}/")
        assert response.status_code == 200 and response.text == "ok"
        assert server.server_names == ["hooks.example.test", "other.example.test"]
        assert len(server.requests) == 1
    failure = next(e for e in _causes(info.value) if isinstance(e, ssl.SSLCertVerificationError))
    assert "other.example.test" in str(failure.verify_message)


async def test_tls_is_not_satisfied_by_a_certificate_for_the_address(tmp_path: Path) -> None:
    # The connection goes to 127.0.0.1 and the certificate names 127.0.0.1,
    # yet the URL names a host: verification must fail.
    outbound = OutboundPolicy(True, Answers([LOOPBACK]))
    async with tls_server(tmp_path, LOOPBACK) as (server, trusted):
        async with outbound.http_client(timeout=2.0, ssl_context=trusted) as client:
            with pytest.raises(httpx.ConnectError) as info:
                await client.get(f"https://hooks.example.test:{server.port}/")
        assert server.requests == []
    assert any(isinstance(e, ssl.SSLCertVerificationError) for e in _causes(info.value))


async def test_open_connection_checks_the_address_and_verifies_the_name(tmp_path: Path) -> None:
    async with tls_server(tmp_path, "mail.example.test") as (server, trusted):
        outbound = OutboundPolicy(True, Answers([LOOPBACK]))
        _reader, writer = await outbound.open_connection(
            "mail.example.test", server.port, ssl=trusted
        )
        writer.close()
        await writer.wait_closed()
        with pytest.raises(ssl.SSLCertVerificationError):
            await outbound.open_connection("other.example.test", server.port, ssl=trusted)
        with pytest.raises(UnsafeUrl, match=REFUSED_LOOPBACK):
            await OutboundPolicy(False, Answers([LOOPBACK])).open_connection(
                "mail.example.test", server.port, ssl=trusted
            )
        assert server.server_names == ["mail.example.test", "other.example.test"]
