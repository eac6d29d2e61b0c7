"""Resolving a named city (``"Marietta, GA"``; a city and a state field) to its place."""

from __future__ import annotations

from collections.abc import Sequence

from eal.geo import haversine_miles
from eal.places.names import _STATE_BY_NAME, _STATE_NAME_WORDS, STATE_NAMES, _words, state_code
from eal.places.table import Place, _place_table, _PlaceTable

__all__ = ["resolve_place"]


def _nearest(table: _PlaceTable, entries: Sequence[int], near: tuple[float, float]) -> int:
    return min(entries, key=lambda entry: haversine_miles(near, table.point(entry)))


def _split_state(words: list[str]) -> tuple[list[str], str] | None:
    """``words`` less a state name or code at their end, and that state's code."""
    for size in range(min(_STATE_NAME_WORDS, len(words) - 1), 0, -1):
        code = _STATE_BY_NAME.get(" ".join(words[-size:]))
        if code is not None:
            return words[:-size], code
    last = words[-1].upper() if len(words) > 1 else ""
    if last in STATE_NAMES:
        return words[:-1], last
    return None


def _drop_postal_code(words: list[str]) -> list[str]:
    """``words`` less a trailing ZIP or ZIP+4 ("Marietta, GA 30062-1234")."""
    if len(words) > 1 and len(words[-1]) == 4 and words[-1].isdigit() and len(words[-2]) == 5:
        words = words[:-1]
    if len(words) > 1 and len(words[-1]) == 5 and words[-1].isdigit():
        words = words[:-1]
    return words


def resolve_place(
    city: str, state: str | None = None, *, near: tuple[float, float] | None = None
) -> Place | None:
    """The place a city name and (optionally) a state name, or None.

    ``city`` is compared as :func:`normalize_place_name` says; it may end in
    its state and a postal code (``"Marietta, GA 30062"``), which is read
    when no place has the whole string as its name. ``state`` is a code or a
    name (``"GA"``, ``"Georgia"``); blank is none, and one that names no US
    state or territory (or contradicts the one in ``city``) resolves nothing.
    Without a state, a name several states have gives None, unless ``near``
    (latitude, longitude) is given: then the one nearest it.
    """
    wanted: str | None = None
    if state is not None and state.strip():
        wanted = state_code(state)
        if wanted is None:
            return None
    words = _drop_postal_code(_words(city))
    if not words:
        return None
    table = _place_table()
    key = " ".join(words)
    entries = [entry for entry in table.entries(key) if not table.is_county(entry)]
    if not entries:
        split = _split_state(words)
        if split is None:
            return None
        words, named = split
        if wanted is not None and named != wanted:
            return None
        wanted = named
        key = " ".join(words)
        entries = [entry for entry in table.entries(key) if not table.is_county(entry)]
    candidates = [entry for entry in entries if wanted is None or table.state(entry) == wanted]
    if len(candidates) == 1:
        return table.place(candidates[0], key)
    if candidates and near is not None:
        return table.place(_nearest(table, candidates, near), key)
    return None
