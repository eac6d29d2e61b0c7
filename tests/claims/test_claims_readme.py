"""The README's claims walkthrough, run as written; organization settings for claims."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import httpx

from eal.runtime import Runtime
from tests.claims.support import CLAIMS, create_claim, extracted, lines
from tests.factories import Factory
from tests.support import assert_error, error_fields

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
ORGS = "/api/v1/organizations"


def _section() -> str:
    start = README.index("\n## Claims documentation\n")
    return README[start : README.index("\n## ", start + 1)]


def _requests() -> list[tuple[str, str, dict[str, Any]]]:
    """Every `curl -X METHOD URL ... -d '{json}'` of the section: (method, path, body)."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", _section(), flags=re.DOTALL):
        words = shlex.split(block, comments=True)
        starts = [i for i, word in enumerate(words) if word == "curl"]
        for start, end in zip(starts, [*starts[1:], len(words)], strict=True):
            command = words[start:end]
            if "-d" in command:
                method, url = command[command.index("-X") + 1], command[command.index("-X") + 2]
                body = json.loads(command[command.index("-d") + 1])
                found.append((method, url.removeprefix("http://127.0.0.1:8000"), body))
    return found


def _table() -> dict[str, tuple[float, str]]:
    """The section's table of the basement's lines: code -> (qty, unit)."""
    rows = re.findall(r"^\| ([A-Z]{3} [A-Z]+) \| ([\d.]+) \| ([A-Z]+) \|", _section(), re.M)
    return {code: (float(qty), unit) for code, qty, unit in rows}


async def test_the_worked_example_gives_the_lines_the_readme_shows(
    client: httpx.AsyncClient, factory: Factory, runtime: Runtime
) -> None:
    tenant = await factory.tenant("Readme Claims Co")
    requests = _requests()
    assert [(m, p.split("/")[-1]) for m, p, _ in requests] == [
        ("POST", "claims"),
        ("PUT", "rooms"),
        ("POST", "uploads"),
        ("PUT", "drying-log"),
        ("POST", "review"),
        ("POST", "items"),
        ("PATCH", "$ORG"),
    ]
    by_step = {p.split("/")[-1]: body for _, p, body in requests}
    created = await create_claim(client, tenant, **by_step["claims"])
    claim_id = created["id"]
    assert created["status"] == "collecting"
    for step in ("rooms", "drying-log"):
        r = await client.put(
            f"{CLAIMS}/{claim_id}/{step}", json=by_step[step], headers=tenant.headers
        )
        assert r.status_code == 200, r.text
    r = await client.post(
        f"{CLAIMS}/{claim_id}/uploads", json=by_step["uploads"], headers=tenant.headers
    )
    assert r.status_code == 200, r.text

    claim = await extracted(client, runtime, tenant, claim_id)
    got = {code: (item["qty"], item["unit"]) for code, item in lines(claim, "Basement").items()}
    assert got == _table()

    # The README's ids are shortened examples: the same decisions on this claim's lines.
    basement = lines(claim, "Basement")
    decisions = []
    picked = {"approve": "WTR EXTRT", "edit": "WTR DRYW", "reject": "CON MANIP"}
    for decision in by_step["review"]["decisions"]:
        decisions.append(
            {**decision, "scope_item_id": basement[picked[decision["decision"]]]["id"]}
        )
    r = await client.post(
        f"{CLAIMS}/{claim_id}/review", json={"decisions": decisions}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "partially_reviewed" and r.json()["decisions_recorded"] == 3
    r = await client.post(
        f"{CLAIMS}/{claim_id}/items", json=by_step["items"], headers=tenant.headers
    )
    assert r.status_code == 201, r.text

    claim = await _get(client, tenant.headers, claim_id)
    text = (await client.get(claim["summary_txt_url"].removeprefix("http://testserver"))).text
    shown = re.search(r"```\n(ROOM: Basement.*?)```", _section(), re.DOTALL)
    assert shown is not None
    for line in shown.group(1).strip().splitlines():
        assert line in text.splitlines(), line


async def _get(client: httpx.AsyncClient, headers: dict[str, str], claim_id: str) -> dict[str, Any]:
    r = await client.get(f"{CLAIMS}/{claim_id}", headers=headers)
    assert r.status_code == 200, r.text
    got: dict[str, Any] = r.json()
    return got


async def test_organization_factors_and_codes_change_the_next_extraction(
    client: httpx.AsyncClient, factory: Factory, runtime: Runtime
) -> None:
    tenant = await factory.tenant("Claims Settings Co")
    (*_, (_, _, settings_body)) = _requests()
    r = await client.patch(f"{ORGS}/{tenant.id}", json=settings_body, headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["claims"]["code_map"] == {"WTR DRYW": "DRY-10"}
    room = {
        "name": "Den",
        "dimensions": {"length_ft": 12, "width_ft": 10, "height_ft": 8},
        "affected": {"wet_floor_sf": 120, "wet_wall_height_in": 10},
    }
    created = await create_claim(client, tenant, water_class=2, rooms=[room])
    claim = await extracted(client, runtime, tenant, created["id"])
    den = lines(claim, "Den")
    # 1 per wet room + ceil(120 SF / 50 SF per unit) = 3: 4 air movers (the shipped
    # 60 SF per unit gives 1 + 2 = 3).
    assert den["WTR AIRM"]["units"] == 4
    # A conventional dehumidifier: 960 cu ft / 40 (class 2) = 24 pints/day, one unit.
    assert "WTR DHM" not in den and den["WTR DHMC"]["units"] == 1
    assert den["WTR DRYW"]["code"] == "DRY-10" and den["WTR DRYW"]["catalog_code"] == "WTR DRYW"


async def test_bad_claims_settings_are_a_422_and_change_nothing(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Claims Bad Settings Co")
    before = (await client.get(f"{ORGS}/me", headers=tenant.headers)).json()["settings"]
    for claims in (
        {"factors": {"air_movers": {"floor_sf_per_unit": "many"}}},
        {"factors": {"air_movers": {"nope": 1}}},
        {"code_map": {"NOT A CODE": "X-1"}},
    ):
        r = await client.patch(
            f"{ORGS}/{tenant.id}", json={"settings": {"claims": claims}}, headers=tenant.headers
        )
        assert_error(r, 422, "validation_failed")
        assert any("claims" in field for field in error_fields(r)), r.text
    after = (await client.get(f"{ORGS}/me", headers=tenant.headers)).json()["settings"]
    assert after == before


async def test_companycam_token_is_stored_encrypted_and_shown_as_a_hint(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Claims CompanyCam Settings Co")
    token = "cc_live_token_5c1e9a7b"
    r = await client.patch(
        f"{ORGS}/{tenant.id}",
        json={"settings": {"integrations": {"companycam": {"api_key": token}}}},
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    assert token not in r.text
    shown = r.json()["settings"]["integrations"]["companycam"]
    assert shown["api_key_hint"].endswith(token[-4:]) and "api_key" not in shown
