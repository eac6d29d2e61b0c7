"""A small, real OpenAI-compatible chat-completions server on 127.0.0.1 for tests.

It speaks ``POST /v1/chat/completions`` as OpenAI documents it:

* ``Authorization: Bearer <api key>`` when the fake has a key (401 with
  OpenAI's error shape otherwise; a fake without a key, like many
  self-hosted servers, takes any request);
* a JSON object body with ``model`` (one of the fake's models, else 404
  ``model_not_found``) and ``messages`` (a non-empty list of objects with a
  ``role`` and a ``content``); ``temperature`` (0 to 2) and ``response_format``
  (``text``, ``json_object``, or ``json_schema`` with a ``name`` and a
  ``schema`` object) are checked when given; anything else wrong is a 400;
* the answer is a ``chat.completion`` object whose one choice carries the
  configured content (a string, or a function of the request body), finish
  reason and refusal.

Tests can make the next N requests fail with a status, delay answers, and
read each request (the raw one, and the parsed body and headers of each
well-formed chat request).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.integrations.fake_stt import openai_error
from tests.integrations.stand_in import Received, Reply, StandInServer

CHAT_PATH = "/v1/chat/completions"
#: A valid classification of a flooding call, the fake's default answer.
DEFAULT_CONTENT = json.dumps(
    {
        "intent": "water",
        "urgency": "high",
        "qualified": True,
        "confidence": 0.92,
        "reason": "Active basement flooding reported by the homeowner.",
    }
)

Content = str | Callable[[dict[str, Any]], str | None] | None
_RESPONSE_FORMATS = ("text", "json_object", "json_schema")


@dataclass(frozen=True)
class ChatRequest:
    """One well-formed chat-completions request as the fake parsed it."""

    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The request's messages."""
        messages: list[dict[str, Any]] = self.body["messages"]
        return messages

    def content_of(self, role: str) -> str:
        """The text of every message with this role, joined by newlines."""
        return "\n".join(str(m.get("content")) for m in self.messages if m.get("role") == role)


@dataclass
class _Failure:
    remaining: int
    status: int
    body: bytes


@dataclass
class _State:
    content: Content
    finish_reason: str = "stop"
    refusal: str | None = None
    requests: list[Received] = field(default_factory=list)
    chats: list[ChatRequest] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    delay_seconds: float = 0.0


class FakeLlm:
    """Handle on a running fake: the answers it gives, controls and recorded traffic."""

    def __init__(
        self, api_key: str | None, models: Iterable[str], content: Content, port: int
    ) -> None:
        self.api_key = api_key
        self.models = frozenset(models)
        self.base_url = f"http://127.0.0.1:{port}"
        self._lock = threading.Lock()
        self._state = _State(content=content)
        self._ids = itertools.count(1)

    # --- controls -----------------------------------------------------------

    def set_content(
        self, content: Content, *, finish_reason: str = "stop", refusal: str | None = None
    ) -> None:
        """Answer every later chat with ``content``: a string, a function of the request
        body returning one, or None (as with a refusal), with this finish reason."""
        with self._lock:
            self._state.content = content
            self._state.finish_reason = finish_reason
            self._state.refusal = refusal

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
    def chats(self) -> list[ChatRequest]:
        """Well-formed chat requests answered with a completion, oldest first."""
        with self._lock:
            return list(self._state.chats)

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
        if request.path != CHAT_PATH:
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
            body = _parse(request)
        except ValueError as exc:
            return Reply.json(400, openai_error(str(exc), "invalid_request_error"))
        model = body["model"]
        if model not in self.models:
            return Reply.json(
                404,
                openai_error(
                    f"The model '{model}' does not exist",
                    "invalid_request_error",
                    "model_not_found",
                ),
            )
        with self._lock:
            source, finish_reason, refusal = (
                self._state.content,
                self._state.finish_reason,
                self._state.refusal,
            )
            self._state.chats.append(ChatRequest(body, dict(request.headers)))
        content = source(body) if callable(source) else source
        return Reply.json(200, self._completion(body, content, finish_reason, refusal))

    def _completion(
        self, body: dict[str, Any], content: str | None, finish_reason: str, refusal: str | None
    ) -> dict[str, Any]:
        # Word counts stand in for tokens: clients read usage, none check it.
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        completion_tokens = len((content or refusal or "").split())
        return {
            "id": f"chatcmpl-fake{next(self._ids):06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _take_failure(self) -> _Failure | None:
        failures = self._state.failures
        while failures and failures[0].remaining <= 0:
            failures.pop(0)
        if not failures:
            return None
        failures[0].remaining -= 1
        return failures[0]


def _parse(request: Received) -> dict[str, Any]:
    """The JSON body of a chat request; ValueError naming what is wrong."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise ValueError("Content-Type must be application/json")
    try:
        body = request.json()
    except ValueError:
        raise ValueError("We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise ValueError("The body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise ValueError("you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty array")
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ValueError("every message needs a role")
        if "content" not in message:
            raise ValueError("every message needs a content")
    temperature = body.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not 0 <= temperature <= 2
    ):
        raise ValueError("'temperature' must be a number from 0 to 2")
    response_format = body.get("response_format")
    if response_format is not None:
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind not in _RESPONSE_FORMATS:
            raise ValueError(f"'response_format.type' must be one of {_RESPONSE_FORMATS}")
        if kind == "json_schema":
            spec = response_format.get("json_schema")
            if (
                not isinstance(spec, dict)
                or not isinstance(spec.get("name"), str)
                or not isinstance(spec.get("schema"), dict)
            ):
                raise ValueError("'response_format.json_schema' needs a name and a schema")
    return body


@contextmanager
def run_fake_llm(
    api_key: str | None = None,
    models: Iterable[str] = ("test-model",),
    *,
    content: Content = DEFAULT_CONTENT,
) -> Iterator[FakeLlm]:
    """Run a fake chat-completions server on 127.0.0.1 (ephemeral port) for the block."""
    server = StandInServer("fake-llm")
    port = server.start()
    fake = FakeLlm(api_key, models, content, port)
    server.serve(fake.handle)
    try:
        yield fake
    finally:
        server.stop()
