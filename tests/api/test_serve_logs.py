"""A real `eal serve`: every stderr line is one JSON object, uvicorn's own lines included,
with one access line per request (and none with EAL_ACCESS_LOG=0)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
from sqlalchemy.engine import URL

from tests.cli.servers import Child, cli_env, eal_serve


def _lines(child: Child) -> list[dict]:
    lines = []
    for raw in child.stderr().splitlines():
        # The CLI's own one-line notice of which database it uses, printed before logging starts.
        if raw.strip() and not raw.startswith("using database "):
            obj = json.loads(raw)  # fails on any line that is not JSON
            assert isinstance(obj, dict), raw
            assert {"event", "level", "timestamp"} <= set(obj), raw
            lines.append(obj)
    return lines


def _send_garbage(base: str) -> None:
    """Bytes that are not HTTP: uvicorn answers 400 and logs a warning of its own."""
    url = urlparse(base)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(b"NOT HTTP AT ALL\x00\r\n\r\n")
        sock.recv(1024)


def _wait_for(child: Child, event: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(event in line["event"] for line in _lines(child)):
            return
        time.sleep(0.05)
    raise AssertionError(f"no {event!r} line in:\n{child.stderr()}")


async def test_serve_writes_json_lines_with_uvicorns_and_an_access_log(
    database_url: URL, tmp_path: Path, factory
) -> None:
    t = await factory.tenant("Serve Logs Co")
    env = cli_env(tmp_path, database_url, EAL_LOG_LEVEL="INFO", EAL_LOG_FORMAT="json")
    with eal_serve(env, tmp_path) as (base, child):
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            me = await http.get(
                "/api/v1/organizations/me",
                headers={**t.headers, "X-Request-ID": "req-serve-log"},
                params={"private": "query-value-not-logged"},
            )
            assert me.status_code == 200, me.text
            lead = await http.post(
                "/api/v1/leads", json={"email": "not.logged@example.com"}, headers=t.headers
            )
            assert lead.status_code == 201, lead.text
            head = await http.head("/api/v1/health")
            assert head.status_code == 200 and head.content == b""
            assert int(head.headers["content-length"]) > 0
            assert (await http.get("/nowhere")).status_code == 404
        _send_garbage(base)
        _wait_for(child, "Invalid HTTP request")
    assert child.popen.returncode == 0
    lines = _lines(child)
    uvicorn = [line for line in lines if line.get("logger", "").startswith("uvicorn")]
    events = " | ".join(line["event"] for line in uvicorn)
    for expected in (
        "Started server process",
        "Application startup complete",
        "Uvicorn running on",
    ):
        assert expected in events, events
    assert "Finished server process" in events, "shutdown is logged too"
    [warning] = [line for line in uvicorn if "Invalid HTTP request" in line["event"]]
    assert warning["level"] == "warning" and warning["logger"] == "uvicorn.error"

    access = [line for line in lines if line["event"] == "request"]
    [me_line] = [line for line in access if line["request_id"] == "req-serve-log"]
    assert me_line["route"] == "/api/v1/organizations/me"
    assert me_line["status"] == 200 and me_line["organization_id"] == str(t.id)
    assert me_line["method"] == "GET" and me_line["duration_ms"] > 0
    seen = {(line["method"], line["route"], line["status"]) for line in access}
    assert {
        ("POST", "/api/v1/leads", 201),
        ("HEAD", "/api/v1/health", 200),
        ("GET", None, 404),
    } <= seen
    stderr = child.stderr()
    for secret in (t.key, "query-value-not-logged", "not.logged@example.com", "/nowhere"):
        assert secret not in stderr


def test_eal_access_log_0_turns_the_access_log_off(database_url: URL, tmp_path: Path) -> None:
    env = cli_env(
        tmp_path, database_url, EAL_LOG_LEVEL="INFO", EAL_LOG_FORMAT="json", EAL_ACCESS_LOG="0"
    )
    with eal_serve(env, tmp_path) as (base, child):
        assert httpx.get(f"{base}/api/v1/health", timeout=10).status_code == 200
        _wait_for(child, "Uvicorn running on")
    lines = _lines(child)
    assert lines, "uvicorn's lines are still there"
    assert not [line for line in lines if line["event"] == "request"]
