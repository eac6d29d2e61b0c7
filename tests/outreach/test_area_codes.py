"""The shipped area-code table is what tools/build_area_codes.py builds from phonenumbers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from eal.outreach.compliance import rules_for
from eal.outreach.settings import OutreachConfig

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "src" / "eal" / "outreach" / "data" / "us_area_codes.json"


def test_the_shipped_table_matches_a_rebuild() -> None:
    spec = importlib.util.spec_from_file_location(
        "build_area_codes", ROOT / "tools" / "build_area_codes.py"
    )
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    shipped = json.loads(TABLE.read_text("utf-8"))["area_codes"]
    assert tool.build() == shipped
    assert len(shipped) > 300


def test_states_come_from_the_area_code() -> None:
    config = OutreachConfig.from_settings({})
    assert rules_for("+13055550100", config, "America/New_York").state == "FL"
    assert rules_for("+12125550100", config, "America/New_York").state == "NY"
    assert rules_for("+14155550100", config, "America/New_York").state == "CA"
    assert rules_for("+442071838750", config, "America/New_York").state is None
