"""Token-bucket rate limiting, in process and through the local Redis server."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from structlog.testing import capture_logs

from eal.kit.ratelimit import (
    InMemoryRateLimiter,
    RateLimitDecision,
    RateLimiter,
    RedisRateLimiter,
    make_rate_limiter,
)


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def free_port() -> int:
    """A TCP port nothing listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of its own for each test; its keys are deleted afterwards."""
    value = f"eal:test:rl:{uuid.uuid4().hex}:"
    yield value
    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=value + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def private_redis(port: int) -> AsyncIterator[Redis]:
    """Run a throwaway redis-server, for tests that disturb server-wide state."""
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server must be installed"
    proc = await asyncio.create_subprocess_exec(
        binary,
        *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    client = Redis.from_url(f"redis://127.0.0.1:{port}/0")
    try:
        for _ in range(100):
            with contextlib.suppress(RedisError, OSError):
                if await client.ping():
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("redis-server did not start")
        yield client
    finally:
        await client.aclose()
        proc.terminate()
        await proc.wait()


async def hit_many(limiter: RateLimiter, key: str, count: int) -> list[RateLimitDecision]:
    return [await limiter.hit(key) for _ in range(count)]


# In-process limiter --------------------------------------------------------


async def test_burst_allows_exactly_burst_then_denies() -> None:
    limiter = InMemoryRateLimiter(per_minute=60, burst=5, clock=FakeClock())
    decisions = await hit_many(limiter, "key-1", 6)
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    assert [d.retry_after for d in decisions[:5]] == [0.0] * 5
    assert decisions[5].retry_after == pytest.approx(1.0)
    assert all(d.limit == 5 for d in decisions)


async def test_keys_have_separate_buckets() -> None:
    limiter = InMemoryRateLimiter(per_minute=60, burst=2, clock=FakeClock())
    await hit_many(limiter, "a", 2)
    assert not (await limiter.hit("a")).allowed
    assert (await limiter.hit("b")).allowed


async def test_refills_at_the_sustained_rate_and_never_beyond_burst() -> None:
    clock = FakeClock()
    limiter = InMemoryRateLimiter(per_minute=60, burst=3, clock=clock)
    await hit_many(limiter, "k", 3)
    clock.advance(0.5)
    half = await limiter.hit("k")
    assert not half.allowed
    assert half.retry_after == pytest.approx(0.5)
    clock.advance(0.5)
    assert (await limiter.hit("k")).allowed
    assert not (await limiter.hit("k")).allowed
    # A long pause fills the bucket to the burst, not beyond it.
    clock.advance(3600)
    after_pause = await hit_many(limiter, "k", 4)
    assert [d.allowed for d in after_pause] == [True, True, True, False]
    assert after_pause[0].remaining == 2
    assert after_pause[0].reset_after == pytest.approx(1.0)


async def test_sustained_rate_is_respected_over_a_minute() -> None:
    clock = FakeClock()
    limiter = InMemoryRateLimiter(per_minute=30, burst=10, clock=clock)
    allowed = 0
    # One request every 100 ms for 60 s: the burst, then 30 a minute.
    for _ in range(600):
        allowed += (await limiter.hit("k")).allowed
        clock.advance(0.1)
    assert allowed == 39  # 10 at once, then 29.95 tokens refilled in 59.9 s


async def test_concurrent_hits_never_exceed_burst() -> None:
    limiter = InMemoryRateLimiter(per_minute=60, burst=120, clock=FakeClock())
    decisions = await asyncio.gather(*(limiter.hit("shared") for _ in range(500)))
    allowed = [d for d in decisions if d.allowed]
    assert len(allowed) == 120
    # Every token was handed out once: the remaining counts are all distinct.
    assert sorted(d.remaining for d in allowed) == list(range(120))


async def test_concurrent_hits_with_the_real_clock_never_exceed_burst() -> None:
    limiter = InMemoryRateLimiter(per_minute=1, burst=120)
    decisions = await asyncio.gather(*(limiter.hit("shared") for _ in range(500)))
    assert sum(d.allowed for d in decisions) == 120


async def test_full_buckets_are_evicted_and_busy_ones_kept() -> None:
    clock = FakeClock()
    limiter = InMemoryRateLimiter(per_minute=60, burst=10, clock=clock)  # full in 10 s
    await limiter.hit("idle")
    await hit_many(limiter, "busy", 10)
    assert limiter.bucket_count == 2
    clock.advance(5)
    await limiter.hit("other")  # not yet time to sweep
    assert limiter.bucket_count == 3
    clock.advance(5.5)
    await limiter.hit("trigger")
    # All three have refilled by now (even "busy", emptied 10.5 s ago at 1 token/s).
    assert limiter.bucket_count == 1
    clock.advance(3)
    await hit_many(limiter, "busy", 10)
    clock.advance(7.5)
    await limiter.hit("trigger")
    # The sweep drops the full "trigger" bucket (recreated at once) but keeps "busy",
    # which is only 7.5 tokens back: a fresh bucket would say 9 remaining, not 6.
    assert limiter.bucket_count == 2
    assert (await limiter.hit("busy")).remaining == 6


async def test_many_idle_keys_do_not_accumulate() -> None:
    clock = FakeClock()
    limiter = InMemoryRateLimiter(per_minute=60, burst=2, clock=clock)  # full in 2 s
    for round_ in range(50):
        for n in range(100):
            await limiter.hit(f"key-{round_}-{n}")
        clock.advance(1)
    assert limiter.bucket_count <= 300
    await limiter.close()
    assert limiter.bucket_count == 0


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 10), (10, 0), (-1, 5)])
def test_rejects_impossible_settings(per_minute: int, burst: int) -> None:
    with pytest.raises(ValueError):
        InMemoryRateLimiter(per_minute, burst)


# Headers -------------------------------------------------------------------


async def test_headers_of_an_allowed_request() -> None:
    limiter = InMemoryRateLimiter(per_minute=60, burst=120, clock=FakeClock())
    decision = await limiter.hit("k")
    assert decision.headers() == {
        "X-RateLimit-Limit": "120",
        "X-RateLimit-Remaining": "119",
        "X-RateLimit-Reset": "1",
        "RateLimit-Policy": '"default";q=120;w=120',
        "RateLimit": '"default";r=119;t=1',
    }


async def test_headers_of_a_refused_request_carry_retry_after() -> None:
    limiter = InMemoryRateLimiter(per_minute=60, burst=120, clock=FakeClock())
    await hit_many(limiter, "k", 120)
    decision = await limiter.hit("k")
    assert not decision.allowed
    assert decision.headers() == {
        "X-RateLimit-Limit": "120",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "120",
        "RateLimit-Policy": '"default";q=120;w=120',
        "RateLimit": '"default";r=0;t=1',
        "Retry-After": "1",
    }


async def test_headers_round_fractions_up() -> None:
    clock = FakeClock()
    limiter = InMemoryRateLimiter(per_minute=30, burst=10, clock=clock)  # 0.5 token/s
    await hit_many(limiter, "k", 10)
    clock.advance(0.5)  # 0.25 token
    decision = await limiter.hit("k")
    assert decision.retry_after == pytest.approx(1.5)
    assert decision.reset_after == pytest.approx(19.5)
    headers = decision.headers()
    assert headers["Retry-After"] == "2"
    assert headers["X-RateLimit-Reset"] == "20"
    assert headers["RateLimit"] == '"default";r=0;t=2'
    assert headers["RateLimit-Policy"] == '"default";q=10;w=20'


def test_retry_after_is_at_least_one_second_and_ignores_float_noise() -> None:
    soon = RateLimitDecision(
        allowed=False, limit=5, remaining=0, reset_after=2.0000000001, retry_after=0.001
    )
    assert soon.headers()["Retry-After"] == "1"
    assert soon.headers()["X-RateLimit-Reset"] == "2"
    allowed = RateLimitDecision(
        allowed=True, limit=5, remaining=3, reset_after=1.5, retry_after=0.0
    )
    assert "Retry-After" not in allowed.headers()


# Redis limiter -------------------------------------------------------------


@pytest.mark.redis
async def test_redis_burst_allows_exactly_burst_then_denies(prefix: str, redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, per_minute=1, burst=5, prefix=prefix)
    try:
        decisions = await hit_many(limiter, "k", 7)
    finally:
        await limiter.close()
    assert [d.allowed for d in decisions] == [True] * 5 + [False, False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0, 0]
    refused = decisions[-1]
    assert 59 < refused.retry_after <= 60  # one token a minute
    assert refused.headers()["Retry-After"] == "60"
    assert refused.headers()["RateLimit-Policy"] == '"default";q=5;w=300'


@pytest.mark.redis
async def test_redis_refills_from_the_server_clock(prefix: str, redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, per_minute=600, burst=3, prefix=prefix)  # 10/s
    try:
        await hit_many(limiter, "k", 3)
        refused = await limiter.hit("k")
        assert not refused.allowed
        assert 0 < refused.retry_after <= 0.1
        await asyncio.sleep(refused.retry_after + 0.05)
        assert (await limiter.hit("k")).allowed
    finally:
        await limiter.close()


@pytest.mark.redis
async def test_redis_bucket_expires_when_it_would_be_full(prefix: str, redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, per_minute=60, burst=5, prefix=prefix)
    client = Redis.from_url(redis_url)
    try:
        await limiter.hit("k")
        assert 900 < await client.pttl(prefix + "k") <= 1001  # one token short: 1 s
        await hit_many(limiter, "k", 4)
        assert 4900 < await client.pttl(prefix + "k") <= 5001  # empty: 5 s
    finally:
        await client.aclose()
        await limiter.close()


@pytest.mark.redis
async def test_redis_concurrent_clients_share_exactly_one_burst(
    prefix: str, redis_url: str
) -> None:
    limiters = [
        # A generous timeout: on a busy CI machine a pool wait can pass 0.5 s, and a
        # timed-out hit falls back to a per-process bucket, which this test must not see.
        RedisRateLimiter(redis_url, per_minute=1, burst=120, prefix=prefix, timeout=5.0)
        for _ in range(5)
    ]
    try:
        decisions = await asyncio.gather(
            *(limiter.hit("shared") for limiter in limiters for _ in range(100))
        )
    finally:
        await asyncio.gather(*(limiter.close() for limiter in limiters))
    allowed = [d for d in decisions if d.allowed]
    assert len(allowed) == 120
    assert sorted(d.remaining for d in allowed) == list(range(120))


_WORKER = """
import asyncio, sys, time
from eal.kit.ratelimit import RedisRateLimiter

async def main(url, prefix, burst, start_at):
    limiter = RedisRateLimiter(url, per_minute=1, burst=burst, prefix=prefix)
    try:
        await limiter.hit("warm-up")  # connect and load the script before the start line
        await asyncio.sleep(max(0.0, start_at - time.time()))
        decisions = await asyncio.gather(*(limiter.hit("shared") for _ in range(burst)))
    finally:
        await limiter.close()
    print(sum(d.allowed for d in decisions))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
"""


@pytest.mark.redis
async def test_two_processes_share_one_budget(prefix: str, redis_url: str) -> None:
    burst = 100
    start_at = str(time.time() + 3.0)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            *("-c", _WORKER, redis_url, prefix, str(burst), start_at),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 60)
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
    counts = [int(out) for out, _ in outputs]
    # Each process alone would have been allowed the whole burst.
    assert sum(counts) == burst, counts


@pytest.mark.redis
async def test_redis_reloads_the_script_when_the_server_lost_it() -> None:
    port = free_port()
    async with private_redis(port) as server:
        limiter = RedisRateLimiter(f"redis://127.0.0.1:{port}/0", per_minute=1, burst=10)
        try:
            first = await limiter.hit("k")
            await server.script_flush()
            second = await limiter.hit("k")
        finally:
            await limiter.close()
        # The second hit went through Redis (not the fallback) and saw the first.
        assert (first.remaining, second.remaining) == (9, 8)
        stored = await server.hget("eal:rl:k", "tokens")
        assert stored is not None
        assert float(stored) == pytest.approx(8, abs=0.01)


@pytest.mark.redis
async def test_redis_unreachable_fails_open_and_warns_once(prefix: str) -> None:
    clock = FakeClock()
    url = f"redis://127.0.0.1:{free_port()}/0"
    limiter = RedisRateLimiter(url, per_minute=60, burst=3, prefix=prefix, clock=clock)
    try:
        with capture_logs() as logs:
            decisions = await hit_many(limiter, "k", 3)
            assert all(d.allowed for d in decisions)
            assert [d.remaining for d in decisions] == [2, 1, 0]
            # The per-process fallback still stops a flood.
            assert not (await limiter.hit("k")).allowed
            clock.advance(2)  # Redis is tried again (and fails) but not reported again.
            assert (await limiter.hit("k")).allowed
            warnings = [e for e in logs if e["log_level"] == "warning"]
            assert len(warnings) == 1
            assert warnings[0]["event"] == "rate_limiter.redis_unavailable"
            clock.advance(30)
            assert (await limiter.hit("k")).allowed
            assert len([e for e in logs if e["log_level"] == "warning"]) == 2
    finally:
        await limiter.close()


@pytest.mark.redis
async def test_redis_limiter_goes_back_to_redis_when_it_returns() -> None:
    clock = FakeClock()
    port = free_port()
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{port}/0", per_minute=1, burst=5, clock=clock)
    try:
        with capture_logs() as logs:
            assert (await limiter.hit("k")).allowed  # Redis down: fallback
            async with private_redis(port) as server:
                assert (await limiter.hit("k")).remaining == 3  # still backing off
                assert await server.exists("eal:rl:k") == 0
                clock.advance(1.5)
                assert (await limiter.hit("k")).remaining == 4  # a fresh Redis bucket
                assert await server.exists("eal:rl:k") == 1
        assert [e["event"] for e in logs] == [
            "rate_limiter.redis_unavailable",
            "rate_limiter.redis_recovered",
        ]
    finally:
        await limiter.close()


# Factory -------------------------------------------------------------------


@pytest.mark.redis
async def test_make_rate_limiter_picks_the_backend(redis_url: str) -> None:
    in_memory = make_rate_limiter(redis_url=None, per_minute=60, burst=120)
    shared = make_rate_limiter(redis_url=redis_url, per_minute=60, burst=120)
    try:
        assert isinstance(in_memory, InMemoryRateLimiter)
        assert isinstance(shared, RedisRateLimiter)
        key = f"eal:test:{uuid.uuid4().hex}"
        assert (await shared.hit(key)).limit == 120
    finally:
        await in_memory.close()
        await shared.close()
    client = Redis.from_url(redis_url)
    try:
        assert await client.delete("eal:rl:" + key) == 1  # the default prefix
    finally:
        await client.aclose()
