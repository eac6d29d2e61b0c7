"""Per-API-key rate limiting with a token bucket.

Every API key owns a bucket that holds at most ``burst`` tokens and refills
continuously at ``per_minute`` tokens per minute; each request takes one
token and is refused (HTTP 429) when less than one token is left. The
bucket starts full, so a quiet client may send ``burst`` requests at once
and then ``per_minute`` requests a minute for as long as it likes.

Two implementations share one contract, :class:`RateLimiter`:

* :class:`InMemoryRateLimiter` keeps the buckets in the process. It suits a
  single process (development, tests, a one-worker deployment).
* :class:`RedisRateLimiter` keeps them in Redis, refilling and taking a
  token in one Lua script that reads the Redis server clock, so any number
  of processes on any number of hosts share one budget per key.

When Redis cannot be reached, :class:`RedisRateLimiter` fails open to a
per-process bucket: requests keep being served (Redis is not allowed to
take the API down with it), each process still stops a client that floods
it, and a warning is logged at most once every 30 seconds.

:func:`make_rate_limiter` picks the implementation from the settings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

import structlog

if TYPE_CHECKING:
    from redis.asyncio import BlockingConnectionPool

__all__ = [
    "DEFAULT_BURST",
    "DEFAULT_PER_MINUTE",
    "InMemoryRateLimiter",
    "RateLimitDecision",
    "RateLimiter",
    "RedisRateLimiter",
    "make_rate_limiter",
]

DEFAULT_PER_MINUTE: Final = 60
DEFAULT_BURST: Final = 120

# The one quota policy we advertise in the IETF RateLimit fields.
POLICY_NAME: Final = "default"

# A Redis outage is reported at most this often, however many requests hit it.
_WARNING_INTERVAL_SECONDS: Final = 30.0
# After a failed Redis call, requests skip Redis for this long, so an outage
# does not add a connect timeout to every request.
_REDIS_RETRY_SECONDS: Final = 1.0
# Float noise (e.g. 2.0000000001 seconds) must not round up a whole second.
_EPSILON: Final = 1e-9

_log = structlog.get_logger(__name__)


def _whole_seconds_up(seconds: float) -> int:
    """Round a duration up to whole seconds, ignoring float noise."""
    return max(0, math.ceil(seconds - _EPSILON))


@dataclass(frozen=True)
class RateLimitDecision:
    """The outcome of one request against its key's bucket.

    ``limit`` is the bucket capacity (the burst); ``remaining`` the whole
    tokens left after this request; ``reset_after`` the seconds until the
    bucket is full again; ``retry_after`` the seconds until one token is
    available (0 when the request was allowed). ``policy_window`` is the
    whole seconds an empty bucket takes to refill completely and
    ``next_token_after`` the seconds until ``remaining`` grows by one; both
    feed the IETF ``RateLimit`` fields.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float
    policy_window: int = 60
    next_token_after: float = 0.0

    def headers(self) -> dict[str, str]:
        """Return the response headers that describe this decision.

        The ``X-RateLimit-*`` trio is the de facto convention most clients
        read. ``RateLimit-Policy`` and ``RateLimit`` follow
        draft-ietf-httpapi-ratelimit-headers-11 (Structured Field Lists of
        String items with Integer parameters). A token bucket maps onto them
        as follows:

        * ``RateLimit-Policy: "default";q=<burst>;w=<policy_window>``: the
          bucket holds ``q`` requests and refills all of them in ``w``
          seconds, so a client that keeps to ``q`` requests per ``w`` seconds
          is never refused.
        * ``RateLimit: "default";r=<remaining>;t=<next token>``: the draft
          defines ``t`` as the seconds within which the client can use no
          more than ``r``. In a token bucket that holds until the next token
          drips in, not until the bucket is full (tokens keep arriving on the
          way), so ``t`` is the time to the next token. It also keeps ``t``
          equal to ``Retry-After`` on a refusal, as the draft asks
          (Retry-After must not point earlier than the end of ``t``). The
          time until the bucket is full is in ``X-RateLimit-Reset``.

        ``Retry-After`` (whole seconds, at least 1) is present only when the
        request was refused.
        """
        effective_window = max(1, _whole_seconds_up(self.next_token_after))
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(_whole_seconds_up(self.reset_after)),
            "RateLimit-Policy": f'"{POLICY_NAME}";q={self.limit};w={self.policy_window}',
            "RateLimit": f'"{POLICY_NAME}";r={self.remaining};t={effective_window}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, _whole_seconds_up(self.retry_after)))
        return headers


class RateLimiter(Protocol):
    """What the API needs from a rate limiter."""

    async def hit(self, key: str) -> RateLimitDecision:
        """Spend one token of ``key``'s bucket and say whether the request may go on."""
        ...

    async def close(self) -> None:
        """Release the limiter's resources; it must not be used afterwards."""
        ...


@dataclass(frozen=True)
class _BucketShape:
    """Capacity and refill speed of every bucket of one limiter."""

    per_minute: int
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute < 1:
            raise ValueError(f"per_minute must be at least 1, got {self.per_minute}")
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, got {self.burst}")

    @property
    def tokens_per_second(self) -> float:
        return self.per_minute / 60.0

    @property
    def refill_seconds(self) -> float:
        """Time for an empty bucket to become full."""
        return self.burst / self.tokens_per_second

    def decide(self, *, allowed: bool, tokens: float) -> RateLimitDecision:
        """Describe a bucket left with ``tokens`` (fractional) after a request."""
        rate = self.tokens_per_second
        tokens = min(max(tokens, 0.0), float(self.burst))
        whole = math.floor(tokens)
        next_token_after = 0.0 if whole >= self.burst else (whole + 1 - tokens) / rate
        return RateLimitDecision(
            allowed=allowed,
            limit=self.burst,
            remaining=whole,
            reset_after=(self.burst - tokens) / rate,
            retry_after=0.0 if allowed else next_token_after,
            policy_window=max(1, _whole_seconds_up(self.refill_seconds)),
            next_token_after=max(0.0, next_token_after),
        )


class _Bucket:
    """Token level of one key at a moment of the limiter's clock."""

    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class InMemoryRateLimiter:
    """Token buckets kept in this process.

    :meth:`hit` never awaits, so on one event loop each call reads and
    updates its bucket without interleaving: concurrent requests can never
    spend the same token twice. Memory stays bounded: about once per refill
    period the limiter drops every bucket that would be full by now, which
    loses nothing because a missing bucket starts full.
    """

    def __init__(
        self,
        per_minute: int = DEFAULT_PER_MINUTE,
        burst: int = DEFAULT_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create a limiter refilling ``per_minute`` tokens a minute into buckets of ``burst``.

        ``clock`` returns seconds on a monotonic scale; tests pass a fake one.
        """
        self._shape = _BucketShape(per_minute, burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._next_sweep = clock() + self._shape.refill_seconds

    @property
    def bucket_count(self) -> int:
        """How many keys currently have a bucket (full buckets may be dropped)."""
        return len(self._buckets)

    async def hit(self, key: str) -> RateLimitDecision:
        """Spend one token of ``key``'s bucket if it has one."""
        return self.hit_nowait(key)

    def hit_nowait(self, key: str) -> RateLimitDecision:
        """Synchronous :meth:`hit`, for callers that are not coroutines."""
        shape = self._shape
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(shape.burst), now)
            self._buckets[key] = bucket
        elif now > bucket.stamp:
            refilled = bucket.tokens + (now - bucket.stamp) * shape.tokens_per_second
            bucket.tokens = min(float(shape.burst), refilled)
            bucket.stamp = now
        allowed = bucket.tokens >= 1.0
        if allowed:
            bucket.tokens -= 1.0
        return shape.decide(allowed=allowed, tokens=bucket.tokens)

    def _sweep(self, now: float) -> None:
        """Drop the buckets that have refilled completely since their last use."""
        shape = self._shape
        rate = shape.tokens_per_second
        full = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.stamp) * rate >= shape.burst
        ]
        for key in full:
            del self._buckets[key]
        self._next_sweep = now + shape.refill_seconds

    async def close(self) -> None:
        """Forget every bucket."""
        self._buckets.clear()


# Refill and take one token atomically. The server clock (TIME) is the only
# clock involved, so processes on hosts with skewed clocks still agree.
# KEYS[1] bucket hash; ARGV[1] burst; ARGV[2] tokens per minute.
# Returns {1 if allowed else 0, tokens left as a decimal string} (a Lua
# number would be truncated to an integer on the way back).
_TAKE_TOKEN_LUA: Final = """
local capacity = tonumber(ARGV[1])
local per_minute = tonumber(ARGV[2])
local per_microsecond = per_minute / 60000000
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1])
local stamp = tonumber(state[2])
if tokens == nil or stamp == nil then
  tokens = capacity
  stamp = now
elseif now > stamp then
  -- A server clock stepping back (e.g. after a failover) refills nothing.
  tokens = math.min(capacity, tokens + (now - stamp) * per_microsecond)
  stamp = now
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
  'stamp', string.format('%.0f', stamp))
-- Once full, the bucket is the same as no bucket: let Redis drop it then.
local full_in_ms = math.ceil((capacity - tokens) / per_microsecond / 1000) + 1
redis.call('PEXPIRE', KEYS[1], full_in_ms)
return {allowed, string.format('%.17g', tokens)}
"""


class RedisRateLimiter:
    """Token buckets in Redis, shared by every process that uses the same Redis.

    Each key's bucket is a hash at ``prefix + key`` that expires once it
    would be full again. ``key`` is stored in clear, so pass an identifier
    (such as an API key's id), never a secret. Requires Redis 5 or newer
    (scripts that read TIME and then write).

    If Redis fails (unreachable, timeout, error reply) the request is decided
    by an in-process bucket instead, Redis is left alone for a second, and a
    warning is logged at most every 30 seconds; see the module docstring.
    """

    def __init__(
        self,
        redis_url: str,
        per_minute: int = DEFAULT_PER_MINUTE,
        burst: int = DEFAULT_BURST,
        prefix: str = "eal:rl:",
        *,
        timeout: float = 0.5,
        max_connections: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare a limiter for ``redis_url``; connections open on first use.

        ``timeout`` bounds connecting, each Redis call and the wait for a free
        pooled connection; ``max_connections`` caps this process's pool.
        ``clock`` drives only the fallback bucket and the outage timers.
        """
        # Imported here: redis-py holds about 6 MB resident, which a process without
        # REDIS_URL (the default) never needs.
        from redis.asyncio import BlockingConnectionPool, Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import RedisError

        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError)
        self._shape = _BucketShape(per_minute, burst)
        self._prefix = prefix
        self._clock = clock
        self._pool: BlockingConnectionPool = BlockingConnectionPool.from_url(
            redis_url,
            max_connections=max_connections,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # One immediate retry on a broken connection (e.g. Redis restarted
            # since the connection was pooled). Never retry a timeout: the
            # script may have run, and running it again would spend two tokens.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self._redis = Redis(connection_pool=self._pool)
        # EVALSHA, loading the script and retrying when the server lacks it.
        self._take_token = self._redis.register_script(_TAKE_TOKEN_LUA)
        self._fallback = InMemoryRateLimiter(per_minute, burst, clock=clock)
        self._skip_redis_until = -math.inf
        self._last_warning = -math.inf
        self._degraded = False

    async def hit(self, key: str) -> RateLimitDecision:
        """Spend one token of ``key``'s shared bucket; never raises on Redis failure."""
        now = self._clock()
        if now < self._skip_redis_until:
            return self._fallback.hit_nowait(key)
        try:
            reply: Any = await self._take_token(
                keys=[self._prefix + key],
                args=[self._shape.burst, self._shape.per_minute],
            )
            allowed_flag, tokens_text = reply
            decision = self._shape.decide(allowed=int(allowed_flag) == 1, tokens=float(tokens_text))
        except self._errors as exc:
            # OSError covers socket errors that escape redis-py's wrapping.
            self._on_redis_failure(exc, now)
            return self._fallback.hit_nowait(key)
        if self._degraded:
            self._degraded = False
            _log.info("rate_limiter.redis_recovered")
        return decision

    def _on_redis_failure(self, exc: BaseException, now: float) -> None:
        """Stop calling Redis for a moment and report the outage, rate-limited itself."""
        self._skip_redis_until = now + _REDIS_RETRY_SECONDS
        self._degraded = True
        if now - self._last_warning >= _WARNING_INTERVAL_SECONDS:
            self._last_warning = now
            _log.warning(
                "rate_limiter.redis_unavailable",
                error=f"{type(exc).__name__}: {exc}",
                fallback="per-process buckets",
            )

    async def close(self) -> None:
        """Close every pooled Redis connection."""
        await self._redis.aclose(close_connection_pool=True)


def make_rate_limiter(*, redis_url: str | None, per_minute: int, burst: int) -> RateLimiter:
    """Return a Redis-backed limiter when ``redis_url`` is set, else an in-process one."""
    if redis_url:
        return RedisRateLimiter(redis_url, per_minute, burst)
    return InMemoryRateLimiter(per_minute, burst)
