"""Normalising recipients, so a suppression cannot be dodged by formatting."""

from __future__ import annotations

from eal.leads.phone import normalize_email, normalize_phone
from eal.outreach.schemas import Channel


def normalize_address(channel: Channel, raw: str, *, region: str = "US") -> str:
    """E.164 for SMS (a number without a country code is read in `region`), lower-case email.

    Raises ValueError with a message fit for an API client.
    """
    if channel is Channel.SMS:
        return normalize_phone(raw, region)
    return normalize_email(raw).lower()
