"""The calculator's data: factors (TOML) and the line catalog (CSV), plus psychrometrics."""

from __future__ import annotations

import copy
import csv
import math
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import psychrolib

from eal.claims.scope.model import DryingEntry, DryingRow

#: Sea-level atmospheric pressure, psi: drying logs rarely record the altitude.
SEA_LEVEL_PSI = 14.696
#: What `dehumidifier.kind` may name.
DEHUMIDIFIER_KINDS = ("lgr", "conventional", "desiccant")
_PSYCHRO_LOCK = threading.Lock()
_psychro_ready = False


class Factors:
    """The factors file's values (read-only), with an organization's overrides applied."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    @property
    def version(self) -> str:
        """The factors file's version (stored with every run)."""
        return str(self._values["version"])

    def values(self) -> dict[str, Any]:
        """A copy of every value, nested as in the file."""
        return copy.deepcopy(self._values)

    def get(self, path: str) -> Any:
        """The value at a dotted path ("air_movers.floor_sf_per_unit")."""
        node: Any = self._values
        for part in path.split("."):
            node = node[part]
        return node

    def number(self, path: str) -> float:
        """A numeric value."""
        return float(self.get(path))

    def find(self, path: str) -> Any | None:
        """The value at a dotted path, or None when there is none."""
        try:
            return self.get(path)
        except KeyError:
            return None

    def with_overrides(self, overrides: Mapping[str, Any]) -> Factors:
        """These factors with `overrides` (nested like the file) replacing values.

        An unknown key, or a value of another type than the file's, is a ValueError
        naming the key.
        """
        merged = copy.deepcopy(self._values)
        _merge(merged, overrides, "")
        return Factors(merged)


def _merge(target: dict[str, Any], overrides: Mapping[str, Any], prefix: str) -> None:
    for key, value in overrides.items():
        path = f"{prefix}{key}"
        if key == "version" or key not in target:
            raise ValueError(f"{path}: not a factor of the scope calculator")
        current = target[key]
        if isinstance(current, dict):
            if not isinstance(value, Mapping):
                raise ValueError(f"{path}: must be an object of factors")
            _merge(current, value, path + ".")
        elif isinstance(current, bool) or isinstance(value, bool):
            raise ValueError(f"{path}: must be a {type(current).__name__}")
        elif isinstance(current, int | float):
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{path}: must be a number above 0")
            target[key] = value
        elif isinstance(current, str):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{path}: must be a string")
            if key == "kind" and value not in DEHUMIDIFIER_KINDS:
                raise ValueError(f"{path}: must be {', '.join(DEHUMIDIFIER_KINDS)}")
            target[key] = value
        elif isinstance(current, list):
            if not isinstance(value, list) or not all(
                isinstance(v, type(current[0])) for v in value
            ):
                raise ValueError(f"{path}: must be a list like {current!r}")
            target[key] = value


@cache
def load_factors() -> Factors:
    """The shipped factors (`claims/data/scope_factors.toml`), read once."""
    text = resources.files("eal.claims").joinpath("data/scope_factors.toml").read_text()
    return Factors(tomllib.loads(text))


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """One catalog line: code, description, unit, category."""

    code: str
    description: str
    unit: str
    category: str


class Catalog:
    """The shipped line catalog, by code."""

    def __init__(self, items: dict[str, CatalogItem]) -> None:
        self._items = items

    def has(self, code: str) -> bool:
        """True when `code` is a catalog code."""
        return code in self._items

    def item(self, code: str) -> CatalogItem:
        """The catalog line of `code` (KeyError for an unknown one: a bug in the rules)."""
        return self._items[code]

    def codes(self) -> list[str]:
        """Every code, in file order."""
        return list(self._items)


@cache
def load_catalog() -> Catalog:
    """The shipped catalog (`claims/data/scope_catalog.csv`), read once."""
    text = resources.files("eal.claims").joinpath("data/scope_catalog.csv").read_text()
    rows = csv.DictReader(text.splitlines())
    return Catalog(
        {
            r["code"]: CatalogItem(r["code"], r["description"], r["unit"], r["category"])
            for r in rows
        }
    )


def _psychrolib() -> Any:
    global _psychro_ready
    if not _psychro_ready:
        with _PSYCHRO_LOCK:
            psychrolib.SetUnitSystem(psychrolib.IP)
            _psychro_ready = True
    return psychrolib


def grains_per_pound(temp_f: float, rh_pct: float) -> float:
    """Humidity ratio in grains of water per pound of dry air, at sea level."""
    lib = _psychrolib()
    ratio = lib.GetHumRatioFromRelHum(temp_f, max(0.0, min(rh_pct, 100.0)) / 100.0, SEA_LEVEL_PSI)
    return float(ratio) * 7000.0


def dew_point_f(temp_f: float, rh_pct: float) -> float:
    """The dew point in degrees Fahrenheit (RH 0 has none: the temperature itself is kept out)."""
    lib = _psychrolib()
    return float(lib.GetTDewPointFromRelHum(temp_f, max(0.1, min(rh_pct, 100.0)) / 100.0))


def drying_rows(entries: tuple[DryingEntry, ...] | list[DryingEntry]) -> tuple[DryingRow, ...]:
    """Each entry with its GPP and dew point (1 decimal), in time order."""
    rows = [
        DryingRow(
            taken_at=e.taken_at,
            room=e.room,
            temp_f=e.temp_f,
            rh_pct=e.rh_pct,
            gpp=round(grains_per_pound(e.temp_f, e.rh_pct), 1),
            dew_point_f=round(dew_point_f(e.temp_f, e.rh_pct), 1),
        )
        for e in entries
    ]
    rows.sort(key=lambda r: (r.taken_at, r.room))
    return tuple(rows)


def parse_time(value: str) -> datetime:
    """An ISO 8601 time as stored (a trailing Z accepted)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
