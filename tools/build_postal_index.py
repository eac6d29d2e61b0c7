"""Build ``src/eal/data/postal_codes.bin``, the US postal code table ``eal.geo`` reads.

The ``zipcodes`` package ships the USPS postal code list as some 42,000
records of about fifteen fields each; loading it into Python objects costs
a process over 100 MB. eal needs only each code's latitude and longitude, so
this script compiles them into a flat table that ships with eal and that
``eal.geo`` reads in a millisecond into three arrays (about 0.5 MB):

- a header, ``<4sIII``: the magic ``b"EALZ"``, the format version (1), the
  row count and the coordinate scale (10,000 per degree);
- the five-digit codes as little-endian ``uint32``, in ascending order (a
  lookup is a binary search);
- the latitudes, then the longitudes, as little-endian ``int32`` in
  ten-thousandths of a degree, row for row.

The list gives coordinates to four decimals, so they are held exactly: for
every row, ``scaled / 10_000`` is the float the list's own text parses to,
and the script stops with an error on a coordinate it cannot hold that way
rather than round it. Rows are taken as ``eal.geo`` always took them: a
record without parseable coordinates is skipped, a later record for the
same code wins, and only five-digit codes (the only ones a lookup can ask
for) are kept.

Run it from the repository after upgrading ``zipcodes`` (a test-only
dependency: ``pip install -e '.[test]'``), and commit the table::

    python tools/build_postal_index.py           # rewrite the table
    python tools/build_postal_index.py --check   # exit 1 if the shipped table differs

``tests/test_geo.py`` checks that the shipped table is what this script
builds from the installed ``zipcodes``.
"""

from __future__ import annotations

import argparse
import struct
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from eal.geo import _COORDINATE_SCALE, _TABLE_HEADER, _TABLE_MAGIC, _TABLE_VERSION

TABLE = Path(__file__).resolve().parent.parent / "src" / "eal" / "data" / "postal_codes.bin"


def _scaled(value: float, what: str) -> int:
    """``value`` in 1/_COORDINATE_SCALE degrees; ValueError unless that is exact."""
    scaled = round(value * _COORDINATE_SCALE)
    if scaled / _COORDINATE_SCALE != value:
        raise ValueError(f"{what} {value!r} has more decimals than the table holds")
    return scaled


def postal_coordinates(rows: Iterable[Mapping[str, Any]]) -> dict[int, tuple[int, int]]:
    """Map each five-digit code (as an int) to its scaled ``(latitude, longitude)``."""
    coordinates: dict[int, tuple[int, int]] = {}
    for row in rows:
        try:
            code = str(row["zip_code"])
            latitude, longitude = float(row["lat"]), float(row["long"])
        except (KeyError, TypeError, ValueError):
            # Without usable coordinates a code cannot be placed; the
            # runtime has always treated it as unknown.
            continue
        if len(code) != 5 or not (code.isascii() and code.isdigit()):
            continue
        coordinates[int(code)] = (
            _scaled(latitude, f"latitude of {code}"),
            _scaled(longitude, f"longitude of {code}"),
        )
    return coordinates


def build_table(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The table's bytes for ``rows`` (records as ``zipcodes.list_all()`` returns them)."""
    coordinates = postal_coordinates(rows)
    codes = sorted(coordinates)
    count = len(codes)
    return b"".join(
        (
            _TABLE_HEADER.pack(_TABLE_MAGIC, _TABLE_VERSION, count, _COORDINATE_SCALE),
            struct.pack(f"<{count}I", *codes),
            struct.pack(f"<{count}i", *(coordinates[code][0] for code in codes)),
            struct.pack(f"<{count}i", *(coordinates[code][1] for code in codes)),
        )
    )


def build_from_zipcodes() -> bytes:
    """The table built from the installed ``zipcodes`` package."""
    import zipcodes

    # The package's Python wrapper is untyped; list_all() returns list[dict[str, Any]].
    rows: list[dict[str, Any]] = zipcodes.list_all()  # type: ignore[no-untyped-call]
    return build_table(rows)


def main(argv: list[str] | None = None) -> int:
    """Write the table (or, with --check, compare it); the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    parser.add_argument("--output", type=Path, default=TABLE, help="where the table goes")
    args = parser.parse_args(argv)
    table = build_from_zipcodes()
    rows = (len(table) - _TABLE_HEADER.size) // 12
    if args.check:
        current = args.output.read_bytes() if args.output.exists() else b""
        if current != table:
            print(f"{args.output} is stale: rebuild it with {Path(__file__).name}")
            return 1
        print(f"{args.output} is up to date ({rows:,} codes)")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(table)
    print(f"wrote {args.output} ({rows:,} codes, {len(table):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
