"""The LLM call classifier against a real local OpenAI-compatible chat server, and the
EAL_LLM_* settings."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from eal.ai.call_labels import INTENTS, URGENCIES
from eal.ai.llm import (
    MAX_TRANSCRIPT_CHARS,
    SYSTEM_PROMPT,
    LlmAnswer,
    LlmClassifier,
    LlmConfig,
    LlmError,
    response_schema,
)
from eal.config import Settings
from eal.kit.outbound import OutboundPolicy, UnsafeUrl
from tests.integrations.fake_llm import FakeLlm, run_fake_llm

API_KEY = "sk-llm-test-9Xr4Kp2Wq7"
MODEL = "test-model"
TRANSCRIPT = (
    "Hi, this is Dana on Peachtree Street. Our water heater burst an hour ago and the "
    "basement has two inches of water. Can someone come today?"
)
FACTS = {"duration_seconds": "45", "franchise state": "GA", "caller city": "Atlanta"}


def answer(**overrides: Any) -> str:
    body: dict[str, Any] = {
        "intent": "water",
        "urgency": "high",
        "qualified": True,
        "confidence": 0.9,
        "reason": "A burst water heater flooding the basement now.",
    }
    body.update(overrides)
    return json.dumps({k: v for k, v in body.items() if v is not ...})


@pytest.fixture
def fake() -> Iterator[FakeLlm]:
    with run_fake_llm(API_KEY, models=[MODEL]) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with OutboundPolicy(allow_private=True).http_client(timeout=5.0) as client:
        yield client


def make_classifier(
    fake: FakeLlm,
    http: httpx.AsyncClient,
    *,
    api_key: str | None = API_KEY,
    model: str = MODEL,
    timeout: float = 5.0,
    suffix: str = "",
) -> LlmClassifier:
    return LlmClassifier(LlmConfig(fake.base_url + suffix, api_key, model, timeout), http)


async def classify_error(classifier: LlmClassifier) -> LlmError:
    with pytest.raises(LlmError) as caught:
        await classifier.classify_call(TRANSCRIPT, facts=FACTS)
    return caught.value


# --- the request and a good answer ------------------------------------------------


async def test_a_valid_answer_is_parsed(fake: FakeLlm, http: httpx.AsyncClient) -> None:
    fake.set_content(answer(reason="  Burst water heater,\n basement flooding now.  "))

    result = await make_classifier(fake, http).classify_call(TRANSCRIPT, facts=FACTS)

    assert result == LlmAnswer(
        intent="water",
        urgency="high",
        qualified=True,
        confidence=0.9,
        reason="Burst water heater, basement flooding now.",  # one line, stripped
    )


async def test_the_request_is_the_documented_chat_completion(
    fake: FakeLlm, http: httpx.AsyncClient
) -> None:
    await make_classifier(fake, http).classify_call(TRANSCRIPT, facts=FACTS)

    [raw] = fake.requests
    assert (raw.method, raw.path) == ("POST", "/v1/chat/completions")
    [chat] = fake.chats
    assert chat.headers["authorization"] == f"Bearer {API_KEY}"
    assert chat.body["model"] == MODEL
    assert chat.body["temperature"] == 0
    assert chat.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "call_classification", "strict": True, "schema": response_schema()},
    }
    assert [m["role"] for m in chat.messages] == ["system", "user"]
    assert chat.content_of("system") == SYSTEM_PROMPT
    user = chat.content_of("user")
    assert TRANSCRIPT in user
    for line in ("duration_seconds: 45", "franchise state: GA", "caller city: Atlanta"):
        assert line in user


def test_the_schema_is_strict_compatible() -> None:
    schema = response_schema()

    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["required"] == ["intent", "urgency", "qualified", "confidence", "reason"]
    assert set(schema["properties"]) == set(schema["required"])
    assert schema["properties"]["intent"]["enum"] == list(INTENTS)
    assert schema["properties"]["urgency"]["enum"] == list(URGENCIES)
    assert schema["properties"]["qualified"]["type"] == "boolean"
    assert schema["properties"]["confidence"]["type"] == "number"
    assert schema["properties"]["reason"]["type"] == "string"
    # Keywords strict mode refuses are not sent.
    for spec in schema["properties"].values():
        assert set(spec) <= {"type", "enum", "description"}


def test_the_prompt_states_every_label_and_rule() -> None:
    for label in (*INTENTS, *URGENCIES):
        assert f'"{label}":' in SYSTEM_PROMPT
    for phrase in (
        "even when they speak of water damage",
        "Category 3 water",
        "services the franchise does not offer, silence",
        "a recent or stopped loss needing service within days",
        "from someone who can hire it",
        "not plainly in another state",
        "answer only with the JSON object",
    ):
        assert phrase in SYSTEM_PROMPT


async def test_facts_are_one_line_each_and_optional(fake: FakeLlm, http: httpx.AsyncClient) -> None:
    classifier = make_classifier(fake, http)
    await classifier.classify_call(TRANSCRIPT, facts={"caller city": "Atlanta\n- franchise: x"})
    await classifier.classify_call(TRANSCRIPT)

    with_facts, without = (chat.content_of("user") for chat in fake.chats)
    assert "- caller city: Atlanta - franchise: x" in with_facts
    assert "- none given" in without and TRANSCRIPT in without


async def test_a_long_transcript_is_cut(fake: FakeLlm, http: httpx.AsyncClient) -> None:
    transcript = "water " * 5000  # 30,000 characters

    await make_classifier(fake, http).classify_call(transcript)

    user = fake.chats[0].content_of("user")
    assert "water " * (MAX_TRANSCRIPT_CHARS // 6 - 1) in user
    assert "water " * (MAX_TRANSCRIPT_CHARS // 6 + 1) not in user
    assert f"cut at {MAX_TRANSCRIPT_CHARS} characters" in user


async def test_the_answer_can_be_computed_from_the_request(http: httpx.AsyncClient) -> None:
    def by_transcript(body: dict[str, Any]) -> str:
        user = body["messages"][-1]["content"]
        if "SEO" in user:
            return answer(intent="sales_pitch", urgency="low", qualified=False)
        return answer()

    with run_fake_llm(content=by_transcript) as open_server:
        classifier = make_classifier(open_server, http, api_key=None)
        pitch = await classifier.classify_call("We can get you to page one with our SEO.")
        flood = await classifier.classify_call(TRANSCRIPT)

    assert (pitch.intent, pitch.qualified) == ("sales_pitch", False)
    assert (flood.intent, flood.qualified) == ("water", True)


async def test_without_a_key_no_bearer_key_is_sent(http: httpx.AsyncClient) -> None:
    with run_fake_llm() as open_server:
        result = await make_classifier(open_server, http, api_key=None).classify_call(TRANSCRIPT)
        assert result.intent == "water"
        assert API_KEY not in open_server.chats[0].headers.get("authorization", "")


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
async def test_the_base_url_may_name_v1_or_not(
    fake: FakeLlm, http: httpx.AsyncClient, suffix: str
) -> None:
    await make_classifier(fake, http, suffix=suffix).classify_call(TRANSCRIPT)

    assert [r.path for r in fake.requests] == ["/v1/chat/completions"]


@pytest.mark.parametrize(
    "content",
    [
        "```json\n" + answer() + "\n```",
        "```\n" + answer() + "\n```",
        "  ```JSON " + answer() + "```  ",
    ],
)
async def test_fenced_json_is_accepted(
    fake: FakeLlm, http: httpx.AsyncClient, content: str
) -> None:
    fake.set_content(content)

    result = await make_classifier(fake, http).classify_call(TRANSCRIPT)

    assert result.intent == "water" and result.confidence == 0.9


# --- answers that are not a classification ----------------------------------------


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("", "empty content"),
        ("The caller has a flooded basement.", "not JSON"),
        ('{"intent": "water", "urgency": "high"', "not JSON"),
        ("[1, 2]", "invalid classification"),
        (answer(intent="flood"), "intent"),
        (answer(urgency="urgent"), "urgency"),
        (answer(qualified="true"), "qualified"),
        (answer(confidence=1.5), "confidence"),
        (answer(confidence=True), "confidence"),
        (answer(reason="   "), "reason"),
        (answer(reason="x" * 301), "reason"),
        (answer(reason=...), "reason: Field required"),
        (answer(intent=...), "intent: Field required"),
        (answer(extra="field"), "extra"),
    ],
)
async def test_invalid_content_is_invalid_output(
    fake: FakeLlm, http: httpx.AsyncClient, content: str, says: str
) -> None:
    fake.set_content(content)

    error = await classify_error(make_classifier(fake, http))

    assert error.reason == "invalid_output" and not error.transient
    assert says in error.message


async def test_the_content_is_not_copied_into_the_error(
    fake: FakeLlm, http: httpx.AsyncClient
) -> None:
    # It may quote the caller; error messages end up in logs.
    fake.set_content("Dana at 404-555-0188 has water in the basement.")

    error = await classify_error(make_classifier(fake, http))

    assert "555-0188" not in error.message


async def test_an_answer_cut_by_the_token_limit_is_invalid_output(
    fake: FakeLlm, http: httpx.AsyncClient
) -> None:
    fake.set_content(answer(), finish_reason="length")  # even when it happens to parse

    error = await classify_error(make_classifier(fake, http))

    assert error.reason == "invalid_output" and "token limit" in error.message


async def test_a_refusal_is_invalid_output(fake: FakeLlm, http: httpx.AsyncClient) -> None:
    fake.set_content(None, refusal="I can't help with that.")

    error = await classify_error(make_classifier(fake, http))

    assert error.reason == "invalid_output"
    assert "refused: I can't help with that." in error.message


@pytest.mark.parametrize(
    "body",
    ["<html>gateway</html>", "{}", '{"choices": []}', '{"choices": [{"index": 0}]}'],
)
async def test_a_success_that_is_not_a_completion_is_invalid_output(
    fake: FakeLlm, http: httpx.AsyncClient, body: str
) -> None:
    fake.fail_next(1, 200, body=body)

    error = await classify_error(make_classifier(fake, http))

    assert error.reason == "invalid_output"


# --- the server's failures ----------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
async def test_busy_or_broken_servers_are_unavailable_and_a_retry_succeeds(
    fake: FakeLlm, http: httpx.AsyncClient, status: int
) -> None:
    classifier = make_classifier(fake, http)
    fake.fail_next(1, status, message="overloaded, try later")

    error = await classify_error(classifier)

    assert (error.reason, error.status_code, error.transient) == ("unavailable", status, True)
    assert "overloaded, try later" in error.message
    assert len(fake.requests) == 1  # the SDK's own retries are off
    assert (await classifier.classify_call(TRANSCRIPT)).intent == "water"


async def test_a_wrong_key_is_refused_without_the_key(
    fake: FakeLlm, http: httpx.AsyncClient
) -> None:
    wrong = "sk-wrong-wrong-wrong"
    classifier = make_classifier(fake, http, api_key=wrong)

    error = await classify_error(classifier)

    assert (error.reason, error.status_code, error.transient) == ("refused", 401, False)
    assert "Incorrect API key provided." in error.message and "EAL_LLM_API_KEY" in error.message
    for text in (error.message, str(error), repr(error), repr(classifier)):
        assert wrong not in text
    assert wrong not in repr(classifier.config)
    assert fake.chats == []


async def test_an_unknown_model_is_refused_with_the_servers_reason(
    fake: FakeLlm, http: httpx.AsyncClient
) -> None:
    error = await classify_error(make_classifier(fake, http, model="gpt-9"))

    assert (error.reason, error.status_code) == ("refused", 404)
    assert "The model 'gpt-9' does not exist" in error.message


@pytest.mark.parametrize("status", [400, 403, 422])
async def test_other_client_errors_are_refused(
    fake: FakeLlm, http: httpx.AsyncClient, status: int
) -> None:
    fake.fail_next(1, status, message="response_format is not supported")

    error = await classify_error(make_classifier(fake, http))

    assert (error.reason, error.status_code) == ("refused", status)
    assert "response_format is not supported" in error.message


async def test_the_key_never_appears_in_errors(fake: FakeLlm, http: httpx.AsyncClient) -> None:
    fake.fail_next(1, 500, message=f"upstream rejected Bearer {API_KEY}")
    fake.fail_next(1, 401, body=f"<html>bad key {API_KEY}</html>")
    fake.set_content(None, refusal=f"I will not repeat {API_KEY}")
    classifier = make_classifier(fake, http)

    for _ in range(3):
        error = await classify_error(classifier)
        for text in (error.message, str(error), repr(error)):
            assert API_KEY not in text
        assert "[redacted]" in error.message


async def test_a_slow_server_is_a_timeout(fake: FakeLlm, http: httpx.AsyncClient) -> None:
    fake.set_delay(2.0)

    error = await classify_error(make_classifier(fake, http, timeout=0.3))

    assert (error.reason, error.transient) == ("timeout", True)
    assert "timed out after 0.3 s" in error.message


async def test_connection_refused_is_unavailable(http: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = LlmConfig(f"http://127.0.0.1:{port}", API_KEY, MODEL, 5.0)

    with pytest.raises(LlmError) as caught:
        await LlmClassifier(config, http).classify_call(TRANSCRIPT)

    assert (caught.value.reason, caught.value.transient) == ("unavailable", True)


async def test_the_policy_refusal_goes_through_unchanged(fake: FakeLlm) -> None:
    async with OutboundPolicy(allow_private=False).http_client(timeout=5.0) as strict:
        with pytest.raises(UnsafeUrl):
            await make_classifier(fake, strict).classify_call(TRANSCRIPT)
    assert fake.requests == []


# --- construction -------------------------------------------------------------------


def test_config_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="http"):
        LlmConfig("ftp://llm.example.com", None, MODEL, 5.0)
    with pytest.raises(ValueError, match="model"):
        LlmConfig("https://llm.example.com", None, " ", 5.0)
    with pytest.raises(ValueError, match="timeout"):
        LlmConfig("https://llm.example.com", None, MODEL, 0)


def test_error_reasons_are_checked() -> None:
    assert LlmError("x", "refused").reason == "refused"
    with pytest.raises(ValueError, match="reason"):
        LlmError("x", "broken")  # type: ignore[arg-type]


def test_importing_the_classifier_does_not_import_openai() -> None:
    probe = (
        "import sys, eal.ai.llm; "
        "from eal.ai.llm import LlmConfig; LlmConfig('http://127.0.0.1:1', None); "
        "assert 'openai' not in sys.modules, 'openai was imported'"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)


# --- settings -----------------------------------------------------------------------

LLM_VARIABLES = ("EAL_LLM_BASE_URL", "EAL_LLM_API_KEY", "EAL_LLM_MODEL", "EAL_LLM_TIMEOUT_SECONDS")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_llm_is_off_by_default(env: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)

    assert (
        settings.llm_base_url,
        settings.llm_api_key,
        settings.llm_model,
        settings.llm_timeout_seconds,
    ) == (None, None, "gpt-4o-mini", 20.0)
    assert not settings.llm_enabled
    assert LlmConfig.from_settings(settings) is None


def test_llm_settings_are_read(env: pytest.MonkeyPatch) -> None:
    env.setenv("EAL_LLM_BASE_URL", " http://vllm.internal:8000/v1/ ")
    env.setenv("EAL_LLM_API_KEY", " sk-local-2 ")
    env.setenv("EAL_LLM_MODEL", "Qwen/Qwen2.5-7B-Instruct")
    env.setenv("EAL_LLM_TIMEOUT_SECONDS", "7.5")
    settings = Settings(_env_file=None)

    assert settings.llm_base_url == "http://vllm.internal:8000/v1"
    assert settings.llm_api_key is not None
    assert settings.llm_api_key.get_secret_value() == "sk-local-2"
    assert "sk-local-2" not in repr(settings)
    assert settings.llm_model == "Qwen/Qwen2.5-7B-Instruct"
    assert settings.llm_timeout_seconds == 7.5
    assert settings.llm_enabled
    config = LlmConfig.from_settings(settings)
    assert config == LlmConfig(
        "http://vllm.internal:8000/v1", "sk-local-2", "Qwen/Qwen2.5-7B-Instruct", 7.5
    )
    assert "sk-local-2" not in repr(config)


def test_a_server_without_a_key_is_configured_without_one(env: pytest.MonkeyPatch) -> None:
    env.setenv("EAL_LLM_BASE_URL", "http://ollama.internal:11434")
    config = LlmConfig.from_settings(Settings(_env_file=None))

    assert config is not None and config.api_key is None
    assert (config.model, config.timeout_seconds) == ("gpt-4o-mini", 20.0)


def test_empty_llm_variables_mean_unset(env: pytest.MonkeyPatch) -> None:
    env.setenv("EAL_LLM_BASE_URL", "")
    env.setenv("EAL_LLM_API_KEY", "")
    settings = Settings(_env_file=None)
    assert settings.llm_base_url is None and settings.llm_api_key is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EAL_LLM_BASE_URL", "llm.internal:8000"),
        ("EAL_LLM_BASE_URL", "ftp://llm.internal"),
        ("EAL_LLM_BASE_URL", "https://user:pw@llm.internal"),
        ("EAL_LLM_BASE_URL", "https://llm.internal/?key=1"),
        ("EAL_LLM_BASE_URL", "https://"),
        ("EAL_LLM_MODEL", " "),
        ("EAL_LLM_MODEL", "gpt 4o"),
        ("EAL_LLM_TIMEOUT_SECONDS", "0"),
        ("EAL_LLM_TIMEOUT_SECONDS", "-1"),
        ("EAL_LLM_TIMEOUT_SECONDS", "301"),
        ("EAL_LLM_TIMEOUT_SECONDS", "soon"),
    ],
)
def test_bad_llm_settings_are_refused(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    env.setenv("EAL_LLM_BASE_URL", "https://llm.example.com")
    env.setenv(name, value)
    with pytest.raises(ValidationError, match=name):
        Settings(_env_file=None)


def test_the_longest_timeout_is_accepted(env: pytest.MonkeyPatch) -> None:
    env.setenv("EAL_LLM_TIMEOUT_SECONDS", "300")
    assert Settings(_env_file=None).llm_timeout_seconds == 300


def test_a_key_without_a_server_is_refused(env: pytest.MonkeyPatch) -> None:
    env.setenv("EAL_LLM_API_KEY", "sk-local-2")
    with pytest.raises(ValidationError, match="EAL_LLM_BASE_URL is not"):
        Settings(_env_file=None)
