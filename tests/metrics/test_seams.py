"""The counters move where the work happens: a job run, a webhook delivery, a call's
classification, an SMS send (real worker, real receivers)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from eal import jobs
from eal.config import Settings
from eal.db.engine import Database
from eal.jobs.registry import PermanentJobError, RetryPolicy
from eal.runtime import Runtime
from tests.calls.support import calls_tenant, calls_worker, post_call, wait_for_call
from tests.factories import Factory
from tests.integrations.fake_twilio import FakeTwilio, run_fake_twilio
from tests.jobs.support import defer_for, job_worker, task_def, unique_name, wait_for_status
from tests.metrics.support import metrics_client, sample, value
from tests.outreach.support import (
    OUTREACH,
    outreach_tenant,
    outreach_worker,
    twilio_account,
)
from tests.outreach.support import wait_for_status as wait_for_message
from tests.webhooks.support import Receiver, create_webhook, record_event, running_worker
from tests.webhooks.support import wait_until as wait_for_condition

ACCOUNT = twilio_account()


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with run_fake_twilio(dict([ACCOUNT])) as fake:
        yield fake


async def test_job_runs_are_counted_by_task_and_outcome(
    runtime: Runtime, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Metrics Jobs Co")
    ok, flaky, broken = (unique_name(n) for n in ("metrics_ok", "metrics_flaky", "metrics_broken"))
    attempts: list[int] = []

    async def succeed(ctx: jobs.JobContext, payload: jobs.NoPayload) -> None:
        return None

    async def fail_once(ctx: jobs.JobContext, payload: jobs.NoPayload) -> None:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("first attempt fails")

    async def refuse(ctx: jobs.JobContext, payload: jobs.NoPayload) -> None:
        raise PermanentJobError("never")

    tasks = [
        task_def(ok, succeed),
        task_def(flaky, fail_once, retry=RetryPolicy(max_attempts=3)),
        task_def(broken, refuse),
    ]
    async with job_worker(runtime, tasks):
        ids = [await defer_for(db, tenant.id, name) for name in (ok, flaky, broken)]
        await wait_for_status(db, ids[0], "successful")
        await wait_for_status(db, ids[1], "successful")
        await wait_for_status(db, ids[2], "failed")
    assert value("eal_jobs_total", task=ok, outcome="done") == 1
    assert value("eal_job_duration_seconds_count", task=ok) == 1
    assert value("eal_jobs_total", task=flaky, outcome="retry") == 1
    assert value("eal_jobs_total", task=flaky, outcome="done") == 1
    assert value("eal_jobs_total", task=broken, outcome="failed") == 1


async def test_webhook_deliveries_are_counted_by_outcome_with_their_lag(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Metrics Webhooks Co", environment="test")
    delivered = value("eal_webhook_deliveries_total", outcome="delivered")
    retrying = value("eal_webhook_deliveries_total", outcome="retrying")
    lags = value("eal_webhook_delivery_lag_seconds_count")
    answers = iter((500, 200, 200))
    async with (
        Receiver(lambda _r, _i: next(answers)) as receiver,
        running_worker(settings, db) as worker,
    ):
        await create_webhook(client, tenant, receiver.url, ["lead.created"])
        await record_event(db, tenant.id)
        await record_event(db, tenant.id)
        await receiver.wait_for(3)
        # Counted once recorded, which follows the send by a flush.
        await wait_for_condition(
            lambda: value("eal_webhook_deliveries_total", outcome="delivered") == delivered + 2,
            what="both deliveries recorded",
        )
        assert worker.sent == 3
    assert value("eal_webhook_deliveries_total", outcome="retrying") == retrying + 1
    assert value("eal_webhook_delivery_lag_seconds_count") == lags + 3


async def test_call_classification_is_timed_by_provider(
    client: httpx.AsyncClient, factory: Factory, runtime: Runtime
) -> None:
    tenant = await calls_tenant(client, factory, "Metrics Calls Co", environment="test")
    before = value("eal_call_classification_seconds_count", provider="embedded")
    async with calls_worker(runtime):
        call = await post_call(client, tenant, datetime.now(UTC))
        await wait_for_call(client, tenant, call["id"], "classified", "dispatched")
    assert value("eal_call_classification_seconds_count", provider="embedded") == before + 1


async def test_sms_sends_are_counted_by_outcome(
    client: httpx.AsyncClient,
    factory: Factory,
    runtime: Runtime,
    settings: Settings,
    twilio: FakeTwilio,
) -> None:
    live = await outreach_tenant(client, factory, "Metrics SMS Co", twilio=twilio, account=ACCOUNT)
    test = await outreach_tenant(
        client, factory, "Metrics SMS Test", twilio=twilio, account=ACCOUNT, environment="test"
    )
    sent = value("eal_outreach_sends_total", channel="sms", outcome="sent")
    simulated = value("eal_outreach_sends_total", channel="sms", outcome="simulated")
    body = {"channel": "sms", "to": "(770) 555-0142", "body": "Crew at 9am tomorrow."}
    async with outreach_worker(runtime):
        for tenant in (live, test):
            r = await client.post(f"{OUTREACH}/send", json=body, headers=tenant.headers)
            assert r.status_code == 202, r.text
            await wait_for_message(client, tenant, r.json()["message_id"], "sent", "simulated")
    assert value("eal_outreach_sends_total", channel="sms", outcome="sent") == sent + 1
    assert value("eal_outreach_sends_total", channel="sms", outcome="simulated") == simulated + 1
    async with metrics_client(settings) as c:
        text = (await c.get("/metrics")).text
    assert sample(text, "eal_outreach_sends_total", channel="sms", outcome="sent") == sent + 1
