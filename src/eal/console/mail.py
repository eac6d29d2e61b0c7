"""Sign-in links by email: through the organization's own SMTP settings.

Without email settings the link is written to the service's log (one line,
`console_sign_in_link`), so whoever runs the service can hand it on: a
self-hosted install often has no mail server on its first day.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import make_msgid

import structlog

from eal.db.tx import Tx
from eal.integrations.smtp import SmtpError, format_mailbox, send_email, sender_header
from eal.kit.outbound import UnsafeUrl
from eal.organizations import repository as organizations
from eal.outreach.providers import ProviderMissing, smtp_config
from eal.runtime import Runtime

log = structlog.get_logger(__name__)

#: Seconds the whole SMTP exchange of one sign-in email may take.
SMTP_TIMEOUT_SECONDS = 20.0


def message(sender: str, to: str, subject: str, text: str) -> EmailMessage:
    """A plain-text service email (Message-ID, Auto-Submitted) from the organization."""
    built = EmailMessage()
    built["From"] = sender
    built["To"] = format_mailbox(None, to)
    built["Subject"] = subject
    built["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].rstrip(">"))
    built["Auto-Submitted"] = "auto-generated"
    built.set_content(text)
    return built


def _sign_in_message(sender: str, to: str, organization: str, url: str) -> EmailMessage:
    return message(
        sender,
        to,
        f"Sign in to the {organization} console",
        f"Open this link to sign in to the {organization} console:\n\n{url}\n\n"
        "It works once, within 30 minutes. If you did not ask to sign in, ignore this email.",
    )


async def send_sign_in_link(
    runtime: Runtime, organization_id: uuid.UUID, email: str, url: str, tx: Tx
) -> bool:
    """Email `url` to `email` from the organization's address; True when sent.

    Without email settings, or when the server refuses, the link goes to the log
    instead (a refusal is logged as a warning with its reason, never the password).
    """
    org = await organizations.get(tx.conn, organization_id)
    settings = dict(org.settings or {}) if org is not None else {}
    name = org.name if org is not None else "eal"
    try:
        config = smtp_config(settings, runtime.secret_box)
    except ProviderMissing:
        log.warning(
            "console_sign_in_link",
            reason="no email settings: hand this link to the person",
            email=email,
            sign_in_link=url,
        )
        return False
    try:
        await send_email(
            config,
            _sign_in_message(sender_header(config), email, name, url),
            runtime.outbound,
            timeout=SMTP_TIMEOUT_SECONDS,
        )
    except (SmtpError, UnsafeUrl, OSError) as exc:
        log.warning(
            "console_sign_in_link",
            reason=f"the email could not be sent: {type(exc).__name__}",
            email=email,
            sign_in_link=url,
        )
        return False
    log.info("console_sign_in_link_sent", email=email)
    return True
