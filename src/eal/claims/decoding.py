"""Decoding photos with Pillow: the work behind `eal.claims.images.inspect_image`.

Kept apart from `images` so that importing the limits and facts of photos does not
load Pillow; see that module for what is read and why.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import threading
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError

from eal.claims.photo_facts import (
    PHOTO_TYPES,
    THUMBNAIL_PX,
    THUMBNAIL_QUALITY,
    ImageFacts,
    ImageRejected,
)

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


def inspect_image(data: bytes, *, declared_type: str | None, max_pixels: int) -> ImageFacts:
    """`eal.claims.images.inspect_image`: decode `data` and return its facts.

    `max_pixels`: `images.MAX_PHOTO_PIXELS`, read by the caller where it lives.
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
        raise ImageRejected(_too_large(max_pixels)) from exc
    except MemoryError:
        raise
    except Exception as exc:  # a plugin's parse error on hostile bytes
        raise ImageRejected(_DAMAGED) from exc
    with image:
        content_type = _content_type(image, data, declared)
        if declared is not None and content_type != declared:
            raise ImageRejected(f"declared {declared} but the file is a {_NAMES[content_type]}")
        width, height = image.size
        if width * height > max_pixels:
            raise ImageRejected(_too_large(max_pixels, width, height))
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
    """`eal.claims.images.phash`: the 16 hex digits of the picture's perceptual hash."""
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


def _too_large(max_pixels: int, width: int | None = None, height: int | None = None) -> str:
    size = f" ({width} x {height} pixels)" if width and height else ""
    return f"the image is too large{size}: at most {max_pixels // 1_000_000} megapixels"


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
