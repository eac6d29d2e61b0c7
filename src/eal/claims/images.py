"""Photo facts: what one JPEG, PNG or HEIC file says about itself, read once at intake.

`inspect_image` decodes the whole file (a damaged one is refused, not stored), reads
its EXIF (time taken, GPS position, orientation) and returns its hashes and a small
JPEG thumbnail. The limits of what is accepted live here: `PHOTO_TYPES`,
`MAX_PHOTO_BYTES` (checked by the caller, before the bytes are read) and
`MAX_PHOTO_PIXELS`.

Memory, since this runs in the API and the worker: a JPEG is decoded at a reduced
scale (libjpeg's DCT scaling, still reading every byte), so a 48-megapixel photo
takes a few megabytes instead of 140. The perceptual hash is imagehash's `phash`
computed here in plain Python (a 32 x 32 DCT of which 8 x 8 coefficients are used):
imagehash's own needs numpy and scipy, some 45 MB of memory per process for 64 bits.
pillow-heif (libheif) is loaded on the first HEIF file, not with this module.

The calls are CPU-bound (tens of milliseconds for a phone photo): run them in a
worker thread (`asyncio.to_thread`) from async code.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError

from eal.geo import haversine_miles

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

# How to show a picture of each EXIF orientation upright (as ImageOps.exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Modes Pillow resizes with Lanczos as they are (alpha premultiplied).
_RESIZABLE = frozenset({"RGB", "RGBA", "L", "LA", "CMYK", "YCbCr"})
_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/heic": "HEIC", "image/heif": "HEIF"}
_HEIF_TYPES = frozenset({"image/heic", "image/heif"})
# HEIF major brands of HEVC-coded pictures (image/heic); others (mif1, msf1) are image/heif.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_NOT_AN_IMAGE = "the file is not a JPEG, PNG or HEIC image"
_DAMAGED = "the image could not be read: the file is damaged or incomplete"
_TAG_ORIENTATION = 0x0112
_TAG_DATETIME = 0x0132
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_OFFSET_TIME = 0x9010
_TAG_OFFSET_TIME_ORIGINAL = 0x9011
_OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_EXIF_TIME_FORMATS = ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%dT%H:%M:%S")


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


def inspect_image(data: bytes, *, declared_type: str | None = None) -> ImageFacts:
    """Decode `data` and return its facts, or raise `ImageRejected`.

    Refused: anything but a JPEG, PNG or HEIC/HEIF image; a damaged or truncated file;
    one over `MAX_PHOTO_PIXELS`; and, with `declared_type`, a type outside
    `PHOTO_TYPES` or bytes of another type than declared (image/heic and image/heif
    are one family and match either). Unreadable EXIF only leaves its facts unknown.
    """
    declared = _media_type(declared_type) if declared_type is not None else None
    if declared is not None and declared not in PHOTO_TYPES:
        raise ImageRejected(f"{declared or 'no content type'} is not accepted: {_accepted()}")
    formats = ["JPEG", "PNG"]
    if data[4:8] == b"ftyp":  # an ISO base media file: HEIF, or a video
        _register_heif()
        formats.append("HEIF")
    try:
        image = Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError as exc:
        raise ImageRejected(_NOT_AN_IMAGE) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # The warning is raised as an error where warnings are errors (the tests).
        raise ImageRejected(_too_large()) from exc
    except MemoryError:
        raise
    except Exception as exc:  # a plugin's parse error on hostile bytes
        raise ImageRejected(_DAMAGED) from exc
    with image:
        content_type = _content_type(image, data, declared)
        if declared is not None and content_type != declared:
            raise ImageRejected(f"declared {declared} but the file is a {_NAMES[content_type]}")
        width, height = image.size
        if width * height > MAX_PHOTO_PIXELS:
            raise ImageRejected(_too_large(width, height))
        exif = _exif(image)
        orientation = _orientation(exif)
        shown = orientation
        original = image.info.get("original_orientation")  # pillow-heif applied it already
        if isinstance(original, int) and 1 <= original <= 8:
            orientation = original
        if shown in (5, 6, 7, 8):
            width, height = height, width
        captured_at = _captured_at(exif)
        gps = _gps(exif)
        icc = image.info.get("icc_profile")
        try:
            if image.format in ("JPEG", "MPO"):
                # Decode at 1/2, 1/4 or 1/8 scale, still at least THUMBNAIL_PX a side.
                image.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))
            image.load()
            # Shrink first, then turn and convert the small copy: one full-size picture
            # in memory (36 MB for 12 megapixels), not three. Palette, 1-bit and 16-bit
            # pictures are converted first, since Pillow resizes those poorly or not.
            small = image if image.mode in _RESIZABLE else _rgb(image)
            small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.LANCZOS)
            turn = _TRANSPOSE.get(shown or 1)
            picture = _rgb(small.transpose(turn) if turn is not None else small)
        except MemoryError:
            raise
        except Exception as exc:  # truncated data, a broken stream, a bad EXIF rotation
            raise ImageRejected(_DAMAGED) from exc
    out = io.BytesIO()
    extra: dict[str, Any] = {"icc_profile": icc} if isinstance(icc, bytes) else {}
    picture.save(out, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True, **extra)
    return ImageFacts(
        content_type=content_type,
        width=width,
        height=height,
        captured_at=captured_at,
        gps=gps,
        orientation=orientation,
        sha256=hashlib.sha256(data).hexdigest(),
        phash=phash(picture),
        thumbnail=out.getvalue(),
    )


def phash(image: Image.Image) -> str:
    """imagehash's `phash(image)` as its 16 hex digits, without numpy and scipy.

    The picture in gray at 32 x 32 (Lanczos), its 2-D DCT-II, the 8 x 8 lowest
    frequencies; a bit is set where the coefficient is above their median (row-major,
    first bit highest), so the result equals `str(imagehash.phash(image))` but for
    coefficients that tie with the median (see below).
    """
    size, low = 32, 8
    gray = image.convert("L").resize((size, size), Image.Resampling.LANCZOS)
    pixels = list(gray.tobytes())
    rows = [pixels[y * size : (y + 1) * size] for y in range(size)]
    cosines = _dct_basis(size, low)
    # Along x first, keeping the low frequencies, then along y: [u][v] = y, x frequencies.
    by_x = [
        [sum(c * p for c, p in zip(basis, row, strict=True)) for basis in cosines] for row in rows
    ]
    coefficients = [
        sum(c * by_x[y][v] for y, c in enumerate(cosines[u]))
        for u in range(low)
        for v in range(low)
    ]
    ordered = sorted(coefficients)
    median = (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
    # A coefficient equal to the median up to rounding is not above it. Only flat,
    # synthetic pictures (a checkerboard) have such ties: there imagehash's bits are
    # rounding noise, which would make two copies of one picture look different.
    above = median + 1e-9 * max(abs(ordered[0]), abs(ordered[-1]))
    bits = 0
    for value in coefficients:
        bits = (bits << 1) | (value > above)
    return f"{bits:016x}"


def near_duplicate(
    phash_a: str, phash_b: str, *, max_distance: int = NEAR_DUPLICATE_DISTANCE
) -> bool:
    """Whether two perceptual hashes (16 hex digits) are at most `max_distance` bits apart."""
    return (int(phash_a, 16) ^ int(phash_b, 16)).bit_count() <= max_distance


def distance_miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in miles between two (latitude, longitude) points."""
    return haversine_miles(a, b)


_heif_lock = threading.Lock()
_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    with _heif_lock:
        if _heif_registered:
            return
        import pillow_heif

        # The main picture only: embedded thumbnails, depth maps and auxiliary images
        # would be decoded for nothing.
        pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
        _heif_registered = True


@cache
def _dct_basis(size: int, count: int) -> tuple[tuple[float, ...], ...]:
    """DCT-II basis rows `k < count` over `size` samples, scaled as scipy.fftpack.dct's."""
    return tuple(
        tuple(2 * math.cos(math.pi * k * (2 * n + 1) / (2 * size)) for n in range(size))
        for k in range(count)
    )


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _accepted() -> str:
    return "send a JPEG, PNG or HEIC image (" + ", ".join(PHOTO_TYPES) + ")"


def _too_large(width: int | None = None, height: int | None = None) -> str:
    size = f" ({width} x {height} pixels)" if width and height else ""
    return f"the image is too large{size}: at most {MAX_PHOTO_PIXELS // 1_000_000} megapixels"


def _content_type(image: Image.Image, data: bytes, declared: str | None) -> str:
    if image.format in ("JPEG", "MPO"):  # MPO: a JPEG with more pictures after the first
        return "image/jpeg"
    if image.format == "PNG":
        return "image/png"
    if declared in _HEIF_TYPES:
        return declared
    return "image/heic" if data[8:12] in _HEIC_BRANDS else "image/heif"


def _exif(image: Image.Image) -> Image.Exif | None:
    try:
        exif = image.getexif()
        exif.get_ifd(ExifTags.IFD.Exif)  # parse now: a broken IFD fails here, not later
    except Exception:
        return None
    return exif


def _orientation(exif: Image.Exif | None) -> int | None:
    value = exif.get(_TAG_ORIENTATION) if exif is not None else None
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value.strip("\x00 ") if isinstance(value, str) else None


def _captured_at(exif: Image.Exif | None) -> datetime | None:
    if exif is None:
        return None
    try:
        details = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception:
        details = {}
    for when_tag, where, offset_tag in (
        (_TAG_DATETIME_ORIGINAL, details, _TAG_OFFSET_TIME_ORIGINAL),
        (_TAG_DATETIME, exif, _TAG_OFFSET_TIME),
    ):
        when = _parse_time(_text(where.get(when_tag)))
        if when is None:
            continue
        offset = _parse_offset(_text(details.get(offset_tag)))
        return when.replace(tzinfo=offset) if offset is not None else when
    return None


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    for form in _EXIF_TIME_FORMATS:
        try:
            when = datetime.strptime(text[:19], form)
        except ValueError:
            continue
        # Before 1990 is a camera whose clock was never set (1970, the epoch), not a loss.
        return when if when.year >= 1990 else None
    return None


def _parse_offset(text: str | None) -> timezone | None:
    match = _OFFSET_RE.match(text or "")
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta > timedelta(hours=14) or int(minutes) >= 60:
        return None
    return timezone(-delta if sign == "-" else delta)


def _gps(exif: Image.Exif | None) -> tuple[float, float] | None:
    if exif is None:
        return None
    try:
        info = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:
        return None
    lat = _degrees(
        info.get(ExifTags.GPS.GPSLatitude), _text(info.get(ExifTags.GPS.GPSLatitudeRef)), "NS"
    )
    lon = _degrees(
        info.get(ExifTags.GPS.GPSLongitude), _text(info.get(ExifTags.GPS.GPSLongitudeRef)), "EW"
    )
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180 or (lat == 0 and lon == 0):
        return None
    return (lat, lon)


def _degrees(value: object, ref: str | None, refs: str) -> float | None:
    """Degrees from EXIF's (degrees, minutes, seconds) rationals, negative for S or W."""
    # Without its N/S or E/W reference the sign is unknown: no position beats a mirrored one.
    parts = value if isinstance(value, tuple) else (value,)
    if not 1 <= len(parts) <= 3 or not ref or ref.upper()[:1] not in refs:
        return None
    try:
        numbers = [float(part) for part in parts]  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not all(math.isfinite(n) and n >= 0 for n in numbers):
        return None
    degrees = sum(n / 60.0**i for i, n in enumerate(numbers))
    return -degrees if ref.upper().startswith(refs[1]) else degrees


def _rgb(image: Image.Image) -> Image.Image:
    """The picture in 8-bit RGB, transparency flattened onto white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):  # 16-bit gray PNG
        return image.convert("I").point(lambda v: v / 256).convert("L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")
