"""The delivery HTTP client against real local servers: TLS, keep-alive, odd receivers."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from eal.kit.outbound import OutboundPolicy
from eal.webhooks.delivery import ERROR_MAX_CHARS, RESPONSE_SNIPPET_BYTES, WebhookSender
from eal.webhooks.http1 import parse_target

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return head, await reader.readexactly(length)


class RawServer:
    """An asyncio TCP (optionally TLS) server whose handler writes raw bytes."""

    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.connections = 0
        self.heads: list[bytes] = []
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1") -> AsyncIterator[RawServer]:
        server = await asyncio.start_server(self._handle, host, 0, ssl=self.ssl_context)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()


def _keep_alive(reply: bytes, server: list[RawServer]) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _body = await _read_request(reader)
            server[0].heads.append(head)
            writer.write(reply)
            await writer.drain()

    return handler


def _certificate(tmp_path: Path, names: list[str]) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "eal webhook test")])
    now = datetime.now(UTC)
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@asynccontextmanager
async def _sender(
    seconds: float = 2.0, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[WebhookSender]:
    sender = WebhookSender(
        timeout_seconds=seconds, policy=OutboundPolicy(True), ssl_context=ssl_context
    )
    try:
        yield sender
    finally:
        await sender.aclose()


async def test_https_with_a_trusted_certificate_and_sni(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path, ["localhost", "127.0.0.1"])
    holder: list[RawServer] = []
    server = RawServer(_keep_alive(OK, holder), _server_tls(cert, key))
    holder.append(server)
    trusted = ssl.create_default_context(cafile=str(cert))
    async with server.running(), _sender(ssl_context=trusted) as sender:
        for url in (f"https://127.0.0.1:{server.port}/a?b=1", f"https://localhost:{server.port}/c"):
            result = await sender.send(url, b"{}", {"X-EAL-Event": "lead.created"})
            assert (result.response_status, result.error) == (200, None), result
    assert server.heads[0].startswith(b"POST /a?b=1 HTTP/1.1\r\n")
    assert f"host: 127.0.0.1:{server.port}".encode() in server.heads[0].lower()
    assert f"host: localhost:{server.port}".encode() in server.heads[1].lower()


async def test_https_refuses_untrusted_or_mismatched_certificates(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path, ["other.example"])
    holder: list[RawServer] = []
    server = RawServer(_keep_alive(OK, holder), _server_tls(cert, key))
    holder.append(server)
    async with server.running():
        url = f"https://127.0.0.1:{server.port}/hook"
        async with _sender() as sender:  # the public CA bundle: a self-signed cert fails
            untrusted = await sender.send(url, b"{}", {})
        async with _sender(ssl_context=ssl.create_default_context(cafile=str(cert))) as sender:
            mismatched = await sender.send(url, b"{}", {})
    assert server.heads == []
    for result in (untrusted, mismatched):
        assert result.response_status is None
        assert result.error is not None and result.error.startswith("TLS error:"), result


async def test_connections_are_kept_alive_and_reopened_when_the_receiver_closes() -> None:
    holder: list[RawServer] = []
    server = RawServer(_keep_alive(OK, holder))
    holder.append(server)

    async def close_after_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, _ = await _read_request(reader)
        closing.heads.append(head)
        writer.write(OK)  # no "Connection: close": the client learns from the EOF
        await writer.drain()

    closing = RawServer(close_after_each)
    async with server.running(), closing.running(), _sender() as sender:
        for _ in range(5):
            assert (await sender.send(f"http://127.0.0.1:{server.port}/", b"{}", {})).ok
        for _ in range(3):
            result = await sender.send(f"http://127.0.0.1:{closing.port}/", b"{}", {})
            assert result.ok, result
            await asyncio.sleep(0.05)
    assert (server.connections, len(server.heads)) == (1, 5)
    assert (closing.connections, len(closing.heads)) == (3, 3)


async def test_a_connection_closed_just_before_reuse_is_retried_once() -> None:
    requests: list[bytes] = []

    async def close_without_answer(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # First connection: answer one request, then drop the second unanswered.
        head, _ = await _read_request(reader)
        requests.append(head)
        writer.write(OK)
        await writer.drain()
        if len(requests) == 1:
            await _read_request(reader)
            writer.transport.abort()
            return
        while True:
            head, _ = await _read_request(reader)
            requests.append(head)
            writer.write(OK)
            await writer.drain()

    server = RawServer(close_without_answer)
    async with server.running(), _sender() as sender:
        url = f"http://127.0.0.1:{server.port}/"
        assert (await sender.send(url, b"1", {})).ok
        second = await sender.send(url, b"2", {})
    assert second.ok, second
    assert server.connections == 2 and len(requests) == 2


@pytest.mark.parametrize(
    ("reply", "status", "error"),
    [
        (
            b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            500,
            "HTTP 500: hello world",
        ),
        (b"HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n", 301, "HTTP 301"),
        (b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 204, None),
        (b"HTTP/1.0 200 OK\r\n\r\nclose-delimited body", 200, None),
        (b"this is not http\r\n\r\n", None, "invalid HTTP response"),
    ],
)
async def test_responses_of_every_shape(
    reply: bytes, status: int | None, error: str | None
) -> None:
    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(reply)
        await writer.drain()

    server = RawServer(once)
    async with server.running(), _sender() as sender:
        result = await sender.send(f"http://127.0.0.1:{server.port}/", b"{}", {})
    assert result.response_status == status
    if error is None:
        assert result.error is None
    else:
        assert result.error is not None and result.error.startswith(error), result


async def test_a_huge_error_body_is_cut_and_its_connection_dropped() -> None:
    big = b"x" * (RESPONSE_SNIPPET_BYTES * 50)
    reply = b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n" % len(big) + big
    holder: list[RawServer] = []
    server = RawServer(_keep_alive(reply, holder))
    holder.append(server)
    async with server.running(), _sender() as sender:
        url = f"http://127.0.0.1:{server.port}/"
        first = await sender.send(url, b"{}", {})
        await sender.send(url, b"{}", {})
    assert first.response_status == 500
    assert first.error is not None and len(first.error) == ERROR_MAX_CHARS
    assert server.connections == 2


async def test_timeouts_refused_connections_and_bad_urls_are_reported() -> None:
    async def silent(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(10)

    server = RawServer(silent)
    async with server.running(), _sender(seconds=0.3) as sender:
        timed_out = await sender.send(f"http://127.0.0.1:{server.port}/", b"{}", {})
        refused = await sender.send("http://127.0.0.1:9/", b"{}", {})
        bad = await sender.send("mailto:someone@example.com", b"{}", {})
    assert timed_out.error == "timed out after 0.3s" and 250 <= timed_out.latency_ms < 1000
    assert refused.error is not None and refused.error.startswith("connection failed")
    assert bad.error is not None and bad.error.startswith("invalid webhook URL")


async def test_private_targets_are_refused_at_connect_time() -> None:
    sender = WebhookSender(timeout_seconds=2, policy=OutboundPolicy(False))
    try:
        for url in (
            "https://127.0.0.1:9/",
            "https://localhost/",
            "https://[::1]/",
            "https://10.0.0.1/",
        ):
            result = await sender.send(url, b"{}", {})
            assert result.error is not None and result.error.startswith("refused:"), result
    finally:
        await sender.aclose()


@pytest.mark.parametrize(
    ("url", "tls", "host", "port", "host_header", "path"),
    [
        ("https://example.com/hook", True, "example.com", 443, "example.com", "/hook"),
        ("https://example.com", True, "example.com", 443, "example.com", "/"),
        (
            "http://example.com:8080/a?b=c&d=e",
            False,
            "example.com",
            8080,
            "example.com:8080",
            "/a?b=c&d=e",
        ),
        ("https://[2606:4700::1]:8443/x", True, "2606:4700::1", 8443, "[2606:4700::1]:8443", "/x"),
        (
            "https://bücher.example/ü",
            True,
            "xn--bcher-kva.example",
            443,
            "xn--bcher-kva.example",
            "/%C3%BC",
        ),
        (
            "HTTPS://Example.COM/Path%20Kept",
            True,
            "example.com",
            443,
            "example.com",
            "/Path%20Kept",
        ),
    ],
)
def test_parse_target(
    url: str, tls: bool, host: str, port: int, host_header: str, path: str
) -> None:
    target = parse_target(url)
    assert (target.tls, target.host, target.port, target.host_header, target.path) == (
        tls,
        host,
        port,
        host_header,
        path,
    )
