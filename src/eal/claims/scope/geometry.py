"""Room geometry: floor area, perimeter and volume, rectangles and orthogonal rooms."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise, product

from eal.claims.scope.model import Room

#: Wall walks longer than this per axis are not solved (2^(n-1) sign choices each).
MAX_WALLS_PER_AXIS = 12


@dataclass(frozen=True, slots=True)
class Geometry:
    """What a room's measurements compute to (None where they do not say)."""

    floor_sf: float | None
    perimeter_lf: float | None
    height_ft: float | None
    how: str

    @property
    def wall_sf(self) -> float | None:
        """Gross wall area (no openings deducted)."""
        if self.perimeter_lf is None or self.height_ft is None:
            return None
        return self.perimeter_lf * self.height_ft

    @property
    def cubic_ft(self) -> float | None:
        """The room's volume."""
        if self.floor_sf is None or self.height_ft is None:
            return None
        return self.floor_sf * self.height_ft


def _signed_sums(lengths: list[float]) -> list[tuple[float, ...]]:
    """Every signing of `lengths` (the first positive) that sums to zero."""
    if len(lengths) > MAX_WALLS_PER_AXIS:
        return []
    found = []
    for signs in product((1.0, -1.0), repeat=len(lengths) - 1):
        signed = (lengths[0], *(s * v for s, v in zip(signs, lengths[1:], strict=True)))
        if abs(sum(signed)) < 0.01:
            found.append(signed)
    return found


def orthogonal_area(walls: tuple[float, ...]) -> float | None:
    """The floor area of a room whose walls meet at right angles, from wall lengths in order.

    Walls alternate between the two axes (an L-shaped room has six: 20, 12, 8, 6, 12, 18).
    Each axis' lengths must sum to zero with some choice of direction; the area is the
    shoelace formula over the walk. Where several walks close, the largest area is taken
    (the other choices fold the outline onto itself). None when no walk closes.
    """
    if len(walls) < 4 or len(walls) % 2:
        return None
    xs, ys = _signed_sums(list(walls[0::2])), _signed_sums(list(walls[1::2]))
    best: float | None = None
    for x_steps, y_steps in product(xs, ys):
        points = [(0.0, 0.0)]
        for dx, dy in zip(x_steps, y_steps, strict=True):
            x, y = points[-1]
            points.append((x + dx, y))
            points.append((x + dx, y + dy))
        area = 0.5 * abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in pairwise(points)))
        if best is None or area > best:
            best = area
    return best


def geometry_of(room: Room) -> Geometry:
    """The room's floor area, perimeter and height, and how they were found."""
    if room.length_ft is not None and room.width_ft is not None:
        floor = room.length_ft * room.width_ft
        perimeter = 2 * (room.length_ft + room.width_ft)
        how = (
            f"{room.length_ft:g} x {room.width_ft:g} ft: floor {floor:g} SF, "
            f"perimeter 2 x ({room.length_ft:g} + {room.width_ft:g}) = {perimeter:g} LF"
        )
        return Geometry(floor, perimeter, room.height_ft, how)
    if room.walls_ft:
        perimeter = sum(room.walls_ft)
        area = orthogonal_area(room.walls_ft)
        walls = " + ".join(f"{w:g}" for w in room.walls_ft)
        if area is None:
            return Geometry(
                room.wet_floor_sf,
                perimeter,
                room.height_ft,
                f"walls {walls} = {perimeter:g} LF; the outline does not close at right angles, "
                "so the floor area is not computed",
            )
        how = f"walls {walls} = {perimeter:g} LF, floor {area:g} SF (right-angle outline)"
        return Geometry(area, perimeter, room.height_ft, how)
    return Geometry(room.wet_floor_sf, None, room.height_ft, "no dimensions measured")
