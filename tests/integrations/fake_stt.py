"""A small, real OpenAI-compatible speech-to-text server on 127.0.0.1 for tests.

It speaks ``POST /v1/audio/transcriptions`` as OpenAI documents it:

* ``Authorization: Bearer <api key>`` when the fake has a key (401 with
  OpenAI's error shape otherwise; a fake without a key, like many
  self-hosted servers, takes any request);
* a ``multipart/form-data`` body with a ``file`` part (a file name and
  non-empty bytes), ``model`` (one of the fake's models, else 404
  ``model_not_found``) and an optional ``response_format``: ``json``
  (the default) answers ``{"text": ...}``, ``text`` the bare text, anything
  else is a 400; ``language`` and ``prompt`` are accepted;
* the answer is the configured text, or the text configured for those exact
  audio bytes.

Tests can make the next N requests fail with a status, delay answers, and
read each transcription request (its fields, file name, type and bytes).
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from tests.integrations.stand_in import Received, Reply, StandInServer

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"


@dataclass(frozen=True)
class Transcription:
    """One transcription request as the fake parsed it."""

    fields: dict[str, str]
    filename: str | None
    content_type: str | None
    audio: bytes
    headers: dict[str, str]


@dataclass
class _Failure:
    remaining: int
    status: int
    body: bytes


@dataclass
class _State:
    text: str
    by_audio: dict[bytes, str] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    transcriptions: list[Transcription] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    delay_seconds: float = 0.0


def openai_error(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    """An error body in OpenAI's shape."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class FakeStt:
    """Handle on a running fake: the answers it gives, controls and recorded traffic."""

    def __init__(self, api_key: str | None, models: Iterable[str], text: str, port: int) -> None:
        self.api_key = api_key
        self.models = frozenset(models)
        self.base_url = f"http://127.0.0.1:{port}"
        self._lock = threading.Lock()
        self._state = _State(text=text)

    # --- controls -----------------------------------------------------------

    def set_text(self, text: str) -> None:
        """Answer every later transcription with ``text``."""
        with self._lock:
            self._state.text = text

    def answer_for(self, audio: bytes, text: str) -> None:
        """Answer ``text`` for these exact audio bytes (others get the general text)."""
        with self._lock:
            self._state.by_audio[audio] = text

    def fail_next(
        self, count: int, status: int, message: str | None = None, *, body: str | None = None
    ) -> None:
        """Answer the next ``count`` requests (authorised or not) with ``status`` and an
        OpenAI-shaped error, or ``body`` verbatim; calls queue up in order."""
        kind = "server_error" if status >= 500 else "invalid_request_error"
        raw = (
            body
            if body is not None
            else json.dumps(openai_error(message or f"HTTP {status}", kind))
        )
        with self._lock:
            self._state.failures.append(_Failure(count, status, raw.encode()))

    def set_delay(self, seconds: float) -> None:
        """Hold every answer for ``seconds`` (0 turns it off)."""
        with self._lock:
            self._state.delay_seconds = seconds

    # --- observations -------------------------------------------------------

    @property
    def requests(self) -> list[Received]:
        """Requests received so far, oldest first."""
        with self._lock:
            return list(self._state.requests)

    @property
    def transcriptions(self) -> list[Transcription]:
        """Well-formed transcription requests answered with a text, oldest first."""
        with self._lock:
            return list(self._state.transcriptions)

    # --- request handling (runs on the server's event loop) ------------------

    async def handle(self, request: Received) -> Reply:
        """Answer one request."""
        with self._lock:
            self._state.requests.append(request)
            delay = self._state.delay_seconds
        if delay:
            await asyncio.sleep(delay)
        with self._lock:
            failure = self._take_failure()
        if failure is not None:
            return Reply(failure.status, failure.body, (("Content-Type", "application/json"),))
        if request.path != TRANSCRIPTIONS_PATH:
            return Reply.json(404, openai_error("Not found", "invalid_request_error"))
        if request.method != "POST":
            return Reply.json(405, openai_error("Method not allowed", "invalid_request_error"))
        if self.api_key is not None and request.headers.get("authorization") != (
            f"Bearer {self.api_key}"
        ):
            message = "Incorrect API key provided."
            return Reply.json(
                401, openai_error(message, "invalid_request_error", "invalid_api_key")
            )
        try:
            transcription = _parse(request)
        except ValueError as exc:
            return Reply.json(400, openai_error(str(exc), "invalid_request_error"))
        if transcription.fields.get("model") not in self.models:
            model = transcription.fields.get("model")
            return Reply.json(
                404,
                openai_error(
                    f"The model '{model}' does not exist",
                    "invalid_request_error",
                    "model_not_found",
                ),
            )
        response_format = transcription.fields.get("response_format", "json")
        if response_format not in ("json", "text"):
            return Reply.json(
                400, openai_error("Unsupported response_format", "invalid_request_error")
            )
        with self._lock:
            text = self._state.by_audio.get(transcription.audio, self._state.text)
            self._state.transcriptions.append(transcription)
        if response_format == "text":
            return Reply(200, text.encode(), (("Content-Type", "text/plain; charset=utf-8"),))
        return Reply.json(200, {"text": text})

    def _take_failure(self) -> _Failure | None:
        failures = self._state.failures
        while failures and failures[0].remaining <= 0:
            failures.pop(0)
        if not failures:
            return None
        failures[0].remaining -= 1
        return failures[0]


def _parse(request: Received) -> Transcription:
    """The multipart form of a transcription request; ValueError naming what is wrong."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data") or "boundary=" not in content_type:
        raise ValueError("Content-Type must be multipart/form-data with a boundary")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + request.body
    )
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        raise ValueError("the body is not a multipart form")
    fields: dict[str, str] = {}
    audio: bytes | None = None
    filename: str | None = None
    part_type: str | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("every part needs a name")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if name == "file":
            audio, filename, part_type = data, part.get_filename(), part.get_content_type()
        else:
            fields[name] = data.decode("utf-8")
    if audio is None:
        raise ValueError("you must provide a file")
    if not filename:
        raise ValueError("the file part needs a filename")
    if not audio:
        raise ValueError("the audio file is empty")
    if not fields.get("model"):
        raise ValueError("you must provide a model parameter")
    return Transcription(fields, filename, part_type, audio, dict(request.headers))


@contextmanager
def run_fake_stt(
    api_key: str | None = "sk-stt-test-6Qm2Zr8Vt4",
    *,
    models: Iterable[str] = ("whisper-1",),
    text: str = "Hi, my basement is flooding, water is coming through the ceiling.",
) -> Iterator[FakeStt]:
    """Run a fake speech-to-text server on 127.0.0.1 (ephemeral port) for the block."""
    server = StandInServer("fake-stt")
    port = server.start()
    fake = FakeStt(api_key, models, text, port)
    server.serve(fake.handle)
    try:
        yield fake
    finally:
        server.stop()
