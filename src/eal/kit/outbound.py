"""One policy for every connection to a URL a tenant chose.

Tenants choose URLs the service connects to (webhook targets, the CRM's base
URL, and more to come). Unchecked, such a URL could aim the service at its own
network: databases, admin ports, the cloud metadata endpoint. The policy
checks a URL when it is saved (:meth:`OutboundPolicy.check_url`: its form,
and every address its host resolves to now), and checks again at every new
connection: the name is resolved at connect time, each address is checked,
and the connection goes to the checked address itself, never to a name that
something else resolves once more. A DNS answer that changes after the URL
was saved (DNS rebinding) therefore cannot turn a connection inward.

Three ways to connect under the policy:

* :meth:`OutboundPolicy.http_client`: an ``httpx.AsyncClient`` whose network
  backend does the connect-time check. TLS still verifies the certificate
  against the URL's host name: httpcore hands the origin's host, not the
  address connected to, to ``start_tls`` as ``server_hostname``.
* :meth:`OutboundPolicy.open_connection`: asyncio streams, for other protocols
  and for clients with their own HTTP code (the webhook sender).
* :meth:`OutboundPolicy.addresses`: the checked addresses of a host, now.

``allow_private`` (``EAL_ALLOW_PRIVATE_WEBHOOK_URLS=1``) lifts the address and
``http`` restrictions, for development and tests only.

Exception hierarchy::

    UnsafeUrl              refused; ``reason`` says why in words fit for an API error
    ├── HostNotResolved    the name does not resolve, or the lookup timed out
    └── UnsafeConnection   raised by a policy client's request; also an httpx.ConnectError
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

__all__ = [
    "DNS_TIMEOUT_SECONDS",
    "HostNotResolved",
    "OutboundClient",
    "OutboundPolicy",
    "Resolver",
    "UnsafeConnection",
    "UnsafeUrl",
    "check_url_form",
    "is_public_address",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves (host, port) to IP address strings; raises OSError when it cannot."""

DNS_TIMEOUT_SECONDS = 5.0
"""Bounds how long a save or a connection waits on a slow resolver."""

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


class UnsafeUrl(Exception):
    """A URL or a connection was refused; ``reason`` says why in words fit for an API error."""

    def __init__(self, reason: str) -> None:
        # Cooperative, so UnsafeConnection also runs httpx's initialiser.
        super().__init__(reason)
        self.reason = reason


class HostNotResolved(UnsafeUrl):
    """The host name does not resolve or its lookup timed out.

    Refused when a URL is saved; at connect time a policy client reports it
    as an ordinary ``httpx.ConnectError``, as for any unreachable host.
    """


class UnsafeConnection(UnsafeUrl, httpx.ConnectError):
    """A policy client refused to connect.

    An :class:`UnsafeUrl`, so callers that know the policy can tell a refusal
    from a network failure, and an ``httpx.ConnectError``, so callers that
    only know httpx still treat it as a failed connection.
    """


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


def _is_localhost_name(host: str) -> bool:
    # RFC 6761: "localhost" and its subdomains always mean this machine.
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def check_url_form(url: str, *, allow_private: bool) -> tuple[str, int]:
    """Check the form of ``url`` (no lookup) and return its (host, port).

    Requires ``https`` (``http`` only with ``allow_private``), a host, no
    credentials, a port from 1 to 65535, and no whitespace or control
    characters. Raises :class:`UnsafeUrl` with the reason on refusal.
    """
    # urlsplit silently drops tabs and newlines and strips edge whitespace, so
    # the URL it parses could differ from the one stored; refuse such input.
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\x7f" for ch in url):
        raise UnsafeUrl("URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"URL is not valid: {exc}") from exc

    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UnsafeUrl("URL scheme must be https")
    if scheme == "http" and not allow_private:
        raise UnsafeUrl("URL scheme must be https; http is not allowed")
    if "@" in parts.netloc:
        raise UnsafeUrl("URL must not contain a username or password")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("URL has no host")
    if port == 0:
        raise UnsafeUrl("URL port must be between 1 and 65535")
    return host, port if port is not None else _DEFAULT_PORTS[scheme]


async def system_resolver(host: str, port: int) -> list[str]:
    """The event loop's ``getaddrinfo`` answer for a TCP connection, without duplicates."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[str] = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class OutboundPolicy:
    """Which addresses a connection to a tenant-chosen URL may reach, checked on every connect.

    ``resolver`` replaces the system resolver (tests make a name resolve
    differently over time with it); each lookup is bounded by ``dns_timeout``.
    """

    def __init__(
        self,
        allow_private: bool,
        resolver: Resolver | None = None,
        *,
        dns_timeout: float = DNS_TIMEOUT_SECONDS,
    ) -> None:
        self.allow_private = allow_private
        self._resolver = resolver or system_resolver
        self._dns_timeout = dns_timeout

    def __repr__(self) -> str:
        return f"OutboundPolicy(allow_private={self.allow_private!r})"

    async def check_url(self, url: str) -> None:
        """Refuse ``url`` unless its form is acceptable and its host resolves, now, only to
        allowed addresses. Raises :class:`UnsafeUrl` with the reason."""
        host, port = check_url_form(url, allow_private=self.allow_private)
        await self.addresses(host, port)

    async def addresses(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` now and return the IP addresses a connection may go to.

        Every address the host resolves to is checked, and the whole host is
        refused if any of them is not public (unless ``allow_private``),
        because a client could pick any of them. An IP literal is checked
        without a lookup. Raises :class:`UnsafeUrl` (:class:`HostNotResolved`
        when the name does not resolve).
        """
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not host:
            raise UnsafeUrl("URL has no host")
        if not 0 < port < 65536:
            raise UnsafeUrl("URL port must be between 1 and 65535")
        if not self.allow_private and _is_localhost_name(host):
            raise UnsafeUrl("host is a loopback name")

        literal = _literal_address(host)
        addresses = [str(literal)] if literal is not None else await self._resolve(host, port)
        for address in addresses:
            ip = _literal_address(address)
            # Even with allow_private, only IP addresses leave here: whoever
            # connects must not resolve a name again.
            if ip is None:
                raise UnsafeUrl(f"host resolves to something that is not an address ({address})")
            if not self.allow_private and not is_public_address(ip):
                raise UnsafeUrl(f"host resolves to a private or reserved address ({address})")
        return addresses

    async def open_connection(
        self,
        host: str,
        port: int,
        *,
        ssl: ssl_module.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open asyncio streams to ``host`` through an address checked now.

        With ``ssl``, the certificate is verified against ``server_hostname``
        (default: ``host``), never against the address connected to. The
        addresses are tried in turn; the last connection error is raised if
        none answers, and :class:`UnsafeUrl` if the host is refused. The caller
        bounds the time.
        """
        name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        addresses = await self.addresses(name, port)
        if ssl is not None and server_hostname is None:
            server_hostname = name
        failure: OSError | None = None
        for address in addresses:
            try:
                return await asyncio.open_connection(
                    address,
                    port,
                    ssl=ssl,
                    server_hostname=server_hostname if ssl is not None else None,
                )
            except ssl_module.SSLError:
                raise  # the host answered; another of its addresses will not fix a certificate
            except OSError as exc:
                failure = exc
        assert failure is not None  # addresses() never returns an empty list
        raise failure

    def http_client(
        self,
        *,
        timeout: float | httpx.Timeout,
        ssl_context: ssl_module.SSLContext | None = None,
    ) -> OutboundClient:
        """An httpx client whose every new connection goes to an address checked at connect time.

        Requests to ``http://`` URLs are refused unless ``allow_private``;
        redirects are not followed and the environment (proxies, netrc,
        certificate bundles) is ignored, since a proxy would resolve names
        itself. ``ssl_context`` defaults to httpx's (certifi) bundle. A refusal
        raises :class:`UnsafeConnection`.
        """
        return OutboundClient(self, timeout=timeout, ssl_context=ssl_context)

    async def _resolve(self, host: str, port: int) -> list[str]:
        try:
            async with asyncio.timeout(self._dns_timeout):
                addresses = await self._resolver(host, port)
        except TimeoutError as exc:  # before OSError, which it subclasses
            raise HostNotResolved("host name lookup timed out") from exc
        except UnicodeError as exc:
            raise UnsafeUrl("host name is not valid") from exc
        except OSError as exc:
            # socket.gaierror is an OSError: no such name, no address, resolver down.
            raise HostNotResolved("host does not resolve") from exc
        if not addresses:
            raise HostNotResolved("host does not resolve")
        return addresses


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's asyncio backend, connecting only to addresses the policy checks now."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._policy.addresses(host, port)
        except HostNotResolved as exc:
            raise httpcore.ConnectError(exc.reason) from exc
        except UnsafeUrl as exc:
            raise UnsafeConnection(exc.reason) from exc
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                # Refused or unreachable: try the next address. A timeout is
                # raised as it is, so the connect timeout bounds the whole.
                failure = exc
        assert failure is not None  # addresses() never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeConnection("connections to local sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class _CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool that uses :class:`_CheckedBackend`."""

    def __init__(self, policy: OutboundPolicy, ssl_context: ssl_module.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        self._policy = policy
        if not isinstance(self._pool, httpcore.AsyncConnectionPool):
            raise RuntimeError("httpx no longer keeps its connection pool where expected")
        # httpx 0.28 takes no network backend, so the pool it builds is replaced
        # by the same pool (httpx's default limits) built with ours.
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=_CheckedBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self._policy.allow_private and request.url.scheme != "https":
            raise UnsafeConnection("URL scheme must be https; http is not allowed")
        return await super().handle_async_request(request)


class OutboundClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` built by :meth:`OutboundPolicy.http_client`; ``policy`` is its
    policy, so code handed the client can check a URL against the same rules."""

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        timeout: float | httpx.Timeout,
        ssl_context: ssl_module.SSLContext | None = None,
    ) -> None:
        context = ssl_context or httpx.create_ssl_context(trust_env=False)
        super().__init__(
            transport=_CheckedTransport(policy, context),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
        )
        self.policy = policy
