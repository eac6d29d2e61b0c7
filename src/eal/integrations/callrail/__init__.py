"""CallRail: webhook signatures, call payloads, the API v3 calls list and call recordings.

Protocol, as CallRail documents it (API v3, https://apidocs.callrail.com):

* **Webhooks.** Post-call, call-modified and the outbound variants POST the
  call object as JSON. Each request carries a ``Signature`` header: the
  base64 of the HMAC-SHA1 of the raw request body, keyed by the company's
  signing key (shown on the company's Webhooks settings page). CallRail
  publishes a test vector for it (signing key
  ``072e77e426f92738a72fe23c4d1953b4`` over its sample post-call body gives
  ``UZAHbUdfm3GqL7qzilGozGzWV64=``); the tests replay it byte for byte.
  CallRail does not resend a webhook that failed. Call-modified payloads add
  ``changes``, the names of what changed (``transcription_text``, ``note``, ...).
* **Call payloads** use the documented field names. For the old webhook
  format CallRail still sends duplicates of several fields under legacy names
  (:data:`LEGACY_KEYS`: ``callernum``, ``trackingnum``, ``datetime``,
  ``callsource``, ...); :func:`parse_call` never reads them. Webhooks carry a
  legacy numeric ``id`` and the masked ``resource_id`` ("CAL..."); the API's
  ``id`` is the masked one, so ``resource_id`` wins and a call is the same
  call whichever way it arrives. ``duration`` may be a string ("13"), and is
  empty or null while a call is in progress; ``answered`` may be "true"/"false";
  absent values are often ``""`` rather than null.
* **Listing calls:** ``GET /v3/a/{account_id}/calls.json`` with
  ``Authorization: Token token="<api key>"``, ``start_date`` / ``end_date``
  (``YYYY-MM-DD``), ``fields=`` naming *additional* fields (the defaults,
  among them ``customer_city``, ``customer_state`` and ``recording``, come
  without asking; a name outside the documented additional list is refused
  with a 400, and ``conversational_transcript`` is only offered on a single
  call), and ``per_page`` (at most 250). Offset pagination answers ``page``,
  ``per_page``, ``total_pages``, ``total_records`` and ``calls``; relative
  pagination (``relative_pagination=true``, which CallRail recommends for
  large call lists) answers ``has_next_page`` and ``next_page``. Rate
  limits are answered with 429. Transcripts (``transcription``) need
  CallRail's Premium Conversation Intelligence and are null without it.
* **Recordings.** A webhook's ``recording`` is
  ``https://app.callrail.com/calls/<id>/recording/redirect?access_key=...``,
  which redirects to the audio; the API's is
  ``.../v3/a/<account>/calls/<id>/recording.json``, which answers
  ``{"url": <that redirect URL>}`` to an authorised request.

The API key goes only to URLs under the client's ``base_url``: recording
redirects and the audio host never see it. The ``http`` client is the
outbound policy's (:meth:`eal.kit.outbound.OutboundPolicy.http_client`), so
every connection, redirects included, goes to an address checked at connect
time; its refusal (:class:`~eal.kit.outbound.UnsafeUrl`) goes through
unchanged, as in the other vendor clients.

Exception hierarchy::

    CallRailError            base: ``message``, ``status_code``, ``transient``
    └── CallRailAuthError    401/403: the API key was refused (not transient)
    CallRailPayloadError     (a ValueError) a call payload without the documented
                             shape: ``field``, ``message``

``transient`` is true for network errors, timeouts, 408, 429 and 5xx: retry
later. Messages never contain the API key (vendor text goes through
:func:`~eal.integrations.crm.redact`) nor a recording URL's query string,
which holds the recording's access key.
"""

from __future__ import annotations

from eal.integrations.callrail._api import (
    CALL_FIELDS,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RECORDING_BYTES,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_PAGE_SIZE,
    RECORDING_TIMEOUT_SECONDS,
    CallRailAuthError,
    CallRailClient,
    CallRailError,
    CallRailRecording,
)
from eal.integrations.callrail._payload import (
    LEGACY_KEYS,
    SIGNATURE_HEADER,
    CallRailCall,
    CallRailPayloadError,
    Direction,
    parse_call,
    render_conversation,
    sign_webhook,
    verify_webhook,
)

__all__ = [
    "CALL_FIELDS",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RECORDING_BYTES",
    "DEFAULT_TIMEOUT_SECONDS",
    "LEGACY_KEYS",
    "MAX_PAGE_SIZE",
    "RECORDING_TIMEOUT_SECONDS",
    "SIGNATURE_HEADER",
    "CallRailAuthError",
    "CallRailCall",
    "CallRailClient",
    "CallRailError",
    "CallRailPayloadError",
    "CallRailRecording",
    "Direction",
    "parse_call",
    "render_conversation",
    "sign_webhook",
    "verify_webhook",
]
