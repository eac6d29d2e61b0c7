"""Postal code resolution, distances and service areas (eal.geo), on the real USPS data."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from types import ModuleType

import pydantic
import pytest

from eal import geo
from eal.geo import AreaPlacement, ServiceArea

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "tools" / "build_postal_index.py"


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


# The last one is 30075 in Arabic-Indic digits, which the regex's \d accepts.
@pytest.mark.parametrize(
    "code", ["99999", "00000", "abc", "", "3007", "\u0663\u0660\u0660\u0667\u0665"]
)
def test_resolve_postal_code_unknown_or_malformed_is_none(code: str) -> None:
    assert geo.resolve_postal_code(code) is None


def test_postal_index_is_built_once_and_lookups_are_fast() -> None:
    assert geo.load_postal_index() > 40_000
    codes = [f"{n:05d}" for n in range(30_000, 32_000)] * 10
    started = time.perf_counter()
    resolved = [geo.resolve_postal_code(code) for code in codes]
    elapsed = time.perf_counter() - started
    assert sum(point is not None for point in resolved) > 5_000
    # A lookup is a binary search of about a microsecond; 20,000 of them stay
    # well under a fifth of a second even on a busy machine.
    assert elapsed < 0.2, f"20,000 lookups took {elapsed:.3f} s"


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
        ({"center_postal_code": "30075", "radius_miles": True}, "valid number"),
        ({"center_postal_code": "30075", "radius_miles": "25"}, "valid number"),
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


# --- the shipped table ---------------------------------------------------------


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    """tools/build_postal_index.py, the script that writes the shipped table."""
    spec = importlib.util.spec_from_file_location("build_postal_index", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_table_is_what_the_generator_builds_from_zipcodes(generator: ModuleType) -> None:
    shipped = (resources.files("eal") / "data" / "postal_codes.bin").read_bytes()
    assert shipped == generator.build_from_zipcodes(), (
        "src/eal/data/postal_codes.bin is stale: run python tools/build_postal_index.py"
    )


def test_every_listed_code_resolves_to_the_lists_own_coordinates() -> None:
    zipcodes = pytest.importorskip("zipcodes")
    rows = zipcodes.list_all()
    assert len(rows) > 40_000
    for row in rows:
        # Exactly the floats the list's text parses to: no float32 rounding.
        expected = (float(row["lat"]), float(row["long"]))
        assert geo.resolve_postal_code(row["zip_code"]) == expected, row["zip_code"]
    assert geo.load_postal_index() == len({row["zip_code"] for row in rows})


def test_generator_takes_rows_as_the_runtime_always_did(generator: ModuleType) -> None:
    rows = [
        {"zip_code": "30075", "lat": "34.0408", "long": "-84.3859"},
        {"zip_code": "00501", "lat": "40.8154", "long": "-73.0451"},
        {"zip_code": "30076", "lat": "", "long": "-84.3500"},  # unparseable: skipped
        {"zip_code": "30077"},  # no coordinates: skipped
        {"zip_code": "3007", "lat": "1.0", "long": "1.0"},  # no lookup can ask for it
        {"zip_code": "00501", "lat": "40.8155", "long": "-73.0452"},  # a later record wins
    ]
    table = geo._read_table(generator.build_table(rows))
    assert list(table.codes) == [501, 30075]
    points = [
        (lat / table.scale, lon / table.scale)
        for lat, lon in zip(table.latitudes, table.longitudes, strict=True)
    ]
    assert points == [(40.8155, -73.0452), (34.0408, -84.3859)]
    assert geo._read_table(generator.build_table([])).codes.tolist() == []


def test_generator_refuses_coordinates_it_cannot_hold_exactly(generator: ModuleType) -> None:
    with pytest.raises(ValueError, match=r"latitude of 30075 34\.04081 has more decimals"):
        generator.build_table([{"zip_code": "30075", "lat": "34.04081", "long": "-84.3859"}])


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda data: data[:10], "truncated header"),
        (lambda data: b"ZZZZ" + data[4:], "unknown format"),
        (lambda data: data[:4] + (2).to_bytes(4, "little") + data[8:], "version 2"),
        (lambda data: data[:-4], "do not hold"),
    ],
)
def test_read_table_rejects_what_it_does_not_know(
    generator: ModuleType, mangle: object, message: str
) -> None:
    table = generator.build_table([{"zip_code": "30075", "lat": "34.0408", "long": "-84.3859"}])
    assert callable(mangle)
    with pytest.raises(ValueError, match=message):
        geo._read_table(mangle(table))


def test_runtime_code_does_not_import_zipcodes() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "src" / "eal").rglob("*.py")
        if "import zipcodes" in (text := path.read_text()) or "from zipcodes" in text
    ]
    assert offenders == []


def test_installed_package_finds_the_table(tmp_path: Path) -> None:
    """Lay eal out as its wheel does (setuptools' build_py, package data per
    pyproject.toml), then resolve from there in an interpreter without
    site-packages: the table is found through importlib.resources, and
    nothing but the standard library is needed."""
    setuptools = pytest.importorskip("setuptools")
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(
        ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    installed = tmp_path / "installed"
    setup = "from setuptools import setup; setup()"
    build = subprocess.run(
        [sys.executable, "-c", setup, "-q", "build_py", "--build-lib", str(installed)],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, f"setuptools {setuptools.__version__}: {build.stderr}"
    assert (installed / "eal" / "data" / "postal_codes.bin").is_file()

    probe = (
        "import json, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "sys.path.append(sys.argv[2])\n"
        "from eal import geo\n"
        "print(json.dumps({'file': geo.__file__, 'size': geo.load_postal_index(),\n"
        "    'roswell': geo.resolve_postal_code('30075-1234'),\n"
        "    'zipcodes': 'zipcodes' in sys.modules}))\n"
    )
    # -I: no environment or user site; -S: no site-packages processing, so no
    # editable install. The dependencies' directory is appended as a plain path.
    dependencies = Path(pydantic.__file__).parent.parent
    run = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, str(installed), str(dependencies)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert Path(found["file"]).is_relative_to(installed)
    assert found["size"] == geo.load_postal_index()
    assert tuple(found["roswell"]) == geo.resolve_postal_code("30075")
    assert found["zipcodes"] is False
