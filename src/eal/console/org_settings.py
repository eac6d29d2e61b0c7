"""The organization's own settings in the console (owners): general, profile, integrations.

Each form is drawn from the API's own settings models (a field per scalar
setting: text, number, a choice for an enumeration, a password field for a
secret), and saved through `PATCH /organizations/{id}`'s service, so the
console checks exactly what the API checks. Secrets are entered, never shown
back (their masked hint is); a secret left blank keeps the stored one. Nested
settings the forms do not draw (an SMS quiet-hours window, say) are kept as
stored.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from eal.api.deps import runtime_of
from eal.api.routing import api_router
from eal.auth.scopes import Scope
from eal.calls.settings import DAYS, DEFAULT_BUSINESS_HOURS
from eal.console.web import form_post, page, redirect, signed_in
from eal.errors import AppError, NotFound
from eal.organizations import service as organizations
from eal.organizations.schemas import IntegrationsIn, SettingsIn
from eal.organizations.settings import SECRET_FIELDS

router = api_router(accepts_form=True, include_in_schema=False)

#: The sections drawn, in page order: (key, title, model of the section or None for top level).
INTEGRATION_TITLES = {
    "crm": "CRM (JobNimbus)",
    "sms": "SMS (Twilio)",
    "email": "Email (SMTP)",
    "callrail": "CallRail",
    "wordpress": "WordPress",
    "google_business": "Google Business Profile",
    "companycam": "CompanyCam",
}
_STORED_ONLY = ("_hint", "_encrypted")
DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}


@dataclass(frozen=True, slots=True)
class FormField:
    """One input of a settings form."""

    name: str
    kind: str  # text | number | password | choice | checkbox
    label: str
    help: str | None
    choices: tuple[str, ...] = ()
    required: bool = False


def _unwrap(annotation: Any) -> Any:
    """The type inside Optional[...] and Annotated[...]."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


_WORDS = {"api": "API", "url": "URL", "sid": "SID", "id": "ID", "sms": "SMS"}


def _label(name: str) -> str:
    """A setting's name as a form label: `base_url` -> `Base URL`."""
    words = [_WORDS.get(word, word) for word in name.split("_")]
    first = words[0] if words[0].isupper() else words[0].capitalize()
    return " ".join([first, *words[1:]])


def fields_of(model: type[BaseModel], secrets: tuple[str, ...]) -> list[FormField]:
    """The scalar settings of `model` as form fields (nested ones are not drawn)."""
    drawn = []
    for name, info in model.model_fields.items():
        inner = _unwrap(info.annotation)
        label = _label(name)
        choices: tuple[str, ...]
        if name in secrets:
            kind, choices = "password", ()
        elif get_origin(inner) is Literal:
            kind, choices = "choice", tuple(str(v) for v in get_args(inner))
        elif inner is bool:
            kind, choices = "checkbox", ()
        elif inner is int or inner is float:
            kind, choices = "number", ()
        elif inner is str:
            kind, choices = "text", ()
        else:
            continue
        drawn.append(FormField(name, kind, label, info.description, choices, info.is_required()))
    return drawn


def _section_model(key: str) -> type[BaseModel]:
    annotation = _unwrap(IntegrationsIn.model_fields[key].annotation)
    assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return annotation


def _settings_model(key: str) -> type[BaseModel]:
    annotation = _unwrap(SettingsIn.model_fields[key].annotation)
    assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return annotation


def _profile_model() -> type[BaseModel]:
    return _settings_model("profile")


def hours_text(intervals: list[list[str]]) -> str:
    """A day's intervals as the form shows them: `08:00-12:00, 13:00-18:00`, or `closed`."""
    return ", ".join(f"{start}-{end}" for start, end in intervals) or "closed"


def parse_hours(text: str) -> list[list[str]] | None:
    """A day's form text as intervals ([] for `closed` or blank); None when unreadable."""
    text = text.strip().lower()
    if text in ("", "closed"):
        return []
    intervals = []
    for part in text.split(","):
        start, dash, end = part.strip().partition("-")
        if not dash or not start.strip() or not end.strip():
            return None
        intervals.append([start.strip(), end.strip()])
    return intervals


def _shown(stored: dict[str, Any]) -> dict[str, Any]:
    """Stored settings without their encrypted secrets (hints stay: they are shown)."""
    return {k: v for k, v in stored.items() if not k.endswith("_encrypted")}


async def _org(request: Request) -> Any:
    tx = request.state.tx
    return await organizations.get_organization(tx, tx.actor.organization_id)


async def _settings_page(request: Request, *, status: int = 200, **context: Any) -> Response:
    org = await _org(request)
    settings = org.settings or {}
    integrations = settings.get("integrations") or {}
    sections = [
        {
            "key": key,
            "title": title,
            "fields": fields_of(_section_model(key), SECRET_FIELDS.get(key, ())),
            "stored": _shown(integrations.get(key) or {}),
            "configured": key in integrations,
        }
        for key, title in INTEGRATION_TITLES.items()
    ]
    area = settings.get("service_area") or {}
    hours = {**DEFAULT_BUSINESS_HOURS, **(settings.get("business_hours") or {})}
    return page(
        request,
        "org_settings.html",
        status=status,
        session=request.state.console_session,
        title="Organization settings",
        org=org,
        profile_fields=fields_of(_profile_model(), ()),
        profile=settings.get("profile") or {},
        dispatch_fields=fields_of(_settings_model("dispatch"), ()),
        dispatch=settings.get("dispatch") or {},
        area=area,
        area_codes=", ".join(area.get("postal_codes") or ()),
        hours=[(day, DAY_NAMES[day], hours_text(hours[day])) for day in DAYS],
        sections=sections,
        **context,
    )


@router.get("/console/settings/organization")
async def org_settings_page(request: Request) -> Response:
    """Name, time zone, profile and integrations."""
    acting = await signed_in(request, Scope.ADMIN)
    if isinstance(acting, Response):
        return acting
    return await _settings_page(request, notice=request.query_params.get("done") or None)


def _values(drawn: list[FormField], fields: dict[str, str]) -> dict[str, Any]:
    """A form's answers as settings values: blank is left out (a secret keeps its value)."""
    values: dict[str, Any] = {}
    for field in drawn:
        raw = fields.get(field.name, "").strip()
        if field.kind == "checkbox":
            values[field.name] = raw == "on"
        elif raw:
            values[field.name] = raw
    return values


async def _save(
    request: Request, section: str, settings: dict[str, Any], name: str | None = None
) -> Response:
    tx = request.state.tx
    runtime = runtime_of(request)
    try:
        body = SettingsIn.model_validate(settings)
        await organizations.check_outbound_urls(body, runtime.outbound)
        await organizations.update_organization(
            tx, tx.actor.organization_id, name=name, settings=body, box=runtime.secret_box
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:] or first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        return await _settings_page(
            request, status=422, error_section=section, form_error=f"{where}: {message}"
        )
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _settings_page(
            request, status=exc.status_code, error_section=section, form_error=exc.message
        )
    return redirect(f"/console/settings/organization?done={section}#{section}")


@router.post("/console/settings/organization/general")
async def save_general(request: Request) -> Response:
    """The organization's name, time zone, locale, phone and website."""
    acting = await form_post(request, Scope.ADMIN)
    if isinstance(acting, Response):
        return acting
    _, fields = acting
    name = fields.get("name", "").strip()
    settings: dict[str, Any] = {}
    for key in ("timezone", "default_locale"):
        if fields.get(key, "").strip():
            settings[key] = fields[key].strip()
    profile = _values(fields_of(_profile_model(), ()), fields)
    if profile:
        settings["profile"] = profile
    if not name or len(name) > 200:
        return await _settings_page(
            request, status=422, error_section="general", form_error="name: enter the name."
        )
    return await _save(request, "general", settings, name=name)


@router.post("/console/settings/organization/dispatch")
async def save_dispatch(request: Request) -> Response:
    """What happens to a classified call: auto-dispatch, after hours, the callback text."""
    acting = await form_post(request, Scope.ADMIN)
    if isinstance(acting, Response):
        return acting
    _, fields = acting
    org = await _org(request)
    kept = dict((org.settings or {}).get("dispatch") or {})
    drawn = fields_of(_settings_model("dispatch"), ())
    for field in drawn:
        kept.pop(field.name, None)
    return await _save(request, "dispatch", {"dispatch": {**kept, **_values(drawn, fields)}})


@router.post("/console/settings/organization/service-area")
async def save_service_area(request: Request) -> Response:
    """The postal codes served, or a center postal code and a radius."""
    acting = await form_post(request, Scope.ADMIN)
    if isinstance(acting, Response):
        return acting
    _, fields = acting
    codes = [c for c in re.split(r"[\s,]+", fields.get("postal_codes", "")) if c]
    area: dict[str, Any] = {"postal_codes": codes}
    center = fields.get("center_postal_code", "").strip()
    radius = fields.get("radius_miles", "").strip()
    if center:
        area["center_postal_code"] = center
    if radius:
        try:
            number = float(radius)
        except ValueError:
            return await _settings_page(
                request,
                status=422,
                error_section="service-area",
                form_error="Radius: a number of miles.",
            )
        area["radius_miles"] = int(number) if number.is_integer() else number
    return await _save(request, "service-area", {"service_area": area})


@router.post("/console/settings/organization/business-hours")
async def save_business_hours(request: Request) -> Response:
    """Opening hours per day, in the organization's time zone."""
    acting = await form_post(request, Scope.ADMIN)
    if isinstance(acting, Response):
        return acting
    _, fields = acting
    hours: dict[str, Any] = {}
    for day in DAYS:
        parsed = parse_hours(fields.get(day, ""))
        if parsed is None:
            return await _settings_page(
                request,
                status=422,
                error_section="business-hours",
                form_error=f"{DAY_NAMES[day]}: write hours as 08:00-18:00 (several with commas), or closed.",
            )
        hours[day] = parsed
    return await _save(request, "business-hours", {"business_hours": hours})


@router.post("/console/settings/organization/integrations/{key}")
async def save_integration(request: Request, key: str) -> Response:
    """One integration's settings; a blank secret keeps the stored one."""
    acting = await form_post(request, Scope.ADMIN)
    if isinstance(acting, Response):
        return acting
    _, fields = acting
    if key not in INTEGRATION_TITLES:
        raise NotFound(f"No integration {key!r}.")
    org = await _org(request)
    stored = ((org.settings or {}).get("integrations") or {}).get(key) or {}
    kept = {k: v for k, v in stored.items() if not k.endswith(_STORED_ONLY)}
    if fields.get("remove") == "1":
        return await _save(request, key, {"integrations": {key: None}})
    drawn = fields_of(_section_model(key), SECRET_FIELDS.get(key, ()))
    for field in drawn:
        if field.kind != "password":
            kept.pop(field.name, None)  # a field cleared in the form is cleared
    values = {**kept, **_values(drawn, fields)}
    return await _save(request, key, {"integrations": {key: values}})
