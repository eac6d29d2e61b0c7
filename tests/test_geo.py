"""Postal code resolution, distances and service areas (eal.geo), on the real USPS data."""

from __future__ import annotations

import time

import pytest

from eal import geo
from eal.geo import AreaPlacement, ServiceArea


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("30075", "30075"),
        ("  30075 ", "30075"),
        ("30075-1234", "30075"),
        ("300751234", "30075"),
        ("00501", "00501"),
        ("3007", None),
        ("300755", None),
        ("30075-12", None),
        ("abcde", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_postal_code(raw: str | None, expected: str | None) -> None:
    assert geo.normalize_postal_code(raw) == expected


def test_parse_postal_code_names_the_field_in_its_error() -> None:
    assert geo.parse_postal_code(" 30075-0001 ") == "30075"
    with pytest.raises(ValueError, match="center 'Roswell' is not a US postal code"):
        geo.parse_postal_code("Roswell", "center")
    with pytest.raises(ValueError, match="is not a US postal code"):
        geo.parse_postal_code(30075)


def test_resolve_postal_code_returns_coordinates() -> None:
    roswell = geo.resolve_postal_code("30075")
    assert roswell is not None
    assert roswell == pytest.approx((34.0408, -84.3859), abs=1e-4)
    assert geo.resolve_postal_code("30075-9999") == roswell


@pytest.mark.parametrize("code", ["99999", "00000", "abc", "", "3007"])
def test_resolve_postal_code_unknown_or_malformed_is_none(code: str) -> None:
    assert geo.resolve_postal_code(code) is None


def test_postal_index_is_built_once_and_lookups_are_fast() -> None:
    assert geo.load_postal_index() > 40_000
    codes = [f"{n:05d}" for n in range(30_000, 32_000)]
    geo.resolve_postal_code.cache_clear()
    started = time.perf_counter()
    resolved = [geo.resolve_postal_code(code) for code in codes]
    elapsed = time.perf_counter() - started
    assert sum(point is not None for point in resolved) > 500
    # Scanning the package's list per call costs about 1 ms; 2,000 calls that
    # way would take seconds, from the index well under a tenth of one.
    assert elapsed < 0.2, f"2,000 uncached lookups took {elapsed:.3f} s"


def test_haversine_miles_known_values() -> None:
    one_degree = geo.haversine_miles((0.0, 0.0), (0.0, 1.0))
    assert one_degree == pytest.approx(69.09, abs=0.01)
    assert geo.haversine_miles((10.0, 20.0), (10.0, 20.0)) == 0.0
    # Antipodes: half the circumference, no math domain error.
    assert geo.haversine_miles((0.0, 0.0), (0.0, 180.0)) == pytest.approx(
        geo.EARTH_RADIUS_MILES * 3.141592653589793
    )


def test_distance_miles_between_postal_codes() -> None:
    nyc_la = geo.distance_miles("10001", "90001")
    assert nyc_la is not None
    assert 2400 < nyc_la < 2500
    roswell_atlanta = geo.distance_miles("30075", "30303")
    assert roswell_atlanta is not None
    assert 15 < roswell_atlanta < 25
    assert geo.distance_miles("30303", "30075") == roswell_atlanta
    assert geo.distance_miles("30075", "30075") == 0.0


def test_distance_miles_is_none_when_a_code_is_unknown() -> None:
    assert geo.distance_miles("30075", "99999") is None
    assert geo.distance_miles("nope", "30075") is None


def test_is_within_miles() -> None:
    origin = (34.0, -84.0)
    assert geo.is_within_miles(origin, [(40.0, -84.0), (34.05, -84.05)], 10)
    assert not geo.is_within_miles(origin, [(40.0, -84.0), (34.0, -80.0)], 10)
    assert not geo.is_within_miles(origin, [], 10)
    # Same latitude, far in longitude: passes the latitude pre-check, still out.
    assert not geo.is_within_miles(origin, [(34.0, -83.0)], 10)
    assert geo.is_within_miles(origin, [(34.0, -83.0)], 60)


def test_service_area_from_settings_normalises_codes() -> None:
    area = ServiceArea.from_settings(
        {
            "postal_codes": ["30076", "30009-1234", "30076"],
            "center_postal_code": " 30075 ",
            "radius_miles": 25,
            "city": "Roswell",
        }
    )
    assert area == ServiceArea(
        postal_codes=("30009", "30076"), center_postal_code="30075", radius_miles=25.0
    )


@pytest.mark.parametrize("raw", [None, {}, {"postal_codes": []}])
def test_service_area_from_empty_settings_is_none(raw: object) -> None:
    assert ServiceArea.from_settings(raw) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (["30075"], "must be an object"),
        ({"postal_codes": "30075"}, "must be a list"),
        ({"postal_codes": ""}, "must be a list"),
        ({"postal_codes": ["3007"]}, "is not a US postal code"),
        ({"center_postal_code": "30075"}, "go together"),
        ({"radius_miles": 25}, "go together"),
        ({"center_postal_code": "30075", "radius_miles": 0}, "must be > 0"),
        ({"center_postal_code": "30075", "radius_miles": 5000}, "must be > 0"),
        ({"center_postal_code": "30075", "radius_miles": float("nan")}, "must be > 0"),
        ({"center_postal_code": "30075", "radius_miles": True}, "must be a number"),
        ({"center_postal_code": "30075", "radius_miles": "25"}, "must be a number"),
        ({"center_postal_code": "Roswell", "radius_miles": 25}, "is not a US postal code"),
    ],
)
def test_service_area_rejects_malformed_settings(raw: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ServiceArea.from_settings(raw)


def test_service_area_placement() -> None:
    both = ServiceArea(postal_codes=("90210",), center_postal_code="30075", radius_miles=10)
    assert both.place("90210") == AreaPlacement(inside=True)
    near = both.place("30076")
    assert near.inside is True
    assert near.miles_from_center == pytest.approx(4.53, abs=0.01)
    far = both.place("30303")
    assert far.inside is False
    assert far.miles_from_center == pytest.approx(19.92, abs=0.01)
    # Well-formed but not in the USPS list: the radius cannot decide.
    assert both.place("99999") == AreaPlacement(inside=None)

    listed_only = ServiceArea(postal_codes=("30075", "30076"))
    assert listed_only.place("30076") == AreaPlacement(inside=True)
    assert listed_only.place("30009") == AreaPlacement(inside=False)
    assert listed_only.place("99999") == AreaPlacement(inside=False)
