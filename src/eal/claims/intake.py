"""Photo intake: signed upload links, storing a photo, duplicates, rooms.

Uploads go straight to this service: `POST /claims/{id}/uploads` hands out
one signed PUT URL per file (15 minutes, bound to the claim, the file's name,
type and size); the URL is the credential. Every photo, uploaded or imported
from CompanyCam, is read once (`images.inspect_image`: EXIF time, GPS,
orientation, hashes, a thumbnail), stored with its thumbnail in object
storage, and compared with the claim's other photos: an exact copy (same
SHA-256) is a duplicate, a near copy (perceptual hash) a near duplicate, so
neither is counted twice; a photo taken far from the loss is flagged.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from eal import events
from eal.claims import repository
from eal.claims.images import (
    FAR_FROM_LOSS_MILES,
    ImageFacts,
    distance_miles,
    near_duplicate,
)
from eal.claims.responses import PhotoStored, UploadsOut, UploadTarget
from eal.claims.schemas import CLAIM_PREFIX, PHOTO_PREFIX, UploadRequest
from eal.db.tx import Tx
from eal.events import Action
from eal.kit.ids import public_id
from eal.kit.signed import Signer
from eal.storage import Storage

UPLOAD_PURPOSE = "eal-claim-upload"
UPLOAD_TTL = timedelta(minutes=15)
THUMBNAIL_PURPOSE = "eal-claim-thumbnail"
SUMMARY_PURPOSE = "eal-claim-summary"
#: Links in GET /claims/{id} (thumbnails, the PDF and the text) live an hour.
LINK_TTL = timedelta(hours=1)
UTC_ZONE = ZoneInfo("UTC")
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/heic": "heic", "image/heif": "heif"}


@dataclass(frozen=True)
class UploadGrant:
    """What a signed upload URL allows: one file of this name, type and size, to this claim."""

    claim_id: uuid.UUID
    filename: str
    content_type: str
    size: int
    nonce: str
    key_id: uuid.UUID | None
    """The API key that asked for the URL: the upload is its act in the audit log."""

    def pack(self) -> bytes:
        """The token's data."""
        key = self.key_id.hex if self.key_id else ""
        fields = [self.claim_id.hex, self.filename, self.content_type, self.size, self.nonce, key]
        return json.dumps(fields, separators=(",", ":")).encode()

    @classmethod
    def unpack(cls, data: bytes) -> UploadGrant:
        """The grant a verified token carries."""
        claim, filename, content_type, size, nonce, key = json.loads(data)
        key_id = uuid.UUID(hex=key) if key else None
        return cls(uuid.UUID(hex=claim), filename, content_type, int(size), nonce, key_id)


def upload_links(
    signer: Signer,
    public_url: str,
    claim_id: uuid.UUID,
    body: UploadRequest,
    now: datetime,
    *,
    key_id: uuid.UUID | None,
) -> UploadsOut:
    """One signed PUT URL per file."""
    expires_at = now + UPLOAD_TTL
    base = public_url.rstrip("/")
    claim = public_id(CLAIM_PREFIX, claim_id)
    targets = []
    for file in body.files:
        grant = UploadGrant(
            claim_id, file.filename, file.content_type, file.size, uuid.uuid4().hex, key_id
        )
        token = signer.sign(UPLOAD_PURPOSE, grant.pack(), expires_at=expires_at)
        targets.append(
            UploadTarget(
                filename=file.filename,
                url=f"{base}/claims/{claim}/uploads/{token}",
                expires_at=expires_at,
            )
        )
    return UploadsOut(uploads=targets)


def thumbnail_link(
    signer: Signer, public_url: str, claim_id: uuid.UUID, photo_id: uuid.UUID, now: datetime
) -> str:
    """The signed link to a photo's thumbnail, valid for an hour."""
    claim = public_id(CLAIM_PREFIX, claim_id)
    photo = public_id(PHOTO_PREFIX, photo_id)
    exp, sig = signer.sign_query(THUMBNAIL_PURPOSE, f"{claim}/{photo}", expires_at=now + LINK_TTL)
    return f"{public_url.rstrip('/')}/claims/{claim}/photos/{photo}.jpg?exp={exp}&sig={sig}"


def summary_link(
    signer: Signer, public_url: str, claim_id: uuid.UUID, kind: str, now: datetime
) -> str:
    """The signed link to the claim's summary (`kind` pdf or txt), valid for an hour."""
    claim = public_id(CLAIM_PREFIX, claim_id)
    exp, sig = signer.sign_query(SUMMARY_PURPOSE, f"{claim}.{kind}", expires_at=now + LINK_TTL)
    return f"{public_url.rstrip('/')}/claims/{claim}.{kind}?exp={exp}&sig={sig}"


def _keys(row: Any, photo_id: uuid.UUID, content_type: str) -> tuple[str, str]:
    prefix = f"claims/{row.organization_id}/{row.id}/{photo_id}"
    return f"{prefix}.{_EXTENSIONS.get(content_type, 'bin')}", f"{prefix}.thumb.jpg"


def room_for(tags: tuple[str, ...] | list[str], rooms: list[dict[str, Any]]) -> str | None:
    """The claim's room a photo's tag names (case and spacing ignored), if one does."""
    names = {" ".join(room["name"].casefold().split()): room["name"] for room in rooms}
    for tag in tags:
        found = names.get(" ".join(tag.casefold().split()))
        if found is not None:
            return str(found)
    return None


async def store_photo(
    tx: Tx,
    storage: Storage,
    claim: Any,
    facts: ImageFacts,
    data: bytes,
    *,
    source: str,
    filename: str | None = None,
    external_id: str | None = None,
    tags: tuple[str, ...] = (),
    description: str | None = None,
    captured_at: datetime | None = None,
    gps: tuple[float, float] | None = None,
    zone: ZoneInfo = UTC_ZONE,
) -> Any | None:
    """Store one photo of `claim` (bytes, thumbnail, row); its row, None if already there.

    Vendor fields (`captured_at`, `gps`) stand in where the file's EXIF has none.
    """
    photo_id = uuid.uuid4()
    key, thumb_key = _keys(claim, photo_id, facts.content_type)
    duplicate_of = near_of = None
    for other in await repository.fingerprints(tx.conn, claim.id):
        if other.sha256 == facts.sha256:
            duplicate_of = other.id
            break
        if near_of is None and near_duplicate(other.phash, facts.phash):
            near_of = other.id
    where = facts.gps or gps
    far = None
    if where is not None and claim.loss_lat is not None and claim.loss_lon is not None:
        far = distance_miles(where, (claim.loss_lat, claim.loss_lon)) > FAR_FROM_LOSS_MILES
    taken = facts.captured_at
    if taken is not None and taken.tzinfo is None:
        # A naive EXIF time is the camera's wall clock: the vendor's time is better,
        # else the organization's time zone is the best guess.
        taken = captured_at or taken.replace(tzinfo=zone)
    elif taken is None:
        taken = captured_at
    # Bytes first: a row never points at a file that is not there. A file whose row
    # is then refused (a racing import) is overwritten by nothing and stays unused.
    await storage.put(key, data, facts.content_type)
    await storage.put(thumb_key, facts.thumbnail, "image/jpeg")
    row = await repository.insert_photo(
        tx.conn,
        {
            "id": photo_id,
            "organization_id": claim.organization_id,
            "claim_id": claim.id,
            "source": source,
            "external_id": external_id,
            "filename": filename,
            "room": room_for(tags, claim.rooms) or _explicit_room(claim.rooms, photo_id),
            "captured_at": taken,
            "gps_lat": where[0] if where else None,
            "gps_lon": where[1] if where else None,
            "orientation": facts.orientation,
            "tags": list(tags),
            "description": description,
            "content_type": facts.content_type,
            "width": facts.width,
            "height": facts.height,
            "size_bytes": len(data),
            "sha256": facts.sha256,
            "phash": facts.phash,
            "storage_key": key,
            "thumbnail_key": thumb_key,
            "duplicate_of": duplicate_of,
            "near_duplicate_of": None if duplicate_of else near_of,
            "far_from_loss": far,
            "created_at": tx.now(),
        },
    )
    if row is None:
        await storage.delete(key)
        await storage.delete(thumb_key)
    return row


def _explicit_room(rooms: list[dict[str, Any]], photo_id: uuid.UUID) -> str | None:
    wanted = public_id(PHOTO_PREFIX, photo_id)
    for room in rooms:
        if wanted in room.get("photo_ids", ()):
            return str(room["name"])
    return None


async def assign_rooms(tx: Tx, claim: Any) -> None:
    """Give every photo its room: named in a room's photo_ids, else by a tag, else none."""
    explicit = {
        photo_id: room["name"] for room in claim.rooms for photo_id in room.get("photo_ids", ())
    }
    changes: dict[uuid.UUID, str | None] = {}
    for photo in await repository.photos(tx.conn, claim.organization_id, claim.id):
        room = explicit.get(public_id(PHOTO_PREFIX, photo.id)) or room_for(photo.tags, claim.rooms)
        if room != photo.room:
            changes[photo.id] = room
    await repository.set_photo_rooms(tx.conn, claim.id, changes)


async def count_photos(tx: Tx, claim: Any) -> Any:
    """Set the claim's photo count (exact duplicates left out); its row."""
    count = await repository.count_photos(tx.conn, claim.id)
    return await repository.update(
        tx.conn, claim.organization_id, claim.id, photo_count=count, updated_at=tx.now()
    )


async def record_upload(tx: Tx, claim: Any, photo: Any) -> None:
    """The audit entry of one uploaded photo."""
    await events.record(
        tx,
        Action.CLAIM_PHOTO_ADDED,
        {
            "claim_id": public_id(CLAIM_PREFIX, claim.id),
            "photo_id": public_id(PHOTO_PREFIX, photo.id),
            "filename": photo.filename,
            "sha256": photo.sha256,
            "size_bytes": photo.size_bytes,
            "duplicate_of": (
                public_id(PHOTO_PREFIX, photo.duplicate_of) if photo.duplicate_of else None
            ),
        },
    )


def stored_of(photo: Any) -> PhotoStored:
    """The answer to a stored upload."""
    return PhotoStored(
        id=public_id(PHOTO_PREFIX, photo.id),
        claim_id=public_id(CLAIM_PREFIX, photo.claim_id),
        duplicate_of=public_id(PHOTO_PREFIX, photo.duplicate_of) if photo.duplicate_of else None,
        near_duplicate_of=(
            public_id(PHOTO_PREFIX, photo.near_duplicate_of) if photo.near_duplicate_of else None
        ),
        far_from_loss=photo.far_from_loss,
    )
