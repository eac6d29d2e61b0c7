"""Email through an organization's SMTP server, connected under the outbound policy.

:func:`send_email` sends one message with aiosmtplib over one connection:
greeting, TLS (implicit ``tls``, or ``starttls``, required, never skipped),
AUTH when a username is configured, MAIL FROM the configured address, RCPT TO
each recipient, DATA, QUIT. ``none`` sends in clear, which only makes sense
with a relay on the same host or network.

How the connection goes through the policy: the host is resolved and each of
its addresses checked by :meth:`~eal.kit.outbound.OutboundPolicy.addresses`
at send time, and a TCP socket is connected here to a checked address
itself. That socket is handed to aiosmtplib (its ``sock=`` argument) with
``hostname`` set to the configured host name, so aiosmtplib never resolves
the name again, yet uses that name as ``server_hostname`` for TLS: in the
implicit-TLS handshake and in STARTTLS. The certificate is therefore verified
against the configured host name (and SNI names it), never against the
address connected to. (aiosmtplib's ``hostname``/``port`` path would resolve
the name itself, and passing the checked address as ``hostname`` would make
TLS verify the address.)

Exception hierarchy::

    SmtpError                   base: ``message``, ``code`` (SMTP reply code or None),
    │                           ``response`` (the server's text); ``transient``,
    │                           ``recipient_refused``, ``maybe_sent``, ``refused``
    ├── SmtpUnavailable         transient: 4xx replies, connection refused or lost, timeouts
    ├── SmtpConfigurationError  permanent for this configuration, not the recipient's fault:
    │                           credentials refused, TLS failed (certificate, no STARTTLS)
    └── SmtpRejected            permanent: a 5xx reply to the message or its sender
        └── SmtpRecipientRefused  a 5xx for the recipient (hard bounce): ``recipient_refused``

Suppress an address on ``recipient_refused`` only; other permanent errors are
the sender's or the configuration's. The policy's refusal of the host's
address (:class:`~eal.kit.outbound.UnsafeUrl`) goes through unchanged, except
a name that does not resolve (``HostNotResolved``), which is a connection
problem like any other (``SmtpUnavailable``). Messages never contain the password.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import functools
import re
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import Message
from typing import Final, Literal

import aiosmtplib
import certifi
from aiosmtplib.email import extract_recipients

from eal.integrations.crm import redact
from eal.kit.outbound import HostNotResolved, OutboundPolicy

__all__ = [
    "SECURITY_MODES",
    "SmtpConfig",
    "SmtpConfigurationError",
    "SmtpError",
    "SmtpRecipientRefused",
    "SmtpRejected",
    "SmtpResult",
    "SmtpSecurity",
    "SmtpUnavailable",
    "format_mailbox",
    "send_email",
    "sender_header",
]

SmtpSecurity = Literal["starttls", "tls", "none"]
SECURITY_MODES: Final = ("starttls", "tls", "none")

# Enhanced status codes (RFC 3463) that blame the destination mailbox: bad
# mailbox, bad system, bad address syntax, mailbox moved, null MX, disabled.
_RECIPIENT_STATUSES = re.compile(r"^\s*5\.(1\.(1|2|3|6|10)|2\.1)\b")
_MAX_DETAIL_CHARS = 300
# The email package's folder writes encoded words up to two characters longer
# than a line allows less one; RFC 2047 caps them at 75, which 76 keeps.
_FOLDING = email.policy.SMTP.clone(max_line_length=76)


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpConfig:
    """An SMTP server and the sender of the organization's mail (the password decrypted)."""

    host: str
    port: int
    security: SmtpSecurity
    from_address: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    from_name: str | None = None
    reply_to: str | None = None

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("an SMTP host is required")
        if not 0 < self.port < 65536:
            raise ValueError("the SMTP port must be between 1 and 65535")
        if self.security not in SECURITY_MODES:
            raise ValueError(f"security must be one of {', '.join(SECURITY_MODES)}")
        if self.password is not None and self.username is None:
            raise ValueError("a password needs a username")


@dataclass(frozen=True, slots=True)
class SmtpResult:
    """The server took the message: its final reply (``code`` 250 and its text).

    ``accepted`` is False only when some recipients were refused and the rest
    accepted (``refused`` maps each refused address to its reply); when every
    recipient is refused, :func:`send_email` raises instead.
    """

    accepted: bool
    code: int
    response: str
    refused: Mapping[str, tuple[int, str]] = field(default_factory=dict)


class SmtpError(Exception):
    """A send failed. ``code`` is the server's reply code, ``response`` its text, when it replied.

    ``maybe_sent`` is True when the connection failed while the message was
    being transferred: the server may have queued it, so a retry may deliver
    it twice. ``refused`` maps each refused recipient to its reply.
    """

    transient = False
    recipient_refused = False

    def __init__(
        self,
        message: str,
        code: int | None = None,
        response: str | None = None,
        *,
        maybe_sent: bool = False,
        refused: Mapping[str, tuple[int, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.response = response
        self.maybe_sent = maybe_sent
        self.refused: Mapping[str, tuple[int, str]] = refused or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"


class SmtpUnavailable(SmtpError):
    """Try again later: a 4xx reply, a connection refused or lost, a timeout."""

    transient = True


class SmtpConfigurationError(SmtpError):
    """The configuration does not work with this server (credentials, TLS); fix it, then retry."""


class SmtpRejected(SmtpError):
    """The server refused the message for good (a 5xx reply)."""


class SmtpRecipientRefused(SmtpRejected):
    """The server refused the recipient for good: a hard bounce; suppress the address."""

    recipient_refused = True


def format_mailbox(name: str | None, address: str) -> str:
    """An RFC 5322 mailbox, ``Name <local@domain>``, as one line of ASCII.

    The display name is quoted when it holds specials (``"Smith, Jo" <...>``)
    and RFC 2047-encoded when it is not ASCII (``=?utf-8?q?Zo=C3=AB?= <...>``,
    in encoded words of at most 75 characters); a domain that is not ASCII is
    written in IDNA form. Without a name, the bare address. Raises ValueError
    for a name with control characters or a local part that is not ASCII
    (which would need SMTPUTF8).
    """
    display = (name or "").strip()
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in display):
        raise ValueError("the sender name must not contain control characters")
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"{address!r} is not an email address")
    if not local.isascii():
        raise ValueError("a sender address whose local part is not ASCII is not supported")
    if not domain.isascii():
        domain = domain.encode("idna").decode("ascii")
    mailbox = Address(display_name=display, username=local, domain=domain)
    # The SMTP policy folds with encoded words for non-ASCII text; unfolding
    # the folded value (CRLF before whitespace) leaves one valid line.
    folded = _FOLDING.header_factory("From", mailbox).fold(policy=_FOLDING)
    value = folded.split(":", 1)[1]
    return re.sub(r"\r\n(?=[ \t])", "", value).strip()


def sender_header(config: SmtpConfig) -> str:
    """The ``From`` header value of the organization's mail: its name and address."""
    return format_mailbox(config.from_name, config.from_address)


async def send_email(
    config: SmtpConfig,
    message: Message,
    policy: OutboundPolicy,
    *,
    timeout: float,  # noqa: ASYNC109 (the deadline of the whole exchange, kept by asyncio.timeout)
    recipients: Sequence[str] | None = None,
    tls_context: ssl.SSLContext | None = None,
    local_hostname: str | None = None,
) -> SmtpResult:
    """Send ``message`` through the configured server; the envelope sender is ``from_address``.

    ``recipients`` defaults to the message's To, Cc and Bcc (Bcc is not
    transmitted). ``timeout`` bounds the whole exchange, from connecting to
    QUIT. ``tls_context`` defaults to one verifying against the certifi
    bundle. ``local_hostname`` is the EHLO name: by default this host's fully
    qualified name, or the address literal of the connection's own address
    when the host has none. The message is sent as aiosmtplib flattens it
    (CRLF line ends, 8BITMIME when offered). Raises :class:`SmtpError`
    subclasses (see the module's hierarchy), the policy's ``UnsafeUrl`` for
    a refused address, and ValueError for a message without recipients.
    """
    targets = list(recipients) if recipients is not None else extract_recipients(message)
    if not targets:
        raise ValueError("the message has no recipients (To, Cc or Bcc)")
    where = f"{config.host}:{config.port}"
    session = _Session(config, policy, where)
    try:
        async with asyncio.timeout(timeout):
            return await session.run(message, targets, timeout, tls_context, local_hostname)
    except TimeoutError as exc:  # the whole exchange's deadline (aiosmtplib's are caught inside)
        raise SmtpUnavailable(
            f"SMTP exchange with {where} timed out after {timeout:g} s ({session.phase})",
            maybe_sent=session.phase == "send",
        ) from exc


class _Session:
    """One connection's exchange; ``phase`` says how far it got, for errors."""

    def __init__(self, config: SmtpConfig, policy: OutboundPolicy, where: str) -> None:
        self.config = config
        self.policy = policy
        self.where = where
        self.phase = "connect"

    async def run(
        self,
        message: Message,
        recipients: list[str],
        step_timeout: float,
        tls_context: ssl.SSLContext | None,
        local_hostname: str | None,
    ) -> SmtpResult:
        config = self.config
        try:
            # Resolved and checked now, at send time: the socket goes to one of these.
            addresses = await self.policy.addresses(config.host, config.port)
        except HostNotResolved as exc:
            raise SmtpUnavailable(f"SMTP host {config.host} did not resolve: {exc.reason}") from exc
        sock = await self._connect(addresses)
        try:
            ehlo = local_hostname or await _ehlo_name(sock)
        except BaseException:
            sock.close()
            raise
        client = aiosmtplib.SMTP(
            hostname=config.host,  # not resolved again: used for TLS verification and SNI
            sock=sock,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",  # required when configured, else never
            tls_context=None
            if config.security == "none"
            else tls_context or _default_tls_context(),
            local_hostname=ehlo,
            timeout=step_timeout,
        )
        try:
            try:
                await client.connect()
            except BaseException:
                sock.close()  # aiosmtplib owns it only once connected
                raise
            if config.username is not None:
                self.phase = "auth"
                await client.login(config.username, config.password or "")
            self.phase = "send"
            refused, text = await client.send_message(
                message, sender=config.from_address, recipients=recipients
            )
            self.phase = "quit"
            await _quit(client)
        except aiosmtplib.SMTPException as exc:
            raise self._error(exc, recipients) from exc
        except ssl.SSLError as exc:  # a STARTTLS handshake's failure comes through bare
            raise self._tls_error(exc) from exc
        except OSError as exc:
            raise SmtpUnavailable(
                f"SMTP connection to {self.where} failed ({self.phase}): {exc}",
                maybe_sent=self.phase == "send",
            ) from exc
        except ValueError as exc:  # an address aiosmtplib will not put on a command line
            raise SmtpRejected(f"SMTP send to {self.where} refused locally: {exc}") from exc
        finally:
            client.close()
        # data() raises unless the final reply is 250, so success is always 250.
        return SmtpResult(
            accepted=not refused,
            code=250,
            response=text,
            refused={address: (reply.code, reply.message) for address, reply in refused.items()},
        )

    async def _connect(self, addresses: list[str]) -> socket.socket:
        loop = asyncio.get_running_loop()
        failure: OSError | None = None
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, (address, self.config.port))
            except OSError as exc:
                sock.close()
                failure = exc  # refused or unreachable: try the next address
                continue
            except BaseException:
                sock.close()
                raise
            return sock
        assert failure is not None  # the policy never returns an empty list
        raise SmtpUnavailable(f"could not connect to SMTP server {self.where}: {failure}")

    def _error(self, exc: aiosmtplib.SMTPException, recipients: list[str]) -> SmtpError:
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            return self._refused(exc, recipients)
        cause = _ssl_cause(exc)
        if cause is not None:
            return self._tls_error(cause)
        if isinstance(exc, aiosmtplib.SMTPTimeoutError):
            return SmtpUnavailable(
                self._text(f"SMTP {self.phase} with {self.where} timed out: {exc.message}"),
                maybe_sent=self.phase == "send",
            )
        if isinstance(exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError) and (
            not isinstance(exc, aiosmtplib.SMTPResponseException)
        ):
            return SmtpUnavailable(
                self._text(f"SMTP connection to {self.where} lost ({self.phase}): {exc.message}"),
                maybe_sent=self.phase == "send",
            )
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            return self._reply_error(exc, recipients)
        # No reply code: a feature the configuration needs is missing (STARTTLS,
        # AUTH, SMTPUTF8), which waiting will not bring.
        if self.phase == "send":
            return SmtpRejected(
                self._text(f"SMTP server {self.where} cannot take the message: {exc.message}")
            )
        return SmtpConfigurationError(
            self._text(f"SMTP server {self.where} ({self.phase}): {exc.message}")
        )

    def _reply_error(
        self, exc: aiosmtplib.SMTPResponseException, recipients: list[str]
    ) -> SmtpError:
        code, text = exc.code, self._text(exc.message)
        step = {
            aiosmtplib.SMTPSenderRefused: "refused the sender",
            aiosmtplib.SMTPDataError: "refused the message",
            aiosmtplib.SMTPAuthenticationError: "refused the credentials",
            aiosmtplib.SMTPHeloError: "refused our greeting",
            aiosmtplib.SMTPConnectResponseError: "refused the connection",
        }.get(type(exc), f"answered {self.phase}")
        message = f"SMTP server {self.where} {step}: {code} {text}"
        if code < 500:
            return SmtpUnavailable(message, code, text)
        greeting = aiosmtplib.SMTPConnectResponseError | aiosmtplib.SMTPHeloError
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError) or (
            self.phase == "connect" and not isinstance(exc, greeting)
        ):
            # Credentials refused, or STARTTLS refused for good.
            return SmtpConfigurationError(message, code, text)
        if (
            isinstance(exc, aiosmtplib.SMTPDataError)
            and len(recipients) == 1
            and _RECIPIENT_STATUSES.match(text)
        ):
            # Some servers refuse a mailbox only after DATA; with one recipient it is its bounce.
            refused = {recipients[0]: (code, text)}
            return SmtpRecipientRefused(message, code, text, refused=refused)
        return SmtpRejected(message, code, text)

    def _refused(self, exc: aiosmtplib.SMTPRecipientsRefused, recipients: list[str]) -> SmtpError:
        refused = {
            error.recipient: (error.code, self._text(error.message)) for error in exc.recipients
        }
        first = exc.recipients[0]
        code, text = first.code, self._text(first.message)
        if all(error.code >= 500 for error in exc.recipients):
            message = (
                f"SMTP server {self.where} refused the recipient {first.recipient}: {code} {text}"
            )
            return SmtpRecipientRefused(message, code, text, refused=refused)
        # A temporary refusal (greylisting, a full mailbox) for one at least: retry later.
        message = (
            f"SMTP server {self.where} deferred the recipient {first.recipient}: {code} {text}"
        )
        return SmtpUnavailable(message, code, text, refused=refused)

    def _tls_error(self, exc: ssl.SSLError) -> SmtpError:
        if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            return SmtpUnavailable(f"SMTP server {self.where} closed the connection during TLS")
        reason = exc.verify_message if isinstance(exc, ssl.SSLCertVerificationError) else exc.reason
        return SmtpConfigurationError(
            f"TLS with SMTP server {self.where} failed: {reason or type(exc).__name__}"
        )

    def _text(self, text: str) -> str:
        text = " ".join(text.split())
        if self.config.password:
            text = redact(text, self.config.password)
        if len(text) > _MAX_DETAIL_CHARS:
            text = text[: _MAX_DETAIL_CHARS - 1] + "…"
        return text


async def _quit(client: aiosmtplib.SMTP) -> None:
    # The message is accepted by now; a server that botches QUIT changes nothing.
    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
        await client.quit()


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, ssl.SSLError):
            return current
        current = current.__cause__ or current.__context__
    return None


@functools.cache
def _default_tls_context() -> ssl.SSLContext:
    # Built once: loading the CA bundle costs milliseconds per context.
    return ssl.create_default_context(cafile=certifi.where())


_fqdn: str | None = None


async def _ehlo_name(sock: socket.socket) -> str:
    """This host's FQDN for EHLO, or the address literal of our end (RFC 5321 4.1.4)."""
    global _fqdn
    if _fqdn is None:
        # getfqdn may ask the resolver: once per process, off the event loop.
        _fqdn = await asyncio.to_thread(socket.getfqdn)
    name = _fqdn
    if "." in name and not name.startswith("localhost") and not name.endswith(".localdomain"):
        return name
    address = sock.getsockname()[0]
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"
