"""The OpenAPI document tells the truth: schemathesis runs every operation against a live server.

Positive mode: every request is valid by the document, so the server must
accept it (or refuse it for a reason a document cannot rule out: no such id,
a conflict, another tenant's resource) and answer with a status, content type,
body and headers the document declares. Every built-in check runs, on every
operation the running app has (operations added later are covered without
touching this file).

Before it is sent, a generated request is fitted (`_prepare`) only where a
schema cannot say what is valid: the ids of resources that exist, rules that
depend on what the server holds or on the clock (a range's ends in order, a
time in the past or future, a stored secret), and vendor URLs pointed at an
address that needs no DNS. Custom formats (`phone`, `time-zone`) get values
their rule accepts.
"""

from __future__ import annotations

import uuid
import zlib
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import phonenumbers
import pytest
import schemathesis
from fastapi.routing import iter_route_contexts
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from eal.app import create_app
from eal.config import Settings
from eal.db.engine import Database
from eal.outreach.timing import TimingProblem, check_delays
from tests.cli.servers import threaded_server
from tests.factories import Factory

# Enough examples per operation to find what the first runs found, and a run that stays
# well under three minutes on two cores.
MAX_EXAMPLES = 50
DEADLINE = timedelta(seconds=5)
# Generated URLs would have to resolve; this one is an address (tests allow private ones)
# that nothing listens on (no webhook is sent: the test server runs no worker).
LOOPBACK_URL = "https://127.0.0.1:9/eal"
URL_FIELDS = {"url", "base_url", "site_url"}


@dataclass(frozen=True)
class World:
    """The tenant the run acts as, its parent, and resources that exist."""

    parent_id: uuid.UUID
    organization_id: uuid.UUID
    key: str


@pytest.fixture(scope="module")
async def world(db: Database) -> World:
    factory = Factory(db)
    parent = await factory.org("Schemathesis Network")
    # A test key: vendors are never called (a CRM push is simulated), whatever the run sets up.
    tenant = await factory.tenant(
        "Schemathesis Location", scopes="admin", environment="test", parent=parent["id"]
    )
    return World(parent_id=parent["id"], organization_id=tenant.id, key=tenant.key)


def _resources(http: httpx.Client, world: World) -> dict[str, str]:
    """Create one of each resource; the ids path parameters may take."""

    def created(response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def webhook() -> str:
        body = {"url": LOOPBACK_URL, "events": ["lead.created"]}
        return str(created(http.post("/api/v1/webhooks", json=body))["id"])

    kept, doomed = webhook(), webhook()
    lead = created(http.post("/api/v1/leads", json={"email": "dana@example.com"}))
    # Review requests get a lead of their own: the drawn PATCH /leads cases change the shared
    # one (to won, to an address another case suppresses), which no schema can foresee.
    reviewed = created(http.post("/api/v1/leads", json={"email": "review-only@example.com"}))
    deliveries = http.get(f"/api/v1/webhooks/{kept}/deliveries").json()["data"]
    child = created(http.post("/api/v1/organizations", json={"name": "Schemathesis Child"}))
    sent = http.post(
        "/api/v1/outreach/send",
        json={"channel": "sms", "to": "+17705550142", "body": "Crew at 9"},
    )
    assert sent.status_code == 202, sent.text
    suppressions = [
        created(
            http.post(
                "/api/v1/outreach/suppressions",
                json={"channel": "email", "address": f"gone{n}@example.com"},
            )
        )["id"]
        for n in range(2)
    ]
    sequences, enrollments = [], []
    for n in range(2):
        sequence = created(
            http.post(
                "/api/v1/outreach/sequences",
                json={
                    "name": f"Schemathesis {n}",
                    "channel": "email",
                    "steps": [{"delay": "1d", "subject": "Hello", "body": "Hi"}],
                },
            )
        )
        person = created(http.post("/api/v1/leads", json={"email": f"person{n}@example.com"}))
        enrolled = created(
            http.post(
                f"/api/v1/outreach/sequences/{sequence['id']}/enrollments",
                json={"lead_ids": [person["id"]]},
            )
        )
        sequences.append(sequence["id"])
        enrollments.append(enrolled["results"][0]["enrollment_id"])
    prospect = created(http.post("/api/v1/prospects", json={"company_name": "Schemathesis Co"}))
    claim = http.post(
        "/api/v1/claims",
        json={"loss_type": "water", "rooms": [{"name": "Kitchen"}]},
    )
    assert claim.status_code == 202, claim.text
    entry = http.get("/api/v1/audit-log").json()["data"][0]
    return {
        "claim_id": claim.json()["id"],
        "message_id": sent.json()["message_id"],
        "suppression_id": suppressions[0],
        "suppression_id:delete": suppressions[1],
        "sequence_id": sequences[0],
        "sequence_id:delete": sequences[1],
        "enrollment_id": enrollments[0],
        "enrollment_id:delete": enrollments[1],
        "organization_id": str(world.organization_id),
        "lead_id": lead["id"],
        "review_lead_id": reviewed["id"],
        "prospect_id": prospect["id"],
        "webhook_id": kept,
        "webhook_id:delete": doomed,
        "delivery_id": deliveries[0]["id"],
        "entry_id": entry["id"],
        "token": child["invite_url"].rsplit("/", 1)[-1],
    }


def _utc(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def _prepare(case: Any, live: Live) -> None:
    """Fit a generated request to the rules the module docstring lists, in place."""
    operation = case.operation
    method, path = operation.method.upper(), operation.path
    drawn = repr(sorted((case.path_parameters or {}).items())).encode()
    if case.path_parameters and zlib.crc32(drawn) % 2:
        # Half the cases (the same ones on every replay) target resources that exist;
        # the others keep their drawn ids (a 404).
        for name in case.path_parameters:
            key = f"{name}:delete" if method == "DELETE" else name
            if key in live.ids:
                case.path_parameters[name] = live.ids[key]
    if case.query:
        query = dict(case.query)
        # Only a next_cursor the server handed out is a cursor.
        if query.get("cursor"):
            del query["cursor"]
        start, end = _utc(query.get("start_at")), _utc(query.get("end_at"))
        if start and end and start > end:
            query["start_at"], query["end_at"] = query["end_at"], query["start_at"]
        case.query = query
    if isinstance(case.body, dict):
        case.body = _fit_body(method, path, _without_nul(_resolvable(case.body)), live)
    key = (case.headers or {}).get("Idempotency-Key")
    if key:
        # Drawn keys repeat across different requests (a 409, rightly): tie each to its
        # request, so a repeated request is a replay and any other is new.
        request = repr((method, path, case.path_parameters, case.query, case.body)).encode()
        case.headers["Idempotency-Key"] = f"{key[:240]}-{zlib.crc32(request):08x}"


def _fit_body(method: str, path: str, body: dict[str, Any], live: Live) -> dict[str, Any]:
    world = live.world
    now = datetime.now(UTC)
    if path == "/api/v1/outreach/send" and body.get("lead_id"):
        body["lead_id"] = live.ids["lead_id"]  # a lead of the organization
    if path == "/api/v1/reviews/request":
        body["lead_id"] = live.ids["review_lead_id"]  # never won: a 409
    if path == "/api/v1/prospects/qualify" and body.get("prospect_id"):
        body["prospect_id"] = live.ids["prospect_id"]  # a prospect of the organization
    if path in ("/api/v1/outreach/send", "/api/v1/outreach/suppressions"):
        _fit_address(body, "to" if path.endswith("/send") else "address")
    if path.startswith("/api/v1/outreach/sequences") and "enrollments" not in path:
        _fit_sequence(body, patch=method == "PATCH")
    if path.endswith("/grants"):
        body["parent_organization_id"] = str(world.parent_id)
        expires = _utc(body.get("expires_at"))
        if expires is None or expires <= now + timedelta(minutes=1):
            body["expires_at"] = (now + timedelta(days=30)).isoformat()
    if path == "/api/v1/weather-events":
        occurred = _utc(body.get("occurred_at"))
        if occurred is None or occurred > now:
            body["occurred_at"] = (now - timedelta(hours=1)).isoformat()
    if path == "/api/v1/leads" and method == "POST":
        started, submitted = _utc(body.get("form_started_at")), _utc(body.get("form_submitted_at"))
        if started and submitted and submitted < started:
            body["form_started_at"], body["form_submitted_at"] = (
                body["form_submitted_at"],
                body["form_started_at"],
            )
    if path.startswith("/api/v1/claims"):
        _fit_claim(path, body)
    if method == "PATCH" and path.startswith("/api/v1/organizations/"):
        _keep_secrets(body)
    if method == "PATCH" and path.startswith("/api/v1/leads/"):
        _keep_contact(body)
    return body


def _fit_claim(path: str, body: dict[str, Any]) -> None:
    """The claims rules the document states in words: a source's project_id goes with
    CompanyCam only, water category and class with water and storm losses, a room is a
    rectangle or a wall list that closes, room names are unique (and not `outside`),
    photo ids name photos of the claim, the drying log names a room of the claim, and a
    decision carries the fields of its kind."""
    if path == "/api/v1/claims":
        source = body.get("source")
        if isinstance(source, dict):
            if source.get("vendor") == "companycam":
                source["project_id"] = source.get("project_id") or "cc_proj_5482"
            else:
                source.pop("project_id", None)
        if body.get("loss_type") not in ("water", "storm"):
            body.pop("water_category", None)
            body.pop("water_class", None)
    rooms = body.get("rooms")
    if isinstance(rooms, list):
        for index, room in enumerate(rooms):
            if not isinstance(room, dict):
                continue
            room["name"] = f"Room {index}"
            room.pop("photo_ids", None)
            dimensions = room.get("dimensions")
            if not isinstance(dimensions, dict):
                continue
            # A null is as good as left out: a rectangle needs both sides given.
            sides = ("length_ft", "width_ft")
            if all(dimensions.get(name) is not None for name in sides):
                dimensions.pop("walls_ft", None)
            else:
                for name in sides:
                    dimensions.pop(name, None)
                dimensions["walls_ft"] = [12, 10, 12, 10]
    if path.endswith("/drying-log"):
        for entry in body.get("entries") or []:
            if isinstance(entry, dict):
                entry["room"] = "outside"  # every claim has it
    if path.endswith("/review"):
        for decision in body.get("decisions") or []:
            if not isinstance(decision, dict):
                continue
            kind = decision.get("decision")
            if kind == "edit":
                decision["qty"] = 1 if decision.get("qty") is None else decision["qty"]
            else:
                decision.pop("qty", None)
            if kind == "reject":
                decision["reason"] = decision.get("reason") or "Not from this loss"
            else:
                decision.pop("reason", None)


def _fit_address(body: dict[str, Any], field: str) -> None:
    """Schemathesis mixes the values of a body's examples across its per-channel
    variants (an email example's address with the SMS channel): match them again."""
    channel, address = body.get("channel"), str(body.get(field, ""))
    if channel == "sms" and "@" in address:
        body[field] = "+17705550142"
    elif channel == "email" and "@" not in address:
        body[field] = "sarah.mitchell@example.com"
    if channel == "sms" and body.get("subject") is not None:
        del body["subject"]
    if channel == "email" and field == "to" and not body.get("subject"):
        body["subject"] = "Hello"


def _without_nul(value: Any) -> Any:
    """NUL is refused in every text, as the document's description says; generation is
    told so, but not every nested schema (allOf items) hears it."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {key: _without_nul(item) for key, item in value.items()}
    return value


def _fit_sequence(body: dict[str, Any], *, patch: bool) -> None:
    """Delays within a year (only the first may be 0m) and a window that ends after it
    starts: the rules the document states in words. A PATCH targets an email sequence,
    whose steps need subjects."""
    steps = body.get("steps")
    if isinstance(steps, list):
        for index, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            try:
                check_delays(["0m"] * index + [str(step.get("delay"))])
            except (TimingProblem, ValueError):
                step["delay"] = "1d"
            if patch and not step.get("subject"):
                step["subject"] = "Hello"
    window = body.get("sending_window")
    if isinstance(window, dict) and str(window.get("end", "17:00")) <= str(
        window.get("start", "09:00")
    ):
        window["start"], window["end"] = "09:00", "17:00"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _keep_contact(body: dict[str, Any]) -> None:
    """A lead keeps an email, or a name and a company: what a PATCH may clear depends on
    what the lead holds, so clear one only where the same body gives the other."""

    def sent(name: str) -> bool:
        return name in body and not _blank(body[name])

    def cleared(name: str) -> bool:
        return name in body and _blank(body[name])

    if cleared("email") and not (sent("name") and sent("company")):
        del body["email"]
    for name in ("name", "company"):
        if cleared(name) and not sent("email"):
            del body[name]


def _resolvable(value: Any) -> Any:
    """`value` with every URL at the loopback address and every mail host an IP literal."""
    if isinstance(value, list):
        return [_resolvable(item) for item in value]
    if not isinstance(value, dict):
        return value
    result = {}
    for key, item in value.items():
        if key in URL_FIELDS and isinstance(item, str):
            item = LOOPBACK_URL
        elif key == "host" and isinstance(item, str):
            item = "127.0.0.1"
        result[key] = _resolvable(item)
    return result


def _keep_secrets(body: dict[str, Any]) -> None:
    """A PATCH may leave a vendor's secret out only while one is stored: send one each time.

    Whether one is stored depends on earlier requests (one may have removed the
    integration), which no schema can say.
    """
    integrations = (body.get("settings") or {}).get("integrations") or {}
    secrets = {
        "crm": "api_key",
        "sms": "auth_token",
        "wordpress": "application_password",
        "google_business": "access_token",
        "companycam": "api_key",
    }
    for name, field in secrets.items():
        item = integrations.get(name)
        if isinstance(item, dict) and not item.get(field):
            item[field] = "schemathesis-secret"


def _phone_numbers() -> list[str]:
    numbers = []
    for region in ("US", "CA", "GB", "FR", "DE", "AU"):
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.append(
                    phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                )
    return numbers


def _time_zones() -> list[str]:
    return [*sorted(z for z in zoneinfo.available_timezones() if "/" in z), "UTC"]


schemathesis.openapi.format("phone", st.sampled_from(_phone_numbers()))
schemathesis.openapi.format("time-zone", st.sampled_from(_time_zones()))


def _document() -> dict[str, Any]:
    """The app's OpenAPI document, built without a database: every route the code has."""
    app = create_app(Settings(database_url="postgresql://document-only/eal", secret_key="x"))
    document: dict[str, Any] = app.openapi()
    return document


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            "generation": {
                "mode": "positive",
                # NUL is refused in every text (a 422), as the document's description says.
                "allow-x00": False,
                # The run's key is sent with every case (ignored_auth still probes without it).
                "with-security-parameters": False,
                "database": "none",
            },
            "checks": {"max_response_time": 5.0},
        }
    ),
)


@dataclass(frozen=True)
class Live:
    """The running server, the tenant it is called as, and ids of resources that exist."""

    base: str
    headers: dict[str, str]
    world: World
    ids: dict[str, str]


@pytest.fixture(scope="module")
def live(world: World, settings: Settings) -> Iterator[Live]:
    """uvicorn on a thread serving the app, with one of each resource created."""
    with threaded_server(create_app(settings)) as base:
        headers = {"Authorization": f"Bearer {world.key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            # The server documents itself as the document the cases are drawn from.
            assert http.get("/openapi.json").json() == DOCUMENT
            ids = _resources(http, world)
        yield Live(base=base, headers=headers, world=world, ids=ids)


@schema.parametrize()
@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=DEADLINE,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_conforms_to_the_document(case: Any, live: Live) -> None:
    _prepare(case, live)
    case.call_and_validate(base_url=live.base, headers=live.headers)


def test_the_run_calls_every_route_of_the_app() -> None:
    """Every route the app serves is in the document and parametrizes the run above."""
    app = create_app(Settings(database_url="postgresql://document-only/eal", secret_key="x"))
    routes = {
        (method, context.path_format)
        for context in iter_route_contexts(app.routes)
        if getattr(context.original_route, "include_in_schema", False)
        for method in context.methods or ()
    }
    operations = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert operations == routes
    assert ("GET", "/") in operations and len(operations) > 25
