"""The limits and facts of photos: what `eal.claims.images` accepts and returns.

Apart from `images` and `decoding` so both can use them without importing each
other, and without loading Pillow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: Content types a photo may have, the one list (uploads, imports, the OpenAPI schema).
PHOTO_TYPES: tuple[str, ...] = ("image/jpeg", "image/png", "image/heic", "image/heif")
#: Largest photo accepted, in bytes; the caller checks it before reading the body.
MAX_PHOTO_BYTES = 25 * 1024 * 1024
#: Largest photo accepted, in pixels: a 50-megapixel phone photo (8160 x 6144) passes.
#: Below Pillow's own decompression-bomb threshold (`Image.MAX_IMAGE_PIXELS`, 89.5 M),
#: so whatever Pillow warns about is refused here.
MAX_PHOTO_PIXELS = 64_000_000
#: Longest side of a thumbnail, in pixels.
THUMBNAIL_PX = 320
THUMBNAIL_QUALITY = 80
#: Perceptual hashes at most this many bits apart (of 64) are the same picture. A JPEG
#: re-encoded at another quality, resized or lightly cropped moves a few bits (0 to 4 in
#: practice); two different photos differ by about half of them (~32), and two photos
#: of one wall from a step apart by 10 or more.
NEAR_DUPLICATE_DISTANCE = 6
#: A photo taken farther than this from the loss address is flagged for review.
FAR_FROM_LOSS_MILES = 1.0


class ImageRejected(ValueError):
    """The bytes are not a photo this service accepts; `message` is fit for an API error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What a photo file says about itself."""

    content_type: str
    """One of `PHOTO_TYPES`: what the bytes are (for HEIF, the declared spelling)."""
    width: int
    """Width in pixels as the photo is shown, after its EXIF orientation."""
    height: int
    captured_at: datetime | None
    """EXIF DateTimeOriginal (else DateTime). Aware when the file gives its UTC offset
    (OffsetTimeOriginal / OffsetTime); otherwise naive, the camera's wall clock in a
    zone the file does not name: the caller picks one (the vendor's time, the
    organization's zone)."""
    gps: tuple[float, float] | None
    """(latitude, longitude) in degrees from the EXIF GPS tags, south and west negative;
    None without them, or for 0, 0 (what cameras write without a fix)."""
    orientation: int | None
    """EXIF orientation, 1 to 8, as the file had it (width and height already apply it)."""
    sha256: str
    """Hex SHA-256 of the file's bytes: equal for exact copies."""
    phash: str
    """Perceptual hash (imagehash's phash of the upright picture), 16 hex digits."""
    thumbnail: bytes
    """A JPEG of the upright picture, longest side at most `THUMBNAIL_PX`, no EXIF."""
