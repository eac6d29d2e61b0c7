"""Settings read from the environment, in the forms the README documents."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from eal.config import DEFAULT_WEBHOOK_RETRY_SCHEDULE, Settings


def test_retry_schedule_is_comma_separated_seconds(monkeypatch):
    monkeypatch.setenv("EAL_WEBHOOK_RETRY_SCHEDULE", "5, 300,1800")
    assert Settings(_env_file=None).webhook_retry_schedule == (5, 300, 1800)


def test_retry_schedule_defaults_to_the_documented_backoff(monkeypatch):
    monkeypatch.delenv("EAL_WEBHOOK_RETRY_SCHEDULE", raising=False)
    assert Settings(_env_file=None).webhook_retry_schedule == DEFAULT_WEBHOOK_RETRY_SCHEDULE
    assert DEFAULT_WEBHOOK_RETRY_SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 36000)


@pytest.mark.parametrize("raw", ["", "5,-1", "soon"])
def test_bad_retry_schedules_are_refused(monkeypatch, raw):
    monkeypatch.setenv("EAL_WEBHOOK_RETRY_SCHEDULE", raw)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
