"""Build ``src/eal/data/us_places.bin``, the US place table ``eal.places`` reads.

The places are the city names of the USPS postal code list as the
``zipcodes`` package ships it (the same data as ``eal/data/postal_codes.bin``,
see ``tools/build_postal_index.py``). A place is one name in one state:

- its codes are those whose main city name it is; a name the list only
  gives as another acceptable one for some codes ("Woodbury" for Saint Paul,
  Minnesota's 55125; "Dunwoody" for Atlanta's 30338) is a place too, with
  those codes, unless the state has a place of that name already, the codes
  are single-organisation ones ("UNIQUE": their other names are firms',
  "Visa Lottery"), or it abbreviates another name of one of its codes ("Colo
  Spgs", "W Palm Bch", "Phila");
- military codes (APO/FPO) and codes at (0, 0) are left out;
- its coordinates are the mean of its active street-delivery codes'
  ("STANDARD"), or, for the places that have none (some 5,000 small towns
  served by post office boxes only), of its other active codes, or else of
  its retired ones; rows without a type count as street-delivery codes. Its
  postal code is the one of those nearest that mean (the lowest on a tie);
- its name is spelled as most of its codes spell it.

The table also holds counties, chosen and placed the same way, where the
county is what its name means in its state: the state has no place of that
name ("Paulding", Georgia), or the place is outside the county and has fewer
codes ("Cobb", Georgia: one code in Sumter County, against Cobb County's
thirty). Free text naming them is then not read as a same-named town
elsewhere; they are never a result. Independent cities ("Richmond city")
are the cities, not counties.

Each entry carries its number of postal codes (at most 255; free text
weighs candidates by it) and flags for the places that free text must name
with some context to count (``eal.places`` says what context):

- needs context: a name in ``COMMON_NAMES`` below (ordinary English or
  Spanish words and phrases), or a name in ``eal.places._GIVEN_NAMES`` of a
  place with fewer than ``LARGE_PLACE_CODES`` postal codes ("Kim",
  Colorado; "Dana", North Carolina; not "Austin", Texas);
- needs its state: a name that is a state's ("Washington", "Indiana").

``COMMON_NAMES`` holds the single-word place names that a general American
English dictionary lists as lower-case words, plus Spanish words likely in
a call ("piso", "yeso", "quemado", "nada"), less a few whose sense as a town
is the usual one in speech ("Phoenix", "Savannah", "Tucker"), and
multi-word names that are everyday phrases or names of other things ("Red
Cross", "State Farm", "Cut Off", "Ninety Six", "El Centro"). Every entry
must be a place in the data (``tests/test_places.py`` checks): review the
single-word names that a new ``zipcodes`` release adds.

The format, little-endian (``_read_table`` in ``eal.places`` reads it):

- a header, ``<4sIIIIII``: the magic ``b"EALP"``, the format version (1),
  the counts of entries, distinct names, states and spelled-out display
  names, and the coordinate scale (10,000 per degree);
- the state codes, two ASCII letters each;
- per distinct name, in ascending order of its normalised form
  (``eal.places.normalize_place_name``): its length (``uint8``), then its
  number of entries (``uint8``), then the names themselves, one after the
  other;
- per entry, grouped by name, by state within a name and the county last:
  its state's index (``uint8``), its flags (``uint8``), its number of postal
  codes (``uint8``), its latitude and longitude (``int32``, ten-thousandths
  of a degree) and its postal code (``uint32``);
- the entries whose display name is not their normalised name with each
  word capitalised (``Winston-salem``, ``Mt Zion``): their indexes
  (``uint32``, ascending), the names' lengths (``uint8``) and the names.

Run it from the repository after upgrading ``zipcodes`` (a test-only
dependency: ``pip install -e '.[test]'``), and commit the table::

    python tools/build_place_index.py           # rewrite the table
    python tools/build_place_index.py --check   # exit 1 if the shipped table differs

``tests/test_places.py`` checks that the shipped table is what this script
builds from the installed ``zipcodes``.
"""

from __future__ import annotations

import argparse
import math
import re
import struct
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from eal.geo import haversine_miles
from eal.places import (
    _COORDINATE_SCALE,
    _FLAG_COUNTY,
    _FLAG_NEEDS_CONTEXT,
    _FLAG_NEEDS_STATE,
    _GIVEN_NAMES,
    _STATE_BY_NAME,
    _TABLE_HEADER,
    _TABLE_MAGIC,
    _TABLE_VERSION,
    STATE_NAMES,
    _title_case,
    normalize_place_name,
)

TABLE = Path(__file__).resolve().parent.parent / "src" / "eal" / "data" / "us_places.bin"

# Single-word place names that are ordinary words (normalised; see the docstring).
_COMMON_WORDS = """
    abbot academy accident accord ace acequia acme acorn adamant admire advance advent agar
    agate agency agenda agricola akin alcove alder aline alliance alligator alloy almond aloha
    alpha alpine alta alto ama amber amigo amistad amity amo anaconda ancho anchor angora
    antelope anthem antimony antler antlers apex arbutus arcade archer arena argyle ark arma
    armada aromas arriba arroyo arsenal art asco ash askew aspen assumption atlas auto aventura
    avenue axis azalea badger baker ball balm balsam banco bandana bandy bangs banks banner
    banning bannister bantam barber barco bard baring barker barking barney barrier barrow
    basalt basin bass bates bath battiest battlefield bauxite bay bayberry bays beach beacon
    bear beauty beaver bedrock bee belfry bell belle bells belt bend bent berry beryl best
    between bighorn birds bishop bison bivalve black blades blanca blanch blanco bland blanket
    blanks blaze blessing bliss bloom bloomer blossom blue bluebell bluejacket bluff bluffs
    blunt bode bodega boles bolt bonanza bond bonita bonnie boon booth borderland boring boron
    bosque boss boulder boulevard bountiful bourbon bow bowers bowler bowman bowstring branch
    brave bray breaks breeding brethren brewer briar brick brier brigantine brilliant brogan
    brogue bromide brook brooks brothers browning browns bruin brush buckeye bucks buckskin bud
    buena buffalo bullfrog bullock bunch buncombe bunker burden burdock bureau burns burr
    burrows busby bush busy butler butte butterfly butternut butters caballo cabins cable cache
    cactus cadet calabash calamine calcium caliente call calypso camino camp campaign campo
    campus cana canadian candor cannon canoe canon canton canvas canyon capitol caraway carbon
    cardinal carefree caret caribou carmine carnation caro carpenter carrier carver casa casar
    cascade casco cash cashiers cashmere castle castor cataract cavalier cave cebolla cedar
    cedars celebration cement centenary centennial center central century cerro cerulean chacon
    chad challenge chamberlain chambers chamois champ champion chance chancellor chaparral
    chapel charity charm chase check cherry chestnut chicken chico childs chili china chinchilla
    chino chloride christmas chunky cima circle clara clarion clay clear clever cliff climax
    clothier clover coaling coats cobalt cocoa coin colliers cologne colon colonia colony colt
    combine combs comer comfort commerce commodore community como conception concrete condado
    cone confluence congress conifer constable continental convent converse convoy cook cooks
    cool cooper cope coral cord cordillera core corn corning cornucopia corolla corona corral
    cosmos cost costa cotter cotton cottonwood couch cougar council counselor countryside coupon
    cove covert coward coy coyote cranberry crane cranks creamery creole crescent crook crooks
    cropper cross crossroads crown crozier crucible crystal cuchillo cucumber cuervo curlew
    cyclone cygnet cylinder cypress dafter dairy daisy dale darling dauphin dawn day deadwood
    deal dean decoy deer defeated defiance deforest delight dell delta democrat dent deport
    deposit deputy derby detour diagonal diamond dibble dice dickey dike dinero dinosaur distant
    divide docena dodge dolphin dorado downer downing downs dragoon drain drake dresser drew
    drift drifting driftwood driver droop druid drums duck duff duke dukedom dulce dunning duo
    dwarf dyer dyke eagle earl early earth eastern ebony echo eclectic economy ecru eddy eden
    effort elk elm embarrass emblem emerald emery emigrant eminence empire emporium encampment
    encino endeavor energy english enigma ensign enterprise equality era ermine estancia ester
    esto ether eureka ever evergreen excel exchange experiment export extension fairway faith
    falcon falconer falls farina farmer farmers farmland fate fedora felicity fellows felt fence
    fertile fidelity field fielding fields fife filbert fine finger firth fisher fishtail
    flasher flat fleet floe flora floral florin flower flushing fly fonda force ford fords
    foreman forest fork forks fortuna fossil foster fosters fountain fox frame freedom freeman
    freer friend friendly friendship fries frontier frost funk furlong gable gage gale galena
    gallant gallina galvez gap garcia garden garner garrison gas gate gates gateway gay gays
    gazelle gem gentry geyser gibbon gill gipsy given glade glazier glen glide globe golden
    goldenrod goldsmith golf goody gordo gore grace granada granite grant grants grapevine
    grassy gratis gravelly gravity gray green greenback greenhorn gridiron grimes grindstone
    groom grottoes grove groves guerra guild gulf gully gunpowder gurney gusher guy guys gypsum
    gypsy haddock haiku hale halfway hall halls halo hamlet happy harbinger harbor hardwood
    hardy harmony hart harts harvest harvester hasty hatch haven hawks hawthorn hay hays hazard
    hazel headland headquarters heartland heaters heath hector helix helm helper hemlock herald
    herd hermitage hermosa heron hickory hicks hideaway hideout highland highlands highway hill
    hills hillside hilltop hilo hippo holder holiday holly home homeland homer homestead
    hometown hominy hondo honeybee honeydew honor hood hooker hooks hope house huff huger hull
    humble hundred hunker hunt hunter hunters hurricane hurt husk hustle hustler hygiene ideal
    imperial independence index indian industrial industry inland inlet institute intercourse
    interior iota iron irons island isle issue ivy jack jackpot jamboree jasper jay jersey jet
    jigger job joiner jolly joy juncos junction junior juniper justice keeling kettle keystone
    kidder killdeer kiln kinder kindred king kingfisher kings kinsman kismet kite krypton lackey
    lacrosse laguna lake lamb lancing lander landing lane lapel large lark larkspur laurel lawn
    lead leaf leal learned ledger lee leon levels levering liberal liberty library licking light
    lignite likely lily lima limerick limestone limon linda lingo lively llano load loco locust
    lodge loma lone longs lookout loop lopez lotus lovely loving lowland loyal lozano luck luna
    lustre lynch lynx mackinaw madden madras magazine magnet magnolia maiden maidens mainland
    maize majestic mallard malo mammoth man mango manly manning manor many manzanita maple
    marathon marble marina marine mariposa mark marks marlin mars mart martin marvel mascot
    mason matador max may mayflower mayo mead meadow means mecca mechanic media medley meeker
    mentor mercury meridian merino merit mesa mescal mesquite meta metropolis mica midnight
    midway miles miller millers mills millstone mina miner mineral minster mio mira miracle
    mirada miranda mission mistletoe mobile moccasin mode model molino mollusk molt mona monarch
    monitor monolith monument moody moon moorland moose mora morada moraine morocco morral
    morrow mosca moss motley mound mounds mountain mountainside muddy mulberry muse mustang
    mutual myrtle mystic nada naranja narrows navarro nectar needles neon newborn nice noble
    node noel nogal normal north northwest nova novelty novice nuevo nursery oak oaks oasis
    oblong observatory occidental ocean odd ogle okay ola olden olive olla omega only onset
    onward onyx opal optima oracle oral orange orchard orchid ordinary organ orient oriental
    oscuro osprey otter outing outlook overland overly oxbow oyster ozone pace pacific page
    painter paisley pajaro pala palco palisade palisades palm palmetto palms palo paloma panacea
    panhandle panorama panther parachute parade paradise paradox paragon paramount parchment
    parish park parks parrot parsons partridge patriot pavilion pavo peak pearl pease peck
    peculiar peel peerless pelican pence peninsula pentagon peoples pep perdido perks permanente
    petal petroleum petty phlox picayune pickerel piedra pierce pigeon pike pilar pilgrim pillow
    pilot pimento pinch pine pines pinnacle pinto pintura pioneer piso pitcher plain plains
    plank plantation platinum plato platter plaza plover plum plush poca point pointer points
    polo ponder pony pool pope poplar porcupine portal porter post potter pound power powers
    prairie pray preemption premier premium presidio presto price pride prim primrose prince
    printer proctor progreso prospect prosper prosperity protection public pueblo pulga purchase
    puritan purling quail quality quay queen quemado quick quicksand quintana raccoon radiant
    radium railroad rainbow rainier rains raisin rake rampart range ranger ransom rattan raven
    ravine ray reader reading recluse rector redondo redwood reed reeds reedy reeves reform
    refugio regal regency regent register reliance relief remote replete represa republic resaca
    rescue reserve reunion revere rhododendron rice rich rico riddle ridge riffle rifle rig
    rincon rio risco river roach robins roca rock rocky rodeo roe roebuck roll romance ronco
    ronda rosario rose rosebud rosebush rosewood roulette roundup rover rowdy royal rubio ruby
    rugby rule rush rusk ruso rye sage salado salida salina saline salmon salvo sample
    sanatorium sanctuary sanders sandstone sandwich sandy santa santiago santo sapphire
    sassafras satin saucier savage savanna sawmills sawyer scenic scurry seaboard seaman
    searchlight sears seaside seco secretary section sedan sellers sells seltzer seminary
    sentinel serena severance shade shadow shady shamrock shanks sharps shell shepherd shields
    shiner shoals shock shook shoreline shorter silo silt silva silver sims singer singleton
    siren sisters sixes skippers skyline slat slaughter slaughters sledge slick smiley smith
    smock snow snowflake snowshoe sod soldier solitude solo soso southeastern southwest spade
    spangle sparks speaks speculator speed speedway spray spring springs spruce spur squire
    squires stab stagecoach stalwart stamps standard staples star stark starlight start startup
    static stead steins stem sterling steward stiles stokes stone stonewall stop stopover story
    stout stow strawberry street stringer strong strum sturgeon sublime sublimity subtle success
    sully sulphur sultan sultana summers summit sun sundial sundown sunfish sunflower sunrise
    sunset sunshine sunspot superior supply surprise surrey surveyor swain swan sweet swift
    swisher swiss switchback sycamore symbol tabernacle tad talent tams tangent tangerine
    tangier tanner tariff tea telegraph telephone tell teller temperance temple tensed termo
    terry thatcher thermal thicket thistle thrall thunderbolt tidewater tiff tiger tiller timber
    tina tiptop tiro toast tom tomahawk tombstone tome tony tool topaz topmost topping tornado
    tornillo tow tower trade trail trainer tram trammel tranquility tranquillity transfer trees
    triangle tribune trinity trio triplet triumph trooper tropic trotters trout true tunas
    tunnel turkey turner turners tuxedo twain twig twilight twining twist typo tyro umpire una
    union united unity universal university uno urban utopia uva vado vale valentine valentines
    valley van vanadium vantage vega vendor vera verbena vermilion vermillion vernal vesper vest
    veteran viburnum victor victory vida vidal village villas vineyard viola violet viper virgin
    vista volcano wade wagoner wake waldo wales walker wall walling walls walnut wampum wapiti
    war ward warden ware warrens warrior waterfall waterproof waters watts waves wax wayside
    weaver weed weir welch welches welcome weld welling wells welsh west westerly western
    wheeler wheeling wheelwright whistler white whitefish whiting wick widen wildcat wilder
    willow willows windfall windy wing winger wink winner winter winters wisdom wise wolf
    wolverine wood woodbine woodland woodman woods woody worth wren wrens wright yards yeoman
    yeso young yucca zamora zap zapata zephyr zigzag
"""

# Multi-word place names that are everyday phrases or the names of other things.
_COMMON_PHRASES = """
    big water | bird in hand | black jack | blue ball | burnt cabins | burnt chimney
    burnt house | canal street | cedar lane | church road | city center | country club
    cut off | deep water | dry run | due west | eight mile | eighty eight | eighty four
    fair play | falling waters | fifty six | five points | flat top | four corners
    good hope | grand view | green road | half way | happy jack | hi hat | high bridge
    high point | high view | holy cross | holy trinity | left hand | live oak | log cabin
    lone star | lone tree | lost nation | many farms | natural bridge | new church
    new deal | new era | new home | new hope | new market | new roads | new site
    ninety six | north east | north pole | north star | north street | oak leaf
    old glory | palm tree | pike road | pine apple | plain dealing | pleasant view
    red cross | red devil | red house | rising star | rising sun | rough and ready
    running water | sacred heart | seven corners | seven mile | show low
    silver lane | six mile | social circle | state college | state farm | state line
    state road | state university | sweet home | sweet water | ten mile | the bluffs
    the colony | the hills | the lakes | the plains | the rock | the village
    the villages | three way | town and country | twelve mile | two dot | union hall
    wall street | water view | weeping water | west end | what cheer | white day
    white house | wild horse | willow street | yellow jacket
    agua dulce | buena vista | casa blanca | casa grande | del mar | del rio | el campo
    el centro | el dorado | el monte | el prado | la costa | la feria | la honda
    la joya | la loma | la luz | la madera | la mesa | la palma | la plata | la quinta
    la villa | la vista | las piedras | rio grande | santa claus
"""

#: Place names that are ordinary words or phrases: free text must name them with context.
COMMON_NAMES = frozenset(_COMMON_WORDS.split()) | frozenset(
    " ".join(phrase.split()) for phrase in re.split(r"[|\n]", _COMMON_PHRASES) if phrase.strip()
)

#: A given-name place with at least this many postal codes is a city people mean by the name.
LARGE_PLACE_CODES = 10

# The generic terms of the list's county names, stripped to get the name itself.
_COUNTY_SUFFIX_RE = re.compile(
    r"\s+(County|Parish|Borough|Census Area|City and Borough|Municipality|Municipio)$"
)
# Virginia's, Maryland's and Missouri's independent cities ("Richmond city",
# "St. Louis City", also "Carson City"): the city itself, not a county.
_CITY_SUFFIX_RE = re.compile(r"\s+[Cc]ity$")


class _Code(NamedTuple):
    """One postal code of a place or county, as the table needs it."""

    code: int
    latitude: float
    longitude: float
    tier: int  # 0: active street delivery, 1: other active, 2: retired
    spelling: str  # the name as this code's record spells it
    county: str  # normalised county (or independent city) name, "" if none


class _Names(NamedTuple):
    """The codes of each (normalised name, state): main names, other names, counties."""

    main: defaultdict[tuple[str, str], list[_Code]]
    other: defaultdict[tuple[str, str], list[_Code]]
    counties: defaultdict[tuple[str, str], list[_Code]]
    # Every normalised name of each postal code, main and other.
    code_names: defaultdict[int, set[str]]


def _tier(row: Mapping[str, Any], kind: str) -> int:
    if not row.get("active", True):
        return 2
    return 0 if kind == "STANDARD" else 1


def collect(rows: Iterable[Mapping[str, Any]]) -> _Names:
    """Sort the usable records' codes under the names they give."""
    names = _Names(defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(set))
    for row in rows:
        try:
            code, state = str(row["zip_code"]), str(row["state"])
            latitude, longitude = float(row["lat"]), float(row["long"])
            city = str(row["city"])
        except (KeyError, TypeError, ValueError):
            continue  # without a code, a state, coordinates and a name: no place
        # Rows without a type come from a list that does not tell: all count.
        kind = str(row.get("zip_code_type") or "STANDARD")
        if (
            kind == "MILITARY"
            or state not in STATE_NAMES
            or len(code) != 5
            or not (code.isascii() and code.isdigit())
            or (latitude == 0 and longitude == 0)
            or not (math.isfinite(latitude) and math.isfinite(longitude))
        ):
            continue
        number, tier = int(code), _tier(row, kind)
        county_name = str(row.get("county") or "")
        bare_county = _COUNTY_SUFFIX_RE.sub("", county_name)
        city_county = _CITY_SUFFIX_RE.sub("", bare_county)
        county = normalize_place_name(city_county)
        if county and bare_county != county_name and city_county == bare_county:
            names.counties[(county, state)].append(
                _Code(number, latitude, longitude, tier, bare_county, county)
            )
        key = normalize_place_name(city)
        if key:
            names.main[(key, state)].append(_Code(number, latitude, longitude, tier, city, county))
            names.code_names[number].add(key)
        if kind == "UNIQUE":
            continue  # a firm's own code: its other names are the firm's
        for other in row.get("acceptable_cities") or ():
            other_key = normalize_place_name(str(other))
            if other_key:
                names.other[(other_key, state)].append(
                    _Code(number, latitude, longitude, tier, str(other), county)
                )
                names.code_names[number].add(other_key)
    return names


def _abbreviates(short: str, name: str) -> bool:
    """Whether ``short`` is an abbreviation of ``name`` ("colo spgs" of "colorado springs").

    That is: its letters, in order, are some of ``name``'s, starting with the
    same one, as the list shortens names ("w palm bch", "phila", "slc").
    """
    letters, full = short.replace(" ", ""), name.replace(" ", "")
    if not letters or len(letters) >= len(full) or letters[0] != full[0]:
        return False
    remaining = iter(full)
    return all(letter in remaining for letter in letters)


def _places(names: _Names) -> dict[tuple[str, str], list[_Code]]:
    """Each place's codes: main names, then the other names that are not abbreviations."""
    places = dict(names.main)
    for (key, state), codes in names.other.items():
        if (key, state) in places or any(
            _abbreviates(key, name) for code in codes for name in names.code_names[code.code]
        ):
            continue
        places[(key, state)] = codes
    return places


def _shadowed(place: list[_Code] | None, county: list[_Code], key: str) -> bool:
    """Whether a county is what its name means in its state, rather than the place of that name.

    It is when the state has no such place, or the place is outside the
    county and smaller than it ("Cobb", Georgia: one code in Sumter County).
    """
    if place is None:
        return True
    return len(county) > len(place) and all(code.county != key for code in place)


class _Row(NamedTuple):
    key: str
    state: str
    county: bool
    name: str
    flags: int
    size: int
    latitude: int
    longitude: int
    postal_code: int


def _flags(key: str, codes: list[_Code]) -> int:
    flags = 0
    if key in _STATE_BY_NAME:
        flags |= _FLAG_NEEDS_STATE
    if key in COMMON_NAMES or (key in _GIVEN_NAMES and len(codes) < LARGE_PLACE_CODES):
        flags |= _FLAG_NEEDS_CONTEXT
    return flags


def _row(key: str, state: str, codes: list[_Code], flags: int) -> _Row:
    """An entry of the table: where its best codes are, and the one nearest that."""
    best = min(code.tier for code in codes)
    used = [code for code in codes if code.tier == best]
    center = (
        math.fsum(code.latitude for code in used) / len(used),
        math.fsum(code.longitude for code in used) / len(used),
    )
    nearest = min(
        used,
        key=lambda code: (haversine_miles(center, (code.latitude, code.longitude)), code.code),
    )
    spellings = Counter(code.spelling for code in codes)
    return _Row(
        key=key,
        state=state,
        county=bool(flags & _FLAG_COUNTY),
        name=min(spellings, key=lambda spelling: (-spellings[spelling], spelling)),
        flags=flags,
        size=min(len(codes), 255),
        latitude=round(center[0] * _COORDINATE_SCALE),
        longitude=round(center[1] * _COORDINATE_SCALE),
        postal_code=nearest.code,
    )


def place_rows(rows: Iterable[Mapping[str, Any]]) -> list[_Row]:
    """The table's entries, in its order, from records as ``zipcodes.list_all()`` returns them."""
    names = collect(rows)
    places = _places(names)
    result = [_row(key, state, codes, _flags(key, codes)) for (key, state), codes in places.items()]
    result.extend(
        _row(key, state, codes, _FLAG_COUNTY)
        for (key, state), codes in names.counties.items()
        if _shadowed(places.get((key, state)), codes, key)
    )
    result.sort(key=lambda row: (row.key, row.state, row.county))
    return result


def _ascii(text: str, what: str) -> bytes:
    """``text`` as ASCII of at most 255 bytes (the table's lengths are one byte)."""
    try:
        data = text.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(f"{what} {text!r} is not ASCII") from None
    if len(data) > 255:
        raise ValueError(f"{what} {text!r} is longer than 255 characters")
    return data


def build_table(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The table's bytes for ``rows`` (records as ``zipcodes.list_all()`` returns them)."""
    places = place_rows(rows)
    states = sorted({place.state for place in places})
    state_index = {state: index for index, state in enumerate(states)}
    groups = Counter(place.key for place in places)
    keys = sorted(groups)
    if any(size > 255 for size in groups.values()):
        raise ValueError("a name has more than 255 places: the table counts them in one byte")
    key_bytes = [_ascii(key, "normalised name") for key in keys]
    spelled = [
        (index, _ascii(place.name, "name"))
        for index, place in enumerate(places)
        if place.name != _title_case(place.key)
    ]
    count = len(places)
    return b"".join(
        (
            _TABLE_HEADER.pack(
                _TABLE_MAGIC,
                _TABLE_VERSION,
                count,
                len(keys),
                len(states),
                len(spelled),
                _COORDINATE_SCALE,
            ),
            "".join(states).encode("ascii"),
            bytes(len(data) for data in key_bytes),
            bytes(groups[key] for key in keys),
            b"".join(key_bytes),
            bytes(state_index[place.state] for place in places),
            bytes(place.flags for place in places),
            bytes(place.size for place in places),
            struct.pack(f"<{count}i", *(place.latitude for place in places)),
            struct.pack(f"<{count}i", *(place.longitude for place in places)),
            struct.pack(f"<{count}I", *(place.postal_code for place in places)),
            struct.pack(f"<{len(spelled)}I", *(index for index, _ in spelled)),
            bytes(len(name) for _, name in spelled),
            b"".join(name for _, name in spelled),
        )
    )


def zipcodes_rows() -> list[dict[str, Any]]:
    """The records of the installed ``zipcodes`` package."""
    import zipcodes

    # The package's Python wrapper is untyped; list_all() returns list[dict[str, Any]].
    rows: list[dict[str, Any]] = zipcodes.list_all()  # type: ignore[no-untyped-call]
    return rows


def build_from_zipcodes() -> bytes:
    """The table built from the installed ``zipcodes`` package."""
    return build_table(zipcodes_rows())


def main(argv: list[str] | None = None) -> int:
    """Write the table (or, with --check, compare it); the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    parser.add_argument("--output", type=Path, default=TABLE, help="where the table goes")
    args = parser.parse_args(argv)
    table = build_from_zipcodes()
    entries = _TABLE_HEADER.unpack_from(table)[2]
    if args.check:
        current = args.output.read_bytes() if args.output.exists() else b""
        if current != table:
            print(f"{args.output} is stale: rebuild it with {Path(__file__).name}")
            return 1
        print(f"{args.output} is up to date ({entries:,} places and counties)")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(table)
    print(f"wrote {args.output} ({entries:,} places and counties, {len(table):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
