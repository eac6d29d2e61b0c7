"""The claims scope calculator: IICRC S500 practice as data, pure and deterministic.

`calculate_scope(loss)` turns rooms, readings, a drying log and photo facts into
line items with evidence and confidence. Every factor is in
`claims/data/scope_factors.toml` (an organization overrides any of them), every
line's code, description and unit in `claims/data/scope_catalog.csv`.
"""

from eal.claims.scope.calculator import calculate_scope, summarize
from eal.claims.scope.data import (
    Catalog,
    Factors,
    dew_point_f,
    drying_rows,
    grains_per_pound,
    load_catalog,
    load_factors,
)
from eal.claims.scope.geometry import Geometry, geometry_of, orthogonal_area
from eal.claims.scope.model import (
    DryingEntry,
    DryingRow,
    Loss,
    PhotoFact,
    PhotoSummary,
    Reading,
    Room,
    RoomScope,
    Scope,
    ScopeLine,
)

__all__ = [
    "Catalog",
    "DryingEntry",
    "DryingRow",
    "Factors",
    "Geometry",
    "Loss",
    "PhotoFact",
    "PhotoSummary",
    "Reading",
    "Room",
    "RoomScope",
    "Scope",
    "ScopeLine",
    "calculate_scope",
    "dew_point_f",
    "drying_rows",
    "geometry_of",
    "grains_per_pound",
    "load_catalog",
    "load_factors",
    "orthogonal_area",
    "summarize",
]
