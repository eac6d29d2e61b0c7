"""What the claims tests share: requests, generated photos, running the claim jobs."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import httpx
from PIL import Image, ImageDraw

from eal.claims import tasks
from eal.claims.service import ClaimJob, claim_id_of
from eal.jobs.context import JobContext
from eal.kit.identity import Actor, Source
from eal.runtime import Runtime
from tests.factories import Tenant

CLAIMS = "/api/v1/claims"

# Class 2, category 1 basement: 24 x 18 x 8 ft, drywall wet to 30 in, carpet and pad.
BASEMENT: dict[str, Any] = {
    "name": "Basement",
    "dimensions": {"length_ft": 24, "width_ft": 18, "height_ft": 8},
    "floor_material": "carpet_pad",
    "wall_material": "drywall",
    "affected": {"wet_floor_sf": 432, "wet_wall_height_in": 30},
}


def photo(
    seed: int,
    *,
    size: tuple[int, int] = (640, 480),
    fmt: str = "JPEG",
    quality: int = 90,
    taken: datetime | None = None,
    gps: tuple[float, float] | None = None,
) -> bytes:
    """A generated picture: `seed` picks a pattern no other seed's resembles."""
    image = Image.new("RGB", size, ((seed * 67) % 256, (seed * 131) % 256, (seed * 29) % 256))
    draw = ImageDraw.Draw(image)
    step = 20 + (seed * 13) % 60
    for i in range(0, size[0], step):
        shade = (i * seed * 7) % 256
        draw.rectangle(
            [i, (seed * 37) % size[1], i + step // 2, size[1]],
            fill=(shade, 255 - shade, seed % 256),
        )
    for j in range(0, size[1], step * 2):
        draw.ellipse(
            [(j * seed) % size[0], j, (j * seed) % size[0] + step, j + step],
            fill=(255, seed % 200, 0),
        )
    exif = Image.Exif()
    if taken is not None:
        exif[0x8769] = {0x9003: taken.strftime("%Y:%m:%d %H:%M:%S")}  # DateTimeOriginal
    if gps is not None:
        lat, lon = gps

        def dms(value: float) -> tuple[float, float, float]:
            value = abs(value)
            degrees = int(value)
            minutes = int((value - degrees) * 60)
            return (degrees, minutes, round((value - degrees - minutes / 60) * 3600, 2))

        exif[0x8825] = {
            1: "N" if lat >= 0 else "S",
            2: dms(lat),
            3: "E" if lon >= 0 else "W",
            4: dms(lon),
        }
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=quality, exif=exif)
    else:
        image.save(out, fmt)
    return out.getvalue()


async def create_claim(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> dict[str, Any]:
    """POST /claims (a water loss by default); the 202 body."""
    r = await client.post(CLAIMS, json={"loss_type": "water", **body}, headers=tenant.headers)
    assert r.status_code == 202, r.text
    created: dict[str, Any] = r.json()
    return created


async def get_claim(client: httpx.AsyncClient, tenant: Tenant, claim_id: str) -> dict[str, Any]:
    """GET /claims/{id}."""
    r = await client.get(f"{CLAIMS}/{claim_id}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    got: dict[str, Any] = r.json()
    return got


async def upload_urls(
    client: httpx.AsyncClient, tenant: Tenant, claim_id: str, files: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """POST /claims/{id}/uploads; the targets."""
    r = await client.post(
        f"{CLAIMS}/{claim_id}/uploads", json={"files": files}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text
    targets: list[dict[str, Any]] = r.json()["uploads"]
    return targets


async def upload(
    client: httpx.AsyncClient,
    tenant: Tenant,
    claim_id: str,
    data: bytes,
    *,
    filename: str = "IMG_0001.jpg",
    content_type: str = "image/jpeg",
) -> dict[str, Any]:
    """Ask for a signed URL and PUT the file to it; the 201 body."""
    (target,) = await upload_urls(
        client,
        tenant,
        claim_id,
        [{"filename": filename, "content_type": content_type, "size": len(data)}],
    )
    r = await client.put(
        target["url"].removeprefix("http://testserver"),
        content=data,
        headers={"Content-Type": content_type},
    )
    assert r.status_code == 201, r.text
    stored: dict[str, Any] = r.json()
    return stored


def _context(runtime: Runtime, tenant: Tenant, task: str, attempt: int) -> JobContext:
    actor = Actor(organization_id=tenant.id, source=Source.WORKER)
    return JobContext(runtime=runtime, job_id=0, task=task, attempt=attempt, actor=actor)


async def run_extraction(runtime: Runtime, tenant: Tenant, claim_id: str) -> None:
    """Run the claim's extraction job now, as the worker would."""
    ctx = _context(runtime, tenant, "claims.extract", 1)
    await tasks.extract(ctx, ClaimJob(claim_id=claim_id_of(claim_id)))


async def run_import(runtime: Runtime, tenant: Tenant, claim_id: str, *, attempt: int = 1) -> None:
    """Run the claim's CompanyCam import job now (it queues extraction; run that too)."""
    ctx = _context(runtime, tenant, "claims.import_photos", attempt)
    await tasks.import_photos(ctx, ClaimJob(claim_id=claim_id_of(claim_id)))


async def extracted(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, claim_id: str
) -> dict[str, Any]:
    """Request extraction, run it, and return the claim."""
    r = await client.post(f"{CLAIMS}/{claim_id}/extract", headers=tenant.headers)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "extracting"
    await run_extraction(runtime, tenant, claim_id)
    return await get_claim(client, tenant, claim_id)


def lines(claim: dict[str, Any], room: str) -> dict[str, dict[str, Any]]:
    """The room's scope lines by catalog code."""
    (found,) = [r for r in claim["rooms"] if r["name"] == room]
    return {item["catalog_code"] or item["code"]: item for item in found["scope_items"]}
