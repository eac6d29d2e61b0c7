"""Place names in the form they are compared in, and the US states and their codes.

Names are compared after :func:`normalize_place_name`: case, accents and
punctuation do not count, and "St", "Ste", "Ft" and "Mt" read as "Saint",
"Sainte", "Fort" and "Mount" (the USPS list spells both "Mt Zion" and
"Mount Zion"), so "St. Louis", "st louis" and "Saint Louis" are one name.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["STATE_NAMES", "normalize_place_name", "state_code"]

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


def state_code(state: str) -> str | None:
    """The two-letter code of a US state or territory given by code or name.

    ``"GA"``, ``"ga."`` and ``"Georgia"`` give ``"GA"``; ``"DC"``, ``"D.C."``
    and ``"District of Columbia"`` give ``"DC"``. Anything else gives None.
    """
    key = normalize_place_name(state)
    if key.upper() in STATE_NAMES:
        return key.upper()
    return _STATE_BY_NAME.get(key)
