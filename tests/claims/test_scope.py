"""The S500 calculator on rooms computed by hand (the arithmetic is in each test)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eal.claims.scope import (
    Loss,
    PhotoFact,
    Reading,
    Room,
    ScopeLine,
    calculate_scope,
    geometry_of,
    grains_per_pound,
    load_catalog,
    load_factors,
    orthogonal_area,
)

T0 = datetime(2026, 4, 27, 14, tzinfo=UTC)


def _lines(loss: Loss, **kwargs: object) -> dict[str, ScopeLine]:
    scope = calculate_scope(loss, **kwargs)  # type: ignore[arg-type]
    (room,) = scope.rooms
    return {line.catalog_code: line for line in room.lines}


def basement(**changes: object) -> Room:
    values: dict[str, object] = {
        "name": "Basement",
        "length_ft": 24,
        "width_ft": 18,
        "height_ft": 8,
        "floor_material": "carpet_pad",
        "wall_material": "drywall",
        "wet_floor_sf": 432,
        "wet_wall_height_in": 30,
    }
    values.update(changes)
    return Room(**values)  # type: ignore[arg-type]


def test_class_2_category_1_basement() -> None:
    lines = _lines(Loss("water", 1, 2, (basement(),)))
    # Perimeter 2 x (24 + 18) = 84 LF; wet to 30 in + 12 in margin = 42 in -> the 4 ft cut.
    assert lines["WTR FCUT"].qty == 84 and lines["WTR FCUT"].unit == "LF"
    assert lines["WTR DRYW"].qty == 4 * 84 == 336
    assert lines["WTR BASE"].qty == 84
    assert lines["WTR EXTRT"].qty == 24 * 18 == 432
    # Category 1: carpet and pad dried in place, no removal; no antimicrobial.
    assert {"WTR PAD", "WTR CARP", "CLN CARP", "WTR ANTI", "WTR CONT", "WTR AFM"}.isdisjoint(lines)
    # Air movers: 1 per room + ceil(432 / 60) = 8 + ceil((30 - 24) / 12 x 84 / 125) = 1 -> 10.
    movers = lines["WTR AIRM"]
    assert movers.units == 1 + 8 + 1 == 10
    # No readings: class 2 is estimated at 3 days.
    assert (
        movers.days == 3 and movers.estimated is True and movers.qty == 30 and movers.unit == "DAY"
    )
    # Dehumidifier: 24 x 18 x 8 = 3,456 cu ft / 50 (LGR, class 2) = 69.1 pints -> one 70-pint unit.
    dehu = lines["WTR DHM"]
    assert dehu.units == 1 and dehu.qty == 3
    assert all(line.confidence >= 0.95 for code, line in lines.items() if code != "CON MANIP")
    assert lines["CON MANIP"].needs_measurement
    assert lines["WTR DRYW"].key == "basement:WTR DRYW"
    assert any("42 in" in e for e in lines["WTR DRYW"].evidence)


def test_category_3_bathroom_with_readings() -> None:
    readings = tuple(
        Reading("north wall", None, value, "drywall", 12, T0 + timedelta(hours=h))
        for h, value in ((0, 35), (24, 22), (48, 14), (60, 11))
    ) + tuple(
        Reading("subfloor", None, value, "wood", 15, T0 + timedelta(hours=h))
        for h, value in ((0, 30), (24, 18), (48, 14))
    )
    room = Room(
        name="Bath",
        length_ft=10,
        width_ft=8,
        height_ft=8,
        floor_material="tile",
        wall_material="drywall",
        wet_floor_sf=80,
        wet_wall_height_in=10,
        walls_insulated=True,
        readings=readings,
    )
    lines = _lines(Loss("water", 3, 2, (room,)))
    # Wet to 10 in + 12 = 22 in -> the 2 ft cut; perimeter 36 LF: 2 x 36 = 72 SF.
    assert lines["WTR DRYW"].qty == 72 and lines["WTR INSUL"].qty == 72
    # Antimicrobial on 80 SF of floor + 72 SF of removed wall.
    assert lines["WTR ANTI"].qty == 152
    assert lines["WTR CONT"].qty == 1
    # Every surface at or below its dry standard 60 h after the first reading: 3 days.
    assert lines["WTR AIRM"].days == 3 and lines["WTR AIRM"].estimated is False
    # 2 technicians x 3 days of PPE.
    assert lines["WTR PPE"].qty == 6
    # Air scrubber: 640 cu ft x 4 ACH / 60 = 42.7 CFM -> one 500 CFM unit, 3 days.
    assert lines["WTR AFM"].units == 1 and lines["WTR AFM"].qty == 3
    # Air movers: 1 + ceil(80 / 60) = 2 + no wall above 2 ft -> 3 units.
    assert lines["WTR AIRM"].units == 3


def test_an_l_shaped_room_from_its_walls() -> None:
    walls = (20.0, 12.0, 8.0, 6.0, 12.0, 18.0)
    # A 20 x 12 rectangle and a 12 x 6 one: 240 + 72 = 312 SF; perimeter 76 LF.
    assert orthogonal_area(walls) == 312
    geometry = geometry_of(Room(name="L", walls_ft=walls, height_ft=8))
    assert geometry.perimeter_lf == 76 and geometry.cubic_ft == 312 * 8
    lines = _lines(
        Loss(
            "water",
            2,
            3,
            (
                Room(
                    name="Family room",
                    walls_ft=walls,
                    height_ft=8,
                    floor_material="carpet_pad",
                    wall_material="drywall",
                    wet_wall_height_in=40,
                ),
            ),
        )
    )
    # No wet floor measured and no photo: the whole floor is inferred wet, flagged.
    assert lines["WTR PAD"].qty == 312 and lines["WTR PAD"].needs_measurement
    assert lines["CLN CARP"].qty == 312 and "WTR CARP" not in lines
    # Wet to 40 in (above 36 in): full-height removal, 8 ft x 76 LF, no flood cut line.
    assert lines["WTR DRYW"].qty == 608 and "WTR FCUT" not in lines
    # Class 3: 2,496 cu ft / 40 = 62.4 pints -> one unit; estimated 4 days.
    assert lines["WTR DHM"].units == 1 and lines["WTR DHM"].days == 4
    assert orthogonal_area((10.0, 5.0, 3.0)) is None


def test_photo_tags_raise_confidence_and_summaries_count_once() -> None:
    photos = (
        PhotoFact("photo_a", "Basement", ("standing water",), None, T0, True),
        PhotoFact("photo_b", "Basement", ("standing water",), None, T0 + timedelta(hours=1), False),
        PhotoFact("photo_c", None, ("exterior",), None, None, True),
    )
    room = basement(wet_floor_sf=None)
    scope = calculate_scope(Loss("water", 2, 2, (room,), photos=photos))
    (summary_room,) = scope.rooms
    lines = {line.catalog_code: line for line in summary_room.lines}
    assert lines["WTR EXTRT"].confidence == 0.75 and not lines["WTR EXTRT"].needs_measurement
    assert summary_room.photos.count == 1 and summary_room.photos.photo_ids == ("photo_a",)
    assert summary_room.photos.notable_tags == ("standing water",)
    assert scope.unassigned_photos is not None and scope.unassigned_photos.count == 1


def test_masonry_walls_are_cleaned_and_overrides_and_codes_apply() -> None:
    lines = _lines(Loss("water", 2, 2, (basement(wall_material="masonry"),)))
    assert lines["CLN MASN"].qty == 336 and "WTR DRYW" not in lines and "WTR FCUT" not in lines
    factors = load_factors().with_overrides({"air_movers": {"floor_sf_per_unit": 50}})
    custom = _lines(
        Loss("water", 1, 2, (basement(),)), factors=factors, code_map={"WTR DRYW": "DRY-10"}
    )
    # ceil(432 / 50) = 9 for the floor: 1 + 9 + 1 = 11.
    assert custom["WTR AIRM"].units == 11
    assert custom["WTR DRYW"].code == "DRY-10" and custom["WTR DRYW"].catalog_code == "WTR DRYW"
    with pytest.raises(ValueError, match=r"air_movers\.floor_sf"):
        load_factors().with_overrides({"air_movers": {"floor_sf": 50}})
    with pytest.raises(ValueError, match="must be a number"):
        load_factors().with_overrides({"air_movers": {"floor_sf_per_unit": "many"}})
    assert all(
        load_catalog().has(code) for code in ("WTR DRYW", "FIR SOOT", "MLD CONT", "BIO CLEAN")
    )


def test_fire_mold_and_biohazard_lines() -> None:
    room = Room(name="Kitchen", length_ft=12, width_ft=10, height_ft=8)
    fire = _lines(Loss("fire", None, None, (room,)))
    # Walls 44 LF x 8 ft = 352 SF + ceiling 120 SF, inferred from the loss type.
    assert fire["FIR SOOT"].qty == 472 and fire["FIR SOOT"].needs_measurement
    tagged = calculate_scope(
        Loss(
            "fire",
            None,
            None,
            (room,),
            photos=(PhotoFact("p", "Kitchen", ("soot",), None, None, True),),
        )
    )
    assert {line.catalog_code: line for line in tagged.rooms[0].lines}[
        "FIR SOOT"
    ].confidence == 0.75
    mold = _lines(
        Loss(
            "mold",
            None,
            None,
            (
                Room(
                    name="Closet",
                    length_ft=5,
                    width_ft=4,
                    height_ft=8,
                    wet_floor_sf=20,
                    wet_wall_height_in=20,
                ),
            ),
        )
    )
    # Containment 18 LF x 8 ft = 144 SF; growth to 20 in + 12 in = 32 in is
    # above 2 ft, so the cut is 4 ft: 4 ft x 18 LF = 72 SF.
    assert mold["MLD CONT"].qty == 144 and mold["MLD DRYW"].qty == 72
    # HEPA vacuuming: 20 SF of floor + 72 SF of opened wall = 92 SF.
    assert mold["MLD HEPA"].qty == 92 and mold["WTR AFM"].days == 3
    bio = _lines(Loss("biohazard", None, None, (room,)))
    assert bio["BIO CLEAN"].qty == 120 and bio["BIO PPE"].qty == 2


def test_grains_per_pound_match_the_chart() -> None:
    # Sea-level psychrometric chart: 70 F / 50 % ~ 54.5 gr/lb; 90 F / 40 % ~ 84.4; 80 F / 60 % ~ 92.
    assert grains_per_pound(70, 50) == pytest.approx(54.5, abs=0.5)
    assert grains_per_pound(90, 40) == pytest.approx(84.4, abs=0.5)
    assert grains_per_pound(80, 60) == pytest.approx(92.1, abs=0.5)
