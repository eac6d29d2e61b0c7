"""The scope rules, IICRC S500 practice for water, and fire, mold and biohazard lines.

Every number comes from the factors file (`Factors`); every line's code,
description and unit from the catalog. Each line says what produced it
(`evidence`) and how sure that is (`confidence`): measured dimensions and
readings, then photo tags, then inference from the loss type.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta

from eal.claims.scope.data import Catalog, Factors, drying_rows, load_catalog, load_factors
from eal.claims.scope.geometry import Geometry, geometry_of
from eal.claims.scope.model import Loss, PhotoFact, PhotoSummary, Room, RoomScope, Scope, ScopeLine

WATER_LIKE = ("water", "storm")
#: A storm loss without a category is treated as category 3 (wind-driven rain and
#: surface water carry contaminants, S500 10.4).
STORM_DEFAULT_CATEGORY = 3


def _round(qty: float, unit: str) -> float:
    if unit in ("EA", "DAY"):
        return float(math.ceil(qty - 1e-9))
    return round(qty, 2)


class _Room:
    """The lines of one room, built rule by rule."""

    def __init__(
        self,
        room: Room,
        factors: Factors,
        catalog: Catalog,
        code_map: Mapping[str, str],
        photos: list[PhotoFact],
    ) -> None:
        self.room = room
        self.factors = factors
        self.catalog = catalog
        self.code_map = code_map
        self.geometry: Geometry = geometry_of(room)
        self.tags = {t.casefold() for p in photos if p.counted for t in p.tags}
        self.photo_ids = [p.id for p in photos if p.counted]
        self.lines: list[ScopeLine] = []

    def confidence(self, kind: str) -> float:
        return self.factors.number(f"confidence.{kind}")

    def tagged(self, group: str) -> list[str]:
        wanted = {t.casefold() for t in self.factors.get(f"photos.{group}")}
        return sorted(self.tags & wanted)

    def add(
        self,
        code: str,
        qty: float,
        confidence: float,
        evidence: list[str],
        *,
        units: int | None = None,
        days: int | None = None,
        estimated: bool | None = None,
    ) -> None:
        item = self.catalog.item(code)
        qty = _round(qty, item.unit)
        if qty <= 0:
            return
        threshold = self.factors.number("confidence.needs_measurement_below")
        self.lines.append(
            ScopeLine(
                key=f"{' '.join(self.room.name.casefold().split())}:{code}",
                room=self.room.name,
                code=self.code_map.get(code, code),
                catalog_code=code,
                description=item.description,
                qty=qty,
                unit=item.unit,
                confidence=round(confidence, 2),
                evidence=tuple(evidence),
                needs_measurement=confidence < threshold,
                units=units,
                days=days,
                estimated=estimated,
            )
        )

    # -- shared measurements --------------------------------------------------

    def wet_floor(self) -> tuple[float | None, float, str]:
        """(SF, confidence, evidence) of the wet floor."""
        if self.room.wet_floor_sf is not None:
            return (
                self.room.wet_floor_sf,
                self.confidence("measured"),
                (f"wet floor measured: {self.room.wet_floor_sf:g} SF"),
            )
        floor = self.geometry.floor_sf
        if floor is None:
            return None, 0.0, "no floor area"
        tags = self.tagged("wet_floor_tags")
        if tags:
            return (
                floor,
                self.confidence("photo"),
                (f"whole floor {floor:g} SF taken as wet: photos tagged {', '.join(tags)}"),
            )
        return (
            floor,
            self.confidence("inferred"),
            (f"whole floor {floor:g} SF assumed wet from the loss type: measure the wet area"),
        )

    def wet_wall_lf(self) -> tuple[float | None, str]:
        if self.room.wet_wall_lf is not None:
            return self.room.wet_wall_lf, f"wet wall measured: {self.room.wet_wall_lf:g} LF"
        if self.geometry.perimeter_lf is None:
            return None, "no wall lengths"
        return self.geometry.perimeter_lf, f"wet wall = every wall: {self.geometry.how}"

    def cut_height_in(self, wet_in: float) -> tuple[float, str]:
        """The flood cut height for a wall wet to `wet_in`, and why."""
        margin = self.factors.number("flood_cut.margin_in")
        full_above = self.factors.number("flood_cut.full_height_above_in")
        height = self.geometry.height_ft
        if wet_in > full_above and height is not None:
            return height * 12, (
                f"wet to {wet_in:g} in, above {full_above:g} in: full-height removal "
                f"({height:g} ft)"
            )
        for cut in sorted(float(h) for h in self.factors.get("flood_cut.heights_in")):
            if cut >= wet_in + margin:
                return cut, (
                    f"cut height {cut / 12:g} ft: wet to {wet_in:g} in + {margin:g} in margin "
                    f"= {wet_in + margin:g} in"
                )
        top = max(float(h) for h in self.factors.get("flood_cut.heights_in"))
        return top, f"cut height {top / 12:g} ft (room height unknown)"


def _equipment_days(
    room: Room, water_class: int | None, factors: Factors, key: str
) -> tuple[int, bool, str]:
    """Days of drying: from the readings reaching their dry standard, else the estimate."""
    readings = [r for r in room.readings if r.taken_at is not None and r.dry_standard is not None]
    if readings:
        readings.sort(key=lambda r: r.taken_at)  # type: ignore[arg-type, return-value]
        first = readings[0].taken_at
        assert first is not None
        latest: dict[str, float] = {}
        standards: dict[str, float] = {}
        for r in readings:
            surface = f"{r.surface}|{r.location or ''}"
            latest[surface] = r.reading
            standards[surface] = r.dry_standard  # type: ignore[assignment]
            if all(latest[s] <= standards[s] for s in latest):
                assert r.taken_at is not None
                elapsed = r.taken_at - first
                days = max(1, math.ceil(elapsed / timedelta(days=1) - 1e-9))
                return (
                    days,
                    False,
                    (
                        f"every surface at or below its dry standard {elapsed.total_seconds() / 86400:.1f} "
                        f"days after the first reading: {days} day(s)"
                    ),
                )
    days = int(factors.number(f"equipment_days.{key}"))
    why = "no readings with dry standards" if not readings else "not dry yet by the readings"
    return days, True, f"estimated {days} days ({key.replace('_', ' ')}; {why})"


def _water(r: _Room, loss: Loss, category: int | None) -> None:
    room, f = r.room, r.factors
    geo = r.geometry
    measured = f.number("confidence.measured")
    inferred = f.number("confidence.inferred")
    wet_floor, floor_conf, floor_why = r.wet_floor()
    cat_text = f"category {category}" if category else "category not given"
    if wet_floor:
        r.add("WTR EXTRT", wet_floor, floor_conf, [floor_why])
        if room.floor_material == "carpet_pad":
            if category == 2:
                r.add("WTR PAD", wet_floor, floor_conf, [floor_why, "category 2: pad out (S500)"])
                r.add("CLN CARP", wet_floor, floor_conf, [floor_why, "category 2: carpet cleaned"])
            elif category == 3:
                r.add("WTR PAD", wet_floor, floor_conf, [floor_why, "category 3: pad out"])
                r.add("WTR CARP", wet_floor, floor_conf, [floor_why, "category 3: carpet out"])
        r.add("WTR CLEAN", wet_floor, floor_conf, [floor_why])
    removed_wall_sf = 0.0
    wall_above_sf = 0.0
    wet_in = room.wet_wall_height_in
    wet_lf, lf_why = r.wet_wall_lf()
    if wet_in and wet_lf:
        cut_in, cut_why = r.cut_height_in(wet_in)
        cut_ft = cut_in / 12
        area = cut_ft * wet_lf
        material = room.wall_material or "drywall"
        conf = measured if room.wall_material else inferred
        what = [cut_why, lf_why, f"{cut_ft:g} ft x {wet_lf:g} LF = {area:g} SF"]
        if not room.wall_material:
            what.append("wall material not given: drywall assumed")
        if material == "masonry":
            r.add("CLN MASN", area, conf, what)
        else:
            full = geo.height_ft is not None and cut_in >= geo.height_ft * 12
            if not full:
                r.add("WTR FCUT", wet_lf, conf, [cut_why, lf_why])
            code = {"plaster": "WTR PLST", "paneling": "WTR PANL"}.get(material, "WTR DRYW")
            r.add(code, area, conf, what)
            removed_wall_sf = area
            if room.walls_insulated:
                r.add("WTR INSUL", area, conf, [*what, "walls insulated"])
        r.add("WTR BASE", wet_lf, conf, [lf_why])
        above = f.number("air_movers.wall_above_in")
        wall_above_sf = max(0.0, wet_in - above) / 12 * wet_lf
    if room.wet_ceiling_sf:
        r.add(
            "WTR CEIL",
            room.wet_ceiling_sf,
            measured,
            [f"wet ceiling measured: {room.wet_ceiling_sf:g} SF"],
        )
    treated = (wet_floor or 0.0) + removed_wall_sf + (room.wet_ceiling_sf or 0.0)
    if category in (2, 3) and treated:
        r.add(
            "WTR ANTI",
            treated,
            floor_conf,
            [f"{cat_text}: wet floor + removed wall + ceiling = {treated:g} SF"],
        )
    water_class = loss.water_class
    class_key = (
        f"class_{water_class}"
        if water_class
        else f"class_{int(f.number('dehumidifier.default_class'))}"
    )
    days, estimated, days_why = _equipment_days(room, water_class, f, class_key)
    if category == 3:
        r.add("WTR CONT", 1, measured, ["category 3: work area contained (S500)"])
        technicians = int(f.number("category_3.technicians"))
        r.add(
            "WTR PPE",
            technicians * days,
            floor_conf or inferred,
            [f"category 3: {technicians} technicians x {days} days", days_why],
        )
    if wet_floor:
        per_100 = f.number("content.hours_per_100_sf")
        hours = max(f.number("content.minimum_hours"), wet_floor / 100 * per_100)
        r.add(
            "CON MANIP",
            hours,
            inferred,
            [f"{per_100:g} h per 100 SF of wet floor: confirm the contents on site"],
        )
    _drying_equipment(
        r,
        loss,
        category,
        wet_floor,
        floor_conf,
        floor_why,
        wall_above_sf,
        days,
        estimated,
        days_why,
    )


def _drying_equipment(
    r: _Room,
    loss: Loss,
    category: int | None,
    wet_floor: float | None,
    floor_conf: float,
    floor_why: str,
    wall_above_sf: float,
    days: int,
    estimated: bool,
    days_why: str,
) -> None:
    f, room = r.factors, r.room
    if not wet_floor and not wall_above_sf:
        return
    per_room = int(f.number("air_movers.per_wet_room"))
    floor_units = math.ceil((wet_floor or 0) / f.number("air_movers.floor_sf_per_unit") - 1e-9)
    wall_units = math.ceil(wall_above_sf / f.number("air_movers.wall_sf_per_unit") - 1e-9)
    inset_units = room.insets_offsets * int(f.number("air_movers.per_inset_offset"))
    movers = per_room + floor_units + wall_units + inset_units
    r.add(
        "WTR AIRM",
        movers * days,
        floor_conf,
        [
            f"{per_room} per wet room + ceil({wet_floor or 0:g} SF / "
            f"{f.number('air_movers.floor_sf_per_unit'):g}) = {floor_units} for the floor + "
            f"ceil({wall_above_sf:g} SF of wall above 2 ft / {f.number('air_movers.wall_sf_per_unit'):g}) "
            f"= {wall_units} + {inset_units} for insets/offsets = {movers} units (S500)",
            days_why,
        ],
        units=movers,
        days=days,
        estimated=estimated,
    )
    cubic = r.geometry.cubic_ft
    if cubic is None:
        return
    water_class = loss.water_class or int(f.number("dehumidifier.default_class"))
    class_note = f"class {water_class}" + (
        "" if loss.water_class else " (assumed: class not given)"
    )
    kind = str(f.get("dehumidifier.kind"))
    if kind == "desiccant":
        ach = f.number(f"desiccant.class_{water_class}")
        cfm = cubic * ach / 60
        units = math.ceil(cfm / f.number("desiccant.unit_cfm") - 1e-9)
        why = f"{cubic:g} cu ft x {ach:g} ACH / 60 = {cfm:.0f} CFM ({class_note}) / {f.number('desiccant.unit_cfm'):g} CFM units"
        r.add(
            "WTR DESC",
            units * days,
            floor_conf,
            [why, days_why],
            units=units,
            days=days,
            estimated=estimated,
        )
    else:
        factor = f.find(f"dehumidifier.{kind}.class_{water_class}")
        code = "WTR DHMC" if kind == "conventional" else "WTR DHM"
        note = ""
        if factor is None:
            factor, code = f.number(f"dehumidifier.lgr.class_{water_class}"), "WTR DHM"
            note = f"; {kind} units are not recommended for class {water_class}: LGR sized"
        pints = cubic / float(factor)
        rating = f.number("dehumidifier.unit_pints_per_day")
        units = max(1, math.ceil(pints / rating - 1e-9))
        why = (
            f"{cubic:g} cu ft / {float(factor):g} ({class_note}) = {pints:.1f} pints/day; "
            f"{rating:g}-pint (AHAM) units: {units}{note}"
        )
        r.add(
            code,
            units * days,
            floor_conf,
            [why, days_why],
            units=units,
            days=days,
            estimated=estimated,
        )
    if category == 3:
        _air_scrubbers(r, cubic, days, estimated, days_why, floor_conf, "category 3")


def _air_scrubbers(
    r: _Room, cubic: float, days: int, estimated: bool, days_why: str, conf: float, why: str
) -> None:
    f = r.factors
    ach = f.number("air_scrubber.air_changes_per_hour")
    cfm = cubic * ach / 60
    units = max(1, math.ceil(cfm / f.number("air_scrubber.unit_cfm") - 1e-9))
    r.add(
        "WTR AFM",
        units * days,
        conf,
        [f"{why}: {cubic:g} cu ft x {ach:g} ACH / 60 = {cfm:.0f} CFM; {units} unit(s)", days_why],
        units=units,
        days=days,
        estimated=estimated,
    )


def _affected_area(r: _Room, tag_group: str) -> tuple[float | None, float, str]:
    """The floor area a fire, mold or biohazard loss affects, and how sure that is."""
    if r.room.wet_floor_sf is not None:
        return (
            r.room.wet_floor_sf,
            r.confidence("measured"),
            f"affected floor measured: {r.room.wet_floor_sf:g} SF",
        )
    floor = r.geometry.floor_sf
    if floor is None:
        return None, 0.0, "no floor area"
    tags = r.tagged(tag_group) if tag_group else []
    if tags:
        return (
            floor,
            r.confidence("photo"),
            f"whole room {floor:g} SF: photos tagged {', '.join(tags)}",
        )
    return floor, r.confidence("inferred"), f"whole room {floor:g} SF inferred from the loss type"


def _fire(r: _Room) -> None:
    floor, conf, why = _affected_area(r, "soot_tags")
    if not floor:
        return
    walls = r.geometry.wall_sf
    surfaces = floor + (walls or 0.0)
    r.add("FIR SOOT", surfaces, conf, [why, f"walls {walls or 0:g} SF + ceiling {floor:g} SF"])
    r.add("FIR HEPA", floor, conf, [why])
    r.add("FIR ODOR", floor, conf, [why])
    per_100 = r.factors.number("content.hours_per_100_sf")
    hours = max(r.factors.number("content.minimum_hours"), floor / 100 * per_100)
    r.add(
        "FIR CONT",
        hours,
        r.confidence("inferred"),
        [f"{per_100:g} h per 100 SF: confirm the contents"],
    )


def _mold(r: _Room) -> None:
    floor, conf, why = _affected_area(r, "mold_tags")
    if not floor:
        return
    f = r.factors
    perimeter, height = r.geometry.perimeter_lf, r.geometry.height_ft
    if perimeter and height:
        r.add(
            "MLD CONT",
            perimeter * height,
            conf,
            [f"poly walls: {perimeter:g} LF x {height:g} ft (S520)"],
        )
    removed = 0.0
    wet_lf, lf_why = r.wet_wall_lf()
    if r.room.wet_wall_height_in and wet_lf:
        cut_in, cut_why = r.cut_height_in(r.room.wet_wall_height_in)
        removed = cut_in / 12 * wet_lf
        r.add(
            "MLD DRYW",
            removed,
            r.confidence("measured"),
            [cut_why, lf_why, "affected drywall removed 12 in past visible growth"],
        )
    r.add("MLD HEPA", floor + removed, conf, [why])
    r.add("MLD ANTI", floor + removed, conf, [why])
    room = Room(name=r.room.name)
    days, estimated, days_why = _equipment_days(
        r.room if r.room.readings else room, None, f, "mold"
    )
    technicians = int(f.number("category_3.technicians"))
    r.add(
        "MLD PPE", technicians * days, conf, [f"{technicians} technicians x {days} days", days_why]
    )
    if r.geometry.cubic_ft:
        _air_scrubbers(r, r.geometry.cubic_ft, days, estimated, days_why, conf, "mold (S520)")


def _biohazard(r: _Room) -> None:
    floor, conf, why = _affected_area(r, "")
    if not floor:
        return
    technicians = int(r.factors.number("category_3.technicians"))
    r.add("BIO CONT", 1, conf, ["affected area contained and access controlled"])
    r.add("BIO PPE", technicians, conf, [f"{technicians} technicians, one day (confirm)"])
    r.add("BIO CLEAN", floor, conf, [why])


def summarize(photos: list[PhotoFact], notable: list[str]) -> PhotoSummary:
    """Count, time span, tags and notable tags of `photos` (duplicates not counted)."""
    counted = [p for p in photos if p.counted]
    times = sorted(p.captured_at for p in counted if p.captured_at is not None)
    tags = Counter(t for p in counted for t in p.tags)
    wanted = {n.casefold() for n in notable}
    return PhotoSummary(
        count=len(counted),
        first_captured_at=times[0] if times else None,
        last_captured_at=times[-1] if times else None,
        tags=tuple(sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))),
        notable_tags=tuple(sorted({t for t in tags if t.casefold() in wanted})),
        photo_ids=tuple(p.id for p in counted),
    )


def calculate_scope(
    loss: Loss, *, factors: Factors | None = None, code_map: Mapping[str, str] | None = None
) -> Scope:
    """The scope of `loss`: per room, its lines and photo summary; the drying log with GPP."""
    factors = factors or load_factors()
    catalog = load_catalog()
    codes = dict(code_map or {})
    notable = list(factors.get("photos.notable_tags"))
    by_room: dict[str, list[PhotoFact]] = {}
    names = {room.name.casefold(): room.name for room in loss.rooms}
    unassigned: list[PhotoFact] = []
    for photo in loss.photos:
        name = names.get(photo.room.casefold()) if photo.room else None
        if name is None:
            unassigned.append(photo)
        else:
            by_room.setdefault(name, []).append(photo)
    category = loss.water_category
    if loss.loss_type == "storm" and category is None:
        category = STORM_DEFAULT_CATEGORY
    rooms = []
    for room in loss.rooms:
        photos = by_room.get(room.name, [])
        builder = _Room(room, factors, catalog, codes, photos)
        if loss.loss_type in WATER_LIKE:
            _water(builder, loss, category)
        elif loss.loss_type == "fire":
            _fire(builder)
        elif loss.loss_type == "mold":
            _mold(builder)
        elif loss.loss_type == "biohazard":
            _biohazard(builder)
        geo = builder.geometry
        rooms.append(
            RoomScope(
                name=room.name,
                floor_sf=round(geo.floor_sf, 2) if geo.floor_sf is not None else None,
                wall_sf=round(geo.wall_sf, 2) if geo.wall_sf is not None else None,
                perimeter_lf=round(geo.perimeter_lf, 2) if geo.perimeter_lf is not None else None,
                cubic_ft=round(geo.cubic_ft, 2) if geo.cubic_ft is not None else None,
                lines=tuple(builder.lines),
                photos=summarize(photos, notable),
            )
        )
    return Scope(
        rooms=tuple(rooms),
        unassigned_photos=summarize(unassigned, notable) if unassigned else None,
        drying_log=drying_rows(loss.drying_log),
        factors_version=factors.version,
    )
