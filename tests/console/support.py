"""What the console tests share: browsers' cookie jars, users, sign-in, page forms."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from eal.console import service
from eal.console.roles import Role
from eal.db.engine import Database
from eal.db.tx import Tx
from eal.kit.identity import Actor, Source

BASE = "http://testserver"


@asynccontextmanager
async def browser(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own cookie jar, as one browser would be (redirects not followed)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


async def add_user(db: Database, organization_id: uuid.UUID, email: str, role: str) -> str:
    """A console user of the organization; its one-time sign-in path."""
    async with db.system_transaction() as conn:
        tx = Tx(conn, actor=Actor(organization_id=organization_id, source=Source.SYSTEM))
        await tx.set_tenant(organization_id)
        user = await service.create_user(tx, email, Role(role))
        token = await service.issue_link(tx, user.id)
    return f"/console/sign-in/{token}"


def form_token(page: httpx.Response) -> str:
    """The csrf_token hidden field of a page's (first) form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """Open a sign-in link and press its button; the redirect answer."""
    shown = await client.get(link)
    assert shown.status_code == 200, shown.text
    signed = await client.post(link, data={"csrf_token": form_token(shown)})
    assert signed.status_code == 303, signed.text
    assert signed.headers["location"] == "/console"
    return signed
