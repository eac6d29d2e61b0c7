"""Request dependencies: the runtime and the request's transaction."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from eal.db.tx import Tx
from eal.runtime import Runtime


def runtime_of(request: HTTPConnection) -> Runtime:
    """The runtime of the app serving this request."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    """`runtime_of` as a dependency (async, so FastAPI calls it inline, not in a thread)."""
    return runtime_of(request)


async def get_tx(request: Request) -> Tx:
    """The transaction of this request (opened by TransactionalRoute)."""
    tx: Tx = request.state.tx
    return tx


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
TxDep = Annotated[Tx, Depends(get_tx)]
