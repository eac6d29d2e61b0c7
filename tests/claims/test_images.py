"""Photo facts from generated JPEG, PNG and HEIC files, and what is refused."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from datetime import datetime, timedelta, timezone

import imagehash
import pillow_heif
import pytest
from PIL import ExifTags, Image, ImageDraw

from eal.claims import images
from eal.claims.images import (
    FAR_FROM_LOSS_MILES,
    MAX_PHOTO_BYTES,
    NEAR_DUPLICATE_DISTANCE,
    PHOTO_TYPES,
    ImageFacts,
    ImageRejected,
    distance_miles,
    inspect_image,
    near_duplicate,
    phash,
)

TAKEN = datetime(2026, 11, 30, 14, 5, 9)
# A house in Marietta, GA (north and west: latitude positive, longitude negative).
WHERE = (33.952602, -84.549934)


def scene(size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A photo-like picture: a smooth gradient with a few shapes, a red block top left."""
    width, height = size
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse(
        [width // 3, height // 4, width // 3 + width // 4, height // 4 + height // 3],
        fill=(40, 90, 200),
    )
    draw.rectangle(
        [width * 2 // 3, height // 2, width - width // 20, height - height // 20],
        fill=(230, 200, 30),
    )
    draw.rectangle([0, 0, width // 8, height // 8], fill=(255, 0, 0))
    return image


def checkerboard(size: tuple[int, int] = (800, 600), step: int = 50) -> Image.Image:
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], step):
        for y in range(0, size[1], step):
            if (x // step + y // step) % 2:
                draw.rectangle([x, y, x + step - 1, y + step - 1], fill=(0, 0, 0))
    return image


def dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return (float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4))


def exif_for(
    *,
    taken: datetime | None = None,
    offset: str | None = None,
    gps: tuple[float, float] | None = None,
    refs: tuple[str, str] | None = None,
    orientation: int | None = None,
    datetime_only: bool = False,
) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if taken is not None:
        stamp = taken.strftime("%Y:%m:%d %H:%M:%S")
        if datetime_only:
            exif[ExifTags.Base.DateTime] = stamp
        else:
            details = exif.get_ifd(ExifTags.IFD.Exif)
            details[ExifTags.Base.DateTimeOriginal] = stamp
            if offset is not None:
                details[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps is not None:
        lat, lon = gps
        lat_ref, lon_ref = refs or ("N" if lat >= 0 else "S", "E" if lon >= 0 else "W")
        info = exif.get_ifd(ExifTags.IFD.GPSInfo)
        info[ExifTags.GPS.GPSLatitudeRef] = lat_ref
        info[ExifTags.GPS.GPSLatitude] = dms(lat)
        info[ExifTags.GPS.GPSLongitudeRef] = lon_ref
        info[ExifTags.GPS.GPSLongitude] = dms(lon)
    return exif


def jpeg(image: Image.Image, *, quality: int = 90, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif if exif is not None else b"")
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def heic(image: Image.Image, *, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    heif = pillow_heif.from_pillow(image)
    if exif is not None:
        heif.info["exif"] = exif.tobytes()
    heif.save(out, format="HEIF", quality=80)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` pixels: what a decompression bomb looks like."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def thumbnail_of(facts: ImageFacts) -> Image.Image:
    thumb = Image.open(io.BytesIO(facts.thumbnail))
    thumb.load()
    return thumb


# -- facts ---------------------------------------------------------------------


def test_jpeg_facts_time_gps_orientation() -> None:
    picture = scene((800, 600))
    data = jpeg(picture, exif=exif_for(taken=TAKEN, gps=WHERE, orientation=6))
    facts = inspect_image(data, declared_type="image/jpeg")
    assert facts.content_type == "image/jpeg"
    # Orientation 6: the stored 800 x 600 picture is shown turned a quarter, 600 x 800.
    assert (facts.width, facts.height, facts.orientation) == (600, 800, 6)
    assert facts.captured_at == TAKEN and facts.captured_at.tzinfo is None
    assert facts.gps is not None
    assert facts.gps == pytest.approx(WHERE, abs=1e-5)
    assert facts.sha256 == hashlib.sha256(data).hexdigest()
    assert len(facts.phash) == 16 and int(facts.phash, 16) >= 0


def test_orientation_turns_the_picture() -> None:
    # The red block is top left as stored; orientation 6 (turn 90 degrees clockwise to
    # show) puts it top right, in the thumbnail and in the hash.
    picture = scene((800, 600))
    turned = inspect_image(jpeg(picture, exif=exif_for(orientation=6)))
    upright = inspect_image(jpeg(picture.transpose(Image.Transpose.ROTATE_270)))
    thumb = thumbnail_of(turned)
    assert thumb.size == (240, 320)
    red, green, blue = thumb.getpixel((thumb.width - 5, 5))  # type: ignore[misc]
    assert red > 200 and green < 60 and blue < 60
    assert thumb.getpixel((5, 5)) != thumb.getpixel((thumb.width - 5, 5))
    assert near_duplicate(turned.phash, upright.phash, max_distance=2)
    assert not near_duplicate(turned.phash, inspect_image(jpeg(picture)).phash)


def test_time_with_offset_and_datetime_fallback() -> None:
    aware = inspect_image(jpeg(scene(), exif=exif_for(taken=TAKEN, offset="-05:00")))
    assert aware.captured_at == TAKEN.replace(tzinfo=timezone(timedelta(hours=-5)))
    fallback = inspect_image(jpeg(scene(), exif=exif_for(taken=TAKEN, datetime_only=True)))
    assert fallback.captured_at == TAKEN
    unset_clock = inspect_image(jpeg(scene(), exif=exif_for(taken=datetime(1970, 1, 1))))
    assert unset_clock.captured_at is None


@pytest.mark.parametrize(
    ("gps", "refs", "expected"),
    [
        ((-33.8688, 151.2093), None, (-33.8688, 151.2093)),  # south and east
        (WHERE, ("", ""), None),  # no reference: the sign is unknown
        ((0.0, 0.0), None, None),  # what a camera without a fix writes
    ],
)
def test_gps_references(
    gps: tuple[float, float], refs: tuple[str, str] | None, expected: tuple[float, float] | None
) -> None:
    facts = inspect_image(jpeg(scene(), exif=exif_for(gps=gps, refs=refs)))
    if expected is None:
        assert facts.gps is None
    else:
        assert facts.gps == pytest.approx(expected, abs=1e-5)


def test_jpeg_without_exif() -> None:
    facts = inspect_image(jpeg(scene((640, 480))))
    assert (facts.width, facts.height) == (640, 480)
    assert facts.captured_at is None and facts.gps is None and facts.orientation is None


def test_png() -> None:
    facts = inspect_image(png(scene((300, 200))), declared_type="image/png")
    assert facts.content_type == "image/png"
    assert (facts.width, facts.height) == (300, 200)
    assert facts.captured_at is None and facts.gps is None and facts.orientation is None
    # Transparent and 16-bit gray PNGs still give an RGB thumbnail.
    clear = Image.new("RGBA", (100, 50), (0, 0, 0, 0))
    assert thumbnail_of(inspect_image(png(clear))).getpixel((10, 10)) == pytest.approx(
        (255, 255, 255), abs=2
    )
    deep = Image.linear_gradient("L").resize((64, 64)).convert("I;16")
    assert thumbnail_of(inspect_image(png(deep))).mode == "RGB"
    palette = scene((400, 300)).convert("P", palette=Image.Palette.ADAPTIVE)
    assert thumbnail_of(inspect_image(png(palette))).size == (320, 240)


def test_png_with_exif_orientation() -> None:
    out = io.BytesIO()
    scene((400, 300)).save(out, "PNG", exif=exif_for(orientation=8, taken=TAKEN))
    facts = inspect_image(out.getvalue())
    assert (facts.width, facts.height, facts.orientation) == (300, 400, 8)
    assert facts.captured_at == TAKEN
    # Orientation 8 turns the picture a quarter counterclockwise: top left goes bottom left.
    thumb = thumbnail_of(facts)
    assert thumb.size == (240, 320)
    red, green, blue = thumb.getpixel((5, thumb.height - 5))  # type: ignore[misc]
    assert red > 200 and green < 60 and blue < 60


def test_heic_read_back() -> None:
    picture = scene((640, 480))
    data = heic(picture, exif=exif_for(taken=TAKEN, gps=WHERE))
    facts = inspect_image(data, declared_type="image/heic")
    assert facts.content_type == "image/heic"
    assert (facts.width, facts.height) == (640, 480)
    assert facts.captured_at == TAKEN
    assert facts.gps == pytest.approx(WHERE, abs=1e-5)
    # image/heif names the same family: accepted, and kept as declared.
    assert inspect_image(data, declared_type="image/heif").content_type == "image/heif"
    # The same picture as a JPEG hashes alike.
    assert near_duplicate(facts.phash, inspect_image(jpeg(picture)).phash)


def test_heic_orientation() -> None:
    data = heic(scene((640, 480)), exif=exif_for(orientation=6))
    facts = inspect_image(data)
    assert (facts.width, facts.height, facts.orientation) == (480, 640, 6)
    assert thumbnail_of(facts).size == (240, 320)


# -- duplicates ----------------------------------------------------------------


def test_exact_duplicate() -> None:
    data = jpeg(scene(), exif=exif_for(taken=TAKEN))
    first, again = inspect_image(data), inspect_image(bytes(data))
    assert first.sha256 == again.sha256 and first.phash == again.phash
    other = inspect_image(jpeg(scene(), quality=89, exif=exif_for(taken=TAKEN)))
    assert other.sha256 != first.sha256


def test_near_duplicates_and_different_pictures() -> None:
    picture = scene((1200, 900))
    original = inspect_image(jpeg(picture, quality=92))
    requality = inspect_image(jpeg(picture, quality=45))
    resized = inspect_image(jpeg(picture.resize((1080, 810), Image.Resampling.BICUBIC), quality=80))
    as_png = inspect_image(png(picture.resize((600, 450))))
    for copy in (requality, resized, as_png):
        assert copy.sha256 != original.sha256
        assert near_duplicate(original.phash, copy.phash), copy
    board = inspect_image(jpeg(checkerboard((1200, 900))))
    assert not near_duplicate(original.phash, board.phash)
    distance = (int(original.phash, 16) ^ int(board.phash, 16)).bit_count()
    assert distance > 3 * NEAR_DUPLICATE_DISTANCE


def test_near_duplicate_threshold() -> None:
    base = 0x0123456789ABCDEF
    at_limit = base ^ 0b111111  # 6 bits apart
    over = base ^ 0b1111111  # 7 bits apart
    assert NEAR_DUPLICATE_DISTANCE == 6
    assert near_duplicate(f"{base:016x}", f"{base:016x}")
    assert near_duplicate(f"{base:016x}", f"{at_limit:016x}")
    assert not near_duplicate(f"{base:016x}", f"{over:016x}")
    assert near_duplicate(f"{base:016x}", f"{over:016x}", max_distance=7)


@pytest.mark.parametrize(
    "picture",
    [
        scene(),
        scene((333, 777)).rotate(17),
        scene((640, 480)).convert("L"),
        Image.effect_noise((200, 150), 60).convert("RGB"),
    ],
    ids=["scene", "rotated", "gray", "noise"],
)
def test_phash_is_imagehash_phash(picture: Image.Image) -> None:
    assert phash(picture) == str(imagehash.phash(picture))


def test_phash_of_a_flat_pattern_is_stable() -> None:
    # A checkerboard's DCT has many coefficients at zero, its median among them: ties
    # count as "not above", so rounding does not decide bits.
    board = checkerboard((800, 600))
    reencoded = Image.open(io.BytesIO(png(board))).convert("RGB")
    assert phash(board) == phash(reencoded) == phash(board.copy())
    assert phash(board) != phash(scene())


# -- refusals ------------------------------------------------------------------


def _pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"just some text, not a photo\n" * 10,
        _pdf(),
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64,  # an MP4 header
    ],
    ids=["empty", "text", "pdf", "mp4"],
)
def test_not_an_image(data: bytes) -> None:
    with pytest.raises(ImageRejected) as caught:
        inspect_image(data)
    assert caught.value.message == "the file is not a JPEG, PNG or HEIC image"
    assert str(caught.value) == caught.value.message


def test_other_image_formats_are_refused() -> None:
    for fmt in ("GIF", "BMP", "TIFF", "WEBP"):
        out = io.BytesIO()
        scene((64, 48)).save(out, fmt)
        with pytest.raises(ImageRejected, match="not a JPEG, PNG or HEIC"):
            inspect_image(out.getvalue())


def test_truncated_or_damaged_jpeg() -> None:
    data = jpeg(scene((800, 600)))
    for broken in (data[: len(data) // 2], data[:200], data[:2] + b"\xff" * 50):
        with pytest.raises(ImageRejected) as caught:
            inspect_image(broken)
        assert caught.value.message in (
            "the image could not be read: the file is damaged or incomplete",
            "the file is not a JPEG, PNG or HEIC image",
        )
    with pytest.raises(ImageRejected, match="damaged or incomplete"):
        inspect_image(data[: len(data) // 2])


def test_declared_type_must_match() -> None:
    with pytest.raises(ImageRejected) as caught:
        inspect_image(jpeg(scene()), declared_type="image/png")
    assert caught.value.message == "declared image/png but the file is a JPEG"
    with pytest.raises(ImageRejected) as caught:
        inspect_image(png(scene()), declared_type="image/jpeg")
    assert caught.value.message == "declared image/jpeg but the file is a PNG"
    with pytest.raises(ImageRejected, match="declared image/png but the file is a HEIC"):
        inspect_image(heic(scene()), declared_type="image/png")
    with pytest.raises(ImageRejected, match="image/gif is not accepted"):
        inspect_image(png(scene()), declared_type="image/gif")
    # Parameters and case do not matter.
    assert inspect_image(png(scene()), declared_type="Image/PNG; charset=binary").content_type == (
        "image/png"
    )


def test_decompression_bombs_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Past twice Pillow's limit (it raises), past it (it warns: an error here), and
    # past ours only.
    for side in (20_000, 9_500, 8_500):
        with pytest.raises(ImageRejected, match="too large"):
            inspect_image(png_header_only(side, side))
    monkeypatch.setattr(images, "MAX_PHOTO_PIXELS", 100 * 100)
    with pytest.raises(ImageRejected, match=r"too large \(101 x 100 pixels\)"):
        inspect_image(png(scene((101, 100))))
    assert inspect_image(png(scene((100, 100)))).width == 100


# -- thumbnail and constants ---------------------------------------------------


def test_thumbnail_is_a_small_jpeg_without_exif() -> None:
    data = jpeg(scene((1600, 1200)), exif=exif_for(taken=TAKEN, gps=WHERE, orientation=1))
    facts = inspect_image(data)
    assert facts.thumbnail[:3] == b"\xff\xd8\xff"
    thumb = thumbnail_of(facts)
    assert thumb.format == "JPEG" and thumb.size == (320, 240)
    assert dict(thumb.getexif()) == {} and b"Exif" not in facts.thumbnail
    assert len(facts.thumbnail) < len(data)
    # A small picture is not enlarged.
    small = thumbnail_of(inspect_image(png(scene((120, 90)))))
    assert small.size == (120, 90)
    # A HEIC's thumbnail is a JPEG too.
    assert thumbnail_of(inspect_image(heic(scene((640, 480))))).format == "JPEG"


def test_distance_and_limits() -> None:
    # One degree of longitude on the equator is ~69.17 miles.
    assert distance_miles((0.0, 0.0), (0.0, 1.0)) == pytest.approx(69.09, abs=0.1)
    assert distance_miles(WHERE, WHERE) == 0.0
    next_door = (WHERE[0] + 0.001, WHERE[1])  # about 110 m north
    assert distance_miles(WHERE, next_door) < FAR_FROM_LOSS_MILES
    across_town = (WHERE[0] + 0.05, WHERE[1])
    assert distance_miles(WHERE, across_town) > FAR_FROM_LOSS_MILES
    assert PHOTO_TYPES == ("image/jpeg", "image/png", "image/heic", "image/heif")
    assert MAX_PHOTO_BYTES == 25 * 1024 * 1024
