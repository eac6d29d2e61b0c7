"""Speech-to-text client against a real local OpenAI-compatible transcription server, and
the EAL_STT_* settings."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from pydantic import ValidationError

from eal.config import Settings
from eal.integrations.stt import SttAuthError, SttClient, SttError, transcriptions_url
from eal.kit.outbound import OutboundPolicy, UnsafeUrl
from tests.integrations.fake_stt import FakeStt, run_fake_stt

API_KEY = "sk-stt-test-6Qm2Zr8Vt4"
AUDIO = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 16


@pytest.fixture
def fake() -> Iterator[FakeStt]:
    with run_fake_stt(API_KEY) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with OutboundPolicy(allow_private=True).http_client(timeout=5.0) as client:
        yield client


def make_client(
    fake: FakeStt,
    http: httpx.AsyncClient,
    *,
    api_key: str | None = API_KEY,
    model: str = "whisper-1",
    timeout: float = 5.0,
) -> SttClient:
    return SttClient(fake.base_url, api_key, model, http, timeout=timeout)


async def test_transcribe_posts_the_documented_multipart(
    fake: FakeStt, http: httpx.AsyncClient
) -> None:
    text = await make_client(fake, http).transcribe(AUDIO, "recording.mp3", "audio/mpeg")

    assert text == "Hi, my basement is flooding, water is coming through the ceiling."
    [request] = fake.requests
    assert (request.method, request.path) == ("POST", "/v1/audio/transcriptions")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    [sent] = fake.transcriptions
    assert sent.fields == {"model": "whisper-1", "response_format": "json"}
    assert (sent.filename, sent.content_type, sent.audio) == ("recording.mp3", "audio/mpeg", AUDIO)


async def test_language_and_prompt_are_sent_when_given(
    fake: FakeStt, http: httpx.AsyncClient
) -> None:
    fake.answer_for(AUDIO, "  Hola, tengo agua en el sótano.  ")

    text = await make_client(fake, http).transcribe(
        AUDIO, "/tmp/calls/CAL1.wav", "audio/wav", language="es", prompt="PuroClean, sótano"
    )

    assert text == "Hola, tengo agua en el sótano."  # stripped
    [sent] = fake.transcriptions
    assert sent.fields["language"] == "es" and sent.fields["prompt"] == "PuroClean, sótano"
    assert sent.filename == "CAL1.wav"  # the last path segment only


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_the_base_url_may_name_v1_or_not(suffix: str) -> None:
    assert transcriptions_url("https://stt.example.com" + suffix) == (
        "https://stt.example.com/v1/audio/transcriptions"
    )


async def test_a_base_url_ending_in_v1_reaches_the_same_endpoint(
    fake: FakeStt, http: httpx.AsyncClient
) -> None:
    client = SttClient(fake.base_url + "/v1", API_KEY, "whisper-1", http)

    assert await client.transcribe(AUDIO, "a.mp3", "audio/mpeg")
    assert fake.requests[0].path == "/v1/audio/transcriptions"


async def test_without_a_key_no_authorization_is_sent(http: httpx.AsyncClient) -> None:
    with run_fake_stt(None, models=["Systran/faster-whisper-small"], text="ok") as open_server:
        client = SttClient(open_server.base_url, None, "Systran/faster-whisper-small", http)
        assert await client.transcribe(AUDIO, "a.mp3", "audio/mpeg") == "ok"
        assert "authorization" not in open_server.requests[0].headers


async def test_a_wrong_key_is_an_auth_error_without_the_key(
    fake: FakeStt, http: httpx.AsyncClient
) -> None:
    wrong = "sk-wrong-wrong-wrong"
    with pytest.raises(SttAuthError) as caught:
        await make_client(fake, http, api_key=wrong).transcribe(AUDIO, "a.mp3", "audio/mpeg")

    assert (caught.value.status_code, caught.value.transient) == (401, False)
    assert "Incorrect API key provided." in caught.value.message
    assert wrong not in repr(caught.value) and wrong not in repr(make_client(fake, http))
    assert fake.transcriptions == []


async def test_an_unknown_model_is_a_rejection_with_the_servers_reason(
    fake: FakeStt, http: httpx.AsyncClient
) -> None:
    with pytest.raises(SttError) as caught:
        await make_client(fake, http, model="whisper-9").transcribe(AUDIO, "a.mp3", "audio/mpeg")

    assert (caught.value.status_code, caught.value.transient) == (404, False)
    assert "The model 'whisper-9' does not exist" in caught.value.message


@pytest.mark.parametrize(
    ("status", "transient"), [(500, True), (502, True), (503, True), (429, True), (400, False)]
)
async def test_failures_say_whether_to_retry_and_a_retry_succeeds(
    fake: FakeStt, http: httpx.AsyncClient, status: int, transient: bool
) -> None:
    client = make_client(fake, http)
    fake.fail_next(2, status, message="busy transcribing")

    for _ in range(2):
        with pytest.raises(SttError) as caught:
            await client.transcribe(AUDIO, "a.mp3", "audio/mpeg")
        assert (caught.value.status_code, caught.value.transient) == (status, transient)
        assert "busy transcribing" in caught.value.message

    assert await client.transcribe(AUDIO, "a.mp3", "audio/mpeg")
    assert len(fake.requests) == 3 and len(fake.transcriptions) == 1


async def test_the_key_never_appears_in_errors(fake: FakeStt, http: httpx.AsyncClient) -> None:
    fake.fail_next(1, 500, message=f"upstream rejected Bearer {API_KEY}")

    with pytest.raises(SttError) as caught:
        await make_client(fake, http).transcribe(AUDIO, "a.mp3", "audio/mpeg")

    for text in (caught.value.message, str(caught.value), repr(caught.value)):
        assert API_KEY not in text
    assert "[redacted]" in caught.value.message


async def test_a_timeout_is_transient(fake: FakeStt, http: httpx.AsyncClient) -> None:
    fake.set_delay(2.0)

    with pytest.raises(SttError) as caught:
        await make_client(fake, http, timeout=0.2).transcribe(AUDIO, "a.mp3", "audio/mpeg")

    assert caught.value.transient and "timed out" in caught.value.message


async def test_connection_refused_is_transient(http: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = SttClient(f"http://127.0.0.1:{port}", API_KEY, "whisper-1", http)

    with pytest.raises(SttError) as caught:
        await client.transcribe(AUDIO, "a.mp3", "audio/mpeg")
    assert caught.value.transient


@pytest.mark.parametrize(
    "body", ["<html>gateway</html>", '{"transcript": "x"}', '{"text": 5}', '["text"]']
)
async def test_a_success_without_text_is_transient(
    fake: FakeStt, http: httpx.AsyncClient, body: str
) -> None:
    # A 200 whose body is not the documented JSON: a proxy's page, another API.
    fake.fail_next(1, 200, body=body)

    with pytest.raises(SttError) as caught:
        await make_client(fake, http).transcribe(AUDIO, "a.mp3", "audio/mpeg")

    assert caught.value.transient and caught.value.status_code == 200
    assert "without a text field" in caught.value.message


async def test_empty_audio_is_refused_before_any_request(
    fake: FakeStt, http: httpx.AsyncClient
) -> None:
    with pytest.raises(ValueError, match="empty"):
        await make_client(fake, http).transcribe(b"", "a.mp3", "audio/mpeg")
    assert fake.requests == []


async def test_the_policy_refusal_goes_through_unchanged(fake: FakeStt) -> None:
    async with OutboundPolicy(allow_private=False).http_client(timeout=5.0) as strict:
        with pytest.raises(UnsafeUrl):
            await SttClient(fake.base_url, API_KEY, "whisper-1", strict).transcribe(
                AUDIO, "a.mp3", "audio/mpeg"
            )
    assert fake.requests == []


def test_arguments_are_checked(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="http"):
        SttClient("ftp://stt.example.com", None, "whisper-1", http)
    with pytest.raises(ValueError, match="model"):
        SttClient("https://stt.example.com", None, " ", http)


def test_importing_the_client_does_not_import_openai() -> None:
    probe = "import sys, eal.integrations.stt; print(sorted(m for m in sys.modules if m.split('.')[0] == 'openai'))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


async def test_the_stand_in_speaks_the_protocol_the_openai_sdk_speaks(fake: FakeStt) -> None:
    # The stand-in is only worth its tests if the reference client agrees with it.
    openai = pytest.importorskip("openai")
    client = openai.AsyncOpenAI(base_url=fake.base_url + "/v1", api_key=API_KEY, max_retries=0)
    try:
        result = await client.audio.transcriptions.create(
            model="whisper-1", file=("recording.mp3", AUDIO, "audio/mpeg"), response_format="json"
        )
    finally:
        await client.close()

    assert result.text == "Hi, my basement is flooding, water is coming through the ceiling."
    [sent] = fake.transcriptions
    assert (sent.fields["model"], sent.filename, sent.audio) == (
        "whisper-1",
        "recording.mp3",
        AUDIO,
    )


# --- settings ----------------------------------------------------------------------


def test_speech_to_text_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EAL_STT_BASE_URL", "EAL_STT_API_KEY", "EAL_STT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)

    assert (settings.stt_base_url, settings.stt_api_key, settings.stt_model) == (
        None,
        None,
        "whisper-1",
    )
    assert not settings.stt_enabled


def test_speech_to_text_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EAL_STT_BASE_URL", " http://whisper.internal:8000/ ")
    monkeypatch.setenv("EAL_STT_API_KEY", " sk-local-1 ")
    monkeypatch.setenv("EAL_STT_MODEL", "Systran/faster-whisper-large-v3")
    settings = Settings(_env_file=None)

    assert settings.stt_base_url == "http://whisper.internal:8000"
    assert settings.stt_api_key is not None
    assert settings.stt_api_key.get_secret_value() == "sk-local-1"
    assert "sk-local-1" not in repr(settings)
    assert settings.stt_model == "Systran/faster-whisper-large-v3"
    assert settings.stt_enabled


def test_empty_speech_to_text_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EAL_STT_BASE_URL", "")
    monkeypatch.setenv("EAL_STT_API_KEY", "")
    settings = Settings(_env_file=None)
    assert settings.stt_base_url is None and settings.stt_api_key is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EAL_STT_BASE_URL", "whisper.internal:8000"),
        ("EAL_STT_BASE_URL", "ftp://whisper.internal"),
        ("EAL_STT_BASE_URL", "https://user:pw@whisper.internal"),
        ("EAL_STT_BASE_URL", "https://whisper.internal/?key=1"),
        ("EAL_STT_BASE_URL", "https://"),
        ("EAL_STT_MODEL", " "),
        ("EAL_STT_MODEL", "whisper 1"),
    ],
)
def test_bad_speech_to_text_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name):
        Settings(_env_file=None)


def test_a_key_without_a_server_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EAL_STT_BASE_URL", raising=False)
    monkeypatch.setenv("EAL_STT_API_KEY", "sk-local-1")
    with pytest.raises(ValidationError, match="EAL_STT_BASE_URL is not"):
        Settings(_env_file=None)
