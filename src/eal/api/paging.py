"""The page parameters of every list endpoint, as a FastAPI dependency (`page: PageParams`).

The paging model itself (`PageQuery`, `Page`, `paginate`) is in `kit.paging`,
free of FastAPI, so workers that page through lists do not import the web stack.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from eal.kit.cursor import DEFAULT_LIMIT, MAX_LIMIT, check_limit, decode_cursor
from eal.kit.paging import PageQuery


async def page_query(
    cursor: Annotated[
        str | None, Query(description="next_cursor of the previous page; omit for the first.")
    ] = None,
    limit: Annotated[
        int,
        Query(
            description=f"Page size, 1-{MAX_LIMIT}.",
            json_schema_extra={"minimum": 1, "maximum": MAX_LIMIT},
        ),
    ] = DEFAULT_LIMIT,
) -> PageQuery:
    """The page parameters of a list request (422 for a bad limit, 400 for a bad cursor)."""
    return PageQuery(limit=check_limit(limit), cursor=decode_cursor(cursor))


PageParams = Annotated[PageQuery, Depends(page_query)]
