"""Places named in free text (a transcript, a message): :func:`find_places`.

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
from collections.abc import Sequence
from typing import NamedTuple

from eal.geo import haversine_miles
from eal.places.names import (
    _STATE_BY_NAME,
    _STATE_NAME_WORDS,
    _WORD_RE,
    STATE_NAMES,
    _fold,
    _prepare,
    state_code,
)
from eal.places.table import (
    _FLAG_NEEDS_CONTEXT,
    _FLAG_NEEDS_STATE,
    Place,
    _place_table,
    _PlaceTable,
)

__all__ = ["find_places"]


def _word_set(words: str) -> frozenset[str]:
    """The words of a literal list written as text (one per word, any spacing)."""
    return frozenset(words.split())


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
