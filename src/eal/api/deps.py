"""Request dependencies: the transaction's connection and the app's handles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.api.state import AppState, app_state_dependency


async def get_conn(request: Request) -> AsyncConnection:
    """The connection of this request's transaction (opened by TransactionalRoute).

    Async on purpose: FastAPI runs sync dependencies in a thread pool.
    """
    conn: AsyncConnection = request.state.conn
    return conn


DbConn = Annotated[AsyncConnection, Depends(get_conn)]
State = Annotated[AppState, Depends(app_state_dependency)]
