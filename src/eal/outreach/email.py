"""Composing outbound email: plain text and HTML, one-click unsubscribe, the open pixel.

Every email carries a Message-ID (replies are matched to it), `List-Unsubscribe`
with a mailto and an https one-click URL to this service, and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), plus an
unsubscribe link in its footer. The links hold signed tokens that name the
message, never the address.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formatdate
from urllib.parse import quote

from eal.integrations.smtp import SmtpConfig, sender_header
from eal.kit.signed import InvalidToken, Signer
from eal.outreach.templates import text_to_html

UNSUBSCRIBE_PURPOSE = "outreach-unsubscribe"
OPEN_PURPOSE = "outreach-open"
# Bodies in UTF-8, quoted-printable: readable in the source, safe over 7-bit hops.
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP


@dataclass(frozen=True)
class MessageRef:
    """The organization and message a signed link names."""

    organization_id: uuid.UUID
    message_id: uuid.UUID

    def pack(self) -> bytes:
        return self.organization_id.bytes + self.message_id.bytes

    @classmethod
    def unpack(cls, data: bytes) -> MessageRef:
        if len(data) != 32:
            raise InvalidToken("malformed token")
        return cls(uuid.UUID(bytes=data[:16]), uuid.UUID(bytes=data[16:]))


@dataclass(frozen=True)
class EmailLinks:
    """The links one email carries."""

    unsubscribe_token: str
    unsubscribe_url: str
    open_url: str


def links_for(ref: MessageRef, signer: Signer, public_url: str) -> EmailLinks:
    """Signed unsubscribe and open-tracking links for one message."""
    base = public_url.rstrip("/")
    unsubscribe = signer.sign(UNSUBSCRIBE_PURPOSE, ref.pack())
    opened = signer.sign(OPEN_PURPOSE, ref.pack())
    return EmailLinks(
        unsubscribe_token=unsubscribe,
        unsubscribe_url=f"{base}/u/{unsubscribe}",
        open_url=f"{base}/o/{opened}.gif",
    )


def _text_part(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, charset=_UTF8)
    return part


def compose(
    *,
    message_id: uuid.UUID,
    to: str,
    subject: str,
    text: str,
    config: SmtpConfig,
    links: EmailLinks,
    org_name: str,
    html_body: str | None = None,
) -> tuple[Message, str]:
    """The email for one message, and its Message-ID (angle brackets included)."""
    domain = config.from_address.rsplit("@", 1)[-1]
    header_id = f"<{message_id.hex}@{domain}>"  # unique: the message id is a UUID
    mailto = config.reply_to or config.from_address
    footer_text = (
        f"\n\n--\nYou received this email from {org_name}. "
        f"To stop receiving these emails: {links.unsubscribe_url}"
    )
    footer_html = (
        f'<p style="font-size:12px;color:#666">You received this email from '
        f'{html.escape(org_name)}. <a href="{html.escape(links.unsubscribe_url)}">'
        f"Unsubscribe</a></p>"
    )
    # The legacy (compat32) message classes: a quarter of the CPU of
    # EmailMessage's header parsing and refolding, which made composing and
    # flattening the main cost of a sequence run's emails (bench/outreach_bench.py).
    message = MIMEMultipart("alternative")
    message["From"] = sender_header(config)
    message["To"] = to
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = header_id
    if config.reply_to:
        message["Reply-To"] = config.reply_to
    message["List-Unsubscribe"] = (
        f"<mailto:{mailto}?subject={quote('unsubscribe ' + links.unsubscribe_token)}>, "
        f"<{links.unsubscribe_url}>"
    )
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.attach(_text_part(text + footer_text, "plain"))
    body_html = html_body if html_body is not None else text_to_html(text)
    message.attach(
        _text_part(
            "<!doctype html><html><body>"
            f"{body_html}{footer_html}"
            f'<img src="{html.escape(links.open_url)}" width="1" height="1" alt="">'
            "</body></html>",
            "html",
        )
    )
    return message, header_id
