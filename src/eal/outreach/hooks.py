"""Endpoints that providers and recipients call, without an API key.

- Twilio: inbound SMS and status callbacks, verified by `X-Twilio-Signature`
  (HMAC-SHA1 keyed by the organization's auth token over the public URL and
  the form parameters); a bad signature is a 403 and records nothing.
- Email inbound parse: replies, authenticated by the organization's inbound
  secret as a Bearer token.
- `/u/{token}`: unsubscribe (GET shows a confirmation page, never
  unsubscribes by itself, because mail scanners follow links; POST does, as
  RFC 8058's one-click does); `/o/{token}.gif`: the open pixel.
"""

from __future__ import annotations

import hmac
import html
import uuid
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Request
from pydantic import ConfigDict, Field
from starlette.responses import HTMLResponse, Response

from eal.api.deps import RuntimeDep, TxDep
from eal.api.routing import api_router
from eal.auth.deps import limit_anonymous
from eal.db.tx import Tx
from eal.errors import Forbidden, NotFound, Unauthenticated
from eal.integrations.twilio import parse_form, twiml, verify_request
from eal.kit.schemas import NON_BLANK, StrictBody
from eal.kit.signed import InvalidToken
from eal.logging import bind_organization
from eal.organizations import repository as organizations
from eal.outreach import inbound
from eal.outreach.email import OPEN_PURPOSE, UNSUBSCRIBE_PURPOSE, MessageRef
from eal.outreach.providers import twilio_auth_token
from eal.outreach.service import hash_secret
from eal.runtime import Runtime

router = api_router(tags=["outreach-hooks"], accepts_form=True)
links = api_router(tags=["outreach-links"], accepts_form=True, include_in_schema=False)

#: A transparent 1x1 GIF.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


async def _as_tenant(request: Request, tx: Tx, organization_id: uuid.UUID) -> dict[str, Any]:
    """Make the named organization the tenant; its settings (404 when there is none)."""
    await limit_anonymous(request)
    tx.bind(inbound.public_actor(organization_id, request.state.request_id), config_revision=None)
    await tx.set_tenant(organization_id)
    bind_organization(organization_id)
    if not await organizations.exists(tx.conn, organization_id):
        raise NotFound(f"Organization {organization_id} not found.")
    return await organizations.settings_of(tx.conn, organization_id)


async def _twilio_form(
    request: Request, tx: Tx, runtime: Runtime, organization_id: uuid.UUID
) -> dict[str, str]:
    """The request's form parameters, once its Twilio signature holds (else 403)."""
    settings = await _as_tenant(request, tx, organization_id)
    # Repeated names are kept for the signature, as Twilio signs every value.
    pairs = parse_form(await request.body())
    token = twilio_auth_token(settings, runtime.secret_box)
    url = runtime.settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("x-twilio-signature", "")
    if token is None or not signature or not verify_request(token, url, pairs, signature):
        raise Forbidden(
            "The X-Twilio-Signature does not match this organization's Twilio auth token.",
            details={"header": "X-Twilio-Signature"},
        )
    return dict(pairs)


@router.post("/integrations/twilio/{organization_id}/sms", response_class=Response)
async def twilio_sms(
    organization_id: uuid.UUID, request: Request, tx: TxDep, runtime: RuntimeDep
) -> Response:
    """An SMS to the organization's number (Twilio's inbound webhook); answers TwiML."""
    params = await _twilio_form(request, tx, runtime, organization_id)
    reply = await inbound.inbound_sms(
        tx,
        sender_raw=params.get("From", ""),
        recipient=params.get("To", ""),
        body=params.get("Body", ""),
        message_sid=params.get("MessageSid") or params.get("SmsSid"),
    )
    return Response(content=twiml(reply.text), media_type="text/xml")


@router.post("/integrations/twilio/{organization_id}/status", status_code=204)
async def twilio_status(
    organization_id: uuid.UUID, request: Request, tx: TxDep, runtime: RuntimeDep
) -> Response:
    """A status change of a message the organization sent (Twilio's StatusCallback)."""
    params = await _twilio_form(request, tx, runtime, organization_id)
    sid = params.get("MessageSid") or params.get("SmsSid")
    status = params.get("MessageStatus") or params.get("SmsStatus")
    if sid and status:
        await inbound.status_callback(
            tx, message_sid=sid, twilio_status=status, error_code=params.get("ErrorCode") or None
        )
    return Response(status_code=204)


class InboundEmailBody(StrictBody):
    """An inbound-parse payload: the reply as the mail provider parsed it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "from": "Sarah Mitchell <sarah.mitchell@example.com>",
                    "to": "crew@puroclean-westcobb.example",
                    "subject": "Re: Water damage at Mitchell Properties?",
                    "text": "Yes, we have a leak in unit 4B. Can someone come out Thursday?",
                    "headers": {
                        "In-Reply-To": "<3f2a9c1e8b7d4e5f9a0b1c2d3e4f5a6b@puroclean-westcobb.example>"
                    },
                }
            ]
        }
    )

    sender: Annotated[str, Field(alias="from", min_length=1, max_length=1000, pattern=NON_BLANK)]
    to: Annotated[str, Field(min_length=1, max_length=2000, pattern=NON_BLANK)]
    subject: Annotated[str, Field(max_length=2000)] = ""
    text: Annotated[str, Field(max_length=200_000)] = ""
    html: Annotated[str, Field(max_length=500_000)] | None = None
    headers: dict[str, Any] = Field(default_factory=dict)


@router.post("/integrations/email/{organization_id}/inbound")
async def email_inbound(
    organization_id: uuid.UUID,
    body: InboundEmailBody,
    request: Request,
    tx: TxDep,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """A reply to one of the organization's emails (or an unsubscribe by mail)."""
    await _as_tenant(request, tx, organization_id)
    from eal.outreach import repository

    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    stored = await repository.inbound_secret_hash(tx.conn, organization_id)
    if (
        scheme.lower() != "bearer"
        or stored is None
        or not hmac.compare_digest(stored, hash_secret(secret.strip()))
    ):
        raise Unauthenticated(
            "Send the organization's inbound secret as 'Authorization: Bearer eis_...'."
        )
    text = body.text or _strip_html(body.html or "")
    return await inbound.inbound_email(
        tx,
        inbound.InboundEmail(
            sender=body.sender,
            recipient=body.to,
            subject=body.subject,
            text=text,
            headers=body.headers,
        ),
        runtime.signer,
    )


def _strip_html(markup: str) -> str:
    import re

    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


# --- links in emails --------------------------------------------------------------------


async def _ref(request: Request, tx: Tx, runtime: Runtime, purpose: str, token: str) -> MessageRef:
    await limit_anonymous(request)
    try:
        ref = MessageRef.unpack(runtime.signer.verify(purpose, token, now=tx.clock.now()))
    except InvalidToken as exc:
        raise Forbidden("This link is not valid.", details={"token": "invalid"}) from exc
    tx.bind(
        inbound.public_actor(ref.organization_id, request.state.request_id), config_revision=None
    )
    await tx.set_tenant(ref.organization_id)
    bind_organization(ref.organization_id)
    return ref


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:3em auto;padding:0 1em">
<h1 style="font-size:1.3em">{title}</h1><p>{text}</p>{form}</body></html>"""


@links.get("/u/{token}", response_class=HTMLResponse)
async def unsubscribe_page(
    token: str, request: Request, tx: TxDep, runtime: RuntimeDep
) -> HTMLResponse:
    """A confirmation page with one button: opening the link alone unsubscribes nobody."""
    await _ref(request, tx, runtime, UNSUBSCRIBE_PURPOSE, token)
    form = (
        f'<form method="post" action="/u/{html.escape(token)}">'
        '<button type="submit" style="font-size:1em;padding:.5em 1em">Unsubscribe</button></form>'
    )
    return HTMLResponse(
        _PAGE.format(
            title="Unsubscribe",
            text="Stop receiving these emails? Press the button to confirm.",
            form=form,
        ),
        headers={"Cache-Control": "no-store"},
    )


@links.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe(token: str, request: Request, tx: TxDep, runtime: RuntimeDep) -> HTMLResponse:
    """Unsubscribe: a mail client's one-click POST (RFC 8058) or the page's button."""
    ref = await _ref(request, tx, runtime, UNSUBSCRIBE_PURPOSE, token)
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    one_click = form.get("List-Unsubscribe") == "One-Click"
    source = "list-unsubscribe-header" if one_click else "footer-link"
    if not await inbound.unsubscribe(tx, ref.message_id, source=source):
        raise NotFound("This link is no longer valid.")
    return HTMLResponse(
        _PAGE.format(
            title="You are unsubscribed",
            text="You will not receive these emails any more.",
            form="",
        )
    )


@links.get("/o/{token}.gif", response_class=Response)
async def opened(token: str, request: Request, tx: TxDep, runtime: RuntimeDep) -> Response:
    """The open pixel: counts the first open of the email (an estimate: clients prefetch)."""
    try:
        ref = await _ref(request, tx, runtime, OPEN_PURPOSE, token)
    except Forbidden:
        ref = None  # a broken pixel link still gets its pixel; nothing is counted
    if ref is not None:
        await inbound.opened(tx, ref.message_id)
    return Response(
        content=PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store, private"}
    )
