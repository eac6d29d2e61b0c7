"""One way to page every list: the `PageQuery` dependency, `Page[T]` and `paginate`.

Every list endpoint takes `page: PageParams` (`eal.api.paging`: `?limit=`
1-200, default 50, and `?cursor=` from the previous page's `next_cursor`),
applies it to its
statement with `PageQuery.apply` (a keyset condition on (created_at, id), the
order, and one row more than the page), and turns the rows into a
`Page[T]` with `paginate`. Keyset pages cost the same at any depth.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select

from eal.kit.cursor import DEFAULT_LIMIT, Cursor, encode_cursor, newer_than, older_than

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class PageQuery:
    """Which page a client asked for: its size and where the previous one ended."""

    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None

    def apply(
        self, query: Select[Any], created_at: Any, id_: Any, *, newest_first: bool = True
    ) -> Select[Any]:
        """`query` continued after the cursor, ordered by (created_at, id), one row over the page.

        A row comparison is an index range condition on (created_at, id), so a
        deep page starts where it should instead of filtering every row before it.
        """
        if self.cursor is not None:
            after = older_than if newest_first else newer_than
            query = query.where(after(self.cursor, created_at, id_))
        order = (created_at.desc(), id_.desc()) if newest_first else (created_at, id_)
        return query.order_by(*order).limit(self.limit + 1)


class Page(BaseModel, Generic[T]):
    """One page of a list: its items and the cursor of the next page (null on the last)."""

    data: list[T]
    next_cursor: str | None


def _row_position(row: Any) -> tuple[datetime, uuid.UUID]:
    return row.created_at, row.id


def paginate(
    rows: Sequence[R],
    page: PageQuery,
    item: Callable[[R], T],
    *,
    position: Callable[[R], tuple[datetime, uuid.UUID]] = _row_position,
) -> Page[T]:
    """The page made of `rows` (fetched with `PageQuery.apply`: up to limit + 1 of them).

    `item` renders a row; `position` gives a row's (created_at, id), the key
    the next page continues after.
    """
    shown = rows[: page.limit]
    next_cursor = None
    if len(rows) > page.limit:
        next_cursor = encode_cursor(*position(shown[-1]))
    # Not validated here: the endpoint's response model validates what it sends.
    return Page[T].model_construct(data=[item(row) for row in shown], next_cursor=next_cursor)
