"""Calls endpoints: ingestion, reads, stats, corrections, and CallRail's webhook."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import orjson
from fastapi import Depends, Path, Query, Request
from starlette.background import BackgroundTask
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response, StreamingResponse

from eal.api.deps import RuntimeDep, TxDep
from eal.api.paging import PageParams
from eal.api.responses import model_response
from eal.api.routing import api_router
from eal.auth.context import AuthContext
from eal.auth.deps import limit_anonymous, require
from eal.auth.scopes import GrantScope, Scope
from eal.calls import repository, service
from eal.calls.callrail import incoming_of_callrail, verify_signature
from eal.calls.recording import RECORDING_PURPOSE, RecordingError, open_recording
from eal.calls.schemas import (
    CALL_ID_PATTERN,
    CallCreate,
    CallListItem,
    CallOut,
    CallPage,
    CallPatch,
    CallStats,
    CallStatus,
    ClassificationFilter,
    ClassifyQueued,
    DispatchAction,
    StatsWindow,
)
from eal.db.tx import Tx
from eal.errors import BadGateway, Forbidden, NotFound, field_error
from eal.integrations.callrail import CallRailPayloadError, parse_call
from eal.kit.paging import Page
from eal.kit.schemas import TimestampIn
from eal.kit.signed import ExpiredToken, InvalidToken
from eal.logging import bind_organization
from eal.organizations import repository as organizations
from eal.outreach import inbound
from eal.runtime import Runtime


class _CallId(Convertor[str]):
    """`call_` and 32 hex digits: `/calls/stats` and `/calls/corrections.jsonl` are not calls."""

    regex = CALL_ID_PATTERN

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("call_id", _CallId())

CallIdParam = Annotated[
    str,
    Path(pattern=f"^{CALL_ID_PATTERN}$", description="A call id: `call_` and 32 hex digits."),
]
CallsRead = Annotated[AuthContext, Depends(require(Scope.READ, GrantScope.CALLS_READ))]
CallsWrite = Annotated[AuthContext, Depends(require(Scope.WRITE))]
CallsAdmin = Annotated[AuthContext, Depends(require(Scope.ADMIN))]

router = api_router(tags=["calls"])
hooks = api_router(tags=["calls-hooks"])

Urgency = Annotated[str | None, Query(pattern="^(high|medium|low)$")]


def _out(row: Any, tx: Tx, runtime: Runtime) -> CallOut:
    return service.call_out(
        row, signer=runtime.signer, public_url=runtime.settings.public_url, now=tx.now()
    )


_UPDATED: dict[int | str, dict[str, Any]] = {
    200: {"model": CallOut, "description": "A call with this external id existed: updated."}
}


@router.post("/calls", status_code=201, response_model=CallOut, responses=_UPDATED)
async def create_call(
    body: CallCreate, auth: CallsWrite, tx: TxDep, runtime: RuntimeDep
) -> Response:
    """Store a call from any tracker; the same `external_id` again updates that call (200)."""
    service.check_recording_url(
        body.recording_url,
        allow_private=runtime.settings.allow_private_webhook_urls,
        field_name="recording_url",
    )
    stored = await service.ingest(
        tx, service.incoming_of(body), stt_enabled=runtime.settings.stt_enabled
    )
    return model_response(_out(stored.row, tx, runtime), status_code=201 if stored.created else 200)


@router.get("/calls", response_model=CallPage)
async def list_calls(
    auth: CallsRead,
    tx: TxDep,
    page: PageParams,
    status: CallStatus | None = None,
    classification: ClassificationFilter | None = Query(
        default=None,
        description="water | fire | mold | biohazard | sales (sales_pitch) | junk "
        "(sales_pitch + wrong_number), or any of the seven intents.",
    ),
    qualified: bool | None = None,
    urgency: Urgency = None,
    dispatch_action: DispatchAction | None = None,
    start_at: Annotated[TimestampIn | None, Query(description="ISO 8601, inclusive")] = None,
    end_at: Annotated[TimestampIn | None, Query(description="ISO 8601, inclusive")] = None,
) -> Page[CallListItem]:
    """Calls, newest `received_at` first."""
    if start_at and end_at and start_at > end_at:
        raise field_error("start_at", "must not be after end_at")
    return await service.list_calls(
        tx,
        page,
        status=status.value if status else None,
        classification=classification,
        qualified=qualified,
        urgency=urgency,
        dispatch_action=dispatch_action.value if dispatch_action else None,
        start_at=start_at,
        end_at=end_at,
    )


@router.get("/calls/stats", response_model=CallStats)
async def call_stats(auth: CallsRead, tx: TxDep, window: StatsWindow = StatsWindow.D7) -> CallStats:
    """Counts by intent and qualified flag over the calls received in the window."""
    return await service.stats(tx, window)


@router.get(
    "/calls/corrections.jsonl",
    response_class=Response,
    responses={200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
)
async def export_corrections(auth: CallsAdmin, tx: TxDep) -> Response:
    """Every call a person corrected, one JSON object a line, in the corpus's format."""
    lines = [line async for line in service.corrections_jsonl(tx)]
    return Response(
        content=b"".join(lines),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="call-corrections.jsonl"'},
    )


@router.get("/calls/{call_id:call_id}", response_model=CallOut)
async def get_call(
    call_id: CallIdParam, auth: CallsRead, tx: TxDep, runtime: RuntimeDep
) -> Response:
    """The full call: signed recording link (1 hour), transcript, classification, decision."""
    row = await service.get_row(tx, service.parse_call_id(call_id))
    return model_response(_out(row, tx, runtime))


@router.patch("/calls/{call_id:call_id}", response_model=CallOut)
async def correct_call(
    call_id: CallIdParam, body: CallPatch, auth: CallsWrite, tx: TxDep, runtime: RuntimeDep
) -> Response:
    """Correct the classification; stats and lists use it from now on."""
    row = await service.correct(tx, service.parse_call_id(call_id), body)
    return model_response(_out(row, tx, runtime))


@router.post("/calls/{call_id:call_id}/classify", status_code=202, response_model=ClassifyQueued)
async def classify_call(call_id: CallIdParam, auth: CallsWrite, tx: TxDep) -> ClassifyQueued:
    """Run the classification again (a person's correction stays in force)."""
    return await service.request_classification(tx, service.parse_call_id(call_id))


@hooks.get(
    "/calls/{call_id:call_id}/recording",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"audio/mpeg": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def call_recording(
    call_id: CallIdParam,
    request: Request,
    tx: TxDep,
    runtime: RuntimeDep,
    exp: Annotated[int, Query(ge=0, le=2**40)],
    sig: Annotated[str, Query(min_length=1, max_length=100)],
) -> Response:
    """The call's recording, streamed from the vendor; the link is signed, no key needed."""
    await limit_anonymous(request)
    try:
        runtime.signer.verify_query(RECORDING_PURPOSE, call_id, exp=exp, sig=sig, now=tx.now())
    except ExpiredToken as exc:
        raise Forbidden("This recording link has expired.", details={"link": "expired"}) from exc
    except InvalidToken as exc:
        raise Forbidden("This recording link is not valid.", details={"link": "invalid"}) from exc
    uid = service.parse_call_id(call_id)
    organization_id = await repository.open_tenant(tx.conn, uid)
    if organization_id is None:
        raise NotFound(f"Call {call_id} not found.")
    tx.bind(inbound.public_actor(organization_id, request.state.request_id), config_revision=None)
    row = await repository.get(tx.conn, organization_id, uid)
    if row is None or row.recording_url is None:
        raise NotFound(f"Call {call_id} has no recording.")
    settings = await organizations.settings_of(tx.conn, organization_id)
    stack = contextlib.AsyncExitStack()
    try:
        audio = await stack.enter_async_context(
            open_recording(
                row.recording_url,
                source=row.source,
                settings=settings,
                box=runtime.secret_box,
                http=runtime.http,
            )
        )
    except RecordingError as exc:
        await stack.aclose()
        raise BadGateway(
            f"The recording could not be fetched: {exc.message}",
            details={"transient": exc.transient},
        ) from exc
    headers = {"Cache-Control": "private, max-age=300"}
    if audio.content_length is not None:
        headers["Content-Length"] = str(audio.content_length)
    return StreamingResponse(
        audio.chunks,
        media_type=audio.content_type,
        headers=headers,
        background=BackgroundTask(stack.aclose),
    )


@hooks.post(
    "/integrations/callrail/{organization_id}",
    status_code=201,
    response_model=CallOut,
    responses={
        200: {
            "description": "A call CallRail sent before: updated; or an outbound call, "
            'acknowledged and not stored (`{"ignored": true, "reason": "outbound call"}`).',
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def callrail_webhook(
    organization_id: str, request: Request, tx: TxDep, runtime: RuntimeDep
) -> Response:
    """CallRail's post-call and call-modified webhooks, signed with the company's key."""
    await limit_anonymous(request)
    org = _organization_uuid(organization_id)
    tx.bind(inbound.public_actor(org, request.state.request_id), config_revision=None)
    await tx.set_tenant(org)
    bind_organization(org)
    if not await organizations.exists(tx.conn, org):
        raise NotFound(f"Organization {organization_id} not found.")
    settings = await organizations.settings_of(tx.conn, org)
    raw = await request.body()
    verify_signature(settings, runtime.secret_box, raw, request.headers.get("signature", ""))
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise field_error("body", f"is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise field_error("body", "must be a JSON object (CallRail's call)")
    try:
        call = parse_call(payload)
    except CallRailPayloadError as exc:
        raise field_error(exc.field, exc.message) from exc
    if call.direction != "inbound":
        # Calls the franchise made are not leads: acknowledged, not stored.
        return Response(
            content=orjson.dumps({"ignored": True, "reason": "outbound call"}),
            media_type="application/json",
        )
    incoming = incoming_of_callrail(call, allow_private=runtime.settings.allow_private_webhook_urls)
    stored = await service.ingest(tx, incoming, stt_enabled=runtime.settings.stt_enabled)
    return model_response(_out(stored.row, tx, runtime), status_code=201 if stored.created else 200)


def _organization_uuid(text: str) -> Any:
    import uuid

    try:
        return uuid.UUID(text)
    except ValueError as exc:
        raise NotFound(f"Organization {text} not found.") from exc
