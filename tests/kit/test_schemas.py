"""Document patterns for texts that the body strips before checking their length."""

from __future__ import annotations

import re

import pytest

from eal.calls.schemas import CallCreate
from eal.kit.schemas import stripped_at_least


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (2, "ab"),
        (2, "a b"),
        (2, "a\nb"),
        (2, " ab "),
        (2, "\u00a0l"),
        (2, "l\u00a0"),
        (2, " x "),
        (2, "\x1cx"),
        (3, "abc"),
        (3, " ab"),
        (3, "a b"),
        (3, "a  "),
    ],
)
def test_the_pattern_matches_as_the_stripped_length_decides(count: int, text: str) -> None:
    matches = re.search(stripped_at_least(count), text) is not None
    assert matches == (len(text.strip()) >= count)


def test_one_character_is_non_blank_not_this_pattern() -> None:
    with pytest.raises(ValueError):
        stripped_at_least(1)


def test_a_call_state_of_one_character_and_a_blank_is_not_in_the_document() -> None:
    schema = CallCreate.model_json_schema()["properties"]["caller_state"]["anyOf"][0]
    assert re.search(schema["pattern"], "\u00a0l") is None
    assert re.search(schema["pattern"], "GA") is not None
