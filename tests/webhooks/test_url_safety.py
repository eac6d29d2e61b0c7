"""Webhook target URL checks.

Only IP literals, numeric host forms, "localhost" and ".invalid" names are used,
so no test reaches a network beyond the local resolver.
"""

from __future__ import annotations

import ipaddress

import pytest

from eal.webhooks.url_safety import (
    UnsafeWebhookUrl,
    check_webhook_url,
    is_public_address,
    resolve_and_check,
)


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.216.34/x",
        "https://93.184.216.34:8443/hooks?a=1",
        "HTTPS://93.184.216.34/upper-case-scheme",
        "https://[2606:4700:4700::1111]/hook",
    ],
)
async def test_public_https_urls_are_accepted(url: str) -> None:
    await check_webhook_url(url, allow_private=False)


async def test_http_is_refused_without_allow_private() -> None:
    with pytest.raises(UnsafeWebhookUrl, match="https") as info:
        await check_webhook_url("http://93.184.216.34/x", allow_private=False)
    assert "http is not allowed" in info.value.reason


@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize("url", ["ftp://93.184.216.34/x", "93.184.216.34/x", "file:///etc/passwd"])
async def test_other_schemes_are_always_refused(url: str, allow_private: bool) -> None:
    with pytest.raises(UnsafeWebhookUrl, match="scheme must be https"):
        await check_webhook_url(url, allow_private=allow_private)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.5/hook",
        "https://192.168.1.10/hook",
        "https://172.16.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/hook",
        "https://100.100.100.200/latest/meta-data/",
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",
        "https://255.255.255.255/hook",
        "https://[::1]/hook",
        "https://[::]/hook",
        "https://[fe80::1]/hook",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::ffff:169.254.169.254]/hook",
    ],
)
async def test_non_public_ip_literals_are_refused(url: str) -> None:
    with pytest.raises(UnsafeWebhookUrl, match="private or reserved address"):
        await check_webhook_url(url, allow_private=False)


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "api.localhost"])
async def test_localhost_names_are_refused(host: str) -> None:
    with pytest.raises(UnsafeWebhookUrl, match="loopback name"):
        await check_webhook_url(f"https://{host}/hook", allow_private=False)


@pytest.mark.parametrize("host", ["2130706433", "127.1", "0x7f.0.0.1"])
async def test_numeric_host_forms_are_checked_after_resolution(host: str) -> None:
    # Not IP literals to the ipaddress module, but the C resolver reads them as
    # 127.0.0.1, so the check must see the resolved address.
    with pytest.raises(UnsafeWebhookUrl, match=r"private or reserved address \(127\.0\.0\.1\)"):
        await check_webhook_url(f"https://{host}/hook", allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost:8080/hook",
        "https://10.0.0.5/hook",
        "https://[::1]:9000/hook",
    ],
)
async def test_allow_private_permits_local_targets(url: str) -> None:
    await check_webhook_url(url, allow_private=True)


@pytest.mark.parametrize("allow_private", [False, True])
async def test_unresolvable_host_is_refused(allow_private: bool) -> None:
    with pytest.raises(UnsafeWebhookUrl) as info:
        await check_webhook_url("https://nonexistent.invalid/hook", allow_private=allow_private)
    assert info.value.reason == "host does not resolve"
    assert str(info.value) == "host does not resolve"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://user:pass@93.184.216.34/x", "username or password"),
        ("https://user@93.184.216.34/x", "username or password"),
        ("https:///no-host", "no host"),
        ("https://93.184.216.34:0/x", "port"),
        ("https://93.184.216.34:99999/x", "not valid"),
        ("https://93.184.216.34/x\n", "whitespace"),
        ("https://93.184.216.34/a\tb", "whitespace"),
        (" https://93.184.216.34/x", "whitespace"),
        ("https://[::1/x", "not valid"),
    ],
)
async def test_malformed_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeWebhookUrl, match=reason):
        await check_webhook_url(url, allow_private=True)


async def test_resolve_and_check_returns_allowed_addresses() -> None:
    assert await resolve_and_check("93.184.216.34", 443, allow_private=False) == ["93.184.216.34"]
    assert await resolve_and_check("[2606:4700:4700::1111]", 443, allow_private=False) == [
        "2606:4700:4700::1111"
    ]
    assert await resolve_and_check("127.0.0.1", 8080, allow_private=True) == ["127.0.0.1"]
    assert "127.0.0.1" in await resolve_and_check("localhost", 8080, allow_private=True)
    assert await resolve_and_check("2130706433", 80, allow_private=True) == ["127.0.0.1"]


async def test_resolve_and_check_refuses_private_and_unresolvable() -> None:
    with pytest.raises(UnsafeWebhookUrl, match="private or reserved"):
        await resolve_and_check("127.0.0.1", 8080, allow_private=False)
    with pytest.raises(UnsafeWebhookUrl, match="does not resolve"):
        await resolve_and_check("nonexistent.invalid", 443, allow_private=True)
    with pytest.raises(UnsafeWebhookUrl, match="no host"):
        await resolve_and_check("", 443, allow_private=True)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:93.184.216.34", True),
        ("2002:5db8:d822::1", True),  # 6to4 of 93.184.216.34
        ("64:ff9b::5db8:d822", True),  # NAT64 of 93.184.216.34
        ("127.0.0.1", False),
        ("10.0.0.5", False),
        ("172.31.255.255", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("169.254.1.1", False),
        ("100.64.0.1", False),
        ("100.127.255.254", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("192.0.2.1", False),  # documentation
        ("198.18.0.1", False),  # benchmarking
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fd00:ec2::254", False),
        ("ff02::1", False),
        ("2001:db8::1", False),  # documentation
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.5", False),
        ("::ffff:100.64.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::", False),  # 6to4 of 169.254.169.254
        ("64:ff9b::a00:5", False),  # NAT64 of 10.0.0.5
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo, client 127.0.0.1
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public
