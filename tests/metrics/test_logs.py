"""What the logs hold: the ids of the request or job behind every line, and never a key,
secret, password or message body (the flows that handle them run with the logs captured)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import httpx
import pytest
import structlog
from fastapi import Depends
from structlog.contextvars import get_contextvars, merge_contextvars
from structlog.processors import format_exc_info
from structlog.testing import capture_logs

from eal import jobs
from eal.api.routing import api_router
from eal.app import create_app
from eal.auth.context import AuthContext
from eal.auth.deps import require
from eal.auth.scopes import Scope
from eal.config import Settings
from eal.db.engine import Database
from eal.logging import REDACTED, redact_secrets, scrub
from eal.runtime import Runtime
from tests.factories import Factory, Tenant
from tests.integrations.fake_twilio import FakeTwilio, run_fake_twilio
from tests.jobs.support import defer_for, job_worker, task_def, unique_name, wait_for_status
from tests.outreach.support import (
    OUTREACH,
    outreach_tenant,
    outreach_worker,
    twilio_account,
)
from tests.outreach.support import wait_for_status as wait_for_message
from tests.webhooks.support import Receiver, create_webhook, running_worker

ORGS = "/api/v1/organizations"
ACCOUNT = twilio_account()
SMTP_PASSWORD = "smtp-pass-Zq81vLw3"
SMS_BODY = "Hi Dana, our crew arrives at 9am. Door code 4471. Reply STOP to cancel."
#: The processors every line goes through before it is rendered (eal.logging).
PIPELINE = [merge_contextvars, format_exc_info, redact_secrets]

probe_log = structlog.get_logger("tests.metrics.probe")
ReadAuth = Annotated[AuthContext, Depends(require(Scope.READ))]


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with run_fake_twilio(dict([ACCOUNT])) as fake:
        yield fake


@pytest.fixture(scope="module")
async def probe_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with one more route, which logs a line of its own mid-request."""
    app = create_app(settings)
    router = api_router(tags=["probe"])

    @router.get("/probe/log")
    async def log_something(auth: ReadAuth) -> dict[str, Any]:
        probe_log.info("probe_line", detail="inside the endpoint")
        return {}

    app.include_router(router, prefix="/api/v1")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_a_line_logged_inside_a_request_names_the_request_and_tenant(
    probe_client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Log Ids Co", scopes="read")
    with capture_logs(PIPELINE) as logs:
        r = await probe_client.get(
            "/api/v1/probe/log", headers={**tenant.headers, "X-Request-ID": "req-log-ids"}
        )
        anonymous = await probe_client.get("/api/v1/health")
        # A vendor hook has no key: the organization its URL names is the tenant.
        hook = await probe_client.post(
            f"/api/v1/integrations/twilio/{tenant.id}/status",
            data={"MessageSid": "SM123", "MessageStatus": "delivered"},
        )
    assert r.status_code == 200, r.text
    assert hook.status_code == 403, hook.text
    (hook_line,) = (line for line in logs if line.get("request_id") == hook.headers["x-request-id"])
    assert hook_line["organization_id"] == str(tenant.id)
    mine = [line for line in logs if line.get("request_id") == "req-log-ids"]
    probe, access = (line for line in mine if line["event"] in ("probe_line", "request"))
    assert probe["event"] == "probe_line"
    assert probe["request_id"] == access["request_id"] == "req-log-ids"
    assert probe["organization_id"] == access["organization_id"] == str(tenant.id)
    (health,) = (
        line for line in logs if line.get("request_id") == anonymous.headers["x-request-id"]
    )
    assert health["organization_id"] is None
    # Nothing of a request stays bound once it is over.
    assert "request_id" not in get_contextvars() and "organization_id" not in get_contextvars()


async def test_a_job_line_names_its_job_task_and_tenant(
    runtime: Runtime, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Log Jobs Co")
    name = unique_name("log_ids")

    async def talk(ctx: jobs.JobContext, payload: jobs.NoPayload) -> None:
        probe_log.info("job_line")

    with capture_logs(PIPELINE) as logs:
        async with job_worker(runtime, [task_def(name, talk)]):
            job_id = await defer_for(db, tenant.id, name)
            await wait_for_status(db, job_id, "successful")
    (line,) = (entry for entry in logs if entry["event"] == "job_line")
    assert line["job_id"] == job_id
    assert line["task"] == name
    assert line["organization_id"] == str(tenant.id)


async def _flows(
    client: httpx.AsyncClient,
    factory: Factory,
    runtime: Runtime,
    settings: Settings,
    db: Database,
    twilio: FakeTwilio,
) -> tuple[list[str], Tenant]:
    """Keys, PII, a webhook secret, vendor credentials and an SMS body pass through; the
    strings that must never be logged."""
    parent = await factory.tenant("Log Parent Co")
    child = await client.post(ORGS, json={"name": "Log Child Co"}, headers=parent.headers)
    assert child.status_code == 201, child.text
    token = child.json()["invite_url"].rsplit("/", 1)[-1]
    accepted = await client.post(f"/api/v1/invites/{token}/accept")
    assert accepted.status_code == 201, accepted.text
    key = accepted.json()["api_key"]["key"]
    headers = {"Authorization": f"Bearer {key}"}

    lead = await client.post(
        "/api/v1/leads",
        json={
            "name": "Dana Whitfield",
            "email": "dana.whitfield@example.com",
            "phone": "(404) 555-0173",
            "message": "Water through the kitchen ceiling since last night.",
        },
        headers=headers,
    )
    assert lead.status_code == 201, lead.text
    refused = await client.get(ORGS + "/me", headers={"Authorization": "Bearer eal_live_wrong0"})
    assert refused.status_code == 401

    async with Receiver() as receiver, running_worker(settings, db):
        hook = await create_webhook(
            client, Tenant(accepted.json()["organization"]["id"], key, None, {}), receiver.url
        )
        again = await client.post(
            "/api/v1/leads", json={"email": "second@example.com"}, headers=headers
        )
        assert again.status_code == 201
        await receiver.wait_for(1)

    sms = await outreach_tenant(client, factory, "Log SMS Co", twilio=twilio, account=ACCOUNT)
    email = {
        "vendor": "smtp",
        "host": "127.0.0.1",
        "port": 2525,
        "security": "none",
        "username": "office",
        "password": SMTP_PASSWORD,
        "from_address": "office@example.com",
    }
    patched = await client.patch(
        f"{ORGS}/{sms.id}",
        json={"settings": {"integrations": {"email": email}}},
        headers=sms.headers,
    )
    assert patched.status_code == 200, patched.text
    async with outreach_worker(runtime):
        r = await client.post(
            f"{OUTREACH}/send",
            json={"channel": "sms", "to": "(770) 555-0142", "body": SMS_BODY},
            headers=sms.headers,
        )
        assert r.status_code == 202, r.text
        await wait_for_message(client, sms, r.json()["message_id"], "sent")
    assert twilio.messages[-1]["body"] == SMS_BODY
    never = [
        key,
        key.removeprefix("eal_live_"),
        token.removeprefix("itok_"),
        "eal_live_wrong0",
        hook["signing_secret"],
        hook["signing_secret"].removeprefix("whsec_"),
        ACCOUNT[1],
        SMTP_PASSWORD,
        SMS_BODY,
        "Door code 4471",
        "dana.whitfield",
        "Dana Whitfield",
        "555-0173",
        "kitchen ceiling",
    ]
    return never, sms


async def test_no_key_secret_password_or_body_reaches_the_logs(
    client: httpx.AsyncClient,
    factory: Factory,
    runtime: Runtime,
    settings: Settings,
    db: Database,
    twilio: FakeTwilio,
) -> None:
    with capture_logs(PIPELINE) as logs:
        never, _ = await _flows(client, factory, runtime, settings, db, twilio)
    assert len([line for line in logs if line["event"] == "request"]) >= 8
    text = repr(logs)
    leaked = [secret for secret in never if secret in text]
    assert leaked == []
    for line in logs:
        if line["event"] == "request" or "job_id" in line:
            # A request's or a job's line names it and its tenant (None: not known).
            assert "organization_id" in line, line
            assert line.get("request_id") or line.get("job_id"), line


def test_the_redaction_processor() -> None:
    key = "eal_live_" + "A1b2" * 10
    line = {
        "event": "failed",
        "error": f"Authorization: Bearer {key} refused by postgresql://eal:hunter2@db:5432/eal",
        "password": "hunter2",
        "auth_token": "tok",
        "body": "a message body",
        "nested": {"secret": "whsec_abc", "note": f"saw {key}"},
        "count": 3,
        "none": None,
    }
    out = redact_secrets(None, "info", dict(line))
    assert key not in repr(out) and "hunter2" not in repr(out) and "whsec_abc" not in repr(out)
    assert out["password"] == out["auth_token"] == out["body"] == REDACTED
    assert out["nested"] == {"secret": REDACTED, "note": f"saw eal_live_{REDACTED}"}
    assert out["error"] == (
        f"Authorization: Bearer {REDACTED} refused by postgresql://eal:{REDACTED}@db:5432/eal"
    )
    assert (out["count"], out["none"], out["event"]) == (3, None, "failed")
    assert scrub("nothing to hide here") == "nothing to hide here"
    assert scrub("invite itok_abcdefgh1234 used") == f"invite itok_{REDACTED} used"
