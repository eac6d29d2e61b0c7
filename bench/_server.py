"""Shared pieces of the benchmark scripts: a scratch database and a real server process."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def scratch_database(server_url: str = DEFAULT_SERVER) -> Iterator[str]:
    """Create a database for one benchmark run, migrate it, and drop it afterwards."""
    name = f"eal_bench_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f"CREATE DATABASE {name}"))
    url = server_url.rsplit("/", 1)[0] + "/" + name
    try:
        subprocess.run(
            [sys.executable, "-m", "eal.cli", "migrate"],
            env={**os.environ, "DATABASE_URL": url},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        yield url
    finally:
        asyncio.run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@contextmanager
def eal_server(database_url: str, **env: str) -> Iterator[tuple[str, int]]:
    """Run `eal serve --no-worker` on a free port; yields (base_url, pid)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "eal.cli", "serve", "--port", str(port), "--no-worker"],
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "EAL_RATE_LIMIT_PER_MINUTE": "100000000",
            "EAL_RATE_LIMIT_BURST": "100000000",
            "EAL_LOG_LEVEL": "WARNING",
            **env,
        },
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("eal serve did not start")
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def cli_json(database_url: str, *args: str) -> dict[str, object]:
    """Run an `eal` CLI command and parse its JSON output."""
    import json

    out = subprocess.run(
        [sys.executable, "-m", "eal.cli", *args],
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) of a list of numbers."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]
