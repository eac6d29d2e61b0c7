"""Speech-to-text through an OpenAI-compatible transcription server.

Protocol: OpenAI's audio transcription API, which hosted services and
self-hosted Whisper servers speak alike:

* ``POST {base_url}/v1/audio/transcriptions``, ``multipart/form-data`` with
  ``file`` (the audio; the file name's extension tells the server its
  format), ``model`` and ``response_format=json``, optionally ``language``
  (ISO-639-1) and ``prompt`` (words to expect: names, places);
* ``Authorization: Bearer <api key>`` when a key is configured (many
  self-hosted servers need none);
* the answer is ``200 {"text": "..."}``; errors are
  ``{"error": {"message", "type", "code"}}`` with a 4xx or 5xx status.

``base_url`` is the server's root (``https://api.openai.com``,
``http://whisper.internal:8000``); one that already ends in ``/v1``, as
OpenAI's SDK spells it, is accepted too. The request is made with httpx
directly: the ``openai`` package costs about 50 MB of memory and half a
second to import, for one multipart POST.

Exception hierarchy::

    SttError               base: ``message``, ``status_code``, ``transient``
    └── SttAuthError       401/403: the API key was refused (not transient)

``transient`` is true for network errors, timeouts, 408, 429, 5xx and a
success answer that is not the documented JSON (a proxy's page): retry later.
Messages never contain the API key. The policy's refusal of the address
(:class:`~eal.kit.outbound.UnsafeUrl`) goes through unchanged.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx

from eal.integrations.crm import redact, response_detail
from eal.kit.outbound import UnsafeUrl

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_TIMEOUT_SECONDS",
    "TRANSCRIPTIONS_PATH",
    "SttAuthError",
    "SttClient",
    "SttError",
    "transcriptions_url",
]

DEFAULT_MODEL = "whisper-1"
TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
#: Seconds to wait for the answer: a server on a CPU can take minutes for a long call.
DEFAULT_TIMEOUT_SECONDS = 300.0
_CONNECT_TIMEOUT_SECONDS = 10.0
_MAX_DETAIL_CHARS = 200
_TRANSIENT_4XX = frozenset({408, 429})


class SttError(Exception):
    """A transcription failed; ``transient`` says whether retrying later may help."""

    def __init__(
        self, message: str, *, status_code: int | None = None, transient: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.transient = transient

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r}, "
            f"transient={self.transient!r})"
        )


class SttAuthError(SttError):
    """The server refused the API key (HTTP 401/403)."""


def transcriptions_url(base_url: str) -> str:
    """The transcription endpoint of the server at ``base_url`` (with or without ``/v1``)."""
    base = base_url.rstrip("/")
    if urlsplit(base).path.endswith("/v1"):
        base = base[: -len("/v1")]
    return base + TRANSCRIPTIONS_PATH


class SttClient:
    """Client of one OpenAI-compatible transcription server and model.

    ``http`` is shared (its pool is reused, it is never closed here); give it
    the outbound policy's client. ``api_key`` None or empty sends no
    ``Authorization`` header.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        http: httpx.AsyncClient,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("speech-to-text base URL must be an http(s) URL")
        if not model.strip():
            raise ValueError("speech-to-text model must not be empty")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._url = transcriptions_url(base_url)
        self._api_key = api_key or ""
        self._model = model.strip()
        self._http = http
        self._timeout = httpx.Timeout(timeout, connect=min(_CONNECT_TIMEOUT_SECONDS, timeout))

    def __repr__(self) -> str:
        # Never show the key, even in debug output.
        return f"SttClient(url={self._url!r}, model={self._model!r})"

    async def transcribe(
        self,
        audio: bytes,
        filename: str,
        content_type: str,
        *,
        language: str | None = None,
        prompt: str | None = None,
    ) -> str:
        """The text spoken in ``audio`` (stripped; empty for silence).

        ``filename`` should end in the format's extension (``recording.mp3``);
        only its last path segment is sent. Raises SttError / SttAuthError;
        ValueError for empty audio.
        """
        if not audio:
            raise ValueError("audio must not be empty")
        name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip() or "audio"
        data = {"model": self._model, "response_format": "json"}
        if language:
            data["language"] = language
        if prompt:
            data["prompt"] = prompt
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        what = f"speech-to-text POST {self._url}"
        try:
            response = await self._http.post(
                self._url,
                data=data,
                files={"file": (name, audio, content_type or "application/octet-stream")},
                headers=headers,
                timeout=self._timeout,
            )
        except UnsafeUrl:
            raise  # the outbound policy refused the address; also an httpx.ConnectError
        except httpx.TimeoutException as exc:
            raise SttError(f"{what} timed out ({type(exc).__name__})", transient=True) from exc
        except httpx.TransportError as exc:
            detail = redact(str(exc), self._api_key)[:_MAX_DETAIL_CHARS]
            raise SttError(
                f"{what} failed: {type(exc).__name__}: {detail}", transient=True
            ) from exc
        if not response.is_success:
            raise self._status_error(what, response)
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise SttError(
                f"{what} answered without a text field",
                status_code=response.status_code,
                transient=True,
            )
        return text.strip()

    def _status_error(self, what: str, response: httpx.Response) -> SttError:
        status = response.status_code
        detail = response_detail(response, self._api_key, limit=_MAX_DETAIL_CHARS)
        suffix = f": {detail}" if detail else ""
        if status in (401, 403):
            return SttAuthError(
                f"{what} was refused (HTTP {status}): check EAL_STT_API_KEY{suffix}",
                status_code=status,
            )
        transient = status >= 500 or status in _TRANSIENT_4XX
        verb = "failed" if transient else "was rejected"
        return SttError(
            f"{what} {verb} (HTTP {status}){suffix}", status_code=status, transient=transient
        )
