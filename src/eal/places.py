"""US places (a city and its state), offline: from a named city, or from free text.

A call's location can come from a city a caller or the call tracker names
(``"Marietta, GA"``; ``"customer_city": "Kennesaw", "customer_state": "GA"``),
which :func:`resolve_place` reads, or from a city said in a transcript ("I'm
over in Roswell off Holcomb Bridge"), which :func:`find_places` finds.

The places are the city names of the USPS postal code list as the ``zipcodes``
package ships it, compiled by ``tools/build_place_index.py`` into
``eal/data/us_places.bin`` (the generator's docstring gives the format and
how places, their coordinates and their flags are chosen). A place is one
name in one state; its coordinates are the mean of its postal codes', and it
carries the postal code nearest that point, so that a caller can place it in
a :class:`eal.geo.ServiceArea` that lists postal codes. The table also holds
the counties that a same-named place does not stand for ("Cobb", "Paulding"
in Georgia), only so that free text naming them is not read as a town.

The table is read on the first lookup into one block of text (the sorted
distinct names) and a few arrays (offsets, states, flags, sizes,
coordinates, postal codes), about 1 MB; no per-place Python object is kept,
because a dict of some 36,000 places to records costs several times that. A
lookup is a binary search in the block. Call :func:`load_place_index` at
start-up to read it before the first request instead of during it.

Names are compared after :func:`normalize_place_name`: case, accents and
punctuation do not count, and "St", "Ste", "Ft" and "Mt" read as "Saint",
"Sainte", "Fort" and "Mount" (the USPS list spells both "Mt Zion" and
"Mount Zion"), so "St. Louis", "st louis" and "Saint Louis" are one name.

Finding places in free text
---------------------------
A text is scanned for the longest place name starting at each word. A name
several places share (counties included) is read as the one in the state
written right after it ("Marietta, Georgia", "Marietta GA"), otherwise in
the ``state`` the caller prefers, otherwise in a state the text names
elsewhere; if that leaves several and ``near`` is given, as the one a
caller near there most likely means: the largest for its distance (postal
codes over the square of the distance plus ten miles), so that "Orlando"
said near Atlanta is Orlando, Florida, not Orlando, Kentucky, while
"Canton" is still Canton, Georgia. A name left undecided, or decided as a
county, gives nothing.

Many place names are ordinary words or phrases ("Mobile", "Hope", "Normal",
"Commerce", "Red Cross", "Cut Off", "Ninety Six", "piso"), given names
("Dana", "Marion") of small places, or the names of states ("Washington",
"Indiana"). The table flags those places (the generator says which and
why), and the rule for them is:

- a flagged place is accepted when its state follows it ("Hope, Arkansas",
  "Mobile AL", "normal illinois");
- a place flagged as a common word or name is also accepted when it is
  capitalised, in a text that has both cases, right after a word that
  introduces a location: "in", "from", "near", "outside", "around", the
  Spanish "en", "de" and "desde", or "of" after "outside", "north", ...
  ("I'm in Mobile", "soy de Commerce", "just north of Canton"). A text in one
  case (speech-to-text that does not capitalise, a shouting tracker field)
  gives no such evidence, and a capitalised word at the start of a sentence
  ("Hope you can help") or after a colon ("From: State Farm") has no such
  word before it;
- a place named like a state needs its state after it ("Washington, DC");
  alone, the name is read as the state, which only helps to choose others.

Any match is dropped when the next word makes it a road, a county, a
property or a business ("Roswell Road", "Holcomb Bridge", "Cobb County",
"Willow Creek HOA", "Erie Insurance"), or when the words before it
introduce a person ("this is Austin", "my name is Tyler", "Mrs. Marion",
"Paul Davis", "Kevin Duarte"). E-mail and web addresses are skipped.
"""

from __future__ import annotations

import re
import struct
import sys
import unicodedata
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import accumulate, pairwise
from typing import NamedTuple

from eal.geo import haversine_miles

__all__ = [
    "STATE_NAMES",
    "Place",
    "find_places",
    "load_place_index",
    "normalize_place_name",
    "resolve_place",
    "state_code",
]

#: The states, district and territories that have USPS postal codes, by code.
STATE_NAMES: dict[str, str] = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "DC": "District of Columbia",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "AS": "American Samoa",
    "FM": "Federated States of Micronesia",
    "GU": "Guam",
    "MH": "Marshall Islands",
    "MP": "Northern Mariana Islands",
    "PR": "Puerto Rico",
    "PW": "Palau",
    "VI": "Virgin Islands",
}

# --- names ----------------------------------------------------------------------

# Abbreviations the USPS list itself mixes with the full words ("Mt Zion",
# "Mount Zion"; "St Thomas", "Saint Louis"): both sides are read in full.
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "ft": "fort", "mt": "mount"}
# A letter alone before an apostrophe is an elided article ("O'Fallon",
# "Coeur d'Alene"), which the USPS list spells as a word ("O Fallon", "Coeur
# D Alene"); any other apostrophe just goes ("Lee's Summit", "Lees Summit").
_ELISION_RE = re.compile(r"(?<![^\W_])([^\W\d_])['\u2019](?=[^\W\d_])")
_APOSTROPHE_RE = re.compile(r"(?<=[^\W_])['\u2019](?=[^\W_])")
_WORD_RE = re.compile(r"[^\W_]+")


def _prepare(text: str) -> str:
    """Rewrite apostrophes and ampersands the way the list spells names."""
    text = _ELISION_RE.sub(r"\1 ", text.replace("&", " and "))
    return _APOSTROPHE_RE.sub("", text)


def _fold(word: str) -> str:
    """One word without accents, in lower case, abbreviations spelled out."""
    decomposed = unicodedata.normalize("NFKD", word).casefold()
    folded = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _ABBREVIATIONS.get(folded, folded)


def _words(text: str) -> list[str]:
    return [_fold(match.group()) for match in _WORD_RE.finditer(_prepare(text))]


def normalize_place_name(name: str) -> str:
    """The form names are compared in: folded words joined by single spaces.

    ``"St. Louis"``, ``"st louis"`` and ``"Saint Louis"`` all give ``"saint
    louis"``; ``"Cañon City"`` gives ``"canon city"``, ``"O'Fallon"`` ``"o
    fallon"`` and ``"Winston-Salem"`` ``"winston salem"``.
    """
    return " ".join(_words(name))


def _title_case(key: str) -> str:
    """The spelling a name is shown in unless the table records another.

    Most names in the USPS list are their normalised form with each word
    capitalised, so the table stores only the others (the generator uses
    this very function to tell which).
    """
    return " ".join(word[:1].upper() + word[1:] for word in key.split(" "))


def _word_set(words: str) -> frozenset[str]:
    """The words of a literal list written as text (one per word, any spacing)."""
    return frozenset(words.split())


# Normalised state names (and the spellings of DC) to codes.
_STATE_BY_NAME: dict[str, str] = {
    normalize_place_name(name): code for code, name in STATE_NAMES.items()
} | {
    "d c": "DC",
    "washington d c": "DC",
    "us virgin islands": "VI",
    "u s virgin islands": "VI",
    "micronesia": "FM",
}
_STATE_NAME_WORDS = max(len(name.split()) for name in _STATE_BY_NAME)
# State codes that are also words (English or Spanish) or common
# abbreviations: lower case, they are read as a code only after a comma, and
# never alone.
_CODE_WORDS = _word_set("al as co ct de fm hi id in la ma me mi mo ms ne oh ok or pa va vi")

# Common US given names (normalised). A place named like one right after a
# given name is a surname ("Paul Davis", "Kevin Duarte"); a small place named
# like one is flagged (the generator reads this list too).
_GIVEN_NAMES = _word_set(
    """
    aaron abby abigail adam adrian adriana agnes aidan aiden alan albert alberto alejandra
    alejandro alex alexa alexander alexandra alexis alfred alfredo alice alicia alison allen
    allison alma alyssa amanda amber amelia amy ana andrea andres andrew andy angel angela
    angelica angie anita ann anna anne annette annie anthony antonio april arthur ashley
    audrey austin ava avery barbara barry becky ben benjamin bernard beth betty beverly bill
    billy blake bob bobby bonnie brad bradley brandi brandon brandy brenda brent brett brian
    brianna bridget brittany brooke bruce bryan caleb cameron camila candace carl carla
    carlos carmen carol caroline carolyn carrie carter casey cassandra catherine cathy
    cecilia chad charlene charles charlie charlotte chase chelsea cheryl chester chloe chris
    christian christina christine christopher cindy claire clara clarence claudia clay
    clayton clifford clint clyde cody colin colleen connie connor cora corey courtney craig
    crystal curtis cynthia daisy dale dallas dan dana daniel daniela danielle danny darlene
    darrell darren dave david dawn dean deanna debbie deborah debra delores denise dennis
    derek derrick destiny devin diana diane dianne dolores dominic don donald donna doris
    dorothy douglas drew duane dustin dwayne dylan earl ed eddie edgar edith edna eduardo
    edward eileen elaine eleanor elena eli elijah elizabeth ella ellen ellis elmer eloise
    elsie emily emma enrique eric erica erik erin ernest esperanza esther ethan ethel eugene
    eva evan evelyn faith fay felicia felipe fernando florence floyd frances francis
    francisco frank franklin fred freddie frederick gabriel gabriela gail gary gene george
    gerald geraldine gilbert gina glen glenn gloria gordon grace grant greg gregory
    guadalupe gwen hailey hannah harold harry harvey hazel heather hector heidi helen henry
    herbert herman holly homer hope howard hunter ian ida irene iris isaac isabel isabella
    ivan jack jackie jacob jacqueline jaime jake james jamie jan jane janet janice jared
    jasmine jason javier jay jean jeanette jeff jeffery jeffrey jen jenna jennifer jenny
    jeremiah jeremy jerome jerry jesse jessica jesus jill jim jimmy jo joan joann joanne joe
    joel john johnny jon jonathan jordan jorge jose joseph josephine josh joshua joy joyce
    juan juanita judith judy julia julian julie june justin kaitlyn karen karina karl kate
    katherine kathleen kathryn kathy katie kay kayla keith kelly kelsey ken kendra kenneth
    kerry kevin kim kimberly kirk kristen kristin kristina krystal kurt kyle lance larry
    laura lauren laurie leah lee leila lena leo leon leonard leroy leslie lester lewis
    lillian lily linda lindsay lindsey lisa liz lloyd logan lois lonnie lori lorraine louis
    louise lucas lucia lucy luis luke luther lydia lyle lynn mabel mackenzie madeline
    madison mae maggie manuel marc marcia marco marcus margaret margarita maria mariah
    marian marie marilyn mario marion marisol marjorie mark marlene marsha marshall martha
    martin marvin mary mason matt matthew maureen maurice max maxine megan melanie melinda
    melissa melvin mercedes meredith mia michael micheal michele michelle miguel mike
    mildred milton mindy miranda misty mitchell molly monica monique morgan myrtle nancy
    naomi natalie natasha nathan nathaniel neil nelson nicholas nick nicole noah nora norma
    norman olivia opal oscar otis pablo pam pamela pat patricia patrick patsy patty paul
    paula pauline pearl pedro peggy penny perry pete peter phil philip phillip phyllis
    priscilla rachel rafael ralph ramon randall randy raquel raul ray raymond rebecca regina
    renee rex rhonda ricardo richard rick ricky riley rita rob robert roberta roberto robin
    rochelle rodney roger roland ron ronald ronnie rosa rosalie rose rosemary ross roxanne
    roy ruben ruby russell ruth ryan sabrina sally sam samantha samuel sandra sandy sara
    sarah savannah scott sean selena sergio seth shane shannon sharon shawn sheila shelby
    shelia shelly sherri sherry shirley sidney sierra silvia sofia sonia sophia stacey stacy
    stanley stella stephanie stephen steve steven sue susan suzanne sydney sylvia tamara
    tammy tanya tara taylor ted teresa terrence terri terry thelma theodore theresa thomas
    tiffany tim timothy tina toby todd tom tommy toni tony tonya tracey traci tracy travis
    trent trevor tricia troy tyler valerie vanessa vera vernon veronica vicki vickie victor
    victoria vincent viola violet virgil virginia vivian wade walter wanda warren wayne
    wendy wesley whitney willard william willie wilma wilson yolanda yvonne zachary zoe
    """
)


def state_code(state: str) -> str | None:
    """The two-letter code of a US state or territory given by code or name.

    ``"GA"``, ``"ga."`` and ``"Georgia"`` give ``"GA"``; ``"DC"``, ``"D.C."``
    and ``"District of Columbia"`` give ``"DC"``. Anything else gives None.
    """
    key = normalize_place_name(state)
    if key.upper() in STATE_NAMES:
        return key.upper()
    return _STATE_BY_NAME.get(key)


# --- the table ---------------------------------------------------------------------

# The place table (see tools/build_place_index.py, which writes it).
# Little-endian: a header (magic, format version, and the counts of entries,
# distinct names, states and spelled-out display names, and the coordinate
# scale), then the sections _read_table reads in order.
_TABLE_HEADER = struct.Struct("<4sIIIIII")
_TABLE_MAGIC = b"EALP"
_TABLE_VERSION = 1
# Ten-thousandths of a degree (about 11 m), as in eal.geo's table; a place's
# coordinates are a mean of its postal codes', rounded to that.
_COORDINATE_SCALE = 10_000
_TABLE_PATH = ("data", "us_places.bin")
# Entry flags. A place named like a common word or phrase, or a small place
# named like a given name: free text must name it with its state after it, or
# capitalised after a word like "in".
_FLAG_NEEDS_CONTEXT = 1
# A place named like a state: free text must name it with its state after it.
_FLAG_NEEDS_STATE = 2
# Not a place but a county of that name, which text naming it more likely
# means than the same-named places (it is never a result).
_FLAG_COUNTY = 4


@dataclass(frozen=True, slots=True)
class Place:
    """A US place: a city name in a state, where its postal codes are.

    ``name`` is spelled as the USPS list spells it; ``latitude`` and
    ``longitude`` are the mean of its postal codes' (of its street-delivery
    codes, when it has any); ``postal_code`` is the one of those nearest that
    point, to place the city in a service area that lists postal codes.
    """

    name: str
    state: str
    latitude: float
    longitude: float
    postal_code: str

    @property
    def coordinates(self) -> tuple[float, float]:
        """``(latitude, longitude)``, as :mod:`eal.geo` takes points."""
        return (self.latitude, self.longitude)


@dataclass(frozen=True, slots=True)
class _PlaceTable:
    keys: str  # the distinct normalised names, sorted, one after the other
    key_starts: array[int]  # name i is keys[key_starts[i]:key_starts[i + 1]]
    entry_starts: array[int]  # its entries are entry_starts[i] .. entry_starts[i + 1] - 1
    state_codes: tuple[str, ...]
    states: array[int]  # per entry: index into state_codes
    flags: array[int]  # per entry: _FLAG_* bits
    sizes: array[int]  # per entry: its postal codes, at most 255
    latitudes: array[int]  # per entry, in 1/scale degrees
    longitudes: array[int]
    postal_codes: array[int]
    spelled: array[int]  # the entries whose name is not _title_case(key), ascending
    spellings: str  # their names, one after the other
    spelling_starts: array[int]
    scale: int
    max_words: int  # the most words in a name

    def key(self, index: int) -> str:
        return self.keys[self.key_starts[index] : self.key_starts[index + 1]]

    def find(self, key: str) -> int:
        """Index of the first name >= ``key`` (binary search in the block)."""
        return bisect_left(range(len(self.key_starts) - 1), key, key=self.key)

    def entries(self, key: str) -> range:
        """The entries named ``key``, counties too (an empty range if none)."""
        index = self.find(key)
        if index < len(self.key_starts) - 1 and self.key(index) == key:
            return range(self.entry_starts[index], self.entry_starts[index + 1])
        return range(0)

    def has_prefix(self, words: str) -> bool:
        """Whether a longer name starts with ``words`` and a space."""
        # A space sorts before every letter and digit, so the names that go on
        # from ``words`` come first among those after ``words + " "``.
        prefix = words + " "
        index = self.find(prefix)
        return index < len(self.key_starts) - 1 and self.key(index).startswith(prefix)

    def state(self, entry: int) -> str:
        return self.state_codes[self.states[entry]]

    def is_county(self, entry: int) -> bool:
        return bool(self.flags[entry] & _FLAG_COUNTY)

    def point(self, entry: int) -> tuple[float, float]:
        return (self.latitudes[entry] / self.scale, self.longitudes[entry] / self.scale)

    def place(self, entry: int, key: str) -> Place:
        """The Place record of entry ``entry``, named ``key``."""
        spelled = bisect_left(self.spelled, entry)
        if spelled < len(self.spelled) and self.spelled[spelled] == entry:
            name = self.spellings[self.spelling_starts[spelled] : self.spelling_starts[spelled + 1]]
        else:
            name = _title_case(key)
        latitude, longitude = self.point(entry)
        return Place(
            name, self.state(entry), latitude, longitude, f"{self.postal_codes[entry]:05d}"
        )


class _Reader:
    """Consumes the table's sections in order."""

    def __init__(self, data: bytes, offset: int) -> None:
        self.data = memoryview(data)
        self.offset = offset

    def take(self, size: int) -> memoryview:
        if self.offset + size > len(self.data):
            raise ValueError("place table: truncated")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def text(self, size: int) -> str:
        return str(self.take(size), "ascii")

    def column(self, typecode: str, count: int) -> array[int]:
        column: array[int] = array(typecode)
        column.frombytes(self.take(column.itemsize * count))
        if column.itemsize > 1 and sys.byteorder != "little":
            column.byteswap()
        return column


def _read_table(data: bytes) -> _PlaceTable:
    """Parse the shipped table; ValueError if it is not one this code reads."""
    if len(data) < _TABLE_HEADER.size:
        raise ValueError("place table: truncated header")
    magic, version, entries, keys, states, spelled, scale = _TABLE_HEADER.unpack_from(data)
    if magic != _TABLE_MAGIC or version != _TABLE_VERSION:
        raise ValueError(f"place table: unknown format {magic!r} version {version}")
    for typecode in ("I", "i"):
        if array(typecode).itemsize != 4:  # a C int of another size: the bytes would not fit
            raise RuntimeError(f"array({typecode!r}) is not 32-bit here")
    reader = _Reader(data, _TABLE_HEADER.size)
    state_text = reader.text(2 * states)
    state_codes = tuple(state_text[i : i + 2] for i in range(0, len(state_text), 2))
    # Lengths and counts are stored, offsets computed (in C, by accumulate):
    # smaller file, and no Python loop over the entries at load.
    key_starts = array("I", accumulate(reader.column("B", keys), initial=0))
    entry_starts = array("I", accumulate(reader.column("B", keys), initial=0))
    key_text = reader.text(key_starts[-1])
    entry_states = reader.column("B", entries)
    flags = reader.column("B", entries)
    sizes = reader.column("B", entries)
    latitudes = reader.column("i", entries)
    longitudes = reader.column("i", entries)
    postal_codes = reader.column("I", entries)
    spelled_entries = reader.column("I", spelled)
    spelling_starts = array("I", accumulate(reader.column("B", spelled), initial=0))
    spellings = reader.text(spelling_starts[-1])
    if reader.offset != len(data) or entry_starts[-1] != entries or scale <= 0:
        raise ValueError(f"place table: {len(data)} bytes do not hold {entries} entries")
    if entry_states and max(entry_states) >= len(state_codes):
        raise ValueError("place table: an entry's state is not in the table")
    return _PlaceTable(
        keys=key_text,
        key_starts=key_starts,
        entry_starts=entry_starts,
        state_codes=state_codes,
        states=entry_states,
        flags=flags,
        sizes=sizes,
        latitudes=latitudes,
        longitudes=longitudes,
        postal_codes=postal_codes,
        spelled=spelled_entries,
        spellings=spellings,
        spelling_starts=spelling_starts,
        scale=scale,
        # The longest name, in words, bounds how far a text match is tried.
        max_words=1 + max((key_text.count(" ", a, b) for a, b in pairwise(key_starts)), default=0),
    )


@cache
def _place_table() -> _PlaceTable:
    """Read the shipped place table once per process."""
    resource = resources.files("eal")
    for part in _TABLE_PATH:
        resource = resource / part
    return _read_table(resource.read_bytes())


def load_place_index() -> int:
    """Load the place index now (if not loaded yet); return how many places it holds."""
    table = _place_table()
    return sum(1 for flags in table.flags if not flags & _FLAG_COUNTY)


# --- resolving a named city -------------------------------------------------------


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


# --- places in free text ---------------------------------------------------------

# Words after which a capitalised common-word name reads as a location.
_LOCATION_WORDS = _word_set("in from near outside around en de desde")
# "of" does too after these ("north of Canton", "the town of Commerce").
_BEFORE_OF = _word_set(
    "outside north south east west northeast northwest southeast southwest city town"
)
# A next word that makes the match part of the name of a road, a county, a
# property or a business, none of which need be in the town of that name.
_NOT_A_PLACE_AFTER = _word_set(
    """
    county counties parish borough road rd street avenue ave boulevard blvd drive lane ln
    parkway pkwy highway hwy freeway fwy expressway court circle pike trail bridge
    hoa apartments apartment apts condos condo condominium condominiums townhomes
    townhouses properties property association community communities subdivision
    homeowners insurance mutual bank claims llc inc corp corporation company group
    management realty partners
    """
)
# "St" after a name is a street ("Marietta St"), though it reads "saint" elsewhere.
_STREET_ABBREVIATIONS = frozenset({"st", "dr"})
# Words right before a name that introduce a person, and two-word introductions.
_PERSON_BEFORE = _word_set(
    "mr mrs ms miss mister dr doctor names sr sra srta senor senora llamo soy"
)
_PERSON_BEFORE_PAIRS = frozenset({("this", "is"), ("name", "is"), ("i", "m"), ("i", "am")})
# Businesses named with a place ("Wells Fargo" is not Fargo, North Dakota).
_BUSINESS_PAIRS = frozenset({("wells", "fargo")})
# E-mail and web addresses ("dana@ridgeview.com") hold words that are no
# mention of a place; they are cut out, leaving a stop so no name spans them.
_ADDRESS_RE = re.compile(r"\S+@\S+|\b(?:https?://|www\.)\S+", re.IGNORECASE)
# Punctuation that ends a sentence or a clause: "I'm in Marietta. OK, so..."
# does not say Marietta, Oklahoma.
_STOPS = frozenset(".!?;:")


class _Token(NamedTuple):
    word: str  # normalised
    raw: str  # as written
    comma_before: bool  # a comma between it and the previous word
    stop_before: bool  # a sentence or clause ends between it and the previous word


class _Match(NamedTuple):
    start: int  # first token
    end: int  # token after the name
    key: str
    entries: range
    state: str | None  # the state written right after the name


def _tokens(text: str) -> list[_Token]:
    prepared = _prepare(_ADDRESS_RE.sub(" ; ", text))
    tokens: list[_Token] = []
    previous_end = 0
    for match in _WORD_RE.finditer(prepared):
        between = prepared[previous_end : match.start()]
        # "St. Louis", "D.C.": a period right after a one- or two-letter
        # word is an abbreviation's, not a sentence's end.
        abbreviated = bool(tokens) and len(tokens[-1].raw) <= 2 and between.strip() == "."
        stop = not abbreviated and any(char in _STOPS for char in between)
        tokens.append(_Token(_fold(match.group()), match.group(), "," in between, stop))
        previous_end = match.end()
    return tokens


def _state_at(
    tokens: list[_Token], index: int, cased: bool, *, alone: bool = False
) -> tuple[str, int] | None:
    """A state written at ``tokens[index]``: its code and how many tokens it takes.

    Names count in any case. After a place name, a code counts in upper case
    in a text with both cases, after a comma, or in an upper-case text when
    it is not a word too ("Mobile AL", "Marietta, ga", "HOPE, IN"; not "hope
    in", "MOBILE IN"). Standing ``alone`` (not after a place), a code counts
    only in upper case and when it is no word ("GA", not "OK" or "IN").
    """
    if index >= len(tokens) or (not alone and tokens[index].stop_before):
        return None
    for size in range(min(_STATE_NAME_WORDS, len(tokens) - index), 0, -1):
        code = _STATE_BY_NAME.get(" ".join(token.word for token in tokens[index : index + size]))
        if code is not None:
            return code, size
    token = tokens[index]
    code = token.word.upper()
    if len(token.word) != 2 or code not in STATE_NAMES:
        return None
    upper = token.raw.isupper()
    word_like = token.word in _CODE_WORDS
    if alone:
        return (code, 1) if upper and not word_like else None
    if (upper and (cased or not word_like)) or (token.comma_before and (upper or not word_like)):
        return code, 1
    return None


def _longest_name(table: _PlaceTable, tokens: list[_Token], start: int) -> tuple[str, int] | None:
    """The longest name in the table starting at ``tokens[start]``, and its end."""
    found: tuple[str, int] | None = None
    words = ""
    for end in range(start + 1, min(start + table.max_words, len(tokens)) + 1):
        if end > start + 1 and tokens[end - 1].stop_before:
            break  # a name does not run across sentences
        words = tokens[end - 1].word if end == start + 1 else f"{words} {tokens[end - 1].word}"
        if table.entries(words):
            found = (words, end)
        if not table.has_prefix(words):
            break
    return found


def _scan(table: _PlaceTable, tokens: list[_Token], cased: bool) -> tuple[list[_Match], set[str]]:
    """The name matches in ``tokens`` (the longest at each word), and the states the text names."""
    matches: list[_Match] = []
    states: set[str] = set()
    index = 0
    while index < len(tokens):
        found = _longest_name(table, tokens, index)
        alone = _state_at(tokens, index, cased, alone=True)
        if found is not None:
            key, end = found
            after = _state_at(tokens, end, cased)
            # A name that is a state's ("Washington", "New York") is the state
            # unless a state follows it ("Washington, DC").
            if after is not None or alone is None or len(key.split()) > alone[1]:
                state, size = after if after is not None else (None, 0)
                matches.append(_Match(index, end, key, table.entries(key), state))
                if state is not None:
                    states.add(state)
                index = end + size
                continue
        if alone is not None:
            states.add(alone[0])
            index += alone[1]
            continue
        index += 1
    return matches, states


def _vetoed(tokens: list[_Token], match: _Match, after_place: bool) -> bool:
    """Whether the words around a match make it a road, a county, a business or a person.

    ``after_place``: the word before is the end of a place found, which is
    then no given name ("Dallas Fort Worth").
    """
    if match.state is None and match.end < len(tokens) and not tokens[match.end].stop_before:
        following = tokens[match.end]
        if following.word in _NOT_A_PLACE_AFTER:
            return True
        if following.raw.casefold() in _STREET_ABBREVIATIONS and not following.comma_before:
            return True
    first = tokens[match.start]
    if match.start == 0 or first.stop_before or first.comma_before:
        return False
    before = [token.word for token in tokens[max(0, match.start - 2) : match.start]]
    return (
        before[-1] in _PERSON_BEFORE
        or (before[-1] in _GIVEN_NAMES and not after_place)
        or (before[-1], first.word) in _BUSINESS_PAIRS
        or (len(before) == 2 and (before[0], before[1]) in _PERSON_BEFORE_PAIRS)
    )


def _introduced(tokens: list[_Token], match: _Match, cased: bool) -> bool:
    """Whether a match is capitalised right after a word that introduces a location."""
    first = tokens[match.start]
    if not cased or match.start == 0 or first.stop_before or not first.raw[:1].isupper():
        return False
    previous = tokens[match.start - 1].word
    if previous in _LOCATION_WORDS:
        return True
    return previous == "of" and match.start >= 2 and tokens[match.start - 2].word in _BEFORE_OF


def _likeliest(table: _PlaceTable, entries: Sequence[int], near: tuple[float, float]) -> int:
    """The entry a mention near ``near`` most likely means: postal codes over squared miles.

    The ten miles keep a place right at ``near`` from winning on distance
    alone, and let size count where distances are alike.
    """

    def weight(entry: int) -> float:
        return table.sizes[entry] / (haversine_miles(near, table.point(entry)) + 10.0) ** 2

    return max(entries, key=weight)


def _choose(
    table: _PlaceTable,
    match: _Match,
    preferred: str | None,
    named: set[str],
    near: tuple[float, float] | None,
) -> int | None:
    """The entry a match means, or None when the states in play leave it undecided."""
    candidates: list[int] = list(match.entries)
    if match.state is not None:
        # "Cobb, Georgia" says a place: the county only if there is none.
        in_state = [entry for entry in candidates if table.state(entry) == match.state]
        places = [entry for entry in in_state if not table.is_county(entry)]
        candidates = places or in_state
    else:
        for states in ({preferred} if preferred else set(), named):
            if in_states := [entry for entry in candidates if table.state(entry) in states]:
                candidates = in_states
                break
    if len(candidates) == 1:
        return candidates[0]
    if candidates and near is not None:
        return _likeliest(table, candidates, near)
    return None


def find_places(
    text: str,
    *,
    near: tuple[float, float] | None = None,
    state: str | None = None,
) -> list[Place]:
    """The places named in free text (a transcript), longest name first.

    "we're in east cobb near marietta georgia" gives Marietta, GA. The
    module's docstring gives the rules: how a name several places share is
    decided (the state written after it, then ``state``, then a state the
    text names, then the likeliest near ``near``; undecided names are left
    out) and when a name that is also a common word is taken for a place.
    Each place is listed once; names of equal length keep the text's order.
    A ``state`` (code or name) that names no state is no preference.
    """
    tokens = _tokens(text)
    if not tokens:
        return []
    table = _place_table()
    cased = any(char.isupper() for char in text) and any(char.islower() for char in text)
    preferred = state_code(state) if state else None
    matches, named = _scan(table, tokens, cased)
    found: dict[tuple[str, str], tuple[int, int, Place]] = {}
    place_ends: set[int] = set()
    for match in matches:
        if _vetoed(tokens, match, match.start in place_ends):
            continue
        entry = _choose(table, match, preferred, named, near)
        if entry is None or table.is_county(entry):
            continue
        flags = table.flags[entry]
        if match.state is None and (
            flags & _FLAG_NEEDS_STATE
            or (flags & _FLAG_NEEDS_CONTEXT and not _introduced(tokens, match, cased))
        ):
            continue
        place = table.place(entry, match.key)
        place_ends.add(match.end)
        found.setdefault((place.name, place.state), (-len(match.key), match.start, place))
    return [place for _, _, place in sorted(found.values(), key=lambda item: item[:2])]
