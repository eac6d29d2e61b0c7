"""Photo facts: what one JPEG, PNG or HEIC file says about itself, read once at intake.

`inspect_image` decodes the whole file (a damaged one is refused, not stored), reads
its EXIF (time taken, GPS position, orientation) and returns its hashes and a small
JPEG thumbnail. The limits of what is accepted are exported here (they are
defined in `eal.claims.photo_facts`): `PHOTO_TYPES`, `MAX_PHOTO_BYTES` (checked by
the caller, before the bytes are read) and `MAX_PHOTO_PIXELS`.

Memory, since this runs in the API and the worker: a JPEG is decoded at a reduced
scale (libjpeg's DCT scaling, still reading every byte), so a 48-megapixel photo
takes a few megabytes instead of 140. The perceptual hash is imagehash's `phash`
computed here in plain Python (a 32 x 32 DCT of which 8 x 8 coefficients are used):
imagehash's own needs numpy and scipy, some 45 MB of memory per process for 64 bits.
Pillow itself is loaded with the first photo (`eal.claims.decoding` holds the code
that needs it), and pillow-heif (libheif) on the first HEIF file: a process that
never sees a photo does not carry them (about 1.7 MB of resident memory).

The calls are CPU-bound (tens of milliseconds for a phone photo): run them in a
worker thread (`asyncio.to_thread`) from async code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eal.claims.photo_facts import (
    FAR_FROM_LOSS_MILES,
    MAX_PHOTO_BYTES,
    MAX_PHOTO_PIXELS,
    NEAR_DUPLICATE_DISTANCE,
    PHOTO_TYPES,
    THUMBNAIL_PX,
    ImageFacts,
    ImageRejected,
)
from eal.geo import haversine_miles

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "FAR_FROM_LOSS_MILES",
    "MAX_PHOTO_BYTES",
    "MAX_PHOTO_PIXELS",
    "NEAR_DUPLICATE_DISTANCE",
    "PHOTO_TYPES",
    "THUMBNAIL_PX",
    "ImageFacts",
    "ImageRejected",
    "distance_miles",
    "inspect_image",
    "near_duplicate",
    "phash",
]


def inspect_image(data: bytes, *, declared_type: str | None = None) -> ImageFacts:
    """Decode `data` and return its facts, or raise `ImageRejected`.

    Refused: anything but a JPEG, PNG or HEIC/HEIF image; a damaged or truncated file;
    one over `MAX_PHOTO_PIXELS`; and, with `declared_type`, a type outside
    `PHOTO_TYPES` or bytes of another type than declared (image/heic and image/heif
    are one family and match either). Unreadable EXIF only leaves its facts unknown.
    """
    from eal.claims import decoding

    return decoding.inspect_image(data, declared_type=declared_type, max_pixels=MAX_PHOTO_PIXELS)


def phash(image: Image.Image) -> str:
    """imagehash's `phash(image)` as its 16 hex digits, without numpy and scipy.

    The picture in gray at 32 x 32 (Lanczos), its 2-D DCT-II, the 8 x 8 lowest
    frequencies; a bit is set where the coefficient is above their median (row-major,
    first bit highest), so the result equals `str(imagehash.phash(image))` but for
    coefficients that tie with the median (see below).
    """
    from eal.claims import decoding

    return decoding.phash(image)


def near_duplicate(
    phash_a: str, phash_b: str, *, max_distance: int = NEAR_DUPLICATE_DISTANCE
) -> bool:
    """Whether two perceptual hashes (16 hex digits) are at most `max_distance` bits apart."""
    return (int(phash_a, 16) ^ int(phash_b, 16)).bit_count() <= max_distance


def distance_miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in miles between two (latitude, longitude) points."""
    return haversine_miles(a, b)
