"""The one runtime: what a process builds once and every part of it shares.

`eal serve` (the app), `eal worker` and the CLI each build one `Runtime`
from the settings: the databases, the secret box, the outbound HTTP client,
the rate limiter and the clock. Nothing here knows about HTTP requests,
domains or jobs; those take what they need from the runtime.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from functools import cached_property

import httpx

from eal.config import Settings
from eal.db.engine import Database
from eal.db.url import resolve_database_url
from eal.kit.clock import Clock, SystemClock
from eal.kit.outbound import OutboundClient, OutboundPolicy
from eal.kit.ratelimit import RateLimiter, make_rate_limiter
from eal.kit.secretbox import SecretBox
from eal.kit.signed import SIGNING_PURPOSE, Signer
from eal.storage import Storage, open_storage

#: Net allocations between collections of the youngest generation, once serving.
YOUNG_GC_THRESHOLD = 20_000
#: Seconds an outbound vendor call may take in all (connect, send, answer).
OUTBOUND_TIMEOUT_SECONDS = 15.0
#: Seconds a call to an operator's server (speech-to-text, LLM) may take in all.
OPERATOR_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class Runtime:
    """Everything created once per process and shared by requests, jobs and commands."""

    settings: Settings
    db: Database
    secret_box: SecretBox
    http: OutboundClient
    """The outbound HTTP client for vendor APIs (connects only where `outbound` allows)."""
    outbound: OutboundPolicy
    """Where connections to tenant-chosen URLs may go, checked at save and at connect time."""
    rate_limiter: RateLimiter
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def signer(self) -> Signer:
        """Signs the links the service hands out (unsubscribe, open tracking, recordings)."""
        return Signer(self.secret_box.derive(SIGNING_PURPOSE))

    @cached_property
    def storage(self) -> Storage:
        """Object storage for photos: `EAL_STORAGE_URL`, or files under the data directory."""
        return open_storage(self.settings.storage_url, self.settings.data_dir)

    @cached_property
    def operator_http(self) -> OutboundClient:
        """The HTTP client for servers the operator configures (speech-to-text, the LLM).

        Their URLs come from the server's environment, not from a tenant, so private
        addresses (a Whisper or LLM server on the local network) are allowed; the
        timeout is long because a CPU-bound server may take minutes for a long call.
        """
        return OutboundPolicy(allow_private=True).http_client(
            timeout=httpx.Timeout(OPERATOR_TIMEOUT_SECONDS, connect=10.0)
        )

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        pool_size: int | None = None,
        max_overflow: int | None = None,
    ) -> Runtime:
        """Create the process's handles from `settings` (connections open lazily).

        With no DATABASE_URL this starts (or attaches to) the embedded
        PostgreSQL. `pool_size`/`max_overflow` override the settings for
        processes that need few connections (the CLI).
        """
        url = resolve_database_url(settings.database_url, settings.data_dir)
        db = Database.connect(
            url,
            pool_size=settings.db_pool_size if pool_size is None else pool_size,
            max_overflow=settings.db_max_overflow if max_overflow is None else max_overflow,
        )
        outbound = OutboundPolicy(settings.allow_private_webhook_urls)
        return cls(
            settings=settings,
            db=db,
            secret_box=SecretBox.from_settings(settings.secret_key, settings.data_dir),
            http=outbound.http_client(timeout=httpx.Timeout(OUTBOUND_TIMEOUT_SECONDS)),
            outbound=outbound,
            rate_limiter=make_rate_limiter(
                redis_url=settings.redis_url,
                per_minute=settings.rate_limit_per_minute,
                burst=settings.rate_limit_burst,
            ),
            clock=clock or SystemClock(),
        )

    async def aclose(self) -> None:
        """Close the HTTP client, the rate limiter and every pooled connection."""
        await self.http.aclose()
        if "operator_http" in self.__dict__:
            await self.operator_http.aclose()
        await self.rate_limiter.close()
        await self.db.dispose()


def settle_memory() -> None:
    """Move what start-up built out of the garbage collector's view; call once, when ready.

    What exists once start-up is complete (some 300,000 objects: modules,
    compiled schemas, caches) lives as long as the process. Python's full
    collections walked all of it every time, pausing every request or job in
    flight for 60-200 ms; frozen objects are skipped.

    The youngest generation is also collected less often: at the default
    (every 700 net allocations, several times per request) each collection
    re-walked the objects of everything in flight. Those objects die by
    reference counting; the collector is only there for cycles.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])
