"""The SSRF guard: private, loopback, link-local and multicast targets are refused unless allowed.

No test connects anywhere: only IP literals and `localhost` (resolved from /etc/hosts).
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from crawler.netguard import UnsafeURL, check_url, is_safe, marketplace_hosts, unsafe_reason

REFUSED = [
    "http://127.0.0.1/",
    "http://127.8.9.10:8080/x",
    "http://10.1.2.3/item/1.html",
    "http://172.16.0.5/",
    "http://172.31.255.254/",
    "http://192.168.1.1/admin",
    "http://169.254.169.254/latest/meta-data/",
    "http://224.0.0.1/",
    "http://239.255.255.250:1900/",
    "http://0.0.0.0/",
    "http://100.64.0.1/",
    "http://[::1]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[2002:7f00:1::1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://localhost:8000/",
    "http://LOCALHOST./",
    # Alternative spellings of 127.0.0.1 that browsers and resolvers accept.
    "http://2130706433/",
    "http://0x7f.1/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_targets_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURL) as err:
        check_url(url)
    assert "refused" in str(err.value)


@pytest.mark.parametrize(
    "url,allow",
    [
        ("http://127.0.0.1:8123/item/1.html", ["127.0.0.1"]),
        ("http://localhost:8123/", ["localhost"]),
        ("http://LocalHost:8123/", ["localhost"]),
        ("http://10.1.2.3/", ["10.0.0.0/8"]),
        ("http://[::1]:9000/", ["::1"]),
        ("http://169.254.169.254/", ["169.254.169.254"]),
    ],
)
def test_explicitly_allowed_hosts_pass(url: str, allow: list[str]) -> None:
    check_url(url, allow)
    assert is_safe(url, allow)


def test_allowing_one_host_does_not_allow_another() -> None:
    # Names are trusted by name: trusting one says nothing about localhost.
    with pytest.raises(UnsafeURL):
        check_url("http://localhost/", ["shop.example", "localhost.example"])
    # An allowed address is trusted whichever name leads to it (same machine either way).
    check_url("http://localhost/", ["127.0.0.1"])
    with pytest.raises(UnsafeURL):
        check_url("http://192.168.0.1/", ["10.0.0.0/8"])


@pytest.mark.parametrize(
    "url", ["http://8.8.8.8/", "https://93.184.215.14:8443/item", "http://[2606:4700::1111]/"]
)
def test_public_ip_literals_pass(url: str) -> None:
    check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://8.8.8.8/",
        "gopher://8.8.8.8/",
        "javascript:alert(1)",
        "http:///nohost",
        "http://8.8.8.8:99999/",
        # The browser reads the host before the backslash, urllib after the '@'.
        "http://127.0.0.1\\@8.8.8.8/",
        "http://8.8.8.8/ x",
        "",
    ],
)
def test_malformed_or_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURL):
        check_url(url)


def test_reasons_name_the_kind_of_address() -> None:
    import ipaddress

    assert "link-local" in (unsafe_reason(ipaddress.ip_address("169.254.169.254")) or "")
    assert "multicast" in (unsafe_reason(ipaddress.ip_address("239.1.1.1")) or "")
    assert "loopback" in (unsafe_reason(ipaddress.ip_address("::ffff:127.0.0.1")) or "")
    assert unsafe_reason(ipaddress.ip_address("8.8.8.8")) is None


def test_marketplace_base_url_hosts_are_trusted() -> None:
    class Market:
        def __init__(self, base_url: str | None, search_url: str | None = None) -> None:
            self.base_url, self.search_url = base_url, search_url

    class Client:
        marketplaces: ClassVar[dict[str, Market]] = {
            "aliexpress": Market("http://127.0.0.1:8765"),
            "shop": Market(None, "http://LOCALHOST:9000/search?q={term}"),
        }

    hosts = marketplace_hosts(Client())
    assert hosts == {"127.0.0.1", "localhost"}
    check_url("http://127.0.0.1:8765/item/1.html", hosts)
    with pytest.raises(UnsafeURL):
        check_url("http://10.0.0.1/", hosts)
