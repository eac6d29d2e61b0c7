"""Build src/eal/outreach/data/us_area_codes.json: each US area code's state.

The state of a US number decides which state's texting rules apply. The
phonenumbers geocoder knows it, but loading its data costs about 100 MB of
memory in every process; area codes never cross state lines, so a table of
the few hundred US area codes, built from that data here, answers the same
question in a few kilobytes.

Run after upgrading phonenumbers:

    python tools/build_area_codes.py
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from pathlib import Path

import phonenumbers
from phonenumbers import geocoder

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "src" / "eal" / "outreach" / "data" / "sms_rules.json"
OUT = ROOT / "src" / "eal" / "outreach" / "data" / "us_area_codes.json"


def fold(text: str) -> str:
    """Lower-case, accents and punctuation dropped (as the compliance rules fold names)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join("".join(c if c.isalnum() else " " for c in plain.lower()).split())


def state_of(description: str, names: dict[str, str], codes: set[str]) -> str | None:
    """ "Florida" or "Brooksville, FL" -> "FL"."""
    code = names.get(fold(description))
    if code is None and "," in description:
        suffix = description.rsplit(",", 1)[1].strip().upper()
        code = suffix if suffix in codes else None
    return code


def build() -> dict[str, str]:
    """Area code -> state code, from phonenumbers' geocoding data."""
    raw = json.loads(RULES.read_text("utf-8"))
    names = {fold(n): code for code, aliases in raw["us_states"].items() for n in aliases}
    codes = set(raw["us_states"])
    table: dict[str, str] = {}
    for npa in range(200, 1000):
        votes: Counter[str] = Counter()
        for exchange in range(201, 1000, 7):
            number = phonenumbers.parse(f"+1{npa}{exchange}0100")
            if phonenumbers.region_code_for_number(number) != "US":
                continue
            if not phonenumbers.is_valid_number(number):
                continue
            code = state_of(geocoder.description_for_number(number, "en"), names, codes)
            if code is not None:
                votes[code] += 1
        if votes:
            table[str(npa)] = votes.most_common(1)[0][0]
    return dict(sorted(table.items()))


def main() -> None:
    table = build()
    document = {
        "_about": (
            "US area code -> state (USPS code), built by tools/build_area_codes.py from "
            f"phonenumbers {phonenumbers.__version__}'s geocoding data."
        ),
        "area_codes": table,
    }
    OUT.write_text(json.dumps(document, indent=0, sort_keys=False) + "\n", "utf-8")
    print(f"{len(table)} area codes -> {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
