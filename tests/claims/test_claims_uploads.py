"""Signed uploads and downloads: expiry, tampering, size and type, duplicates, thumbnails, summaries."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import text

from eal.app import create_app
from eal.config import Settings
from eal.db.engine import Database
from eal.kit.clock import ManualClock
from eal.runtime import Runtime
from tests.claims.support import (
    BASEMENT,
    CLAIMS,
    create_claim,
    extracted,
    get_claim,
    photo,
    upload,
    upload_urls,
)
from tests.factories import Factory
from tests.support import assert_error, audit_entries

# A loss in Roswell, GA; one photo taken there, one 30 miles away in Atlanta's south.
ROSWELL = (34.0232, -84.3616)
FAR_AWAY = (33.5, -84.4)


async def _photo_rows(db: Database, claim_id: str) -> int:
    async with db.system_transaction() as conn:
        return int(
            await conn.scalar(
                text("SELECT count(*) FROM claim_photos WHERE claim_id = :c"),
                {"c": claim_id.removeprefix("clm_")},
            )
            or 0
        )


def _path(url: str) -> str:
    return url.removeprefix("http://testserver")


async def test_an_upload_stores_the_photo_with_its_exif_and_flags_duplicates(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Claims Upload Co")
    created = await create_claim(
        client, tenant, location={"lat": ROSWELL[0], "lon": ROSWELL[1]}, rooms=[BASEMENT]
    )
    claim_id = created["id"]
    taken = datetime(2026, 4, 27, 9, 30, 0)
    first_bytes = photo(1, taken=taken, gps=(34.0235, -84.3610))
    first = await upload(client, tenant, claim_id, first_bytes)
    assert first["id"].startswith("photo_") and first["claim_id"] == claim_id
    assert first["duplicate_of"] is None and first["far_from_loss"] is False

    same = await upload(client, tenant, claim_id, first_bytes, filename="IMG_0001 (1).jpg")
    assert same["duplicate_of"] == first["id"]
    # The same picture saved again at another quality: not the same bytes, the same scene.
    near = await upload(client, tenant, claim_id, photo(1, quality=60, taken=taken))
    assert near["duplicate_of"] is None and near["near_duplicate_of"] == first["id"]
    other = await upload(client, tenant, claim_id, photo(7, gps=FAR_AWAY))
    assert other["near_duplicate_of"] is None and other["far_from_loss"] is True
    png = await upload(
        client,
        tenant,
        claim_id,
        photo(11, fmt="PNG"),
        filename="sketch.png",
        content_type="image/png",
    )

    claim = await get_claim(client, tenant, claim_id)
    # Exact duplicates are listed but not counted.
    assert claim["photo_count"] == 4 and len(claim["photos"]) == 5
    shown = {p["id"]: p for p in claim["photos"]}
    assert shown[first["id"]]["gps"]["lat"] == pytest.approx(34.0235, abs=1e-3)
    # EXIF times have no zone: read in the organization's (America/New_York, EDT in April).
    assert shown[first["id"]]["captured_at"] == "2026-04-27T13:30:00.000Z"
    assert shown[first["id"]]["width"] == 640 and shown[png["id"]]["content_type"] == "image/png"
    thumb = await client.get(_path(shown[first["id"]]["thumbnail_url"]))
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320
    assert len(await audit_entries(db, tenant.id, "claim.photo_added")) == 5


@pytest.mark.parametrize(
    ("sent", "declared", "status", "code"),
    [
        (b"%PDF-1.4 not a photo at all", "image/jpeg", 422, "validation_failed"),
        (None, "image/png", 422, "validation_failed"),  # a JPEG sent as PNG
    ],
)
async def test_a_file_that_is_not_the_declared_image_is_refused(
    client: httpx.AsyncClient,
    factory: Factory,
    db: Database,
    sent: bytes | None,
    declared: str,
    status: int,
    code: str,
) -> None:
    tenant = await factory.tenant("Claims Bad File Co")
    claim_id = (await create_claim(client, tenant))["id"]
    data = sent if sent is not None else photo(3)
    (target,) = await upload_urls(
        client, tenant, claim_id, [{"filename": "x", "content_type": declared, "size": len(data)}]
    )
    r = await client.put(_path(target["url"]), content=data, headers={"Content-Type": declared})
    assert_error(r, status, code)
    assert await _photo_rows(db, claim_id) == 0


async def test_size_type_tamper_reuse_and_other_claims_are_refused(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Claims Tamper Co")
    claim_id = (await create_claim(client, tenant))["id"]
    other_claim = (await create_claim(client, tenant))["id"]
    data = photo(5)
    (target,) = await upload_urls(
        client,
        tenant,
        claim_id,
        [{"filename": "a.jpg", "content_type": "image/jpeg", "size": len(data)}],
    )
    url = _path(target["url"])
    expires = datetime.fromisoformat(target["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)

    assert_error(
        await client.put(url, content=data + b"x", headers={"Content-Type": "image/jpeg"}),
        422,
        "validation_failed",
    )
    assert_error(
        await client.put(url, content=data, headers={"Content-Type": "image/png"}),
        415,
        "unsupported_media_type",
    )
    altered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    assert_error(
        await client.put(altered, content=data, headers={"Content-Type": "image/jpeg"}),
        403,
        "forbidden",
    )
    elsewhere = url.replace(claim_id, other_claim)
    assert_error(
        await client.put(elsewhere, content=data, headers={"Content-Type": "image/jpeg"}),
        403,
        "forbidden",
    )
    assert await _photo_rows(db, claim_id) == 0

    ok = await client.put(url, content=data, headers={"Content-Type": "image/jpeg"})
    assert ok.status_code == 201, ok.text
    assert_error(
        await client.put(url, content=data, headers={"Content-Type": "image/jpeg"}), 409, "conflict"
    )
    assert await _photo_rows(db, claim_id) == 1

    too_big = await client.post(
        f"{CLAIMS}/{claim_id}/uploads",
        json={
            "files": [
                {"filename": "huge.jpg", "content_type": "image/jpeg", "size": 25 * 1024 * 1024 + 1}
            ]
        },
        headers=tenant.headers,
    )
    assert_error(too_big, 422, "validation_failed")
    gif = await client.post(
        f"{CLAIMS}/{claim_id}/uploads",
        json={"files": [{"filename": "a.gif", "content_type": "image/gif", "size": 10}]},
        headers=tenant.headers,
    )
    assert_error(gif, 422, "validation_failed")


@pytest.fixture
async def clocked(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, ManualClock]]:
    clock = ManualClock(datetime.now(UTC))
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, clock


async def test_links_expire(
    clocked: tuple[httpx.AsyncClient, ManualClock], factory: Factory, db: Database
) -> None:
    client, clock = clocked
    tenant = await factory.tenant("Claims Expiry Co")
    claim_id = (await create_claim(client, tenant))["id"]
    data = photo(9)
    (target,) = await upload_urls(
        client,
        tenant,
        claim_id,
        [{"filename": "a.jpg", "content_type": "image/jpeg", "size": len(data)}],
    )
    claim = await get_claim(client, tenant, claim_id)
    clock.advance(timedelta(minutes=15, seconds=1))
    late = await client.put(
        _path(target["url"]), content=data, headers={"Content-Type": "image/jpeg"}
    )
    error = assert_error(late, 403, "forbidden")
    assert error["details"]["link"] == "expired"
    assert await _photo_rows(db, claim_id) == 0
    # The summary links of GET /claims/{id} last an hour.
    assert (await client.get(_path(claim["summary_txt_url"]))).status_code == 200
    clock.advance(timedelta(minutes=45))
    expired = await client.get(_path(claim["summary_txt_url"]))
    assert assert_error(expired, 403, "forbidden")["details"]["link"] == "expired"


async def test_the_summary_pdf_and_text_follow_the_review(
    client: httpx.AsyncClient, factory: Factory, runtime: Runtime
) -> None:
    tenant = await factory.tenant("Claims Summary Co")
    created = await create_claim(
        client,
        tenant,
        water_category=1,
        water_class=2,
        rooms=[BASEMENT],
        job_external_ref="jn_5501",
    )
    claim_id = created["id"]
    await upload(client, tenant, claim_id, photo(21, taken=datetime(2026, 4, 27, 10, 0, 0)))
    claim = await extracted(client, runtime, tenant, claim_id)
    items = [item for room in claim["rooms"] for item in room["scope_items"]]
    decisions: list[dict[str, Any]] = [
        {"scope_item_id": i["id"], "decision": "approve"} for i in items
    ]
    decisions[0] = {
        "scope_item_id": items[0]["id"],
        "decision": "edit",
        "qty": 777,
        "note": "Measured",
    }
    decisions[1] = {
        "scope_item_id": items[1]["id"],
        "decision": "reject",
        "reason": "Not from this loss",
    }
    r = await client.post(
        f"{CLAIMS}/{claim_id}/review", json={"decisions": decisions}, headers=tenant.headers
    )
    assert r.json()["status"] == "reviewed"
    claim = await get_claim(client, tenant, claim_id)

    pdf = await client.get(_path(claim["summary_pdf_url"]))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    words = " ".join(page.extract_text() for page in reader.pages)
    for expected in (
        claim_id,
        "Basement",
        "jn_5501",
        items[2]["code"],
        "777",
        "Not from this loss",
    ):
        assert expected in words, expected
    assert sum(len(page.images) for page in reader.pages) >= 1

    txt = await client.get(_path(claim["summary_txt_url"]))
    assert txt.status_code == 200 and txt.headers["content-type"].startswith("text/plain")
    paste = [line.split("\t") for line in txt.text.splitlines() if line.count("\t") == 3]
    included = {(cols[0], cols[2]) for cols in paste}
    assert (items[0]["code"], "777") in included
    for item in items[2:]:
        qty = f"{item['qty']:g}"
        assert (item["code"], qty) in included
    rejected = [
        cols for cols in paste if cols[0] == items[1]["code"] and cols[1] == items[1]["description"]
    ]
    assert rejected == [] or items[1]["code"] in {i["code"] for i in items[2:]}
    assert "Not from this loss" in txt.text

    tampered = _path(claim["summary_pdf_url"]).replace("sig=", "sig=x")
    assert_error(await client.get(tampered), 403, "forbidden")
