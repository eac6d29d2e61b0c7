"""Running the real API in a thread or a child process, and running `eal` commands.

Shared by the CLI, audit export, rate-limit and database-outage tests.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy.engine import URL

ROOT = Path(__file__).resolve().parents[2]
EAL = str(Path(sys.executable).parent / "eal")
UVICORN = str(Path(sys.executable).parent / "uvicorn")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def plain_url(url: URL) -> str:
    """A DATABASE_URL as an operator would write it (plain postgresql://)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def cli_env(data_dir: Path, database_url: URL | None, **extra: str) -> dict[str, str]:
    """Environment for a child `eal` process: only what it needs, nothing inherited by accident."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EAL_", "DATABASE_", "REDIS_"))}
    env.update(
        EAL_DATA_DIR=str(data_dir), EAL_SECRET_KEY="cli-test-secret", EAL_LOG_LEVEL="WARNING"
    )
    if database_url is not None:
        env["DATABASE_URL"] = plain_url(database_url)
    env.update(extra)
    return env


def run_eal(
    args: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run one `eal` command to completion."""
    return subprocess.run(
        [EAL, *args], env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def run_eal_json(args: list[str], env: Mapping[str, str], cwd: Path) -> dict[str, Any]:
    """Run an `eal` command that must succeed and print exactly one JSON object."""
    result = run_eal(args, env, cwd)
    assert result.returncode == 0, f"eal {args} failed: {result.stderr}"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON line, got: {result.stdout!r}"
    obj = json.loads(lines[0])
    assert isinstance(obj, dict)
    return obj


@dataclass
class Child:
    """A long-running child process whose stdout/stderr go to files (no pipe can fill up)."""

    popen: subprocess.Popen[bytes]
    out_path: Path
    err_path: Path

    def stdout(self) -> str:
        """Everything the process printed on stdout so far."""
        return self.out_path.read_text()

    def stderr(self) -> str:
        """Everything the process printed on stderr so far."""
        return self.err_path.read_text()

    def stop(self, timeout: float = 15) -> int:
        """Terminate (SIGTERM, then SIGKILL after `timeout`) and return the exit code."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


@contextmanager
def process(args: list[str], env: Mapping[str, str], cwd: Path) -> Iterator[Child]:
    """Run `args` in the background; it is stopped when the block ends."""
    logs = Path(tempfile.mkdtemp(prefix="eal-child-", dir=cwd))
    out_path, err_path = logs / "stdout", logs / "stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        popen = subprocess.Popen(args, env=dict(env), cwd=cwd, stdout=out, stderr=err)
    child = Child(popen, out_path, err_path)
    try:
        yield child
    finally:
        child.stop()


def wait_healthy(
    base_url: str, child: Child | None, timeout: float, accept: tuple[int, ...] = (200,)
) -> None:
    """Poll GET /api/v1/health until it answers `accept` (fails fast if the process died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.popen.poll() is not None:
            raise AssertionError(
                f"server exited with {child.popen.returncode}:\n{child.stdout()}\n{child.stderr()}"
            )
        try:
            if httpx.get(f"{base_url}/api/v1/health", timeout=1).status_code in accept:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base_url} did not become healthy in {timeout}s")


@contextmanager
def eal_serve(
    env: Mapping[str, str], cwd: Path, timeout: float = 60
) -> Iterator[tuple[str, Child]]:
    """`eal serve` on a free port, healthy; yields (base URL, child)."""
    port = free_port()
    with process([EAL, "serve", "--port", str(port)], env, cwd) as child:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, child, timeout)
        yield base, child


@contextmanager
def uvicorn_process(
    env: Mapping[str, str], cwd: Path, accept: tuple[int, ...] = (200,)
) -> Iterator[str]:
    """The API app (settings from `env`) served by uvicorn in a child process; yields its URL.

    `accept`: health statuses that count as up (a shared rate limit may answer 429).
    """
    port = free_port()
    args = [UVICORN, "eal.app:create_app", "--factory", "--host", "127.0.0.1"]
    with process([*args, "--port", str(port), "--log-level", "warning"], env, cwd) as child:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, child, timeout=30, accept=accept)
        yield base


@contextmanager
def threaded_server(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a thread of this process; yields its URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=20)
