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

- `eal.places.names`: how names are compared (:func:`normalize_place_name`)
  and the states and their codes (:func:`state_code`);
- `eal.places.table`: the shipped table, read once (:func:`load_place_index`
  at start-up reads it before the first request instead of during it);
- `eal.places.lookup`: :func:`resolve_place`, a named city;
- `eal.places.nearby`: :func:`places_near`, the towns around a point;
- `eal.places.text`: :func:`find_places`, and the rules for reading free text.
"""

# The table's layout and flags, the given names and the state spellings are also
# importable from here for tools/build_place_index.py, which writes the table to
# match, and for tests/test_places.py, which reads tables it builds.
from eal.places.lookup import resolve_place
from eal.places.names import _STATE_BY_NAME as _STATE_BY_NAME
from eal.places.names import STATE_NAMES, normalize_place_name, state_code
from eal.places.names import _title_case as _title_case
from eal.places.nearby import places_near
from eal.places.table import _COORDINATE_SCALE as _COORDINATE_SCALE
from eal.places.table import _FLAG_COUNTY as _FLAG_COUNTY
from eal.places.table import _FLAG_NEEDS_CONTEXT as _FLAG_NEEDS_CONTEXT
from eal.places.table import _FLAG_NEEDS_STATE as _FLAG_NEEDS_STATE
from eal.places.table import _TABLE_HEADER as _TABLE_HEADER
from eal.places.table import _TABLE_MAGIC as _TABLE_MAGIC
from eal.places.table import _TABLE_VERSION as _TABLE_VERSION
from eal.places.table import Place, load_place_index
from eal.places.table import _read_table as _read_table
from eal.places.text import _GIVEN_NAMES as _GIVEN_NAMES
from eal.places.text import find_places

__all__ = [
    "STATE_NAMES",
    "Place",
    "find_places",
    "load_place_index",
    "normalize_place_name",
    "places_near",
    "resolve_place",
    "state_code",
]
