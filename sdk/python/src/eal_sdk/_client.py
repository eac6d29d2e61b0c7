"""The clients: :class:`EalClient` (blocking) and :class:`AsyncEalClient`."""

from __future__ import annotations

from types import TracebackType

import httpx

from eal_sdk._core import DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, AsyncAPI, SyncAPI
from eal_sdk._resources import AsyncResources, SyncResources


class EalClient(SyncAPI, SyncResources):
    """A client of the eal API, one attribute per API section.

    ``api_key`` is a key of the organization to act as (``eal_live_...``).
    ``base_url`` is the service's root (``https://eal.example.com``; a trailing
    ``/api/v1`` is accepted too). ``timeout`` is in seconds (or an
    ``httpx.Timeout``); ``max_retries`` bounds the retries of one call (see
    ``eal_sdk._core`` for which failures are retried). ``transport`` replaces
    the HTTP transport (tests pass an ``httpx.MockTransport``), or
    ``http_client`` the whole ``httpx.Client`` (proxies, certificates).

    Use it as a context manager, or call :meth:`close`, to release connections::

        with EalClient("eal_live_...", base_url="https://eal.example.com") as client:
            for lead in client.leads.list(stage="qualified"):
                print(lead.name, lead.lead_score)
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        SyncAPI.__init__(
            self,
            api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            transport=transport,
            http_client=http_client,
        )
        SyncResources.__init__(self, self)

    def __enter__(self) -> EalClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncEalClient(AsyncAPI, AsyncResources):
    """The async twin of :class:`EalClient`: the same resources, awaited.

    List methods return an async pager: ``async for lead in client.leads.list()``.
    Close it with ``async with`` or :meth:`aclose`.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        AsyncAPI.__init__(
            self,
            api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            transport=transport,
            http_client=http_client,
        )
        AsyncResources.__init__(self, self)

    async def __aenter__(self) -> AsyncEalClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
