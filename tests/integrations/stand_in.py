"""The HTTP/1.1 server under the vendor stand-ins that answer with more than JSON.

The CallRail and speech-to-text stand-ins need raw bodies (audio), their own
headers (redirects) and the raw request (signatures, multipart), so they
share this server instead of each carrying a copy. Like the fake JobNimbus's,
it is an asyncio server (keep-alive, Content-Length bodies) on its own event
loop in a daemon thread: one thread serves any number of connections, and an
injected delay blocks nobody. A handler runs on that loop and returns a
:class:`Reply`; a handler that raises is answered with a 500 naming the bug.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Received:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    target: str = ""

    def json(self) -> Any:
        """The body parsed as JSON (ValueError if it is not JSON)."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """A response: status, raw body and extra headers (Content-Length is added)."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def json(cls, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Reply:
        """A JSON response."""
        return cls(
            status,
            json.dumps(payload).encode(),
            (("Content-Type", "application/json; charset=utf-8"), *headers),
        )


Handler = Callable[[Received], Awaitable[Reply]]


class StandInServer:
    """Minimal HTTP/1.1 server on a private event loop in a daemon thread."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._handler: Handler | None = None

    def start(self) -> int:
        """Start listening on 127.0.0.1 (an ephemeral port) and return the port."""
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)

    def serve(self, handler: Handler) -> None:
        """Answer every request with ``handler`` from now on."""
        self._handler = handler

    def stop(self) -> None:
        """Close every connection and stop the thread."""
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._on_connection, "127.0.0.1", 0, backlog=1024)
        return int(self._server.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        # Cancelling also releases requests parked in an injected delay.
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Own the task so shutdown can cancel it without asyncio logging the cancellation.
        task = self._loop.create_task(self._serve_connection(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away mid-request, e.g. after its own timeout
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        line = await reader.readline()
        if not line:
            return False
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        headers: dict[str, str] = {}
        while True:
            header_line = await reader.readline()
            if header_line in (b"\r\n", b"\n", b""):
                break
            name, _, value = header_line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if len(parts) != 3 or "chunked" in headers.get("transfer-encoding", "").lower():
            await _write(writer, Reply.json(400, {"error": "unsupported framing"}), False)
            return False
        method, target, version = parts
        length = int(headers.get("content-length") or 0)
        body = await reader.readexactly(length) if length else b""
        split = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        request = Received(method, split.path, query, headers, body, target)
        try:
            assert self._handler is not None, "no handler"
            reply = await self._handler(request)
        except Exception as exc:  # surface stand-in bugs as 500s instead of hangs
            reply = Reply.json(500, {"error": f"stand-in error: {exc!r}"})
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        await _write(writer, reply, keep_alive and method != "HEAD")
        return keep_alive


async def _write(writer: asyncio.StreamWriter, reply: Reply, keep_alive: bool) -> None:
    try:
        reason = HTTPStatus(reply.status).phrase
    except ValueError:
        reason = "Status"
    lines = [f"HTTP/1.1 {reply.status} {reason}"]
    lines += [f"{name}: {value}" for name, value in reply.headers]
    lines += [
        f"Content-Length: {len(reply.body)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply.body)
    await writer.drain()
