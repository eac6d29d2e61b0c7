"""Claims: a 40-room, 1,000-photo water claim, from intake to the summary PDF, in one process.

In a scratch database on the local PostgreSQL server, one claim gets 40
rooms (rectangles and L-shapes, readings over four days, a drying log) and
1,000 generated photos (25 per room, tagged with their room; some repeated
exactly and some re-encoded, so duplicate detection has work). Printed:

1. intake: photos stored per second (EXIF, hashes, thumbnail, duplicate checks, storage);
2. extraction: the scope calculator's run and the lines stored (target < 10 s);
3. the summary PDF with every thumbnail, and the text (target PDF < 5 s);
4. the process's peak RSS over the whole run (target < 300 MB).

    python bench/claims_bench.py [--rooms 40] [--photos 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import DEFAULT_SERVER, scratch_database

EXTRACTION_TARGET_S = 10.0
PDF_TARGET_S = 5.0
RSS_TARGET_MB = 300.0


def _photo(seed: int) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new(
        "RGB", (1024, 768), ((seed * 67) % 256, (seed * 131) % 256, (seed * 29) % 256)
    )
    draw = ImageDraw.Draw(image)
    step = 20 + (seed * 13) % 60
    for i in range(0, 1024, step):
        shade = (i * seed * 7) % 256
        draw.rectangle(
            [i, (seed * 37) % 768, i + step // 2, 768], fill=(shade, 255 - shade, seed % 256)
        )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _reencoded(data: bytes) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(data)).save(out, "JPEG", quality=60)
    return out.getvalue()


def _rooms(count: int, start: datetime) -> list[dict[str, Any]]:
    rooms = []
    for index in range(count):
        name = f"Room {index + 1:02d}"
        if index % 4 == 3:
            dimensions: dict[str, Any] = {"walls_ft": [20, 12, 8, 6, 12, 18], "height_ft": 8}
        else:
            dimensions = {"length_ft": 10 + index % 15, "width_ft": 8 + index % 9, "height_ft": 8}
        readings = [
            {
                "surface": surface,
                "reading": max(8.0, 40.0 - 9.0 * day),
                "dry_standard": 12.0,
                "meter_scale": "wood",
                "taken_at": (start + timedelta(days=day)).isoformat(),
            }
            for surface in ("north wall", "floor")
            for day in range(4)
        ]
        rooms.append(
            {
                "name": name,
                "dimensions": dimensions,
                "floor_material": "carpet_pad" if index % 2 else "hardwood",
                "wall_material": "drywall",
                "walls_insulated": index % 3 == 0,
                "affected": {"wet_wall_height_in": 10 + index % 40, "insets_offsets": index % 3},
                "readings": readings,
                "photo_ids": [],
            }
        )
    return rooms


async def run(database_url: str, rooms: int, photos: int) -> dict[str, Any]:
    from tests.factories import Factory

    from eal.claims import extraction, intake, repository, summary
    from eal.claims.images import inspect_image
    from eal.config import Settings
    from eal.db.tx import Tx
    from eal.kit.identity import Actor, Source
    from eal.runtime import Runtime

    data_dir = Path(tempfile.mkdtemp(prefix="eal-claims-bench-"))
    settings = Settings(database_url=database_url, data_dir=data_dir, secret_key="bench-secret-key")
    runtime = Runtime.build(settings)
    tenant = await Factory(runtime.db).tenant("Claims Bench Co")
    start = datetime(2026, 4, 27, 14, tzinfo=UTC)
    claim_id = uuid.uuid4()
    actor = Actor(organization_id=tenant.id, source=Source.WORKER)
    room_list = _rooms(rooms, start)
    async with runtime.db.tenant_transaction(tenant.id) as conn:
        tx = Tx(conn, actor=actor, clock=runtime.clock)
        await repository.insert(
            tx.conn,
            {
                "id": claim_id,
                "organization_id": tenant.id,
                "loss_type": "water",
                "status": "extracting",
                "source_vendor": "upload",
                "water_category": 2,
                "water_class": 3,
                "rooms": room_list,
                "drying_log": [
                    {
                        "taken_at": (start + timedelta(days=day)).isoformat(),
                        "room": room["name"],
                        "temp_f": 75 + day,
                        "rh_pct": 65 - 8 * day,
                    }
                    for room in room_list
                    for day in range(4)
                ],
                "created_at": start,
                "updated_at": start,
            },
        )
    # Distinct pictures, with one in twenty an exact repeat of an earlier one and one in
    # twenty the same picture re-encoded (a near duplicate).
    pictures: list[bytes] = []
    for index in range(photos):
        if index % 20 == 7 and pictures:
            pictures.append(pictures[index // 2])
        elif index % 20 == 13 and pictures:
            pictures.append(_reencoded(pictures[index // 2]))
        else:
            pictures.append(_photo(index + 1))
    started = time.perf_counter()
    for index in range(photos):
        data = pictures[index]
        facts = inspect_image(data)
        async with runtime.db.tenant_transaction(tenant.id) as conn:
            tx = Tx(conn, actor=actor, clock=runtime.clock)
            claim = await repository.get(tx.conn, tenant.id, claim_id, lock=True)
            await intake.store_photo(
                tx,
                runtime.storage,
                claim,
                facts,
                data,
                source="upload",
                external_id=f"bench:{index}",
                tags=(
                    room_list[index % rooms]["name"],
                    "standing water" if index % 7 == 0 else "moisture",
                ),
            )
            if index == photos - 1:
                await intake.count_photos(tx, claim)
    intake_s = time.perf_counter() - started

    started = time.perf_counter()
    async with runtime.db.tenant_transaction(tenant.id) as conn:
        tx = Tx(conn, actor=actor, clock=runtime.clock)
        claim = await repository.get(tx.conn, tenant.id, claim_id, lock=True)
        rows = await repository.photos(tx.conn, tenant.id, claim_id)
        scope = extraction.compute(claim, rows, {})
        calculated_s = time.perf_counter() - started
        claim = await extraction.store(tx, claim, scope)
    extraction_s = time.perf_counter() - started

    started = time.perf_counter()
    async with runtime.db.tenant_transaction(tenant.id) as conn:
        tx = Tx(conn, actor=actor, clock=runtime.clock)
        report = await summary.build(tx, runtime.storage, claim_id, with_thumbnails=True)
    gathered_s = time.perf_counter() - started
    pdf = summary.render_pdf(report)
    pdf_s = time.perf_counter() - started
    started = time.perf_counter()
    text = summary.render_text(report)
    text_s = time.perf_counter() - started
    await runtime.aclose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rooms": rooms,
        "photos": photos,
        "photo_count": claim.photo_count,
        "scope_items": claim.scope_item_count,
        "intake_photos_per_s": round(photos / intake_s, 1),
        "extraction_s": round(extraction_s, 3),
        "extraction_calculator_s": round(calculated_s, 3),
        "extraction_ratio": round(EXTRACTION_TARGET_S / extraction_s, 1),
        "pdf_s": round(pdf_s, 3),
        "pdf_gather_s": round(gathered_s, 3),
        "pdf_bytes": len(pdf),
        "pdf_ratio": round(PDF_TARGET_S / pdf_s, 1),
        "text_s": round(text_s, 4),
        "text_lines": text.count("\n"),
        "peak_rss_mb": round(peak_mb, 1),
        "rss_ratio": round(RSS_TARGET_MB / peak_mb, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rooms", type=int, default=40)
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    with scratch_database(args.server) as url:
        figures = asyncio.run(run(url, args.rooms, args.photos))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
