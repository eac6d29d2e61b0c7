"""The organization's SMS and email providers, from its settings, credentials decrypted."""

from __future__ import annotations

from typing import Any

from eal.integrations.smtp import SmtpConfig
from eal.integrations.twilio import TwilioConfig
from eal.kit.secretbox import SecretBox
from eal.outreach.settings import TWILIO_API


class ProviderMissing(Exception):
    """The organization has no (usable) provider for a channel; `reason` says which."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _integration(settings: dict[str, Any], name: str) -> dict[str, Any]:
    item = (settings.get("integrations") or {}).get(name)
    if not isinstance(item, dict):
        raise ProviderMissing(f"{name}_not_configured", f"no {name} provider is configured")
    return item


def _decrypt(box: SecretBox, item: dict[str, Any], field: str, name: str) -> str | None:
    token = item.get(field + "_encrypted")
    if not token:
        return None
    try:
        return box.decrypt(token)
    except ValueError as exc:
        raise ProviderMissing(
            f"{name}_credentials_unreadable",
            f"the stored {name} {field} cannot be decrypted; set it again",
        ) from exc


def twilio_config(settings: dict[str, Any], box: SecretBox) -> TwilioConfig:
    """The Twilio account to send SMS with; ProviderMissing when there is none."""
    item = _integration(settings, "sms")
    token = _decrypt(box, item, "auth_token", "sms")
    if token is None:
        raise ProviderMissing("sms_not_configured", "no Twilio auth token is stored")
    return TwilioConfig(
        account_sid=item["account_sid"],
        auth_token=token,
        from_number=item.get("from_number"),
        messaging_service_sid=item.get("messaging_service_sid"),
        base_url=item.get("base_url") or TWILIO_API,
    )


def twilio_auth_token(settings: dict[str, Any], box: SecretBox) -> str | None:
    """The auth token that signs Twilio's requests to us (None without SMS settings)."""
    try:
        return twilio_config(settings, box).auth_token
    except ProviderMissing:
        return None


def smtp_config(settings: dict[str, Any], box: SecretBox) -> SmtpConfig:
    """The SMTP server to send email with; ProviderMissing when there is none."""
    item = _integration(settings, "email")
    return SmtpConfig(
        host=item["host"],
        port=int(item["port"]),
        security=item.get("security", "starttls"),
        username=item.get("username"),
        password=_decrypt(box, item, "password", "email"),
        from_address=item["from_address"],
        from_name=item.get("from_name"),
        reply_to=item.get("reply_to"),
    )
