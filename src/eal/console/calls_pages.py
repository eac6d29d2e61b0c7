"""Calls in the console: the list with its filters, and a call with the form to correct it.

A correction goes through the calls service exactly as `PATCH /calls/{id}`
(audited with a per-field diff; lists and stats use it from then on). Staff may
correct a call's classification; every role may read.
"""

from __future__ import annotations

from typing import Any, get_args

from fastapi import Request
from pydantic import ValidationError
from starlette.responses import Response

from eal.ai.call_labels import URGENCIES
from eal.api.deps import runtime_of
from eal.api.paging import page_query
from eal.api.routing import api_router
from eal.auth.scopes import Scope
from eal.calls import service as calls
from eal.calls.schemas import CallOut, CallPatch, ClassificationFilter, DispatchAction
from eal.console.web import day_range, filter_query, form_post, page, redirect, signed_in
from eal.errors import Conflict, ValidationFailed

router = api_router(accepts_form=True, include_in_schema=False)

FILTERS: tuple[str, ...] = get_args(ClassificationFilter)
INTENT_LABELS = {
    "water": "Water",
    "fire": "Fire",
    "mold": "Mold",
    "biohazard": "Biohazard",
    "sales_pitch": "Sales pitch",
    "wrong_number": "Wrong number",
    "other": "Other",
}
ACTION_LABELS = {
    DispatchAction.AUTO_DISPATCH: "Dispatched automatically",
    DispatchAction.OWNER_REVIEW: "Owner review",
    DispatchAction.CALLBACK_QUEUE: "Callback queue",
    DispatchAction.IGNORE: "Ignored",
}


@router.get("/console/calls")
async def calls_page(
    request: Request,
    classification: str | None = None,
    urgency: str | None = None,
    dispatch_action: str | None = None,
    start: str | None = None,
    end: str | None = None,
    cursor: str | None = None,
) -> Response:
    """Calls, newest first, filtered by classification, urgency, dispatch action and date."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    chosen = {
        "classification": classification if classification in FILTERS else None,
        "urgency": urgency if urgency in URGENCIES else None,
        "dispatch_action": dispatch_action
        if dispatch_action in DispatchAction._value2member_map_
        else None,
        "start": start or None,
        "end": end or None,
    }
    start_at, end_at = day_range(start, end)
    listed = await calls.list_calls(
        request.state.tx,
        await page_query(cursor=cursor or None),
        status=None,
        qualified=None,
        classification=chosen["classification"],
        urgency=chosen["urgency"],
        dispatch_action=chosen["dispatch_action"],
        start_at=start_at,
        end_at=end_at,
    )
    query = filter_query(chosen)
    return page(
        request,
        "calls.html",
        session=session,
        title="Calls",
        calls=listed.data,
        next_cursor=listed.next_cursor,
        chosen=chosen,
        query=query,
        filters=FILTERS,
        urgencies=URGENCIES,
        actions=ACTION_LABELS,
        intents=INTENT_LABELS,
    )


def _call_out(request: Request, row: Any) -> CallOut:
    runtime = runtime_of(request)
    return calls.call_out(
        row,
        signer=runtime.signer,
        public_url=runtime.settings.public_url,
        now=request.state.tx.now(),
    )


def _call_page(request: Request, call: CallOut, *, status: int = 200, **context: Any) -> Response:
    recording = call.recording_url
    if recording and recording.startswith(runtime_of(request).settings.public_url):
        # This service's signed link: played from this origin.
        recording = recording.removeprefix(runtime_of(request).settings.public_url.rstrip("/"))
    return page(
        request,
        "call.html",
        status=status,
        session=request.state.console_session,
        title=f"Call from {call.caller_name or call.caller_number}",
        call=call,
        recording=recording,
        intents=INTENT_LABELS,
        urgencies=URGENCIES,
        actions=ACTION_LABELS,
        corrected=request.query_params.get("corrected") == "1",
        dispatched=request.query_params.get("dispatched") == "1",
        **context,
    )


@router.get("/console/calls/{call_id}")
async def call_page(request: Request, call_id: str) -> Response:
    """One call: transcript, classification with its reason, the dispatch decision."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    row = await calls.get_row(request.state.tx, calls.parse_call_id(call_id))
    return _call_page(request, _call_out(request, row))


@router.post("/console/calls/{call_id}/dispatch")
async def dispatch_call(request: Request, call_id: str) -> Response:
    """Dispatch by hand a call the rules held back (managers and owners)."""
    posted = await form_post(request, Scope.WRITE)
    if isinstance(posted, Response):
        return posted
    session, _fields = posted
    tx = request.state.tx
    uid = calls.parse_call_id(call_id)
    reason = f"dispatched by hand by {session.who}"
    try:
        await calls.dispatch_by_hand(tx, uid, reason=reason)
    except Conflict as exc:
        row = await calls.get_row(tx, uid)
        return _call_page(request, _call_out(request, row), status=409, dispatch_error=exc.message)
    return redirect(f"/console/calls/{call_id}?dispatched=1")


@router.post("/console/calls/{call_id}/classification")
async def correct_call(request: Request, call_id: str) -> Response:
    """Correct the classification (staff and up); audited like the API's PATCH."""
    posted = await form_post(request, Scope.READ)
    if isinstance(posted, Response):
        return posted
    _session, fields = posted
    tx = request.state.tx
    uid = calls.parse_call_id(call_id)
    qualified = {"yes": True, "no": False}.get(fields.get("qualified", ""))
    try:
        body = CallPatch.model_validate(
            {
                "classification": {
                    "intent": fields.get("intent") or None,
                    "urgency": fields.get("urgency") or None,
                    "qualified": qualified,
                },
                "note": fields.get("note") or None,
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        row = await calls.get_row(tx, uid)
        return _call_page(
            request,
            _call_out(request, row),
            status=422,
            form_error=f"{field}: {first['msg']}",
        )
    try:
        await calls.correct(tx, uid, body)
    except ValidationFailed as exc:
        row = await calls.get_row(tx, uid)
        return _call_page(request, _call_out(request, row), status=422, form_error=exc.message)
    return redirect(f"/console/calls/{call_id}?corrected=1")
