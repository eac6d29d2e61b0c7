"""JobNimbus CRM client against a real local fake of the JobNimbus contacts and jobs API."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from eal.integrations.crm import (
    SUPPORTED_CRM_VENDORS,
    CrmAuthError,
    CrmClient,
    CrmContact,
    CrmError,
    CrmJob,
    CrmPushResult,
    CrmRejected,
    CrmUnavailable,
    UnknownCrmVendor,
    get_crm_client,
)
from eal.integrations.jobnimbus import (
    DEFAULT_CALL_ID_FIELD,
    DEFAULT_LEAD_ID_FIELD,
    JobNimbusClient,
    call_id_value,
    lead_id_value,
)
from tests.integrations.fake_jobnimbus import FakeJobNimbus, run_fake_jobnimbus

API_KEY = "jnk_live_7Qx2vR9mTq4sW8yZ"


@pytest.fixture
def fake() -> Iterator[FakeJobNimbus]:
    with run_fake_jobnimbus(API_KEY) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def make_client(
    fake: FakeJobNimbus,
    http: httpx.AsyncClient | None,
    *,
    api_key: str = API_KEY,
    timeout: float = 5.0,
) -> JobNimbusClient:
    return JobNimbusClient(api_key=api_key, base_url=fake.base_url, http=http, timeout=timeout)


def make_contact(lead_id: uuid.UUID | None = None, **overrides: str | None) -> CrmContact:
    fields: dict[str, str | None] = {
        "first_name": "Dana",
        "last_name": "Whitfield",
        "display_name": "Dana Whitfield",
        "company": None,
        "email": "dana.whitfield@example.com",
        "phone": "+15125550143",
        "address": "4120 Burnet Rd",
        "postal_code": "78756",
        "source": "Website",
        "description": "Basement flooding after storm; standing water 3in.",
    }
    fields.update(overrides)
    return CrmContact(lead_id=str(lead_id or uuid.uuid4()), **fields)


async def test_push_creates_contact_with_documented_fields(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    lead_id = uuid.uuid4()
    result = await make_client(fake, http).push_contact(make_contact(lead_id))

    [stored] = fake.contacts
    assert result == CrmPushResult(external_id=stored["jnid"], vendor="jobnimbus")
    expected = {
        "record_type_name": "Customer",
        "status_name": "Lead",
        "first_name": "Dana",
        "last_name": "Whitfield",
        "display_name": "Dana Whitfield",
        "email": "dana.whitfield@example.com",
        "mobile_phone": "5125550143",
        "address_line1": "4120 Burnet Rd",
        "zip": "78756",
        "source_name": "Website",
        "description": "Basement flooding after storm; standing water 3in.",
        DEFAULT_LEAD_ID_FIELD: lead_id.hex,
    }
    assert {key: stored.get(key) for key in expected} == expected
    # Unset fields are omitted, not sent as null.
    post = next(r for r in fake.requests if r.method == "POST")
    assert "company" not in post.body
    assert post.path == "/api1/contacts"
    assert post.headers["authorization"] == f"Bearer {API_KEY}"
    assert post.headers["content-type"] == "application/json"


async def test_push_looks_up_before_creating_and_is_idempotent(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    client = make_client(fake, http)
    contact = make_contact()

    first = await client.push_contact(contact)
    second = await client.push_contact(contact)

    assert first == second
    assert len(fake.contacts) == 1
    assert [r.method for r in fake.requests] == ["GET", "POST", "GET"]


async def test_find_contact_by_lead_id_uses_documented_filter(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    lead_id = uuid.uuid4()
    other_jnid = fake.add_contact(first_name="Other", **{DEFAULT_LEAD_ID_FIELD: uuid.uuid4().hex})
    client = make_client(fake, http)

    assert await client.find_contact_by_lead_id(str(lead_id)) is None
    jnid = fake.add_contact(first_name="Dana", **{DEFAULT_LEAD_ID_FIELD: lead_id.hex})
    found = await client.find_contact_by_lead_id(str(lead_id).upper())

    assert found == jnid != other_jnid
    search = fake.requests[-1]
    assert search.method == "GET"
    assert search.path == "/api1/contacts"
    assert json.loads(search.query["filter"]) == {
        "must": [{"term": {DEFAULT_LEAD_ID_FIELD: lead_id.hex}}]
    }


async def test_find_returns_oldest_contact_when_duplicates_exist(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    lead_id = uuid.uuid4()
    oldest = fake.add_contact(first_name="A", **{DEFAULT_LEAD_ID_FIELD: lead_id.hex})
    fake.add_contact(first_name="B", **{DEFAULT_LEAD_ID_FIELD: lead_id.hex})

    assert await make_client(fake, http).find_contact_by_lead_id(str(lead_id)) == oldest


async def test_lead_id_field_is_configurable_through_the_registry(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    client = get_crm_client(
        "jobnimbus",
        api_key=API_KEY,
        base_url=fake.base_url,
        http=http,
        options={"lead_id_field": "cf_string_12", "status_name": "New Lead"},
    )
    lead_id = uuid.uuid4()

    assert isinstance(client, CrmClient)
    result = await client.push_contact(make_contact(lead_id))

    [stored] = fake.contacts
    assert stored["cf_string_12"] == lead_id.hex
    assert DEFAULT_LEAD_ID_FIELD not in stored
    assert stored["status_name"] == "New Lead"
    assert await client.find_contact_by_lead_id(str(lead_id)) == result.external_id


async def test_client_without_shared_http_client_opens_its_own(fake: FakeJobNimbus) -> None:
    client = make_client(fake, None)
    lead_id = uuid.uuid4()

    result = await client.push_contact(make_contact(lead_id))

    assert await client.find_contact_by_lead_id(str(lead_id)) == result.external_id


async def test_wrong_api_key_raises_auth_error(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    client = make_client(fake, http, api_key="jnk_live_wrongwrongwrong")

    with pytest.raises(CrmAuthError) as caught:
        await client.push_contact(make_contact())

    assert caught.value.status_code == 401
    assert "API key" in caught.value.message
    assert fake.contacts == []


async def test_403_raises_auth_error(fake: FakeJobNimbus, http: httpx.AsyncClient) -> None:
    fake.fail_next(1, 403)

    with pytest.raises(CrmAuthError) as caught:
        await make_client(fake, http).find_contact_by_lead_id(str(uuid.uuid4()))

    assert caught.value.status_code == 403


async def test_server_error_raises_unavailable_and_retry_creates_one_contact(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    client = make_client(fake, http)
    contact = make_contact()
    fake.fail_next(1, 500)

    with pytest.raises(CrmUnavailable) as caught:
        await client.push_contact(contact)
    assert caught.value.status_code == 500

    await client.push_contact(contact)
    assert len(fake.contacts) == 1


async def test_rate_limit_is_retryable(fake: FakeJobNimbus, http: httpx.AsyncClient) -> None:
    fake.fail_next(1, 429)

    with pytest.raises(CrmUnavailable) as caught:
        await make_client(fake, http).push_contact(make_contact())

    assert caught.value.status_code == 429


async def test_timeout_raises_unavailable(fake: FakeJobNimbus, http: httpx.AsyncClient) -> None:
    fake.set_delay(2.0)
    client = make_client(fake, http, timeout=0.2)

    with pytest.raises(CrmUnavailable) as caught:
        await client.push_contact(make_contact())

    assert "timed out" in caught.value.message
    assert caught.value.status_code is None


async def test_connection_refused_raises_unavailable(http: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port any more.
    client = JobNimbusClient(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}/api1", http=http)

    with pytest.raises(CrmUnavailable):
        await client.find_contact_by_lead_id(str(uuid.uuid4()))


async def test_validation_error_raises_rejected_with_vendor_reason(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    client = make_client(fake, http)
    fake.fail_next(1, 200, body=json.dumps({"count": 0, "results": []}))  # the look-up
    fake.fail_next(1, 422, body=json.dumps({"message": "source_name 'Website' does not exist"}))

    with pytest.raises(CrmRejected) as caught:
        await client.push_contact(make_contact())

    assert caught.value.status_code == 422
    assert "source_name 'Website' does not exist" in caught.value.message
    assert fake.contacts == []


async def test_malformed_success_response_raises_unavailable(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    fake.fail_next(1, 200, body="<html>maintenance</html>")

    with pytest.raises(CrmUnavailable):
        await make_client(fake, http).find_contact_by_lead_id(str(uuid.uuid4()))


@pytest.mark.parametrize(
    ("status", "expected"),
    [(401, CrmAuthError), (422, CrmRejected), (500, CrmUnavailable), (None, CrmUnavailable)],
)
async def test_api_key_never_appears_in_errors(
    fake: FakeJobNimbus,
    http: httpx.AsyncClient,
    status: int | None,
    expected: type[CrmError],
) -> None:
    if status is None:
        fake.set_delay(2.0)
    else:
        # A vendor that echoes the credential back must not leak it through us.
        fake.fail_next(1, status, body=json.dumps({"error": f"bad token Bearer {API_KEY}"}))

    with pytest.raises(expected) as caught:
        await make_client(fake, http, timeout=0.2).push_contact(make_contact())

    error = caught.value
    for text in (error.message, str(error), repr(error), *map(str, error.args)):
        assert API_KEY not in text
    assert API_KEY not in repr(make_client(fake, http))


def test_unknown_vendor_is_refused() -> None:
    with pytest.raises(UnknownCrmVendor) as caught:
        get_crm_client("salesforce", api_key=API_KEY, base_url=None)

    assert caught.value.vendor == "salesforce"
    assert "jobnimbus" in str(caught.value)
    assert SUPPORTED_CRM_VENDORS == ("jobnimbus",)


def test_unknown_option_is_refused() -> None:
    with pytest.raises(ValueError, match="lead_id_feild"):
        get_crm_client("jobnimbus", api_key=API_KEY, base_url=None, options={"lead_id_feild": "x"})


def test_registry_defaults_to_production_url() -> None:
    client = get_crm_client("jobnimbus", api_key=API_KEY, base_url=None)

    assert client.vendor == "jobnimbus"
    assert repr(client) == "JobNimbusClient(base_url='https://app.jobnimbus.com/api1')"


async def test_non_uuid_lead_id_is_refused(fake: FakeJobNimbus, http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="UUID"):
        await make_client(fake, http).push_contact(CrmContact(lead_id="lead-7", first_name="Dana"))
    assert fake.requests == []


def test_contact_needs_a_name() -> None:
    with pytest.raises(ValueError, match="at least one"):
        CrmContact(lead_id=str(uuid.uuid4()), email="x@example.com")


def test_lead_id_is_stored_as_hex() -> None:
    lead_id = uuid.uuid4()
    assert lead_id_value(str(lead_id)) == lead_id.hex
    assert lead_id_value(str(lead_id).upper()) == lead_id.hex


async def test_non_north_american_phone_keeps_e164(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    await make_client(fake, http).push_contact(make_contact(phone="+442079460958"))

    assert fake.contacts[0]["mobile_phone"] == "+442079460958"


async def test_fake_handles_concurrent_pushes(fake: FakeJobNimbus, http: httpx.AsyncClient) -> None:
    client = make_client(fake, http)
    contacts = [make_contact() for _ in range(40)]

    results = await asyncio.gather(*(client.push_contact(c) for c in contacts))

    assert len({r.external_id for r in results}) == 40
    assert len(fake.contacts) == 40
    for contact, result in zip(contacts, results, strict=True):
        assert await client.find_contact_by_lead_id(contact.lead_id) == result.external_id


# --- jobs ----------------------------------------------------------------------


def make_job(contact_jnid: str, call_id: str = "call_q4n8p2w7", **overrides: str | None) -> CrmJob:
    fields: dict[str, str | None] = {
        "name": "Dana Whitfield - water damage",
        "description": "Active leak through the basement ceiling; caller is the homeowner.",
        "address": "4120 Burnet Rd",
        "city": "Austin",
        "state": "TX",
        "postal_code": "78756",
        "source": "Phone Call",
    }
    fields.update(overrides)
    return CrmJob(call_id=call_id, contact_external_id=contact_jnid, **fields)


async def test_push_job_creates_a_job_linked_to_its_contact(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    client = make_client(fake, http)
    contact = await client.push_contact(make_contact())

    result = await client.push_job(make_job(contact.external_id))

    [job] = fake.jobs
    assert result == CrmPushResult(external_id=job["jnid"], vendor="jobnimbus")
    assert result.external_id != contact.external_id
    expected = {
        "record_type_name": "Residential",
        "status_name": "Lead",
        "name": "Dana Whitfield - water damage",
        "description": "Active leak through the basement ceiling; caller is the homeowner.",
        "address_line1": "4120 Burnet Rd",
        "city": "Austin",
        "state_text": "TX",
        "zip": "78756",
        "source_name": "Phone Call",
        "primary": {"id": contact.external_id},
        "related": [{"id": contact.external_id}],
        DEFAULT_CALL_ID_FIELD: "call_q4n8p2w7",
    }
    assert {key: job.get(key) for key in expected} == expected
    post = [r for r in fake.requests if r.method == "POST"][-1]
    assert post.path == "/api1/jobs"
    assert post.headers["authorization"] == f"Bearer {API_KEY}"
    assert DEFAULT_LEAD_ID_FIELD not in post.body  # the contact's field is not the job's


async def test_push_job_looks_up_before_creating_and_is_idempotent(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    contact_jnid = fake.add_contact(first_name="Dana")
    client = make_client(fake, http)
    job = make_job(contact_jnid)

    first = await client.push_job(job)
    second = await client.push_job(job)

    assert first == second
    assert len(fake.jobs) == 1
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/api1/jobs"),
        ("POST", "/api1/jobs"),
        ("GET", "/api1/jobs"),
    ]
    assert json.loads(fake.requests[0].query["filter"]) == {
        "must": [{"term": {DEFAULT_CALL_ID_FIELD: "call_q4n8p2w7"}}]
    }


async def test_a_job_per_call_and_a_contact_search_never_finds_a_job(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    contact_jnid = fake.add_contact(first_name="Dana")
    client = make_client(fake, http)

    one = await client.push_job(make_job(contact_jnid, call_id="call_aaaa1111"))
    two = await client.push_job(make_job(contact_jnid, call_id="call_bbbb2222"))

    assert one.external_id != two.external_id
    assert len(fake.jobs) == 2
    assert await client.find_job_by_call_id("call_bbbb2222") == two.external_id
    assert await client.find_job_by_call_id("call_cccc3333") is None
    assert len(fake.contacts) == 1


async def test_find_job_returns_the_oldest_when_duplicates_exist(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    oldest = fake.add_job(name="A", **{DEFAULT_CALL_ID_FIELD: "call_dup"})
    fake.add_job(name="B", **{DEFAULT_CALL_ID_FIELD: "call_dup"})

    assert await make_client(fake, http).find_job_by_call_id("call_dup") == oldest


async def test_uuid_call_ids_are_stored_as_hex(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    call_id = uuid.uuid4()
    client = make_client(fake, http)

    result = await client.push_job(make_job(fake.add_contact(first_name="D"), str(call_id)))

    assert fake.jobs[0][DEFAULT_CALL_ID_FIELD] == call_id.hex
    assert await client.find_job_by_call_id(str(call_id).upper()) == result.external_id
    assert call_id_value(str(call_id)) == call_id.hex


@pytest.mark.parametrize("call_id", ["Call_Q4N8", "call-q4n8", "call q4n8", "x" * 101, ""])
async def test_call_ids_without_a_stored_form_are_refused(
    fake: FakeJobNimbus, http: httpx.AsyncClient, call_id: str
) -> None:
    client = make_client(fake, http)
    if not call_id:
        with pytest.raises(ValueError, match="must not be empty"):
            make_job("jn000001", call_id)
        return
    with pytest.raises(ValueError, match="call id"):
        await client.push_job(make_job("jn000001", call_id))
    with pytest.raises(ValueError, match="call id"):
        await client.find_job_by_call_id(call_id)
    assert fake.requests == []


async def test_job_options_are_configurable_through_the_registry(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    client = get_crm_client(
        "jobnimbus",
        api_key=API_KEY,
        base_url=fake.base_url,
        http=http,
        options={
            "call_id_field": "cf_string_9",
            "job_record_type_name": "Water Mitigation",
            "job_status_name": "New Loss",
        },
    )
    contact_jnid = fake.add_contact(first_name="Dana")

    result = await client.push_job(make_job(contact_jnid))

    [job] = fake.jobs
    assert job["cf_string_9"] == "call_q4n8p2w7"
    assert DEFAULT_CALL_ID_FIELD not in job
    assert (job["record_type_name"], job["status_name"]) == ("Water Mitigation", "New Loss")
    assert await client.find_job_by_call_id("call_q4n8p2w7") == result.external_id


async def test_a_job_for_an_unknown_contact_is_rejected(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    with pytest.raises(CrmRejected) as caught:
        await make_client(fake, http).push_job(make_job("jn999999"))

    assert caught.value.status_code == 400
    assert "does not exist" in caught.value.message
    assert "JobNimbus POST /jobs" in caught.value.message
    assert fake.jobs == []


async def test_job_server_error_is_retryable_and_the_retry_creates_one_job(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    client = make_client(fake, http)
    job = make_job(fake.add_contact(first_name="Dana"))
    fake.fail_next(1, 200, body=json.dumps({"count": 0, "results": []}))  # the look-up
    fake.fail_next(1, 503)

    with pytest.raises(CrmUnavailable) as caught:
        await client.push_job(job)
    assert caught.value.status_code == 503

    first = await client.push_job(job)
    assert await client.push_job(job) == first
    assert len(fake.jobs) == 1


async def test_a_created_job_without_jnid_is_retryable(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    fake.fail_next(1, 200, body=json.dumps({"count": 0, "results": []}))
    fake.fail_next(1, 200, body=json.dumps({"name": "accepted, no id"}))

    with pytest.raises(CrmUnavailable, match="no jnid"):
        await make_client(fake, http).push_job(make_job("jn000001"))


async def test_a_job_search_without_results_is_unavailable(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    fake.fail_next(1, 200, body=json.dumps({"message": "ok"}))

    with pytest.raises(CrmUnavailable, match="job search"):
        await make_client(fake, http).find_job_by_call_id("call_q4n8p2w7")


async def test_wrong_key_on_jobs_is_an_auth_error_without_the_key(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    client = make_client(fake, http, api_key="jnk_live_wrongwrongwrong")

    with pytest.raises(CrmAuthError) as caught:
        await client.push_job(make_job("jn000001"))

    assert caught.value.status_code == 401
    assert "jnk_live_wrongwrongwrong" not in repr(caught.value)
    assert fake.jobs == []


async def test_unset_job_fields_are_omitted(fake: FakeJobNimbus, http: httpx.AsyncClient) -> None:
    contact_jnid = fake.add_contact(first_name="Dana")
    job = CrmJob(call_id="call_min", contact_external_id=contact_jnid, name="Caller 512-555-0143")

    await make_client(fake, http).push_job(job)

    post = [r for r in fake.requests if r.method == "POST"][-1]
    assert set(post.body) == {
        "record_type_name",
        "status_name",
        "name",
        DEFAULT_CALL_ID_FIELD,
        "primary",
        "related",
    }


async def test_contact_city_and_state_are_sent(
    fake: FakeJobNimbus, http: httpx.AsyncClient
) -> None:
    await make_client(fake, http).push_contact(make_contact(city="Austin", state="TX"))

    [stored] = fake.contacts
    assert (stored["city"], stored["state_text"]) == ("Austin", "TX")


@pytest.mark.parametrize("empty", ["call_id", "contact_external_id", "name"])
def test_job_needs_its_identifiers_and_a_name(empty: str) -> None:
    fields = {"call_id": "call_x", "contact_external_id": "jn1", "name": "Job"}
    fields[empty] = "  "
    with pytest.raises(ValueError, match=empty):
        CrmJob(**fields)


@pytest.mark.parametrize("option", ["call_id_field", "job_record_type_name", "job_status_name"])
def test_empty_job_options_are_refused(option: str) -> None:
    with pytest.raises(ValueError, match=option):
        get_crm_client("jobnimbus", api_key=API_KEY, base_url=None, options={option: " "})
