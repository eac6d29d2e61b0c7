"""US places from city names and free text (eal.places), on the real USPS data."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import sys
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from eal import geo, places
from eal.places import (
    Place,
    find_places,
    normalize_place_name,
    places_near,
    resolve_place,
    state_code,
)

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "tools" / "build_place_index.py"

ATLANTA = (33.749, -84.388)
ROSWELL_NM = (33.394, -104.523)


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    """tools/build_place_index.py, the script that writes the shipped table."""
    spec = importlib.util.spec_from_file_location("build_place_index", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # for the NamedTuples' and annotations' sake
    spec.loader.exec_module(module)
    return module


def _named(found: list[Place]) -> list[tuple[str, str]]:
    return [(place.name, place.state) for place in found]


# --- names and states ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Marietta", "marietta"),
        ("St. Louis", "saint louis"),
        ("st louis", "saint louis"),
        ("Saint Louis", "saint louis"),
        ("Ft. Myers", "fort myers"),
        ("Mt Zion", "mount zion"),
        ("Cañon City", "canon city"),
        ("Española", "espanola"),
        ("O'Fallon", "o fallon"),
        ("Coeur d\u2019Alene", "coeur d alene"),
        ("Lee's Summit", "lees summit"),
        ("Winston-Salem", "winston salem"),
        ("  WEST   palm  BEACH ", "west palm beach"),
        ("", ""),
    ],
)
def test_normalize_place_name(raw: str, expected: str) -> None:
    assert normalize_place_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("GA", "GA"),
        ("ga", "GA"),
        ("Ga.", "GA"),
        ("Georgia", "GA"),
        (" new  york ", "NY"),
        ("D.C.", "DC"),
        ("District of Columbia", "DC"),
        ("Puerto Rico", "PR"),
        ("XX", None),
        ("Narnia", None),
        ("", None),
    ],
)
def test_state_code(raw: str, expected: str | None) -> None:
    assert state_code(raw) == expected


# --- resolve_place ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("city", "state", "expected"),
    [
        ("Marietta", "GA", ("Marietta", "GA")),
        ("marietta", "Georgia", ("Marietta", "GA")),
        ("MARIETTA", " ga ", ("Marietta", "GA")),
        ("Marietta, GA", None, ("Marietta", "GA")),
        ("Marietta, Georgia 30062-1234", None, ("Marietta", "GA")),
        ("Marietta GA 30062", "GA", ("Marietta", "GA")),
        ("Kennesaw", None, ("Kennesaw", "GA")),
        ("Kennesaw", "", ("Kennesaw", "GA")),
        ("St. Louis", "MO", ("Saint Louis", "MO")),
        ("st louis", "Missouri", ("Saint Louis", "MO")),
        ("Saint Louis", "mo", ("Saint Louis", "MO")),
        ("Cañon City", "CO", ("Canon City", "CO")),
        ("O'Fallon", "MO", ("O Fallon", "MO")),
        ("Mount Zion", "IL", ("Mt Zion", "IL")),
        ("Ft Lauderdale", "FL", ("Fort Lauderdale", "FL")),
        ("Washington, D.C.", None, ("Washington", "DC")),
        ("Kansas City, Kansas", None, ("Kansas City", "KS")),
        ("Indiana, PA", None, ("Indiana", "PA")),
        ("New York", None, ("New York", "NY")),
        # Names the list gives only as another name of some codes.
        ("Dunwoody", "GA", ("Dunwoody", "GA")),
        ("Woodbury", "MN", ("Woodbury", "MN")),
        ("The Woodlands", "TX", ("The Woodlands", "TX")),
        # A named place resolves even where free text would want context.
        ("Cobb", "GA", ("Cobb", "GA")),
        ("Hope", "AR", ("Hope", "AR")),
    ],
)
def test_resolve_place(city: str, state: str | None, expected: tuple[str, str]) -> None:
    place = resolve_place(city, state)
    assert place is not None
    assert (place.name, place.state) == expected


@pytest.mark.parametrize(
    ("city", "state"),
    [
        ("Marietta", None),  # GA, OH, OK, PA, ...: which one?
        ("Roswell", None),  # GA or NM
        ("Nowhere Special", "GA"),
        ("Marietta", "Narnia"),
        ("Marietta", "WY"),  # no Marietta in Wyoming
        ("Marietta, GA", "OH"),  # contradicts itself
        ("Paulding", "GA"),  # a county, not a place
        ("", None),
        ("  , ", "GA"),
        ("Georgia", None),
    ],
)
def test_resolve_place_gives_none(city: str, state: str | None) -> None:
    assert resolve_place(city, state) is None


def test_resolve_place_near_picks_the_nearest() -> None:
    roswell_ga = resolve_place("Roswell", near=ATLANTA)
    roswell_nm = resolve_place("Roswell", near=ROSWELL_NM)
    assert roswell_ga is not None and roswell_ga.state == "GA"
    assert roswell_nm is not None and roswell_nm.state == "NM"
    marietta = resolve_place("Marietta", near=ATLANTA)
    assert marietta == resolve_place("Marietta", "GA")
    # A state still rules: near does not move Marietta, Ohio to Georgia.
    ohio = resolve_place("Marietta", "OH", near=ATLANTA)
    assert ohio is not None and ohio.state == "OH"


def test_place_record() -> None:
    place = resolve_place("Marietta", "GA")
    assert place is not None
    assert place.coordinates == (place.latitude, place.longitude)
    assert 33.8 < place.latitude < 34.1 and -84.7 < place.longitude < -84.3
    # Its postal code is a Marietta code, a few miles from the center at most.
    assert place.postal_code.startswith("300")
    point = geo.resolve_postal_code(place.postal_code)
    assert point is not None
    assert geo.haversine_miles(point, place.coordinates) < 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        place.name = "Atlanta"  # type: ignore[misc]
    assert not hasattr(place, "__dict__")  # slots: no per-instance dict


def _zipcodes_rows() -> list[dict[str, Any]]:
    zipcodes = pytest.importorskip("zipcodes")
    rows: list[dict[str, Any]] = zipcodes.list_all()
    return rows


@pytest.mark.parametrize(
    ("city", "state"), [("Marietta", "GA"), ("Kennesaw", "GA"), ("Hope", "AR")]
)
def test_center_is_the_mean_of_the_street_delivery_codes(city: str, state: str) -> None:
    rows = [
        row
        for row in _zipcodes_rows()
        if row["city"] == city and row["state"] == state and row["active"]
    ]
    standard = [row for row in rows if row["zip_code_type"] == "STANDARD"] or rows
    latitudes = [float(row["lat"]) for row in standard]
    longitudes = [float(row["long"]) for row in standard]
    center = (math.fsum(latitudes) / len(latitudes), math.fsum(longitudes) / len(longitudes))
    nearest = min(
        standard,
        key=lambda row: (
            geo.haversine_miles(center, (float(row["lat"]), float(row["long"]))),
            row["zip_code"],
        ),
    )
    place = resolve_place(city, state)
    assert place is not None
    # Rounded to the table's ten-thousandths of a degree.
    assert place.coordinates == tuple(round(value * 10_000) / 10_000 for value in center)
    assert place.postal_code == nearest["zip_code"]


# --- find_places -----------------------------------------------------------------

FOUND: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    ("we're in east cobb near marietta georgia", {}, [("Marietta", "GA")]),
    ("I'm over in Roswell off Holcomb Bridge", {"state": "GA"}, [("Roswell", "GA")]),
    ("I'm over in Roswell off Holcomb Bridge", {"near": ATLANTA}, [("Roswell", "GA")]),
    ("I'm over in Roswell, the alien town", {"near": ROSWELL_NM}, [("Roswell", "NM")]),
    ("vivo en Marietta", {"state": "Georgia"}, [("Marietta", "GA")]),
    ("vivo en Marietta, Georgia", {}, [("Marietta", "GA")]),
    ("soy de Mobile, Alabama y tengo una fuga en el techo", {}, [("Mobile", "AL")]),
    ("Yes ma'am, I'm in Mobile and the roof is leaking", {"state": "AL"}, [("Mobile", "AL")]),
    ("We live in Hope, Arkansas", {}, [("Hope", "AR")]),
    ("my address is 123 Main St, Kennesaw, GA 30144", {}, [("Kennesaw", "GA")]),
    ("the house is in St. Louis, Missouri", {}, [("Saint Louis", "MO")]),
    ("I'm from Normal, Illinois", {}, [("Normal", "IL")]),
    (
        "estamos en Commerce, cerca de Atlanta",
        {"state": "GA"},
        [("Commerce", "GA"), ("Atlanta", "GA")],
    ),
    ("I'm in West Palm Beach", {}, [("West Palm Beach", "FL")]),
    ("we had a fire at our place in Buffalo, NY", {}, [("Buffalo", "NY")]),
    ("MARIETTA, GA", {}, [("Marietta", "GA")]),
    ("Calling about a flood in Sandy Springs", {"near": ATLANTA}, [("Sandy Springs", "GA")]),
    ("I'm in Canton", {"state": "GA"}, [("Canton", "GA")]),
    ("we're just north of Canton", {"near": ATLANTA}, [("Canton", "GA")]),
    ("i live in kennesaw", {}, [("Kennesaw", "GA")]),
    ("customer is in kennesaw ga", {}, [("Kennesaw", "GA")]),
    ("The office is in Washington, D.C.", {}, [("Washington", "DC")]),
    ("la casa está en Eden, North Carolina", {}, [("Eden", "NC")]),
    ("¿Hacen trabajos en Smyrna?", {"state": "GA"}, [("Smyrna", "GA")]),
    (
        "Is this the Acworth office or the Kennesaw one?",
        {"state": "GA"},
        [("Kennesaw", "GA"), ("Acworth", "GA")],
    ),
    # A state named elsewhere in the text decides.
    ("Our place in Marietta flooded. We're in Georgia.", {}, [("Marietta", "GA")]),
    # Longest name first; a name inside a longer one is not found again.
    (
        "we moved from Palm Beach to West Palm Beach",
        {"state": "FL"},
        [("West Palm Beach", "FL"), ("Palm Beach", "FL")],
    ),
    # The largest for its distance: not the Orlando in Kentucky.
    ("I'm at a conference in Orlando this week", {"near": ATLANTA}, [("Orlando", "FL")]),
    ("My brother lives in Dallas, Texas", {"near": ATLANTA}, [("Dallas", "TX")]),
    ("My address is 312 Maple Dr, Smyrna.", {"near": ATLANTA}, [("Smyrna", "GA")]),
]


@pytest.mark.parametrize(("text", "options", "expected"), FOUND)
def test_find_places_finds(
    text: str, options: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert _named(find_places(text, **options)) == expected


NOT_FOUND = [
    "I hope you can help me, the water is everywhere",
    "Hope you can help, there's water in the basement",
    "Why is there water coming through the ceiling?",
    "I'd love to get someone out here, it's not normal",
    "That would be ideal",
    "Can you call my mobile number",
    "The Red Cross put us in a hotel",
    "State Farm is my insurance",
    "From: State Farm Claims <claims@statefarm.com>",
    "the water was cut off",
    "It was ninety six degrees in the attic",
    "Hi, this is Austin with the restoration company",
    "My name is Marion and I need help",
    "We work exclusively with Paul Davis.",
    "Regards, Dale Hutchins, Facilities Manager",
    "I bank with Wells Fargo",
    "I live off Roswell Road",
    "we're in Cobb County",
    "We manage 14 properties in Cobb and Paulding",
    "Thank you for contacting Willow Creek HOA.",
    "Please contact Jenna Wu (jwu@ridgeview.com) in my absence.",
    "We live in Georgia",
    "we have running water and a new home",
    "There's standing water in the basement and the fire damage is bad",
    "I'm in love with the work you did",
    "The meter reading was high",
    "buffalo wings for the crew",
    "it's like the garden of eden back here",
    "OK, so the commerce department called",
    "no pasa nada, la casa está bien",
    "la mesa de la cocina está mojada",
    "Por favor vengan a revisar, hay agua en el piso del baño.",
    "Está muy caro, no gracias.",
    "¿Esto es una estafa?",
    "el yeso está quemado y la pintura también",
    "HOPE YOU CAN HELP, I'M IN MOBILE HOME",
]


@pytest.mark.parametrize("text", NOT_FOUND)
def test_find_places_does_not_find(text: str) -> None:
    assert _named(find_places(text, near=ATLANTA)) == []


def test_find_places_needs_a_decision() -> None:
    # Roswell is in Georgia and New Mexico: without a hint, neither.
    assert find_places("I'm over in Roswell off Holcomb Bridge") == []
    # A preferred state that names no state is no preference.
    assert find_places("I'm over in Roswell", state="Narnia") == []
    # The state written after a name wins over the preferred one.
    assert _named(find_places("Marietta, Ohio", state="GA")) == [("Marietta", "OH")]
    # A sentence's end is no comma: not Marietta, Oklahoma.
    assert find_places("I'm in Marietta. OK, so what now?") == []
    assert _named(find_places("I'm in Marietta, OK?")) == [("Marietta", "OK")]
    # A state after the name with no such place there: no place.
    assert find_places("Roswell, Texas", near=ATLANTA) == []


def test_find_places_lists_each_place_once() -> None:
    text = "Marietta, GA. I said Marietta, Georgia. MARIETTA!"
    assert _named(find_places(text)) == [("Marietta", "GA")]
    assert find_places("") == []
    assert find_places("   ...   ") == []


def test_found_place_equals_resolved_place() -> None:
    assert find_places("vivo en Kennesaw") == [resolve_place("Kennesaw", "GA")]


# --- the shipped table ---------------------------------------------------------------


def test_shipped_table_is_what_the_generator_builds_from_zipcodes(generator: ModuleType) -> None:
    pytest.importorskip("zipcodes")
    shipped = (resources.files("eal") / "data" / "us_places.bin").read_bytes()
    assert shipped == generator.build_from_zipcodes(), (
        "src/eal/data/us_places.bin is stale: run python tools/build_place_index.py"
    )


def test_table_is_sorted_and_names_normalise_to_their_keys() -> None:
    table = places._read_table((resources.files("eal") / "data" / "us_places.bin").read_bytes())
    count = len(table.key_starts) - 1
    keys = [table.key(index) for index in range(count)]
    assert keys == sorted(keys) and len(set(keys)) == count
    assert all(key == normalize_place_name(key) for key in keys)
    for index, key in enumerate(keys):
        entries = range(table.entry_starts[index], table.entry_starts[index + 1])
        assert len(entries) > 0
        seen = [(table.state(entry), table.is_county(entry)) for entry in entries]
        assert seen == sorted(seen) and len(set(seen)) == len(seen)
        for entry in entries:
            assert normalize_place_name(table.place(entry, key).name) == key
            assert table.sizes[entry] > 0
    assert places.load_place_index() > 35_000


def test_common_names_are_all_places(generator: ModuleType) -> None:
    """The list of names that need context stays honest: each is in the data."""
    pytest.importorskip("zipcodes")
    keys = {row.key for row in generator.place_rows(generator.zipcodes_rows()) if not row.county}
    assert sorted(name for name in generator.COMMON_NAMES if name not in keys) == []
    for name in ("mobile", "hope", "eden", "commerce", "buffalo", "canton", "normal", "ideal"):
        assert name in generator.COMMON_NAMES


def test_package_data_lists_the_table() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "data/us_places.bin" in pyproject["tool"]["setuptools"]["package-data"]["eal"]


# --- the generator, on rows it is given ------------------------------------------------


def _row(
    code: str,
    city: str,
    state: str,
    lat: str,
    long: str,
    county: str = "Cobb County",
    **extra: Any,
) -> dict[str, Any]:
    """A record as ``zipcodes.list_all()`` gives them."""
    row: dict[str, Any] = {
        "zip_code": code,
        "zip_code_type": "STANDARD",
        "active": True,
        "city": city,
        "acceptable_cities": [],
        "state": state,
        "county": county,
        "lat": lat,
        "long": long,
    }
    row.update(extra)
    return row


def _entries(generator: ModuleType, rows: list[dict[str, Any]]) -> dict[tuple[str, str, bool], Any]:
    """name, state, is county -> (flags, size, point, postal code, spelled name)."""
    table = places._read_table(generator.build_table(rows))
    found: dict[tuple[str, str, bool], Any] = {}
    for index in range(len(table.key_starts) - 1):
        key = table.key(index)
        for entry in range(table.entry_starts[index], table.entry_starts[index + 1]):
            place = table.place(entry, key)
            found[(key, place.state, table.is_county(entry))] = (
                table.flags[entry],
                table.sizes[entry],
                place.coordinates,
                place.postal_code,
                place.name,
            )
    return found


def test_generator_centers_on_street_delivery_codes(generator: ModuleType) -> None:
    rows = [
        _row("30060", "Marietta", "GA", "34.0", "-84.5"),
        _row("30062", "Marietta", "GA", "34.0", "-84.3"),
        _row("30061", "Marietta", "GA", "30.0", "-80.0", zip_code_type="PO BOX"),
        _row("30063", "Marietta", "GA", "10.0", "-10.0", active=False),
        _row(
            "31735", "Cobb", "GA", "31.9", "-83.9", zip_code_type="PO BOX", county="Sumter County"
        ),
        _row(
            "31736",
            "Cobb",
            "GA",
            "31.0",
            "-83.0",
            "Sumter County",
            zip_code_type="PO BOX",
            active=False,
        ),
        _row("09002", "Apo", "AE", "0", "0", zip_code_type="MILITARY"),
        _row("09003", "Apo", "NY", "1.0", "1.0", zip_code_type="MILITARY"),
        _row("11805", "Hicksville", "NY", "0", "0"),
        _row("30064", "", "GA", "34.0", "-84.5"),
        _row("3007", "Roswell", "GA", "34.0", "-84.4"),
        {"zip_code": "30076", "city": "Roswell", "state": "GA", "lat": "", "long": "-84.3"},
        # No type, no activity, no county: counts as an active street-delivery code.
        {"zip_code": "30077", "city": "Roswell", "state": "GA", "lat": "34.05", "long": "-84.35"},
    ]
    found = _entries(generator, rows)
    assert {key for key, _, county in found if not county} == {"marietta", "cobb", "roswell"}
    assert {state for _, state, _ in found} == {"GA"}  # no military code, none at (0, 0)
    flags, size, point, code, name = found[("marietta", "GA", False)]
    assert (flags, size, point, name) == (0, 4, (34.0, -84.4), "Marietta")
    assert code == "30060"  # equidistant: the lower code
    # Only post office boxes: the active one.
    assert found[("cobb", "GA", False)][2:4] == ((31.9, -83.9), "31735")
    # Cobb County (five codes) is what "Cobb" means, not the two-code Cobb
    # in Sumter County; Sumter County has no place of its name.
    county_flags, county_size, *_ = found[("cobb", "GA", True)]
    assert county_flags == places._FLAG_COUNTY and county_size == 5
    assert ("sumter", "GA", True) in found
    assert found[("roswell", "GA", False)][2:4] == ((34.05, -84.35), "30077")


def test_generator_keeps_other_names_that_are_no_abbreviations(generator: ModuleType) -> None:
    rows = [
        _row("30338", "Atlanta", "GA", "33.9", "-84.3", acceptable_cities=["Dunwoody", "Atl"]),
        _row("30328", "Atlanta", "GA", "33.9", "-84.4", acceptable_cities=["Sandy Springs"]),
        _row("30350", "Sandy Springs", "GA", "34.0", "-84.3", acceptable_cities=["Sandy Spgs"]),
        _row(
            "22218",
            "Arlington",
            "VA",
            "38.9",
            "-77.1",
            zip_code_type="UNIQUE",
            acceptable_cities=["Visa Lottery"],
            county="Arlington County",
        ),
        _row("23160", "State Farm", "VA", "37.6", "-77.8", county="Goochland County"),
        _row("25801", "Winston-Salem", "NC", "36.1", "-80.2", county="Forsyth County"),
        _row("25802", "Winston Salem", "NC", "36.1", "-80.3", county="Forsyth County"),
        _row("25803", "Winston-Salem", "NC", "36.0", "-80.2", county="Forsyth County"),
        _row("62549", "Mt Zion", "IL", "39.7", "-88.8", county="Macon County"),
        _row("71801", "Hope", "AR", "33.6", "-93.5", county="Hempstead County"),
        _row("15701", "Indiana", "PA", "40.6", "-79.1", county="Indiana County"),
        _row("81212", "Kim", "CO", "37.2", "-103.3", county="Las Animas County"),
        _row("23219", "Richmond", "VA", "37.5", "-77.4", county="Richmond city"),
        _row("22572", "Warsaw", "VA", "37.9", "-76.7", county="Richmond County"),
    ]
    found = _entries(generator, rows)
    names = {key for key, _, county in found if not county}
    assert "dunwoody" in names and "sandy springs" in names
    assert not {"atl", "sandy spgs", "visa lottery"} & names  # abbreviations, firms
    assert found[("winston salem", "NC", False)][4] == "Winston-Salem"  # as most codes spell it
    assert found[("mount zion", "IL", False)][4] == "Mt Zion"
    context, state = places._FLAG_NEEDS_CONTEXT, places._FLAG_NEEDS_STATE
    assert found[("state farm", "VA", False)][0] == context
    assert found[("hope", "AR", False)][0] == context  # a word, and a given name
    assert found[("kim", "CO", False)][0] == context
    assert found[("indiana", "PA", False)][0] == state
    assert found[("atlanta", "GA", False)][0] == 0
    # "Richmond city" is the city, not a county; Richmond County, elsewhere,
    # is no larger than the city, which the name then means.
    assert ("richmond", "VA", True) not in found
    # A county with no place of its name is one; one with its place in it is not.
    assert ("forsyth", "NC", True) in found and ("indiana", "PA", True) not in found


def test_generator_refuses_what_the_table_cannot_hold(generator: ModuleType) -> None:
    with pytest.raises(ValueError, match="is not ASCII"):
        generator.build_table([_row("30075", "ロズウェル", "GA", "34.0", "-84.3")])


def test_generator_on_no_rows(generator: ModuleType) -> None:
    table = places._read_table(generator.build_table([]))
    assert len(table.key_starts) == 1 and len(table.states) == 0 and table.max_words == 1


Mangle = Callable[[bytes], bytes]


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda data: data[:10], "truncated header"),
        (lambda data: b"ZZZZ" + data[4:], "unknown format"),
        (lambda data: data[:4] + (2).to_bytes(4, "little") + data[8:], "version 2"),
        (lambda data: data[:-1], "truncated"),
        (lambda data: data + b"x", "do not hold"),
    ],
)
def test_read_table_rejects_what_it_does_not_know(
    generator: ModuleType, mangle: Mangle, message: str
) -> None:
    table = generator.build_table([_row("30075", "Roswell", "GA", "34.0", "-84.3")])
    with pytest.raises(ValueError, match=message):
        places._read_table(mangle(table))


def test_places_near_a_point_are_nearby_towns_nearest_first() -> None:
    roswell = resolve_place("Roswell", "GA")
    assert roswell is not None
    near = places_near(roswell.coordinates, miles=30, limit=8)
    names = [place.name for place in near]
    assert "Roswell" in names and "Alpharetta" in names and len(names) == 8
    assert all(place.state == "GA" for place in near)
    assert len(set(names)) == len(names)
    assert "Cobb" not in names  # a county, not a town
    without = places_near(roswell.coordinates, limit=8, exclude=frozenset({"roswell"}))
    assert "Roswell" not in [place.name for place in without]
    assert len(places_near(roswell.coordinates, miles=30, limit=3)) == 3
    assert places_near((0.0, -30.0), miles=30) == ()  # the middle of the Atlantic
