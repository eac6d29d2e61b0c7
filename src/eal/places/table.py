"""The place table: the shipped ``eal/data/us_places.bin``, read once, and :class:`Place`.

The table is read on the first lookup into one block of text (the sorted
distinct names) and a few arrays (offsets, states, flags, sizes,
coordinates, postal codes), about 1 MB; no per-place Python object is kept,
because a dict of some 36,000 places to records costs several times that. A
lookup is a binary search in the block. Call :func:`load_place_index` at
start-up to read it before the first request instead of during it.
"""

from __future__ import annotations

import struct
import sys
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import accumulate, pairwise

from eal.places.names import _title_case

__all__ = ["Place", "load_place_index"]

# The place table (see tools/build_place_index.py, which writes it).
# Little-endian: a header (magic, format version, and the counts of entries,
# distinct names, states and spelled-out display names, and the coordinate
# scale), then the sections _read_table reads in order.
_TABLE_HEADER = struct.Struct("<4sIIIIII")
_TABLE_MAGIC = b"EALP"
_TABLE_VERSION = 1
# Ten-thousandths of a degree (about 11 m), as in eal.geo's table; a place's
# coordinates are a mean of its postal codes', rounded to that.
_COORDINATE_SCALE = 10_000
_TABLE_PATH = ("data", "us_places.bin")
# Entry flags. A place named like a common word or phrase, or a small place
# named like a given name: free text must name it with its state after it, or
# capitalised after a word like "in".
_FLAG_NEEDS_CONTEXT = 1
# A place named like a state: free text must name it with its state after it.
_FLAG_NEEDS_STATE = 2
# Not a place but a county of that name, which text naming it more likely
# means than the same-named places (it is never a result).
_FLAG_COUNTY = 4


@dataclass(frozen=True, slots=True)
class Place:
    """A US place: a city name in a state, where its postal codes are.

    ``name`` is spelled as the USPS list spells it; ``latitude`` and
    ``longitude`` are the mean of its postal codes' (of its street-delivery
    codes, when it has any); ``postal_code`` is the one of those nearest that
    point, to place the city in a service area that lists postal codes.
    """

    name: str
    state: str
    latitude: float
    longitude: float
    postal_code: str

    @property
    def coordinates(self) -> tuple[float, float]:
        """``(latitude, longitude)``, as :mod:`eal.geo` takes points."""
        return (self.latitude, self.longitude)


@dataclass(frozen=True, slots=True)
class _PlaceTable:
    keys: str  # the distinct normalised names, sorted, one after the other
    key_starts: array[int]  # name i is keys[key_starts[i]:key_starts[i + 1]]
    entry_starts: array[int]  # its entries are entry_starts[i] .. entry_starts[i + 1] - 1
    state_codes: tuple[str, ...]
    states: array[int]  # per entry: index into state_codes
    flags: array[int]  # per entry: _FLAG_* bits
    sizes: array[int]  # per entry: its postal codes, at most 255
    latitudes: array[int]  # per entry, in 1/scale degrees
    longitudes: array[int]
    postal_codes: array[int]
    spelled: array[int]  # the entries whose name is not _title_case(key), ascending
    spellings: str  # their names, one after the other
    spelling_starts: array[int]
    scale: int
    max_words: int  # the most words in a name

    def key(self, index: int) -> str:
        return self.keys[self.key_starts[index] : self.key_starts[index + 1]]

    def find(self, key: str) -> int:
        """Index of the first name >= ``key`` (binary search in the block)."""
        return bisect_left(range(len(self.key_starts) - 1), key, key=self.key)

    def entries(self, key: str) -> range:
        """The entries named ``key``, counties too (an empty range if none)."""
        index = self.find(key)
        if index < len(self.key_starts) - 1 and self.key(index) == key:
            return range(self.entry_starts[index], self.entry_starts[index + 1])
        return range(0)

    def has_prefix(self, words: str) -> bool:
        """Whether a longer name starts with ``words`` and a space."""
        # A space sorts before every letter and digit, so the names that go on
        # from ``words`` come first among those after ``words + " "``.
        prefix = words + " "
        index = self.find(prefix)
        return index < len(self.key_starts) - 1 and self.key(index).startswith(prefix)

    def state(self, entry: int) -> str:
        return self.state_codes[self.states[entry]]

    def is_county(self, entry: int) -> bool:
        return bool(self.flags[entry] & _FLAG_COUNTY)

    def point(self, entry: int) -> tuple[float, float]:
        return (self.latitudes[entry] / self.scale, self.longitudes[entry] / self.scale)

    def place(self, entry: int, key: str) -> Place:
        """The Place record of entry ``entry``, named ``key``."""
        spelled = bisect_left(self.spelled, entry)
        if spelled < len(self.spelled) and self.spelled[spelled] == entry:
            name = self.spellings[self.spelling_starts[spelled] : self.spelling_starts[spelled + 1]]
        else:
            name = _title_case(key)
        latitude, longitude = self.point(entry)
        return Place(
            name, self.state(entry), latitude, longitude, f"{self.postal_codes[entry]:05d}"
        )


class _Reader:
    """Consumes the table's sections in order."""

    def __init__(self, data: bytes, offset: int) -> None:
        self.data = memoryview(data)
        self.offset = offset

    def take(self, size: int) -> memoryview:
        if self.offset + size > len(self.data):
            raise ValueError("place table: truncated")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def text(self, size: int) -> str:
        return str(self.take(size), "ascii")

    def column(self, typecode: str, count: int) -> array[int]:
        column: array[int] = array(typecode)
        column.frombytes(self.take(column.itemsize * count))
        if column.itemsize > 1 and sys.byteorder != "little":
            column.byteswap()
        return column


def _read_table(data: bytes) -> _PlaceTable:
    """Parse the shipped table; ValueError if it is not one this code reads."""
    if len(data) < _TABLE_HEADER.size:
        raise ValueError("place table: truncated header")
    magic, version, entries, keys, states, spelled, scale = _TABLE_HEADER.unpack_from(data)
    if magic != _TABLE_MAGIC or version != _TABLE_VERSION:
        raise ValueError(f"place table: unknown format {magic!r} version {version}")
    for typecode in ("I", "i"):
        if array(typecode).itemsize != 4:  # a C int of another size: the bytes would not fit
            raise RuntimeError(f"array({typecode!r}) is not 32-bit here")
    reader = _Reader(data, _TABLE_HEADER.size)
    state_text = reader.text(2 * states)
    state_codes = tuple(state_text[i : i + 2] for i in range(0, len(state_text), 2))
    # Lengths and counts are stored, offsets computed (in C, by accumulate):
    # smaller file, and no Python loop over the entries at load.
    key_starts = array("I", accumulate(reader.column("B", keys), initial=0))
    entry_starts = array("I", accumulate(reader.column("B", keys), initial=0))
    key_text = reader.text(key_starts[-1])
    entry_states = reader.column("B", entries)
    flags = reader.column("B", entries)
    sizes = reader.column("B", entries)
    latitudes = reader.column("i", entries)
    longitudes = reader.column("i", entries)
    postal_codes = reader.column("I", entries)
    spelled_entries = reader.column("I", spelled)
    spelling_starts = array("I", accumulate(reader.column("B", spelled), initial=0))
    spellings = reader.text(spelling_starts[-1])
    if reader.offset != len(data) or entry_starts[-1] != entries or scale <= 0:
        raise ValueError(f"place table: {len(data)} bytes do not hold {entries} entries")
    if entry_states and max(entry_states) >= len(state_codes):
        raise ValueError("place table: an entry's state is not in the table")
    return _PlaceTable(
        keys=key_text,
        key_starts=key_starts,
        entry_starts=entry_starts,
        state_codes=state_codes,
        states=entry_states,
        flags=flags,
        sizes=sizes,
        latitudes=latitudes,
        longitudes=longitudes,
        postal_codes=postal_codes,
        spelled=spelled_entries,
        spellings=spellings,
        spelling_starts=spelling_starts,
        scale=scale,
        # The longest name, in words, bounds how far a text match is tried.
        max_words=1 + max((key_text.count(" ", a, b) for a, b in pairwise(key_starts)), default=0),
    )


@cache
def _place_table() -> _PlaceTable:
    """Read the shipped place table once per process."""
    resource = resources.files("eal")
    for part in _TABLE_PATH:
        resource = resource / part
    return _read_table(resource.read_bytes())


def load_place_index() -> int:
    """Load the place index now (if not loaded yet); return how many places it holds."""
    table = _place_table()
    return sum(1 for flags in table.flags if not flags & _FLAG_COUNTY)
