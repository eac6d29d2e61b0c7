"""Idle memory: the RSS of `eal serve` (with its in-process worker) and of `eal worker`.

In a scratch database on the local PostgreSQL server, starts the real
commands as a user runs them and prints each process's resident set size
once it is idle (target: under 120 MB each):

- `eal serve` (worker in-process, the default), once /api/v1/health
  answers and a few requests were served (health, the organization, a lead
  created and scored, the lead list, the audit log);
- `eal worker`, once it holds a connection to PostgreSQL.

Then RSS is sampled every 0.25 s until it held still (within 1 MB) for the
settle period; the figure is the last sample, with the peak beside it. USS
(the memory only this process holds, without the shared library pages that
RSS counts too) is printed as well.

    python bench/memory_bench.py [--requests 20] [--settle 3] [--target-mb 120]
        [--server postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import DEFAULT_SERVER, free_port, scratch_database

MB = 2**20
SAMPLE_EVERY = 0.25
START_TIMEOUT = 60.0
LEAD: dict[str, object] = {
    "name": "Dana Whitfield",
    "email": "dana.whitfield@example.com",
    "phone": "+15125550143",
    "source": "website",
    "postal_code": "78756",
    "message": "Basement flooding after the storm; about three inches of standing water.",
}


def _eal_command() -> list[str]:
    """The `eal` console script next to this interpreter, as a user runs it."""
    script = Path(sys.executable).with_name("eal")
    return [str(script)] if script.exists() else [sys.executable, "-m", "eal.cli"]


@contextmanager
def _process(args: list[str], env: dict[str, str], stdout: Path) -> Iterator[psutil.Popen]:
    """Run `eal <args>`; terminate it (and wait) on the way out."""
    with stdout.open("wb") as out:
        proc = psutil.Popen([*_eal_command(), *args], env=env, stdout=out)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _env(database_url: str, data_dir: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "EAL_DATA_DIR": data_dir,
        "EAL_LOG_LEVEL": "WARNING",
        "EAL_RATE_LIMIT_PER_MINUTE": "100000",
        "EAL_RATE_LIMIT_BURST": "100000",
    }


def _settle(proc: psutil.Popen, seconds: float) -> tuple[int, int, int]:
    """Sample RSS until it held still for `seconds`; (rss, peak, uss).

    The period starts again whenever RSS moved by more than 1 MB since it
    began, up to START_TIMEOUT in all.
    """
    deadline = time.monotonic() + START_TIMEOUT
    peak = 0
    while True:
        first = proc.memory_info().rss
        period_end = time.monotonic() + seconds
        moved = False
        while time.monotonic() < period_end:
            time.sleep(SAMPLE_EVERY)
            if proc.poll() is not None:
                raise RuntimeError(f"the process exited with status {proc.returncode}")
            rss = proc.memory_info().rss
            peak = max(peak, rss)
            moved = moved or abs(rss - first) > MB
        if not moved or time.monotonic() > deadline:
            break
    info = proc.memory_full_info()
    return info.rss, max(peak, info.rss), info.uss


def _wait_for_health(proc: psutil.Popen, base: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"eal serve exited with status {proc.returncode}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("eal serve did not answer /api/v1/health")


def _admin_key(stdout: Path) -> str:
    """The admin key `eal serve` prints once when it creates the first organization."""
    for line in stdout.read_text().splitlines():
        report = json.loads(line)
        if "api_key" in report:
            key: str = report["api_key"]["key"]
            return key
    raise RuntimeError("eal serve printed no admin key (was the database not empty?)")


def _use(base: str, key: str, requests: int) -> None:
    """Send `requests` requests of the usual kinds, each of which must succeed."""
    auth = {"Authorization": f"Bearer {key}"}
    calls: list[tuple[str, str, dict[str, object] | None]] = [
        ("GET", "/api/v1/health", None),
        ("GET", "/api/v1/organizations/me", None),
        ("POST", "/api/v1/leads", LEAD),
        ("GET", "/api/v1/leads", None),
        ("GET", "/api/v1/audit-log", None),
    ]
    with httpx.Client(base_url=base, headers=auth, timeout=10) as client:
        for n in range(requests):
            method, path, body = calls[n % len(calls)]
            response = client.request(method, path, json=body)
            if response.status_code >= 400:
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")


def _has_database_connection(proc: psutil.Popen, port: int) -> bool:
    return any(
        conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_ESTABLISHED
        for conn in proc.net_connections(kind="tcp")
    )


def measure_serve(url: str, requests: int, settle: float) -> tuple[int, int, int]:
    """RSS of an idle `eal serve` (in-process worker) after `requests` requests."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="eal-bench-") as data_dir:
        stdout = Path(data_dir) / "serve.out"
        env = _env(url, data_dir)
        with _process(["serve", "--port", str(port)], env, stdout) as proc:
            base = f"http://127.0.0.1:{port}"
            _wait_for_health(proc, base)
            _use(base, _admin_key(stdout), requests)
            return _settle(proc, settle)


def measure_worker(url: str, settle: float) -> tuple[int, int, int]:
    """RSS of an idle `eal worker` once connected and settled."""
    pg_port = urlsplit(url).port or 5432
    with tempfile.TemporaryDirectory(prefix="eal-bench-") as data_dir:
        stdout = Path(data_dir) / "worker.out"
        with _process(["worker"], _env(url, data_dir), stdout) as proc:
            deadline = time.monotonic() + START_TIMEOUT
            while not _has_database_connection(proc, pg_port):
                if proc.poll() is not None:
                    raise RuntimeError(f"eal worker exited with status {proc.returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeError("eal worker did not connect to PostgreSQL")
                time.sleep(0.2)
            figures = _settle(proc, settle)
            # Connected before and after: not measured mid-migration.
            if not _has_database_connection(proc, pg_port):
                raise RuntimeError("eal worker holds no connection to PostgreSQL")
            return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL")
    parser.add_argument("--requests", type=int, default=20, help="requests served before idle")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds RSS must hold still")
    parser.add_argument("--target-mb", type=float, default=120.0, help="RSS target per process")
    args = parser.parse_args()

    with scratch_database(args.server) as url:
        serve = measure_serve(url, args.requests, args.settle)
        worker = measure_worker(url, args.settle)

    target = args.target_mb * MB
    for name, (rss, peak, uss) in (("eal serve (+worker)", serve), ("eal worker", worker)):
        verdict = "PASS" if rss < target else "FAIL"
        print(
            f"{name + ' idle RSS:':<28}{rss / MB:6.1f} MB (peak {peak / MB:.1f}, "
            f"USS {uss / MB:.1f})  (target < {args.target_mb:g} MB: {verdict})"
        )
    print(f"requests served before idle: {args.requests}; settle: {args.settle:g} s")


if __name__ == "__main__":
    main()
