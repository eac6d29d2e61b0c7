"""`eal serve`'s in-process worker: the webhook sender and the job worker run with the app."""

from __future__ import annotations

import json

import httpx

from eal.app import create_app
from eal.config import Settings
from eal.db.engine import Database
from tests.factories import Factory
from tests.jobs.support import enqueue_system, wait_for_status
from tests.webhooks.support import Receiver, create_webhook


async def test_the_app_sends_webhooks_and_works_jobs_in_process(
    factory: Factory, settings: Settings, db: Database
) -> None:
    tenant = await factory.tenant("Workers Serve")
    app = create_app(settings, run_worker=True)
    async with Receiver() as receiver, app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            # The registration's own audit entry is the first event it receives.
            hook = await create_webhook(c, tenant, receiver.url, ["audit.log.event"])
            (request,) = await receiver.wait_for(1)
            # And a maintenance job, as its schedule would queue it, is worked too.
            job_id = await enqueue_system(db, "webhooks.purge_finished", dedupe_key="in-process")
            assert job_id is not None
            await wait_for_status(db, job_id, "successful", within=30)
    body = json.loads(request.body)
    assert body["type"] == "audit.log.event"
    assert body["data"]["action"] == "webhook.created"
    assert body["data"]["payload"]["webhook_id"] == hook["id"]
