"""Checks that a tenant-supplied webhook URL cannot reach private networks.

A webhook URL is chosen by the tenant, so without these checks a delivery could
be aimed at the service's own network (databases, admin ports, the cloud
metadata endpoint). The URL is checked when it is registered, and the worker
calls :func:`resolve_and_check` again at send time and connects only to the
addresses it returns, so a DNS answer that changes after registration cannot
redirect a delivery inward.

``allow_private`` (``EAL_ALLOW_PRIVATE_WEBHOOK_URLS=1``) lifts the address and
``http`` restrictions for development and tests only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Bounds how long a registration request can hang on a slow resolver.
DNS_TIMEOUT_SECONDS = 5.0

# Carrier-grade NAT space: not covered by ``is_private`` on every Python version,
# and it hosts some clouds' metadata services (e.g. 100.100.100.200).
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# Well-known NAT64 prefix: the low 32 bits are an IPv4 address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Instance metadata endpoints. Both are inside ranges refused anyway; they are
# named so the refusal survives any change to the range checks.
_METADATA = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("fd00:ec2::254"),
    }
)
_DEFAULT_PORTS = {"https": 443, "http": 80}


class UnsafeWebhookUrl(Exception):
    """A webhook URL was refused; ``reason`` says why in words fit for an API error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # IPv6 forms that carry an IPv4 destination; the IPv4 one decides.
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(ip: IPAddress) -> bool:
    """Return whether ``ip`` is a globally routable unicast address.

    Refused: private, loopback, link-local, multicast, reserved, unspecified,
    carrier-grade NAT (100.64.0.0/10), cloud metadata addresses, and IPv6 forms
    (IPv4-mapped, 6to4, Teredo, NAT64) whose embedded IPv4 address is any of
    these.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public_address(embedded)
    if ip in _METADATA:
        return False
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return False
    if (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    ):
        return False
    # is_global also excludes special-purpose ranges the flags above miss
    # (documentation, benchmarking, protocol assignments).
    return ip.is_global


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def _resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(DNS_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
    except TimeoutError as exc:
        raise UnsafeWebhookUrl("host name lookup timed out") from exc
    except UnicodeError as exc:
        raise UnsafeWebhookUrl("host name is not valid") from exc
    except OSError as exc:
        # socket.gaierror is an OSError: no such name, no address, resolver down.
        raise UnsafeWebhookUrl("host does not resolve") from exc
    addresses: list[str] = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeWebhookUrl("host does not resolve")
    return addresses


def _is_localhost_name(host: str) -> bool:
    # RFC 6761: "localhost" and its subdomains always mean this machine.
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


async def resolve_and_check(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Resolve ``host`` and return the IP addresses a delivery may connect to.

    Every address the host resolves to is checked, and the whole host is refused
    if any of them is not public (unless ``allow_private``), because the HTTP
    client could pick any of them. An IP literal is checked without a lookup.
    Raises :class:`UnsafeWebhookUrl` when the host is refused or does not
    resolve.
    """
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise UnsafeWebhookUrl("URL has no host")
    if not allow_private and _is_localhost_name(host):
        raise UnsafeWebhookUrl("host is a loopback name")

    literal = _literal_address(host)
    addresses = [str(literal)] if literal is not None else await _resolve(host, port)
    if allow_private:
        return addresses
    for address in addresses:
        ip = _literal_address(address)
        if ip is None or not is_public_address(ip):
            raise UnsafeWebhookUrl(f"host resolves to a private or reserved address ({address})")
    return addresses


async def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """Refuse a webhook URL that could deliver to a non-public address.

    Requires ``https`` (``http`` only with ``allow_private``), a host, no
    credentials in the URL, and that every address the host resolves to is
    public (unless ``allow_private``). Raises :class:`UnsafeWebhookUrl` with the
    reason on refusal; returns ``None`` when the URL is acceptable.
    """
    # urlsplit silently drops tabs and newlines and strips edge whitespace, so
    # the URL it parses could differ from the one stored; refuse such input.
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\x7f" for ch in url):
        raise UnsafeWebhookUrl("URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeWebhookUrl(f"URL is not valid: {exc}") from exc

    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UnsafeWebhookUrl("URL scheme must be https")
    if scheme == "http" and not allow_private:
        raise UnsafeWebhookUrl("URL scheme must be https; http is not allowed")
    if "@" in parts.netloc:
        raise UnsafeWebhookUrl("URL must not contain a username or password")
    host = parts.hostname
    if not host:
        raise UnsafeWebhookUrl("URL has no host")
    if port == 0:
        raise UnsafeWebhookUrl("URL port must be between 1 and 65535")
    await resolve_and_check(
        host, port if port is not None else _DEFAULT_PORTS[scheme], allow_private=allow_private
    )
