"""Background work of the console: emailing a new location's invite.

When a parent organization with email settings creates a location with a
`primary_admin_email`, the invite link is sent from the parent's address. An
unreachable mail server is retried with backoff; a refusal for good (bad
credentials, a refused recipient) is logged and ends the job: the parent
still has the invite_url the API returned.
"""

from __future__ import annotations

import structlog

from eal import jobs
from eal.console.mail import SMTP_TIMEOUT_SECONDS, message
from eal.integrations.smtp import SmtpError, send_email, sender_header
from eal.kit.outbound import UnsafeUrl
from eal.organizations import repository as organizations
from eal.organizations.service import INVITE_EMAIL_TASK, InviteEmail
from eal.outreach.providers import ProviderMissing, smtp_config

log = structlog.get_logger("eal.console")

INVITE_RETRY = jobs.RetryPolicy(max_attempts=6)


async def invite_email(ctx: jobs.JobContext, payload: InviteEmail) -> None:
    """Email the invite link to the new location's admin, from the parent organization."""
    async with ctx.transaction() as tx:
        parent = await organizations.get(tx.conn, ctx.organization_id)
    if parent is None:
        return
    runtime = ctx.runtime
    try:
        config = smtp_config(dict(parent.settings or {}), runtime.secret_box)
    except ProviderMissing:
        log.warning("invite_email_skipped", reason="the parent has no email settings any more")
        return
    url = runtime.secret_box.decrypt(payload.url_encrypted)
    text = (
        f"{parent.name} invites you to run {payload.organization_name} on eal.\n\n"
        f"Open this link to accept and see your first admin key:\n\n{url}\n\n"
        "The invitation works once, within 7 days."
    )
    built = message(
        sender_header(config),
        payload.email,
        f"You are invited to run {payload.organization_name}",
        text,
    )
    try:
        await send_email(config, built, runtime.outbound, timeout=SMTP_TIMEOUT_SECONDS)
    except SmtpError as exc:
        if exc.transient:
            raise  # retried with backoff
        log.warning("invite_email_refused", error=type(exc).__name__, code=exc.code)
        raise jobs.PermanentJobError(f"the mail server refused the invite: {exc.code}") from exc
    except UnsafeUrl as exc:
        raise jobs.PermanentJobError(f"the mail server's address is refused: {exc}") from exc
    log.info("invite_email_sent", organization=payload.organization_name)


jobs.task(INVITE_EMAIL_TASK, payload=InviteEmail, retry=INVITE_RETRY)(invite_email)

__all__ = ["invite_email"]
