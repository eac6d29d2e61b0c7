"""The embedded PostgreSQL dies under load: `eal serve` starts it again, and no accepted write is lost.

And a crashed `eal serve` leaves no orphan server behind: the next one prunes
its pid from the server's handle list, and stops the server when it stops.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.cli.servers import EAL, Child, cli_env, eal_serve, process

#: Requests per second the client sends throughout.
RATE = 20
#: The service must answer requests again within this many seconds of the kill.
RECOVERY_SECONDS = 10.0
LOAD_BEFORE_KILL_SECONDS = 1.0
LOAD_AFTER_RESTART_SECONDS = 1.5


@dataclass
class Sent:
    """One POST /leads: when it left, and how it ended."""

    n: int
    sent_at: float
    status: int | None = None
    lead_id: str | None = None
    error: str | None = None


def _serve_env(data_dir: Path) -> dict[str, str]:
    # The load is one client at 20 requests per second: no rate limit may answer it.
    return cli_env(
        data_dir, None, EAL_RATE_LIMIT_PER_MINUTE="1000000", EAL_RATE_LIMIT_BURST="1000000"
    )


def _admin_key(child: Child) -> str:
    for line in child.stdout().splitlines():
        if line.strip():
            key: str = json.loads(line)["api_key"]["key"]
            return key
    raise AssertionError(f"eal serve printed no admin key: {child.stderr()}")


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().split("\n", 1)[0])


def _events(child: Child, name: str) -> list[dict[str, Any]]:
    found = []
    for line in child.stderr().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == name:
                found.append(entry)
    return found


def _server_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def _wait_gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while not _server_gone(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


class Load:
    """POST /api/v1/leads at a steady rate, each request on its own task."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.sent: list[Sent] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._running = True

    async def run(self) -> None:
        start = time.monotonic()
        while self._running:
            n = len(self.sent)
            record = Sent(n, time.monotonic())
            self.sent.append(record)
            self._tasks.append(asyncio.create_task(self._one(record)))
            await asyncio.sleep(max(0.0, start + (n + 1) / RATE - time.monotonic()))

    async def _one(self, record: Sent) -> None:
        body = {"name": f"Load Lead {record.n}", "email": f"load{record.n}@example.com"}
        try:
            response = await self.client.post("/api/v1/leads", json=body)
        except httpx.HTTPError as exc:
            record.error = repr(exc)
            return
        record.status = response.status_code
        if response.status_code == 201:
            record.lead_id = response.json()["id"]

    async def stop(self) -> None:
        self._running = False
        await asyncio.gather(*self._tasks)


async def _all_lead_ids(client: httpx.AsyncClient) -> set[str]:
    ids: set[str] = set()
    cursor: str | None = None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        page = await client.get("/api/v1/leads", params=params)
        assert page.status_code == 200, page.text
        ids |= {lead["id"] for lead in page.json()["data"]}
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return ids


async def test_a_killed_postmaster_is_restarted_and_no_accepted_write_is_lost(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with eal_serve(_serve_env(data_dir), tmp_path, timeout=90) as (base, child):
        headers = {"Authorization": f"Bearer {_admin_key(child)}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:
            load = Load(client)
            running = asyncio.create_task(load.run())
            await asyncio.sleep(LOAD_BEFORE_KILL_SECONDS)

            old_pid = _postmaster_pid(data_dir)
            os.kill(old_pid, signal.SIGKILL)
            killed_at = time.monotonic()
            while not _events(child, "embedded_database_restarted"):
                assert child.popen.poll() is None, child.stderr()
                assert time.monotonic() - killed_at < RECOVERY_SECONDS, child.stderr()
                await asyncio.sleep(0.05)
            restarted_at = time.monotonic()
            await asyncio.sleep(LOAD_AFTER_RESTART_SECONDS)
            await load.stop()
            await running

            after_kill = [s for s in load.sent if s.sent_at > killed_at]
            first_success = next(s for s in after_kill if s.status == 201)
            assert first_success.sent_at - killed_at < RECOVERY_SECONDS
            # Some requests did meet the outage, and each got the 503 envelope, nothing worse.
            failed = [s for s in load.sent if s.status != 201]
            assert failed, "the kill did not interrupt anything"
            assert {s.status for s in failed} == {503}, [(s.status, s.error) for s in failed]
            after_restart = [s for s in load.sent if s.sent_at > restarted_at]
            assert len(after_restart) >= RATE
            assert [s for s in after_restart if s.status != 201] == []

            accepted = {s.lead_id for s in load.sent if s.status == 201}
            assert accepted <= await _all_lead_ids(client), "a lead that got a 201 is gone"

        assert _postmaster_pid(data_dir) != old_pid
        (down,) = _events(child, "embedded_database_down")
        assert down["pid"] == old_pid
        (restarted,) = _events(child, "embedded_database_restarted")
        assert restarted["started_here"] is True
        assert 0 < restarted["downtime_seconds"] <= RECOVERY_SECONDS
        new_pid = _postmaster_pid(data_dir)
    assert child.popen.returncode == 0
    assert "Traceback" not in child.stderr()
    # The restarted server is stopped with the last process using it, like the first.
    assert await _wait_gone(new_pid, within=10)
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()


async def test_a_killed_serve_leaves_no_server_running_after_the_next_one_stops(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    env = _serve_env(data_dir)
    with eal_serve(env, tmp_path, timeout=90) as (_base, crashed):
        postmaster = _postmaster_pid(data_dir)
        crashed.popen.send_signal(signal.SIGKILL)
        crashed.popen.wait(10)
    assert not _server_gone(postmaster), "the server went down with the killed process"
    handles = json.loads((data_dir / "pgdata" / ".handle_pids.json").read_text())
    assert crashed.popen.pid in handles

    with eal_serve(env, tmp_path, timeout=90) as (base, second):
        assert _postmaster_pid(data_dir) == postmaster, "the running server was attached to"
        handles = json.loads((data_dir / "pgdata" / ".handle_pids.json").read_text())
        assert crashed.popen.pid not in handles
        assert second.popen.pid in handles
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            assert (await client.get("/api/v1/health")).status_code == 200
    assert second.popen.returncode == 0
    assert await _wait_gone(postmaster, within=10), "the server was left running"
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()


async def test_of_two_processes_sharing_the_server_one_restarts_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _serve_env(data_dir)
    with (
        eal_serve(env, tmp_path, timeout=90) as (base, serve),
        process([EAL, "worker"], env, tmp_path) as worker,
    ):
        deadline = time.monotonic() + 30
        while not any(line.startswith("using database") for line in worker.stderr().splitlines()):
            assert worker.popen.poll() is None, worker.stderr()
            assert time.monotonic() < deadline, "the worker did not start"
            await asyncio.sleep(0.1)
        handles = json.loads((data_dir / "pgdata" / ".handle_pids.json").read_text())
        assert {serve.popen.pid, worker.popen.pid} <= set(handles)

        old_pid = _postmaster_pid(data_dir)
        os.kill(old_pid, signal.SIGKILL)
        deadline = time.monotonic() + RECOVERY_SECONDS
        while not (
            _events(serve, "embedded_database_restarted")
            and _events(worker, "embedded_database_restarted")
        ):
            assert time.monotonic() < deadline, (serve.stderr(), worker.stderr())
            await asyncio.sleep(0.1)
        started = [
            e["started_here"]
            for child in (serve, worker)
            for e in _events(child, "embedded_database_restarted")
        ]
        assert sorted(started) == [False, True], "exactly one of them started the server"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            assert (await client.get("/api/v1/health")).status_code == 200
        new_pid = _postmaster_pid(data_dir)

        # The first to stop leaves the server to the other one.
        assert worker.stop() == 0
        assert not _server_gone(new_pid)
    assert serve.popen.returncode == 0
    assert await _wait_gone(new_pid, within=10)
    for child in (serve, worker):
        assert "Traceback" not in child.stderr()
