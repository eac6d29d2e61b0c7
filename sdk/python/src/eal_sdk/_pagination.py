"""Cursor pages and the iterators that follow ``next_cursor`` across them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: its items and the cursor of the next page (None on the last)."""

    model_config = ConfigDict(extra="allow")

    data: list[T]
    next_cursor: str | None = None


class SyncPager(Generic[T]):
    """A list request: iterate it for every item, across pages, fetched as needed.

    ``first_page()`` fetches only the page at the starting cursor; ``pages()``
    yields each page in turn.
    """

    def __init__(self, fetch: Callable[[str | None], Page[T]], cursor: str | None = None) -> None:
        self._fetch = fetch
        self._cursor = cursor

    def first_page(self) -> Page[T]:
        """The page at the starting cursor (one request)."""
        return self._fetch(self._cursor)

    def pages(self) -> Iterator[Page[T]]:
        """Every page from the starting cursor on."""
        cursor = self._cursor
        while True:
            page = self._fetch(cursor)
            yield page
            if not page.next_cursor or page.next_cursor == cursor:
                return
            cursor = page.next_cursor

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.data


class AsyncPager(Generic[T]):
    """The async twin of :class:`SyncPager`: ``async for item in client.leads.list()``."""

    def __init__(
        self, fetch: Callable[[str | None], Awaitable[Page[T]]], cursor: str | None = None
    ) -> None:
        self._fetch = fetch
        self._cursor = cursor

    async def first_page(self) -> Page[T]:
        """The page at the starting cursor (one request)."""
        return await self._fetch(self._cursor)

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Every page from the starting cursor on."""
        cursor = self._cursor
        while True:
            page = await self._fetch(cursor)
            yield page
            if not page.next_cursor or page.next_cursor == cursor:
                return
            cursor = page.next_cursor

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.data:
                yield item
