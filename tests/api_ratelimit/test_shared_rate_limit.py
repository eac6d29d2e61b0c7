"""With REDIS_URL set, every API process spends from one bucket per key."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import URL

from tests.cli.servers import cli_env, uvicorn_process
from tests.factories import Factory

BURST = 20


@pytest.mark.redis
async def test_two_processes_share_one_budget(
    factory: Factory, database_url: URL, tmp_path: Path, redis_url: str
) -> None:
    tenant = await factory.tenant("Shared Budget Co")
    env = cli_env(
        tmp_path,
        database_url,
        REDIS_URL=redis_url,
        EAL_RATE_LIMIT_BURST=str(BURST),
        EAL_RATE_LIMIT_PER_MINUTE="1",
    )
    with ExitStack() as stack:
        # The anonymous health probe spends from a shared address bucket: 429 also means "up".
        bases = [
            stack.enter_context(uvicorn_process(env, tmp_path, accept=(200, 429))) for _ in "ab"
        ]
        async with httpx.AsyncClient(timeout=30) as http:

            async def call(base: str) -> httpx.Response:
                return await http.get(f"{base}/api/v1/organizations/me", headers=tenant.headers)

            responses = await asyncio.gather(*(call(bases[i % 2]) for i in range(2 * BURST + 20)))

    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(ok) == BURST
    assert len(refused) == len(responses) - BURST
    # Each token of the one shared bucket was spent exactly once.
    assert sorted(int(r.headers["X-RateLimit-Remaining"]) for r in ok) == list(range(BURST))
    assert all(r.json()["error"]["code"] == "rate_limited" for r in refused)
    assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)
