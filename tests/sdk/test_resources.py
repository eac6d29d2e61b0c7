"""Every resource of the SDK against a real `eal serve`-style server over HTTP."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from eal_sdk import (
    AsyncEalClient,
    ConflictError,
    EalClient,
    EalError,
    NotFoundError,
    ValidationFailedError,
    models,
)

from eal.runtime import Runtime
from tests.claims.support import BASEMENT, photo, run_extraction
from tests.factories import Factory, Tenant


def sdk(server_url: str, tenant: Tenant) -> EalClient:
    return EalClient(tenant.key, base_url=server_url, max_retries=0)


async def test_health_and_organizations(server_url: str, factory: Factory) -> None:
    parent = await factory.tenant("SDK Parent")
    with sdk(server_url, parent) as client:
        health = client.health.get()
        assert health.status == "ok"
        assert health.tenant_id == str(parent.id)

        me = client.organizations.me()
        assert isinstance(me, models.OrganizationOut)
        assert me.id == parent.id

        updated = client.organizations.update(me.id, name="SDK Parent Renamed")
        assert updated.name == "SDK Parent Renamed"

        child = client.organizations.create(
            name="SDK Child", settings={"timezone": "America/Chicago"}
        )
        assert child.parent_organization_id == parent.id
        assert child.invite_url
        children = list(client.organizations.list())
        assert [c.id for c in children] == [child.id]

        token = child.invite_url.removesuffix("/accept").rsplit("/", 1)[-1]
        accepted = client.invites.accept(token)
        assert accepted.organization is not None

    child_admin = await factory.key(child.id, "admin")
    with EalClient(child_admin["key"], base_url=server_url) as child_client:
        grant = child_client.organizations.create_grant(
            child.id,
            parent_organization_id=parent.id,
            scopes=["leads.read"],
            expires_at=datetime.now(UTC) + timedelta(days=30),
        )
        assert grant.scopes == ["leads.read"]
        child_client.leads.create(name="Child Lead", company="Child Co")

    with sdk(server_url, parent) as client:
        rolled = list(client.leads.list(organization=child.id))
        assert [lead.name for lead in rolled] == ["Child Lead"]


async def test_leads_pages_and_updates(server_url: str, factory: Factory) -> None:
    tenant = await factory.tenant("SDK Leads")
    with sdk(server_url, tenant) as client:
        made = [
            client.leads.create(name=f"Lead {i}", email=f"lead{i}@example.com", source="website")
            for i in range(7)
        ]
        assert all(isinstance(lead, models.LeadOut) for lead in made)
        pager = client.leads.list(limit=2)
        first = pager.first_page()
        assert len(first.data) == 2 and first.next_cursor
        pages = list(pager.pages())
        assert len(pages) == 4
        assert {lead.id for lead in pager} == {lead.id for lead in made}

        lead = client.leads.update(made[0].id, pipeline_stage="qualified", lead_score=80)
        assert lead.pipeline_stage == "qualified"
        qualified = list(client.leads.list(stage="qualified"))
        assert [q.id for q in qualified] == [made[0].id]
        assert client.leads.get(made[0].id).lead_score == 80

        scored = client.leads.score(made[1].id)
        assert scored.id == made[1].id
        with pytest.raises(EalError) as failed:
            client.leads.push_to_crm(made[1].id)
        assert failed.value.status in (409, 422) and failed.value.request_id

        client.weather_events.create(
            event_type="storm",
            postal_codes=["30075"],
            occurred_at=datetime.now(UTC) - timedelta(hours=2),
        )
        assert [e.event_type for e in client.weather_events.list()] == ["storm"]


async def test_audit_log(server_url: str, factory: Factory) -> None:
    tenant = await factory.tenant("SDK Audit")
    with sdk(server_url, tenant) as client:
        lead = client.leads.create(name="Audited", company="Audit Co")
        client.leads.update(lead.id, pipeline_stage="contacted")
        entries = list(client.audit_log.list(action="lead.updated"))
        assert len(entries) == 1
        assert client.audit_log.get(entries[0].id).action == "lead.updated"
        csv = client.audit_log.export_csv(action="lead.updated")
        assert str(entries[0].id) in csv


async def test_webhooks(server_url: str, factory: Factory) -> None:
    tenant = await factory.tenant("SDK Webhooks")
    with sdk(server_url, tenant) as client:
        hook = client.webhooks.create(
            url="https://127.0.0.1:9/hook", events=["lead.created"], description="SDK"
        )
        assert hook.signing_secret.startswith("whsec_")
        assert [h.id for h in client.webhooks.list()] == [hook.id]
        assert client.webhooks.get(hook.id).description == "SDK"
        updated = client.webhooks.update(hook.id, events=["lead.created", "lead.updated"])
        assert updated.events == ["lead.created", "lead.updated"]
        rotated = client.webhooks.rotate_secret(hook.id)
        assert rotated.signing_secret != hook.signing_secret

        client.leads.create(name="Hooked", company="Hook Co")
        deliveries = list(client.webhooks.list_deliveries(hook.id))
        assert [d.event for d in deliveries] == ["lead.created"]
        again = client.webhooks.redeliver(hook.id, deliveries[0].id)
        assert again.event == "lead.created"

        assert client.webhooks.delete(hook.id).deleted is True
        with pytest.raises(NotFoundError):
            client.webhooks.get(hook.id)


async def test_calls(server_url: str, factory: Factory) -> None:
    tenant = await factory.tenant("SDK Calls")
    with sdk(server_url, tenant) as client:
        call = client.calls.create(
            tracking_number="+17705550199",
            caller_number="(404) 555-0173",
            duration_seconds=142,
            received_at=datetime.now(UTC) - timedelta(minutes=5),
            transcript="Hi, water is coming through my basement ceiling, a pipe burst.",
        )
        assert isinstance(call, models.CallOut)
        assert [c.id for c in client.calls.list()] == [call.id]
        assert client.calls.get(call.id).id == call.id
        assert client.calls.stats(window="7d").window == "7d"
        assert client.calls.classify(call.id).id == call.id
        corrected = client.calls.correct(
            call.id, classification={"intent": "mold", "urgency": "high", "qualified": True}
        )
        assert corrected.id == call.id
        assert isinstance(client.calls.export_corrections(), str)
        with pytest.raises(EalError) as refused:
            client.calls.recording(call.id, exp=1, sig="0" * 64)
        assert refused.value.status in (403, 404)


async def test_outreach(server_url: str, factory: Factory) -> None:
    tenant = await factory.tenant("SDK Outreach", environment="test")
    with sdk(server_url, tenant) as client:
        lead = client.leads.create(name="Dana Reach", email="dana.reach@example.com")
        queued = client.outreach.send(
            channel="email", to="dana.reach@example.com", subject="Hello", body="Hi Dana"
        )
        messages = list(client.outreach.messages.list())
        assert [m.id for m in messages] == [queued.message_id]
        assert client.outreach.messages.get(queued.message_id).subject == "Hello"

        blocked = client.outreach.suppressions.create(channel="sms", address="+17705559999")
        assert [s.id for s in client.outreach.suppressions.list(channel="sms")] == [blocked.id]
        assert client.outreach.suppressions.delete(blocked.id).deleted is True

        sequence = client.outreach.sequences.create(
            name="SDK sequence",
            channel="email",
            steps=[{"delay": "0m", "subject": "Hello", "body": "Hi {{ first_name }}"}],
        )
        assert [s.id for s in client.outreach.sequences.list()] == [sequence.id]
        assert client.outreach.sequences.get(sequence.id).name == "SDK sequence"
        renamed = client.outreach.sequences.update(sequence.id, name="SDK renamed")
        assert renamed.name == "SDK renamed"
        enrolled = client.outreach.sequences.enroll(sequence.id, lead_ids=[lead.id])
        assert enrolled.enrolled == 1
        enrollments = list(client.outreach.sequences.list_enrollments(sequence.id))
        assert [e.lead_id for e in enrollments] == [lead.id]
        stopped = client.outreach.sequences.unenroll(sequence.id, enrollments[0].id)
        assert stopped.status == "stopped"
        assert client.outreach.sequences.archive(sequence.id)

    admin = await factory.key(tenant.id, "admin", "live")
    with EalClient(admin["key"], base_url=server_url) as client:
        secret = client.outreach.create_inbound_secret()
        assert secret.secret


async def test_prospects(server_url: str, factory: Factory) -> None:
    tenant = await factory.tenant("SDK Prospects", environment="test")
    with sdk(server_url, tenant) as client:
        prospect = client.prospects.create(
            company_name="Sandy Springs Property Group",
            contact_email="dpark@example.com",
            vertical="property_management",
            postal_code="30328",
        )
        imported = client.prospects.import_csv(
            csv="company_name,contact_email\nRoswell Rentals,ops@roswell-rentals.example.com\n"
        )
        assert imported is not None
        assert len(list(client.prospects.list())) == 2
        assert client.prospects.get(prospect.id).company_name == "Sandy Springs Property Group"
        updated = client.prospects.update(prospect.id, buildings_managed=28)
        assert updated.buildings_managed == 28

        verdict = client.prospects.qualify(prospect_id=prospect.id)
        assert isinstance(verdict, models.QualificationOut)
        batch = client.prospects.qualify(prospect_ids=[prospect.id])
        assert isinstance(batch, models.BatchQueued)
        assert client.prospects.get_qualify_batch(batch.batch_id).batch_id == batch.batch_id

        sequence = client.outreach.sequences.create(
            name="Prospects",
            channel="email",
            steps=[{"delay": "0m", "subject": "Hello", "body": "Hi"}],
        )
        enrolled = client.prospects.enroll(prospect.id, sequence_id=str(sequence.id))
        assert enrolled is not None


async def test_content_and_reviews(server_url: str, factory: Factory) -> None:
    tenant = await factory.tenant("SDK Content", environment="test")
    with sdk(server_url, tenant) as client:
        blog = client.content.create_blog(
            target_keyword="mold removal roswell",
            service_area={"city": "Roswell", "region": "GA", "postal_code": "30075"},
            service_type="mold_remediation",
        )
        reply = client.content.create_review_response(
            platform="google",
            review_id=f"g_{uuid.uuid4().hex[:10]}",
            rating=5,
            review_text="The crew was fast and professional.",
        )
        assert reply.response_text
        listed = {item.id for item in client.content.list()}
        assert blog.id in listed
        assert client.content.get(blog.id).id == blog.id
        with pytest.raises(ConflictError):  # still generating: only drafts can be edited
            client.content.update(blog.id, title="Mold removal in Roswell")
        assert isinstance(list(client.content.list_revisions(blog.id)), list)
        # A reply that awaits no approval is refused, by name.
        with contextlib.suppress(ConflictError):
            assert client.content.approve(reply.id).id == reply.id
        with pytest.raises((ConflictError, ValidationFailedError)):
            client.content.publish(blog.id, channels=["wordpress"])

        lead = client.leads.create(name="Won Lead", email="won.lead@example.com")
        client.leads.update(lead.id, pipeline_stage="won")
        requested = client.reviews.request(
            lead_id=lead.id, channel="email", review_url="https://g.page/r/example/review"
        )
        assert requested.lead_id == lead.id
        review = client.reviews.record(
            platform="google", review_id="g_review_1", rating=5, text="Great work"
        )
        assert review.rating == 5


async def test_video_script(server_url: str, factory: Factory) -> None:
    tenant = await factory.tenant("SDK Video", environment="test")
    with sdk(server_url, tenant) as client:
        video = client.content.create_video_script(topic="5 signs of hidden water damage")
        assert video.type == "video"
        assert client.content.get(video.id).type == "video"


async def test_claims(server_url: str, factory: Factory, runtime: Runtime) -> None:
    tenant = await factory.tenant("SDK Claims")
    with sdk(server_url, tenant) as client:
        queued = client.claims.create(loss_type="water", water_category=1, water_class=2)
        assert queued.status == "collecting"
        assert [c.id for c in client.claims.list(loss_type="water")] == [queued.id]
        client.claims.replace_rooms(queued.id, rooms=[BASEMENT])
        picture = photo(7)
        (target,) = client.claims.create_uploads(
            queued.id,
            files=[{"filename": "IMG_7.jpg", "content_type": "image/jpeg", "size": len(picture)}],
        ).uploads
        # The signed URL is the credential: no API key on the PUT. (The tests'
        # public URL names another host: send its path to this server.)
        signed = httpx.URL(target.url)
        async with httpx.AsyncClient() as raw:
            stored = await raw.put(
                f"{server_url}{signed.raw_path.decode()}",
                content=picture,
                headers={"Content-Type": "image/jpeg"},
            )
        assert stored.status_code == 201, stored.text
        client.claims.replace_drying_log(
            queued.id,
            entries=[
                {"taken_at": "2026-04-28T09:00:00Z", "room": "Basement", "temp_f": 78, "rh_pct": 62}
            ],
        )
        assert client.claims.extract(queued.id).status == "extracting"
        await run_extraction(runtime, tenant, queued.id)

        claim = client.claims.get(queued.id)
        assert claim.status == "ready_for_review" and claim.photo_count == 1
        items = [item for room in claim.rooms for item in room.scope_items]
        assert items
        added = client.claims.add_item(
            queued.id, room="Basement", code="WTR DRYW", description="Closet", qty=8, unit="SF"
        )
        decisions = [{"scope_item_id": i.id, "decision": "approve"} for i in items]
        decisions.append({"scope_item_id": added.id, "decision": "approve"})
        recorded = client.claims.review(queued.id, decisions=decisions)
        assert recorded.decisions_recorded == len(decisions)
        assert recorded.status == "reviewed"
        with pytest.raises(ValidationFailedError):
            client.claims.review(queued.id, decisions=[{"scope_item_id": "scope_x"}])
        with pytest.raises(NotFoundError):
            client.claims.get("clm_" + "0" * 32)


async def test_async_client(server_url: str, factory: Factory) -> None:
    tenant = await factory.tenant("SDK Async")
    async with AsyncEalClient(tenant.key, base_url=server_url) as client:
        assert (await client.health.get()).status == "ok"
        for i in range(5):
            await client.leads.create(name=f"Async {i}", company="Async Co")
        names = [lead.name async for lead in client.leads.list(limit=2)]
        assert sorted(names) == [f"Async {i}" for i in range(5)]
        first = await client.leads.list(limit=2).first_page()
        assert len(first.data) == 2
        with pytest.raises(NotFoundError):
            await client.leads.get(uuid.uuid4())
