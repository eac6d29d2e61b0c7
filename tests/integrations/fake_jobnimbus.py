"""A small, real JobNimbus contacts and jobs API on 127.0.0.1 for tests.

It speaks the part of JobNimbus REST API v1 that eal uses:

* ``POST /api1/contacts`` creates a contact and answers it with a new ``jnid``;
  ``record_type_name``, ``status_name`` and one of first/last/display name or
  company are required, as JobNimbus requires them;
* ``GET /api1/contacts`` lists contacts, honouring ``filter`` (a JSON bool
  query whose ``must`` holds ``term``/``terms`` clauses), ``size``, ``from``,
  ``sort_field``, ``sort_direction`` and ``fields``; answers ``{"count", "results"}``;
* ``GET /api1/contacts/<jnid>`` returns one contact;
* ``POST /api1/jobs``, ``GET /api1/jobs`` and ``GET /api1/jobs/<jnid>`` do the
  same for jobs: ``name``, ``record_type_name`` and ``status_name`` are
  required, and ``primary`` (``{"id": jnid}``) and each entry of ``related``
  must name a stored contact (JobNimbus refuses links to records that do not
  exist).

Every request must carry ``Authorization: Bearer <api key>``. Tests can make
the next N requests fail with a status, delay responses, and inspect what
was received.

The server is an asyncio HTTP/1.1 server (keep-alive, Content-Length
bodies) on its own event loop in a background thread: one thread serves any
number of connections, so hundreds of concurrent clients neither exhaust the
listen backlog nor pile up threads, and injected delays block nobody. State
is guarded by one lock because tests read and steer it from their own thread.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_PREFIX = "/api1"


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the fake received it, whatever it was answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class _Failure:
    remaining: int
    status: int
    body: str


@dataclass
class _State:
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[ReceivedRequest] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    delay_seconds: float = 0.0


class FakeJobNimbus:
    """Handle on a running fake: controls and recorded traffic."""

    def __init__(self, api_key: str, port: int) -> None:
        self.api_key = api_key
        self.base_url = f"http://127.0.0.1:{port}{API_PREFIX}"
        self._lock = threading.Lock()
        self._state = _State()
        self._ids = itertools.count(1)

    # --- controls -----------------------------------------------------------

    def fail_next(self, count: int, status: int, body: str | None = None) -> None:
        """Answer the next ``count`` authorised requests with ``status`` and ``body``.

        Any status works (a 200 with a broken body, too); calls queue up in order.
        """
        text = body if body is not None else json.dumps({"message": HTTPStatus(status).phrase})
        with self._lock:
            self._state.failures.append(_Failure(count, status, text))

    def set_delay(self, seconds: float) -> None:
        """Hold every response for ``seconds`` before answering (0 turns it off)."""
        with self._lock:
            self._state.delay_seconds = seconds

    def add_contact(self, **fields: Any) -> str:
        """Store a contact directly, as if created in the JobNimbus UI; returns its jnid."""
        with self._lock:
            return self._store(dict(fields))

    def add_job(self, **fields: Any) -> str:
        """Store a job directly, as if created in the JobNimbus UI; returns its jnid."""
        with self._lock:
            return self._store_job(dict(fields))

    # --- observations -------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Requests received so far, oldest first."""
        with self._lock:
            return list(self._state.requests)

    @property
    def contacts(self) -> list[dict[str, Any]]:
        """Stored contacts, in creation order (copies)."""
        with self._lock:
            return [dict(contact) for contact in self._state.contacts.values()]

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """Stored jobs, in creation order (copies)."""
        with self._lock:
            return [dict(job) for job in self._state.jobs.values()]

    # --- request handling (runs on the server's event loop) ------------------

    async def handle(self, request: ReceivedRequest) -> tuple[int, Any]:
        """Return (status, JSON body) for one request; runs on the server's loop."""
        with self._lock:
            self._state.requests.append(request)
            delay = self._state.delay_seconds
        if delay:
            await asyncio.sleep(delay)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {"message": "Unauthorized"}
        with self._lock:
            failure = self._take_failure()
            if failure is not None:
                return failure.status, _RawBody(failure.body)
            return self._route(request)

    def _take_failure(self) -> _Failure | None:
        failures = self._state.failures
        while failures and failures[0].remaining <= 0:
            failures.pop(0)
        if not failures:
            return None
        failures[0].remaining -= 1
        return failures[0]

    def _route(self, request: ReceivedRequest) -> tuple[int, Any]:
        path = request.path.rstrip("/")
        for kind, records in (("contacts", self._state.contacts), ("jobs", self._state.jobs)):
            if path == f"{API_PREFIX}/{kind}":
                if request.method == "POST":
                    create = self._create if kind == "contacts" else self._create_job
                    return create(request.body)
                if request.method == "GET":
                    return self._search(records, request.query)
                return 405, {"message": "Method Not Allowed"}
            prefix = f"{API_PREFIX}/{kind}/"
            if request.method == "GET" and path.startswith(prefix):
                record = records.get(path[len(prefix) :])
                if record is None:
                    return 404, {"message": "Not Found"}
                return 200, dict(record)
        return 404, {"message": "Not Found"}

    def _create(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 400, {"message": "body must be a JSON object"}
        for required in ("record_type_name", "status_name"):
            if not body.get(required):
                return 400, {"message": f"{required} is required"}
        names = ("first_name", "last_name", "display_name", "company")
        if not any(body.get(name) for name in names):
            return 400, {"message": "a name or company is required"}
        jnid = self._store(dict(body))
        return 200, dict(self._state.contacts[jnid])

    def _create_job(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 400, {"message": "body must be a JSON object"}
        for required in ("name", "record_type_name", "status_name"):
            if not body.get(required):
                return 400, {"message": f"{required} is required"}
        links: list[Any] = []
        if "primary" in body:
            links.append(body["primary"])
        related = body.get("related", [])
        if not isinstance(related, list):
            return 400, {"message": "related must be a list"}
        links.extend(related)
        for link in links:
            if not isinstance(link, dict) or link.get("id") not in self._state.contacts:
                return 400, {"message": f"related record {link!r} does not exist"}
        jnid = self._store_job(dict(body))
        return 200, dict(self._state.jobs[jnid])

    def _stamp(self, record: dict[str, Any], kind: str) -> str:
        number = next(self._ids)
        jnid = f"jn{number:06d}"
        now = time.time()
        record.update(
            jnid=jnid,
            recid=number,
            type=kind,
            # Sub-second resolution keeps creation order stable for sorting.
            date_created=now,
            date_updated=now,
            is_active=True,
        )
        return jnid

    def _store(self, record: dict[str, Any]) -> str:
        jnid = self._stamp(record, "contact")
        if not record.get("display_name"):
            names = [record.get("first_name"), record.get("last_name")]
            record["display_name"] = " ".join(n for n in names if n) or record.get("company")
        self._state.contacts[jnid] = record
        return jnid

    def _store_job(self, record: dict[str, Any]) -> str:
        jnid = self._stamp(record, "job")
        self._state.jobs[jnid] = record
        return jnid

    def _search(self, records: dict[str, dict[str, Any]], query: dict[str, str]) -> tuple[int, Any]:
        try:
            matches = _matching(records.values(), query.get("filter"))
            size = int(query.get("size", "1000"))
            start = int(query.get("from", "0"))
        except ValueError as exc:
            return 400, {"message": str(exc)}
        sort_field = query.get("sort_field", "date_created")
        try:
            matches.sort(
                key=lambda c: (c.get(sort_field) is None, c.get(sort_field)),
                reverse=query.get("sort_direction", "desc") == "desc",
            )
        except TypeError:
            return 400, {"message": f"cannot sort on {sort_field}"}
        page = matches[start : start + size]
        if query.get("fields"):
            wanted = {name.strip() for name in query["fields"].split(",")} | {"jnid"}
            page = [{k: v for k, v in c.items() if k in wanted} for c in page]
        else:
            page = [dict(c) for c in page]
        return 200, {"count": len(matches), "results": page}


class _RawBody(str):
    """A response body sent verbatim rather than JSON-encoded."""


def _matching(records: Any, raw_filter: str | None) -> list[dict[str, Any]]:
    """Records satisfying a JobNimbus filter; raises ValueError for unsupported filters."""
    if raw_filter is None:
        return list(records)
    try:
        parsed = json.loads(raw_filter)
    except json.JSONDecodeError as exc:
        raise ValueError(f"filter is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict) or set(parsed) - {"must"}:
        raise ValueError("fake supports only {'must': [...]} filters")
    clauses = parsed.get("must", [])
    if not isinstance(clauses, list):
        raise ValueError("'must' must be a list")
    return [r for r in records if all(_clause_matches(r, clause) for clause in clauses)]


def _clause_matches(contact: dict[str, Any], clause: Any) -> bool:
    if not isinstance(clause, dict) or len(clause) != 1:
        raise ValueError(f"unsupported filter clause: {clause!r}")
    ((kind, spec),) = clause.items()
    if kind not in ("term", "terms") or not isinstance(spec, dict) or len(spec) != 1:
        raise ValueError(f"unsupported filter clause: {clause!r}")
    ((field_name, wanted),) = spec.items()
    accepted = wanted if kind == "terms" else [wanted]
    if not isinstance(accepted, list):
        raise ValueError("'terms' needs a list of values")
    value = contact.get(field_name)
    # Elasticsearch term queries match any element of an array field.
    values = value if isinstance(value, list) else [value]
    return any(v == a for v in values for a in accepted if v is not None)


class _HttpServer:
    """Minimal HTTP/1.1 server on a private event loop in a daemon thread."""

    def __init__(self, fake_factory: Callable[[int], FakeJobNimbus]) -> None:
        self._fake_factory = fake_factory
        self._fake: FakeJobNimbus | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-jobnimbus", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    def start(self) -> FakeJobNimbus:
        self._thread.start()
        port = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        self._fake = self._fake_factory(port)
        return self._fake

    def stop(self) -> None:
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
        # Own the task (rather than letting start_server wrap a coroutine) so
        # shutdown can cancel it without asyncio logging the cancellation.
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
        """Serve one request; return whether the connection stays open."""
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
            await _respond(writer, 400, {"message": "unsupported request framing"}, False)
            return False
        method, target, version = parts
        length = int(headers.get("content-length") or 0)
        raw = await reader.readexactly(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        split = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        request = ReceivedRequest(method, split.path, query, headers, body)
        assert self._fake is not None
        try:
            status, payload = await self._fake.handle(request)
        except Exception as exc:  # surface fake bugs as 500s instead of hangs
            status, payload = 500, {"message": f"fake error: {exc!r}"}
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        await _respond(writer, status, payload, keep_alive)
        return keep_alive


async def _respond(
    writer: asyncio.StreamWriter, status: int, payload: Any, keep_alive: bool
) -> None:
    data = str(payload).encode() if isinstance(payload, _RawBody) else json.dumps(payload).encode()
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Status"
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    writer.write(head.encode("latin-1") + data)
    await writer.drain()


@contextmanager
def run_fake_jobnimbus(api_key: str) -> Iterator[FakeJobNimbus]:
    """Run a fake JobNimbus on 127.0.0.1 (ephemeral port) for the duration of the block."""
    server = _HttpServer(lambda port: FakeJobNimbus(api_key, port))
    fake = server.start()
    try:
        yield fake
    finally:
        server.stop()
