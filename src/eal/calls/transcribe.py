"""The `calls.transcribe` job: a recording without a transcript becomes text, then is classified.

CallRail withholds transcripts below its premium tier. When the operator names an
OpenAI-compatible speech-to-text server (`EAL_STT_BASE_URL`, e.g. a self-hosted Whisper
server), the recording is fetched from the vendor, sent to it, and the text stored as the
call's transcript (`transcript_source: speech_to_text`). A failure that may pass is retried
with backoff; one that will not (or the last retry) is stored as `transcription_error` and
the call is classified without a transcript, which sends it to a person.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog

from eal import events, jobs
from eal.calls import repository
from eal.calls.recording import RecordingError, open_recording
from eal.calls.schemas import CALL_PREFIX
from eal.calls.service import CLASSIFY_TASK
from eal.events import Action
from eal.integrations.stt import SttClient, SttError
from eal.kit.ids import public_id
from eal.kit.outbound import UnsafeUrl
from eal.organizations import repository as organizations

log = structlog.get_logger(__name__)

TRANSCRIBE_RETRY = jobs.RetryPolicy(
    max_attempts=6, base=timedelta(seconds=15), cap=timedelta(minutes=20)
)
#: Recordings larger than this are not sent for transcription (OpenAI's own limit is 25 MB).
MAX_AUDIO_BYTES = 25 * 1024 * 1024


class TranscribeCall(jobs.NoPayload):
    """The payload of `calls.transcribe`."""

    call_id: uuid.UUID


async def transcribe(ctx: jobs.JobContext, payload: TranscribeCall) -> None:
    """Transcribe the call's recording, store the text, and queue its classification."""
    runtime = ctx.runtime
    settings_ = runtime.settings
    async with ctx.transaction() as tx:
        row = await repository.get(tx.conn, ctx.organization_id, payload.call_id)
        if row is None:
            return
        if row.transcript is not None or row.recording_url is None:
            await jobs.defer(tx, CLASSIFY_TASK, {"call_id": str(row.id)}, dedupe_key=str(row.id))
            return
        settings = await organizations.settings_of(tx.conn, ctx.organization_id)
    text: str | None = None
    error: str | None = None
    if settings_.stt_base_url is None:
        error = "no speech-to-text server is configured"
    else:
        client = SttClient(
            settings_.stt_base_url,
            settings_.stt_api_key.get_secret_value() if settings_.stt_api_key else None,
            settings_.stt_model,
            runtime.operator_http,
        )
        try:
            async with open_recording(
                row.recording_url,
                source=row.source,
                settings=settings,
                box=runtime.secret_box,
                http=runtime.http,
            ) as audio:
                data = await audio.read(MAX_AUDIO_BYTES)
                filename, content_type = audio.filename, audio.content_type
            text = await client.transcribe(data, filename, content_type) if data else ""
        except (RecordingError, SttError) as exc:
            if exc.transient and ctx.attempt < TRANSCRIBE_RETRY.max_attempts:
                raise
            error = exc.message
        except (UnsafeUrl, ValueError) as exc:
            error = str(exc)
    async with ctx.transaction() as tx:
        current = await repository.get(tx.conn, ctx.organization_id, payload.call_id, lock=True)
        if current is None:
            return
        call_id = public_id(CALL_PREFIX, current.id)
        if current.transcript is None:
            now = tx.now()
            if text:
                await repository.update(
                    tx.conn,
                    ctx.organization_id,
                    current.id,
                    transcript=text,
                    transcript_source="speech_to_text",
                    transcript_at=now,
                    transcription_error=None,
                    updated_at=now,
                )
                await events.record(
                    tx, Action.CALL_TRANSCRIBED, {"call_id": call_id, "characters": len(text)}
                )
            else:
                error = error or "the recording holds no speech"
                await repository.update(
                    tx.conn,
                    ctx.organization_id,
                    current.id,
                    transcription_error=error[:500],
                    updated_at=now,
                )
                await events.record(
                    tx, Action.CALL_TRANSCRIPTION_FAILED, {"call_id": call_id, "error": error[:500]}
                )
                log.warning("call transcription failed", call_id=call_id, error=error)
        await jobs.defer(
            tx, CLASSIFY_TASK, {"call_id": str(current.id)}, dedupe_key=str(current.id)
        )
