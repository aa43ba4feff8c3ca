"""The guard against server-side request forgery for every URL markwatch fetches.

Listing, image and redirect URLs come from marketplace pages, which counterfeiters
write. Before markwatch (or its browser) requests one, `check_url` makes sure it is
http(s) and that every address its host resolves to is public: loopback, private,
link-local (cloud metadata at 169.254.169.254), multicast, reserved and the IPv6
forms that embed such IPv4 addresses are refused. Hosts in an explicit allow list
are trusted whatever they resolve to: the host of a marketplace's `base_url`
(CONTRACT §1), so a local mirror or test server on loopback keeps working.

`check_url` resolves the name before the caller's own request does, so a DNS
answer that changes in between (rebinding) is not covered by it alone; callers that
connect themselves use `checked_addresses` and connect to what was checked, and the
crawl's resolver (`crawler.middlewares.GuardedResolver`) checks the address Scrapy
connects to with `check_address`.
`GuardProxy` does exactly that for a browser: every connection Chromium opens,
redirect hops and WebSockets included, is checked and pinned to a checked address.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterable
from typing import NamedTuple, Self
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SCHEMES = ("http", "https")


class UnsafeURL(ValueError):
    """A URL markwatch refuses to request; the message names the URL and the reason."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def unsafe_reason(ip: IPAddress) -> str | None:
    """Why an address must not be requested, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = unsafe_reason(inner)
            if reason:
                return f"{reason} (embedded in {ip})"
    for attr, label in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_unspecified", "unspecified"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(ip, attr):
            return f"{label} address {ip}"
    # Shared address space (100.64/10), documentation ranges and the like.
    if not ip.is_global:
        return f"non-public address {ip}"
    return None


def _split_allow(allow_hosts: Iterable[str]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    names: set[str] = set()
    nets: list[IPNetwork] = []
    for entry in allow_hosts:
        entry = str(entry).strip().lower().strip("[]")
        if not entry:
            continue
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.rstrip("."))
    return frozenset(names), tuple(nets)


_DNS_TTL = 300.0
_dns_cache: dict[str, tuple[float, tuple[IPAddress, ...]]] = {}
_dns_lock = threading.Lock()


def _resolve(host: str) -> tuple[IPAddress, ...]:
    """The host's addresses, cached for a few minutes (a daemon runs for days)."""
    now = time.monotonic()
    with _dns_lock:
        hit = _dns_cache.get(host)
    if hit is not None and now - hit[0] < _DNS_TTL:
        return hit[1]
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"host {host!r} does not resolve ({exc})") from None
    # Strip an IPv6 zone id ("fe80::1%eth0") before parsing.
    found = tuple(dict.fromkeys(ipaddress.ip_address(str(i[4][0]).split("%", 1)[0]) for i in infos))
    with _dns_lock:
        if len(_dns_cache) > 4096:
            _dns_cache.clear()
        _dns_cache[host] = (now, found)
    return found


def host_of(url: str) -> str | None:
    """The lower-case host of a URL, or None when it has none."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.rstrip(".") if host else None


def check_url(url: str, allow_hosts: Iterable[str] = ()) -> None:
    """Raise `UnsafeURL` unless `url` is http(s) and its host is public or allowed.

    `allow_hosts` holds host names (exact, case-insensitive), IP addresses or CIDR
    networks that are trusted even when private, e.g. a marketplace's base_url host.
    """
    _check(url, allow_hosts, resolve_allowed=False)


def checked_addresses(url: str, allow_hosts: Iterable[str] = ()) -> tuple[IPAddress, ...]:
    """`check_url`, returning the addresses that passed: connect to these, not to a
    fresh lookup, so a DNS answer that changes after the check is not followed."""
    return _check(url, allow_hosts, resolve_allowed=True)


def _refused(ip: IPAddress, allowed_nets: tuple[IPNetwork, ...]) -> str | None:
    """Why `ip` must not be requested, None when it is public or in an allowed network."""
    if any(ip in net for net in allowed_nets if net.version == ip.version):
        return None
    return unsafe_reason(ip)


def _check(url: str, allow_hosts: Iterable[str], *, resolve_allowed: bool) -> tuple[IPAddress, ...]:
    if not isinstance(url, str) or not url:
        raise UnsafeURL(f"expected an http(s) URL, got {url!r}")
    # Parsers disagree about backslashes and control characters ("http://a\\@b/"):
    # refuse them rather than guess which host the browser would pick.
    if "\\" in url or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise UnsafeURL(f"{url!r}: backslash, space or control character in URL")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UnsafeURL(f"{url!r}: malformed URL ({exc})") from None
    if parts.scheme.lower() not in _SCHEMES:
        raise UnsafeURL(f"{url!r}: expected an http or https URL, got scheme {parts.scheme!r}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL(f"{url!r}: URL has no host")
    names, nets = _split_allow(allow_hosts)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if host in names:
        # Trusted by name: no lookup needed unless the caller is about to connect.
        if literal is not None:
            return (literal,)
        return _resolve(host) if resolve_allowed else ()
    addresses = (literal,) if literal is not None else _resolve(host)
    if not addresses:
        raise UnsafeURL(f"{url!r}: host {host!r} has no address")
    for ip in addresses:
        reason = _refused(ip, nets)
        if reason:
            via = "" if literal is not None else f" (host {host!r} resolves to it)"
            raise UnsafeURL(
                f"{url!r}: refused {reason}{via}; allow the host explicitly to fetch it"
            )
    return addresses


def check_address(host: str, address: str, allow_hosts: Iterable[str] = ()) -> None:
    """Raise `UnsafeURL` unless `address` (what `host` resolved to, about to be connected
    to) is public, or the host or address is allowed."""
    names, nets = _split_allow(allow_hosts)
    if host.lower().rstrip(".") in names:
        return
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    reason = _refused(ip, nets)
    if reason:
        raise UnsafeURL(f"host {host!r} resolves to {ip}: refused {reason}; allow the host explicitly to fetch it")


def is_safe(url: str, allow_hosts: Iterable[str] = ()) -> bool:
    """`check_url` as a yes/no answer."""
    try:
        check_url(url, allow_hosts)
    except UnsafeURL:
        return False
    return True


def marketplace_hosts(client: object) -> set[str]:
    """The trusted hosts of a client: the host of every marketplace's base_url (CONTRACT §1)."""
    hosts: set[str] = set()
    for market in getattr(client, "marketplaces", {}).values():
        for attr in ("base_url", "search_url"):
            value = getattr(market, attr, None)
            if value:
                host = host_of(value.split("{", 1)[0] if "{" in value else value)
                if host:
                    hosts.add(host)
    return hosts


# ---------------------------------------------------------------- the proxy for browsers


class Refusal(NamedTuple):
    """A connection the proxy refused."""

    host: str | None
    url: str
    reason: str


class GuardProxy:
    """A local HTTP proxy that applies `check_url` to every connection a browser opens.

    Request interception in a browser does not see redirect hops, WebSockets or
    service workers; a proxy sees them all. It also connects to the very address it
    checked, so a DNS answer that changes after the check is not followed. Point
    Chromium at `url` with `--proxy-server` and `--proxy-bypass-list=<-loopback>`
    (otherwise Chromium goes to loopback hosts directly). `allow_hosts` may be
    changed between page loads; `blocked` lists what was refused.
    """

    def __init__(self, allow_hosts: Iterable[str] = (), *, timeout_s: float = 30.0) -> None:
        import socketserver

        self.allow_hosts: frozenset[str] = frozenset(h.lower() for h in allow_hosts)
        self.timeout_s = timeout_s
        self.blocked: list[Refusal] = []
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            rbufsize = 0  # unbuffered: bytes after the head are piped, not lost in a buffer
            timeout = timeout_s

            def handle(self) -> None:
                proxy._handle(self.connection, self.rfile)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="markwatch-guard", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # One connection: read the request head, check the target, then pipe bytes.
    def _handle(self, client: socket.socket, rfile: object) -> None:
        head = _read_head(rfile)
        if not head:
            return
        try:
            method, target, version = head[0].split(" ", 2)
        except ValueError:
            client.sendall(_reply(400, "bad request line"))
            return
        if method.upper() == "CONNECT":
            host, _, port_text = target.rpartition(":")
            host = host.strip("[]")
            if not host or not port_text.isdigit():
                client.sendall(_reply(400, "expected CONNECT host:port"))
                return
            port = int(port_text)
            shown = f"[{host}]" if ":" in host else host
            url = f"https://{shown}:{port}/"
        else:
            url = target
            try:
                parts = urlsplit(target)
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                client.sendall(_reply(400, "bad request target"))
                return
            if parts.scheme != "http":
                client.sendall(_reply(400, "expected an absolute http:// URL"))
                return
        try:
            addresses = checked_addresses(url, self.allow_hosts)
        except UnsafeURL as exc:
            self.blocked.append(Refusal(host_of(url), url, str(exc)))
            client.sendall(_reply(403, f"refused by markwatch: {exc}"))
            return
        upstream = None
        for ip in addresses:
            try:
                upstream = socket.create_connection((str(ip), port), timeout=self.timeout_s)
                break
            except OSError:
                continue
        if upstream is None:
            client.sendall(_reply(502, f"cannot connect to {url}"))
            return
        with upstream:
            if method.upper() == "CONNECT":
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                parts = urlsplit(target)
                path = parts.path or "/"
                if parts.query:
                    path += "?" + parts.query
                lines = [f"{method} {path} {version}"]
                for line in head[1:]:
                    name = line.split(":", 1)[0].strip().lower()
                    if name not in (
                        "proxy-connection",
                        "proxy-authorization",
                        "connection",
                        "keep-alive",
                    ):
                        lines.append(line)
                # One request per connection: a second one could name another host.
                lines.append("Connection: close")
                upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            _pipe(client, upstream, self.timeout_s)


def _read_head(rfile: object, limit: int = 65536) -> list[str]:
    lines: list[str] = []
    total = 0
    while True:
        line = rfile.readline(limit)  # type: ignore[attr-defined]
        total += len(line)
        if not line or total > limit:
            return []
        text = line.decode("latin-1").rstrip("\r\n")
        if not text:
            return lines
        lines.append(text)


def _reply(status: int, message: str) -> bytes:
    reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}.get(status, "Error")
    body = message.encode("utf-8", "replace")
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1") + body


def _pipe(a: socket.socket, b: socket.socket, timeout_s: float) -> None:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    try:
        while True:
            events = sel.select(timeout_s)
            if not events:
                return
            for key, _ in events:
                src: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = src.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                try:
                    key.data.sendall(data)
                except OSError:
                    return
    finally:
        sel.close()
