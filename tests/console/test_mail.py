"""Email from the console: sign-in links and a new location's invite, through the
organization's SMTP settings, to a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from eal.console import tasks
from eal.db.engine import Database
from eal.jobs.context import JobContext
from eal.kit.identity import Actor, Source
from eal.organizations.service import INVITE_EMAIL_TASK, InviteEmail
from eal.runtime import Runtime
from tests.console.support import add_user, browser, form_token, sign_in
from tests.factories import Factory
from tests.outreach.support import SmtpSink, configure, smtp_sink


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    async with smtp_sink() as sink:
        yield sink


def _link(message: Any) -> str:
    found = re.search(r"http://testserver(/\S+)", message.get_content())
    assert found is not None, message.get_content()
    return found.group(1)


async def test_a_sign_in_link_is_emailed_from_the_organization(
    app: Any, client: httpx.AsyncClient, factory: Factory, db: Database, smtp: SmtpSink
) -> None:
    tenant = await factory.tenant("Console Mail Co")
    await configure(client, tenant, smtp=smtp)
    await add_user(db, tenant.id, "mailed@console.example", "staff")
    async with browser(app) as person:
        token = form_token(await person.get("/console/login"))
        sent = await person.post(
            "/console/login", data={"csrf_token": token, "email": "mailed@console.example"}
        )
        assert sent.status_code == 200
        (mail,) = smtp.to("mailed@console.example")
        assert mail["Subject"] == "Sign in to the Console Mail Co console"
        assert mail["Auto-Submitted"] == "auto-generated"
        await sign_in(person, _link(mail))
        assert "mailed@console.example" in (await person.get("/console")).text


async def test_a_new_locations_invite_is_emailed_by_a_job(
    app: Any,
    client: httpx.AsyncClient,
    factory: Factory,
    db: Database,
    runtime: Runtime,
    smtp: SmtpSink,
) -> None:
    parent = await factory.tenant("Console Invite Mail Network")
    await configure(client, parent, smtp=smtp)
    created = await client.post(
        "/api/v1/organizations",
        json={"name": "Marietta Location", "primary_admin_email": "owner@marietta.example"},
        headers=parent.headers,
    )
    assert created.status_code == 201
    async with db.system_transaction() as conn:
        rows = (
            await conn.execute(
                text("SELECT id, payload FROM pgqueuer WHERE entrypoint = :task"),
                {"task": INVITE_EMAIL_TASK},
            )
        ).all()
        await conn.execute(
            text("DELETE FROM pgqueuer WHERE entrypoint = :task"), {"task": INVITE_EMAIL_TASK}
        )
    envelopes = [json.loads(bytes(row.payload)) for row in rows]
    mine = [
        e["payload"] for e in envelopes if e["payload"]["organization_name"] == "Marietta Location"
    ]
    assert len(mine) == 1 and envelopes[0]["organization_id"] == str(parent.id)
    # The queued link is encrypted: the invite token is not in the queue.
    token = created.json()["invite_url"].rsplit("/", 1)[-1]
    assert token not in json.dumps(mine[0])
    ctx = JobContext(
        runtime=runtime,
        job_id=0,
        task=INVITE_EMAIL_TASK,
        attempt=1,
        actor=Actor(organization_id=parent.id, source=Source.WORKER),
    )
    await tasks.invite_email(ctx, InviteEmail.model_validate(mine[0]))
    (mail,) = smtp.to("owner@marietta.example")
    assert mail["Subject"] == "You are invited to run Marietta Location"
    assert _link(mail) == f"/invite/{token}"

    # Without email settings nothing is queued: the parent hands the invite_url on.
    quiet = await factory.tenant("Console Invite Quiet Network")
    await client.post(
        "/api/v1/organizations",
        json={"name": "Quiet Location", "primary_admin_email": "owner@quiet.example"},
        headers=quiet.headers,
    )
    async with db.system_transaction() as conn:
        left = await conn.scalar(
            text("SELECT count(*) FROM pgqueuer WHERE entrypoint = :task"),
            {"task": INVITE_EMAIL_TASK},
        )
    assert left == 0
