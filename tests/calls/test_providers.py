"""The LLM classifies when the server has one (the embedded model answers when it fails), a
recording without a transcript is transcribed first, and a dead worker's job runs again."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from eal.config import Settings
from eal.db.engine import Database
from tests.calls.support import calls_tenant, calls_worker, jobs_of, post_call, wait_for_call
from tests.factories import Factory
from tests.integrations.fake_llm import FakeLlm, run_fake_llm
from tests.integrations.fake_stt import FakeStt, run_fake_stt
from tests.integrations.stand_in import Received, Reply, StandInServer
from tests.outreach.support import Clocked, clocked_app
from tests.support import audit_entries

NOW = datetime(2026, 6, 3, 14, 0, tzinfo=UTC)
FIRE = (
    "Caller: We had a grease fire in the kitchen about an hour ago, the fire department just "
    "left, there's soot on every wall and the whole house smells of smoke. It's our home."
)
LLM_ANSWER = {
    "intent": "fire",
    "urgency": "high",
    "qualified": True,
    "confidence": 0.91,
    "reason": "kitchen grease fire an hour ago; soot throughout; caller owns the home",
}
STT_KEY = "sk-stt-test-6Qm2Zr8Vt4"


@pytest.fixture
def llm() -> Iterator[FakeLlm]:
    with run_fake_llm(content=json.dumps(LLM_ANSWER)) as fake:
        yield fake


@pytest.fixture
async def with_llm(settings: Settings, llm: FakeLlm) -> AsyncIterator[Clocked]:
    configured = settings.model_copy(
        update={
            "llm_base_url": llm.base_url,
            "llm_model": "test-model",
            "llm_timeout_seconds": 15.0,
        }
    )
    async with clocked_app(configured, NOW) as app:
        yield app


async def test_the_llm_classifies_when_the_server_has_one(
    with_llm: Clocked, factory: Factory, llm: FakeLlm
) -> None:
    tenant = await calls_tenant(
        with_llm.client, factory, "LLM Co", dispatch={"auto_dispatch": False}
    )
    async with calls_worker(with_llm.runtime):
        call = await post_call(with_llm.client, tenant, NOW, transcript=FIRE)
        done = await wait_for_call(with_llm.client, tenant, call["id"], "classified")
    classification = done["classification"]
    assert classification["provider"] == "llm:test-model"
    assert classification["intent"] == "fire"
    assert classification["reason"] == LLM_ANSWER["reason"]
    # Other tests' calls may be classified by this worker too: this call's chat is the one.
    assert len([c for c in llm.chats if FIRE in c.content_of("user")]) == 1


@pytest.mark.parametrize("failure", ["status", "nonsense"])
async def test_the_embedded_model_answers_when_the_llm_fails(
    with_llm: Clocked, factory: Factory, llm: FakeLlm, failure: str
) -> None:
    tenant = await calls_tenant(
        with_llm.client, factory, f"Fallback {failure} Co", dispatch={"auto_dispatch": False}
    )
    if failure == "status":
        llm.fail_next(10, 500)
    else:
        llm.set_content('{"intent": "flood", "urgency": "now"}')
    async with calls_worker(with_llm.runtime):
        call = await post_call(with_llm.client, tenant, NOW, transcript=FIRE)
        done = await wait_for_call(with_llm.client, tenant, call["id"], "classified")
    assert done["classification"]["provider"] == "embedded"
    assert done["classification"]["intent"] == "fire"


async def test_an_organization_can_keep_its_transcripts_off_the_llm(
    with_llm: Clocked, factory: Factory, llm: FakeLlm
) -> None:
    tenant = await calls_tenant(
        with_llm.client,
        factory,
        "Private Transcripts Co",
        dispatch={"auto_dispatch": False},
        extra={"ai": {"llm_enabled": False}},
    )
    async with calls_worker(with_llm.runtime):
        call = await post_call(with_llm.client, tenant, NOW, transcript=FIRE)
        done = await wait_for_call(with_llm.client, tenant, call["id"], "classified")
    assert done["classification"]["provider"] == "embedded"
    assert not [c for c in llm.chats if FIRE in c.content_of("user")]


@pytest.fixture
def recordings() -> Iterator[str]:
    async def handler(request: Received) -> Reply:
        return Reply(
            200, b"ID3" + bytes(range(200)) * 20, headers=(("Content-Type", "audio/mpeg"),)
        )

    server = StandInServer("stt-recordings")
    port = server.start()
    server.serve(handler)
    try:
        yield f"http://127.0.0.1:{port}/rec.mp3"
    finally:
        server.stop()


@pytest.fixture
def stt() -> Iterator[FakeStt]:
    with run_fake_stt(STT_KEY, text=FIRE) as fake:
        yield fake


async def test_a_recording_without_a_transcript_is_transcribed_then_classified(
    settings: Settings, factory: Factory, db: Database, stt: FakeStt, recordings: str
) -> None:
    configured = settings.model_copy(
        update={"stt_base_url": stt.base_url, "stt_api_key": SecretStr(STT_KEY)}
    )
    async with clocked_app(configured, NOW) as app:
        tenant = await calls_tenant(
            app.client, factory, "STT Co", dispatch={"auto_dispatch": False}
        )
        async with calls_worker(app.runtime):
            call = await post_call(
                app.client, tenant, NOW, transcript=None, recording_url=recordings
            )
            done = await wait_for_call(app.client, tenant, call["id"], "classified")
    assert done["transcript"] == FIRE
    assert done["transcript_source"] == "speech_to_text"
    assert done["classification"]["intent"] == "fire"
    assert len(await audit_entries(db, tenant.id, "call.transcribed")) == 1


async def test_a_transcription_that_fails_for_good_sends_the_call_to_a_person(
    settings: Settings, factory: Factory, stt: FakeStt, recordings: str
) -> None:
    configured = settings.model_copy(
        update={"stt_base_url": stt.base_url, "stt_api_key": SecretStr(STT_KEY)}
    )
    stt.fail_next(10, 400)
    async with clocked_app(configured, NOW) as app:
        tenant = await calls_tenant(app.client, factory, "STT Down Co")
        async with calls_worker(app.runtime):
            call = await post_call(
                app.client, tenant, NOW, transcript=None, recording_url=recordings
            )
            done = await wait_for_call(app.client, tenant, call["id"], "classified")
    assert done["transcript"] is None
    assert done["transcription_error"]
    assert done["dispatch_decision"]["action"] == "owner_review"


async def test_a_classification_picked_by_a_dead_worker_runs_again(
    settings: Settings, factory: Factory, db: Database
) -> None:
    async with clocked_app(settings, NOW) as app:
        tenant = await calls_tenant(app.client, factory, "Dead Worker Co")
        call = await post_call(app.client, tenant, NOW)
        [job] = await jobs_of(db, "calls.classify", call["id"])
        # As a worker that died mid-job leaves it: picked, its heartbeat long stopped.
        async with db.system_transaction() as conn:
            await conn.execute(
                text(
                    "UPDATE pgqueuer SET status = 'picked', queue_manager_id = :qm, "
                    "heartbeat = now() - interval '1 hour' WHERE id = :id"
                ),
                {"qm": uuid.uuid4(), "id": job["id"]},
            )
        async with calls_worker(app.runtime):
            done = await wait_for_call(
                app.client, tenant, call["id"], "dispatched", "dispatch_failed", "classified"
            )
    assert done["classification"]["intent"] == "water"
