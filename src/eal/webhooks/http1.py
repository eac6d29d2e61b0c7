"""A small HTTP/1.1 client for webhook POSTs: kept-alive connections, checked targets.

Why not httpx here: a delivery is one POST of a small body to a handful of
hosts, at hundreds per second from one process. Measured on a 2-core machine,
httpx's connection pool and its async-library detection cost about 1.4 ms of
CPU per request, several times the rest of the worker together; this client
(asyncio streams plus h11 for the protocol, the same parser httpx uses) costs
a fraction of that.

Every new connection is opened by the outbound policy
(:meth:`eal.kit.outbound.OutboundPolicy.open_connection`), which goes only to
addresses it checks at connect time, so a DNS answer that changes after
registration cannot turn a delivery inward; TLS verifies the certificate
against the URL's host name (SNI), with the same CA bundle as httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import h11
import httpx

from eal.kit.outbound import OutboundPolicy

KEEPALIVE_SECONDS = 30.0
MAX_IDLE_PER_ORIGIN = 8
_READ_SIZE = 65536
_DEFAULT_PORTS = {"https": 443, "http": 80}
# Characters left as they are when a stored URL's path is made ASCII.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~?"


class ResponseTooLarge(Exception):
    """Internal: the body passed the caller's limit (the connection is dropped)."""


class ConnectionLost(ConnectionError):
    """The connection failed before any response arrived (the request may not have
    reached the receiver)."""


@dataclass(frozen=True)
class Target:
    """A parsed webhook URL, ready for the wire."""

    tls: bool
    host: str
    """ASCII (IDNA) host name or IP address, without brackets."""
    port: int
    host_header: str
    path: str

    @property
    def origin(self) -> tuple[bool, str, int]:
        return (self.tls, self.host, self.port)


def parse_target(url: str) -> Target:
    """Split a registered webhook URL into what a request needs. Raises ValueError."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = parts.hostname
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    port = parts.port or _DEFAULT_PORTS[scheme]
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if parts.port is None else f"{shown}:{parts.port}"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme == "https", host, port, host_header, quote(path, safe=_PATH_SAFE))


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    protocol: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))
    idle_since: float = 0.0

    def usable(self, now: float) -> bool:
        # A receiver that closed an idle connection has left EOF on the reader.
        return (
            not self.writer.is_closing()
            and not self.reader.at_eof()
            and now - self.idle_since < KEEPALIVE_SECONDS
        )

    def close(self) -> None:
        self.writer.close()


class Http1Client:
    """POSTs over pooled HTTP/1.1 connections (one request per connection at a time)."""

    def __init__(
        self, policy: OutboundPolicy, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._policy = policy
        self._ssl = ssl_context or httpx.create_ssl_context(trust_env=False)
        self._idle: dict[tuple[bool, str, int], list[_Connection]] = {}
        self._targets: dict[str, Target] = {}

    def target(self, url: str) -> Target:
        """The parsed form of `url` (cached)."""
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) > 10_000:
                self._targets.clear()
            target = self._targets[url] = parse_target(url)
        return target

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], *, max_body: int
    ) -> tuple[int, bytes]:
        """POST and return (status, the first `max_body` bytes of the response body).

        Raises OSError (connection, TLS), h11.ProtocolError (malformed
        response), UnsafeUrl (refused target) or ValueError (bad URL).
        The caller bounds the time with its own timeout.
        """
        target = self.target(url)
        conn = self._take_idle(target)
        if conn is not None:
            try:
                return await self._exchange(conn, target, body, headers, max_body)
            except ConnectionLost:
                # A kept-alive connection the receiver closed just as we reused
                # it: send once more on a fresh one (receivers de-duplicate).
                pass
        conn = await self._connect(target)
        return await self._exchange(conn, target, body, headers, max_body)

    def sweep(self) -> None:
        """Close idle connections that expired or were closed by the receiver."""
        now = time.monotonic()
        for origin, conns in list(self._idle.items()):
            keep = [c for c in conns if c.usable(now)]
            for c in conns:
                if c not in keep:
                    c.close()
            if keep:
                self._idle[origin] = keep
            else:
                del self._idle[origin]

    async def aclose(self) -> None:
        """Close every idle connection."""
        conns = [c for group in self._idle.values() for c in group]
        self._idle.clear()
        for c in conns:
            c.close()
        for c in conns:
            with contextlib.suppress(Exception):
                await c.writer.wait_closed()

    def _take_idle(self, target: Target) -> _Connection | None:
        conns = self._idle.get(target.origin)
        now = time.monotonic()
        while conns:
            conn = conns.pop()
            if conn.usable(now):
                return conn
            conn.close()
        return None

    def _give_back(self, target: Target, conn: _Connection) -> None:
        conns = self._idle.setdefault(target.origin, [])
        if len(conns) >= MAX_IDLE_PER_ORIGIN:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        conns.append(conn)

    async def _connect(self, target: Target) -> _Connection:
        reader, writer = await self._policy.open_connection(
            target.host, target.port, ssl=self._ssl if target.tls else None
        )
        return _Connection(reader, writer)

    async def _exchange(
        self,
        conn: _Connection,
        target: Target,
        body: bytes,
        headers: dict[str, str],
        max_body: int,
    ) -> tuple[int, bytes]:
        protocol = conn.protocol
        request = h11.Request(
            method="POST",
            target=target.path,
            headers=[
                ("Host", target.host_header),
                ("Content-Length", str(len(body))),
                *headers.items(),
            ],
        )
        status: int | None = None
        collected = bytearray()
        try:
            conn.writer.write(
                protocol.send(request)
                + (protocol.send(h11.Data(data=body)) or b"")
                + (protocol.send(h11.EndOfMessage()) or b"")
            )
            await conn.writer.drain()
            while True:
                event = protocol.next_event()
                if event is h11.NEED_DATA:
                    data = await conn.reader.read(_READ_SIZE)
                    if not data and status is None:
                        raise ConnectionLost("the receiver closed the connection without answering")
                    protocol.receive_data(data)
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    collected.extend(event.data)
                    if len(collected) > max_body:
                        raise ResponseTooLarge
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise ConnectionResetError("the receiver closed the connection")
                # InformationalResponse (1xx) is skipped: the final answer follows.
        except ResponseTooLarge:
            conn.close()
            assert status is not None
            return status, bytes(collected[:max_body])
        except ConnectionLost:
            conn.close()
            raise
        except ConnectionError as exc:
            conn.close()
            if status is None:
                raise ConnectionLost(str(exc) or type(exc).__name__) from exc
            raise
        except BaseException:
            conn.close()
            raise
        assert status is not None
        if protocol.our_state is h11.DONE and protocol.their_state is h11.DONE:
            protocol.start_next_cycle()
            self._give_back(target, conn)
        else:
            conn.close()
        return status, bytes(collected)
