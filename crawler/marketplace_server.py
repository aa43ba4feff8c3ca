"""A local marketplace server: real page formats from a catalogue, for tests and the demo.

One threaded HTTP server (port 0 by default) mounts every marketplace under its own
prefix, `http://127.0.0.1:PORT/<marketplace>`, which is the `base_url` a spider is
given. Below the prefix the marketplace's own URL scheme is served (search with a
term and paging, product pages), in the marketplace's real page format, rendered
from the catalogue: a list of dicts such as::

    {"marketplace": "amazon", "listing_id": "B0ACME0001", "title": "ACME Pad Pro",
     "price": 12.5, "currency": "USD", "seller_id": "A1B2", "seller_name": "Best Store",
     "image": "acme-pad.jpg", "description": "...", "is_ad": false,
     "location": "Shenzhen", "sales": 120}

Images (`image` or `images`, file names under `images_dir`) are served at
`/images/<name>`; `/robots.txt` allows everything but `/private/`.

Adding a marketplace needs no code here: put in `crawler/market_templates/`

- `<marketplace>.json`: the URL scheme and format, e.g.
  `{"search_path": "/s", "term_param": "k", "page_param": "page", "page_size": 8,
  "product_path": "/dp/{id}", "encoding": "utf-8", "content_type": "text/html"}`
  (optional keys: `page_start` 1, `page_param_offset` true when the page parameter
  is an item offset as on Taobao, `search_content_type`; with a non-UTF-8
  `encoding` pages are encoded in it and the search term is read percent-encoded in
  it, as 1688 does with GBK);
- `<marketplace>_search.html`: a Jinja2 template rendering one result page;
- `<marketplace>_product.html` (optional): a product page.

Templates get `items` (catalogue dicts plus `url`, `proto_url` (protocol-relative),
`image_url`, `image_urls`, `store_url`), `term`, `page`, `pages`, `total`,
`page_size`, `has_next`, `next_url`, `base` (`http://host:port/<marketplace>`),
`proto_base` (`//host:port/<marketplace>`), `root` and `search_url(page)`; product
templates get `item` and the same context. The filter `tojson` is Jinja2's.

For tests: `server.block(marketplace, kind)` makes that marketplace answer with a
block page (`akamai` 403 "Access Denied", `captcha`, `slider`, `punish` redirect,
`login` redirect) until `server.unblock(marketplace)`; `server.js_only(marketplace)`
serves search pages whose listings appear only after JavaScript runs.
`server.requests` lists the paths served.

    with MarketplaceServer(catalogue, images_dir) as server:
        base_url = server.url("amazon")

`sample_catalogue(images_dir)` builds a small catalogue (ACME look-alikes, one ad and
one unrelated item per marketplace, with image files) for every template.
"""

from __future__ import annotations

import base64
import json
import math
import mimetypes
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

import jinja2

TEMPLATES_DIR = Path(__file__).resolve().parent / "market_templates"

ROBOTS_TXT = "User-agent: *\nDisallow: /private/\nAllow: /\n"

BLOCK_KINDS = ("akamai", "captcha", "slider", "punish", "login")


@dataclass
class MarketSpec:
    """A marketplace's URL scheme on the local server (from `<marketplace>.json`)."""

    name: str
    search_path: str
    term_param: str
    page_param: str
    page_size: int = 8
    page_start: int = 1
    page_param_offset: bool = False
    product_path: str | None = None
    encoding: str = "utf-8"
    content_type: str = "text/html"
    search_content_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> MarketSpec:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {k: data.pop(k) for k in list(data) if k in cls.__dataclass_fields__}
        return cls(name=path.stem, **known, extra=data)

    def product_regex(self) -> re.Pattern[str] | None:
        if not self.product_path:
            return None
        parts = self.product_path.split("{id}")
        return re.compile("^" + r"(?P<id>[^/?#]+?)".join(re.escape(p) for p in parts) + "$")


def load_catalogue(path: str | Path) -> list[dict[str, Any]]:
    """A catalogue from a JSON file (a list of dicts) or JSON Lines."""
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _matches(item: dict[str, Any], term: str) -> bool:
    hay = " ".join(str(item.get(k) or "") for k in ("title", "description", "keywords")).casefold()
    tokens = term.casefold().split()
    return bool(tokens) and all(t in hay for t in tokens)


class _Server(ThreadingHTTPServer):
    # socketserver's backlog of 5 overflows under a crawl's concurrency; the client's
    # SYN retries then stall requests for 1, 3, 7... seconds, which no real site does.
    request_queue_size = 1024
    daemon_threads = True


class MarketplaceServer:
    """Serve marketplace pages from a catalogue; `start()` returns the root URL."""

    def __init__(
        self,
        catalogue: list[dict[str, Any]] | str | Path,
        images_dir: str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        templates_dir: str | Path | None = None,
        page_size: int | None = None,
    ) -> None:
        self.catalogue = (
            load_catalogue(catalogue) if isinstance(catalogue, (str, Path)) else list(catalogue)
        )
        self.images_dir = Path(images_dir) if images_dir else None
        self.host, self.port = host, port
        self.templates_dir = Path(templates_dir) if templates_dir else TEMPLATES_DIR
        self.page_size = page_size
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(self.templates_dir), str(TEMPLATES_DIR)]),
            autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=False),
            undefined=jinja2.ChainableUndefined,
        )
        self.specs: dict[str, MarketSpec] = {}
        for folder in dict.fromkeys([TEMPLATES_DIR, self.templates_dir]):
            for spec_file in sorted(folder.glob("*.json")):
                self.specs[spec_file.stem] = MarketSpec.load(spec_file)
        self.blocked: dict[str, str] = {}
        self.js_only_markets: set[str] = set()
        self.requests: list[str] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------

    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read `requests`
                pass

        self._httpd = _Server((self.host, self.port), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="marketplace-server", daemon=True
        )
        self._thread.start()
        return self.root

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, marketplace: str) -> str:
        """The base_url to give the spider of `marketplace`."""
        return f"{self.root}/{marketplace}"

    def block(self, marketplace: str, kind: str = "akamai") -> None:
        if kind not in BLOCK_KINDS:
            raise ValueError(f"block kind: expected one of {', '.join(BLOCK_KINDS)}, got {kind!r}")
        self.blocked[marketplace] = kind

    def unblock(self, marketplace: str) -> None:
        self.blocked.pop(marketplace, None)

    def js_only(self, marketplace: str, on: bool = True) -> None:
        (self.js_only_markets.add if on else self.js_only_markets.discard)(marketplace)

    # -- content ---------------------------------------------------------

    def items_of(self, marketplace: str) -> list[dict[str, Any]]:
        return [i for i in self.catalogue if i.get("marketplace") == marketplace]

    def _decorate(self, item: dict[str, Any], spec: MarketSpec) -> dict[str, Any]:
        base = f"{self.root}/{spec.name}"
        out = dict(item)
        path = (spec.product_path or "/item/{id}").replace("{id}", str(item["listing_id"]))
        out["url"] = base + path
        out["proto_url"] = out["url"].split(":", 1)[1]
        images = item.get("images") or ([item["image"]] if item.get("image") else [])
        out["image_urls"] = [self._image_url(i) for i in images]
        out["image_url"] = out["image_urls"][0] if out["image_urls"] else ""
        out.setdefault("store_url", f"{base}/store/{item.get('seller_id') or 'unknown'}")
        return out

    def _image_url(self, name: str) -> str:
        if re.match(r"^https?://", name):
            return name
        return f"{self.root}/images/{quote_plus(Path(name).name)}"

    def _context(
        self, spec: MarketSpec, term: str, page: int, found: list[dict[str, Any]]
    ) -> dict[str, Any]:
        size = self.page_size or spec.page_size
        total = len(found)
        pages = max(1, math.ceil(total / size))
        chunk = found[(page - 1) * size : page * size]
        base = f"{self.root}/{spec.name}"

        def search_url(p: int) -> str:
            value = (p - 1) * size if spec.page_param_offset else p - 1 + spec.page_start
            return f"{base}{spec.search_path}?{urlencode({spec.term_param: term, spec.page_param: value})}"

        return {
            "items": [self._decorate(i, spec) for i in chunk],
            "term": term,
            "page": page,
            "pages": pages,
            "total": total,
            "page_size": size,
            "offset": (page - 1) * size,
            "has_next": page < pages,
            "next_url": search_url(page + 1) if page < pages else None,
            "search_url": search_url,
            "base": base,
            "proto_base": base.split(":", 1)[1],
            "root": self.root,
            "marketplace": spec.name,
            "spec": spec,
        }

    # -- request handling --------------------------------------------------

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        ctype: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        self.requests.append(h.path)
        parts = urlsplit(h.path)
        path, query = parts.path, parse_qs(parts.query)
        try:
            if path == "/robots.txt":
                return self._send(h, 200, ROBOTS_TXT.encode(), "text/plain")
            if path.startswith("/images/"):
                return self._serve_image(h, path[len("/images/") :])
            segs = path.split("/", 2)
            market = segs[1] if len(segs) > 1 else ""
            rest = "/" + (segs[2] if len(segs) > 2 else "")
            spec = self.specs.get(market)
            if spec is None:
                return self._send(h, 404, b"<h1>Not found</h1>", "text/html")
            if rest.startswith("/_block/") or market in self.blocked:
                kind = rest.split("/")[2] if rest.startswith("/_block/") else self.blocked[market]
                return self._serve_block(h, spec, kind, rest)
            if rest == spec.search_path:
                return self._serve_search(h, spec, query)
            regex = spec.product_regex()
            # Ids in the query (Tmall `item.htm?id=`) are matched with the query string.
            target = rest + ("?" + parts.query if "?" in (spec.product_path or "") else "")
            m = regex.match(target) if regex else None
            if m:
                return self._serve_product(h, spec, m.group("id"))
            return self._send(h, 404, b"<h1>Not found</h1>", "text/html")
        except (BrokenPipeError, ConnectionResetError):
            return None
        except Exception as exc:  # noqa: BLE001 (a template error shows as a 500 page, never kills the server)
            body = f"<h1>Server error</h1><pre>{type(exc).__name__}: {exc}</pre>".encode()
            self._send(h, 500, body, "text/html; charset=utf-8")

    def _encode(self, spec: MarketSpec, text: str, ctype: str | None = None) -> tuple[bytes, str]:
        ctype = ctype or spec.content_type
        body = text.encode(spec.encoding, errors="xmlcharrefreplace")
        return body, f"{ctype}; charset={spec.encoding}"

    def _serve_search(
        self, h: BaseHTTPRequestHandler, spec: MarketSpec, query: dict[str, list[str]]
    ) -> None:
        if spec.encoding.lower().replace("-", "") not in ("utf8", "ascii"):
            # 1688 sends its search term percent-encoded in GBK.
            query = parse_qs(urlsplit(h.path).query, encoding=spec.encoding, errors="replace")
        term = (query.get(spec.term_param) or [""])[0]
        raw = (
            query.get(spec.page_param) or [str(0 if spec.page_param_offset else spec.page_start)]
        )[0]
        try:
            value = int(raw)
        except ValueError:
            value = spec.page_start
        size = self.page_size or spec.page_size
        page = value // size + 1 if spec.page_param_offset else value - spec.page_start + 1
        page = max(page, 1)
        found = [i for i in self.items_of(spec.name) if _matches(i, term)]
        ctx = self._context(spec, term, page, found)
        text = self.env.get_template(f"{spec.name}_search.html").render(**ctx)
        if spec.name in self.js_only_markets:
            text = _js_shell(text, spec.name)
        body, ctype = self._encode(spec, text, spec.search_content_type)
        self._send(h, 200, body, ctype)

    def _serve_product(self, h: BaseHTTPRequestHandler, spec: MarketSpec, listing_id: str) -> None:
        item = next(
            (i for i in self.items_of(spec.name) if str(i["listing_id"]) == listing_id), None
        )
        name = f"{spec.name}_product.html"
        if item is None or name not in self.env.list_templates():
            return self._send(h, 404, b"<h1>Not found</h1>", "text/html")
        ctx = self._context(spec, "", 1, [])
        text = self.env.get_template(name).render(item=self._decorate(item, spec), **ctx)
        body, ctype = self._encode(spec, text)
        self._send(h, 200, body, ctype)

    def _serve_image(self, h: BaseHTTPRequestHandler, name: str) -> None:
        if self.images_dir is None:
            return self._send(h, 404, b"", "text/plain")
        path = (self.images_dir / Path(name).name).resolve()
        if not path.is_file() or self.images_dir.resolve() not in path.parents:
            return self._send(h, 404, b"", "text/plain")
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self._send(h, 200, path.read_bytes(), ctype)

    def _serve_block(
        self, h: BaseHTTPRequestHandler, spec: MarketSpec, kind: str, rest: str
    ) -> None:
        if kind not in BLOCK_KINDS:
            return self._send(h, 404, b"", "text/plain")
        base = f"/{spec.name}"
        if kind == "punish" and not rest.startswith("/_block/"):
            # Alibaba-family sites redirect to a slider page under /_____tmd_____/punish.
            loc = f"{base}/_block/punish/_____tmd_____/punish?x5secdata=local&x5step=1"
            return self._send(h, 302, b"", "text/html", {"Location": loc})
        if kind == "login" and not rest.startswith("/_block/"):
            return self._send(
                h, 302, b"", "text/html", {"Location": f"{base}/_block/login/login.html"}
            )
        text = self.env.get_template(f"blocks/{kind}.html").render(
            marketplace=spec.name, root=self.root
        )
        status = 403 if kind == "akamai" else 200
        self._send(h, status, text.encode("utf-8"), "text/html; charset=utf-8")


def sample_catalogue(
    images_dir: str | Path, marketplaces: list[str] | None = None, per_market: int = 6
) -> list[dict[str, Any]]:
    """A small catalogue for every marketplace with a template: ACME look-alikes plus one unrelated item.

    Latin-script sites get "ACME Pad Pro wireless controller N" titles, Chinese sites
    "艾克米 ACME 无线游戏手柄 N"; the first listing of each marketplace is an ad. Image
    files (small coloured squares) are written to `images_dir`.
    """
    from PIL import Image

    from crawler.queries import CHINESE_MARKETPLACES

    images_dir = Path(images_dir)
    images_dir.mkdir(parents=True, exist_ok=True)
    names = marketplaces or sorted(p.stem for p in TEMPLATES_DIR.glob("*.json"))
    colours = [
        (200, 30, 30),
        (30, 160, 60),
        (40, 60, 200),
        (220, 180, 20),
        (120, 40, 160),
        (20, 170, 170),
        (90, 90, 90),
    ]
    for i, colour in enumerate(colours):
        path = images_dir / f"sample-{i}.png"
        if not path.exists():
            Image.new("RGB", (64, 64), colour).save(path)
    out: list[dict[str, Any]] = []
    for m, market in enumerate(names):
        chinese = market in CHINESE_MARKETPLACES
        for i in range(per_market + 1):
            unrelated = i == per_market
            if market == "amazon":
                lid = f"B0ACME{i:04d}"
            elif market == "ebay":
                lid = str(394100000000 + i)
            else:
                lid = str(1005000000 + 1000 * m + i)
            if unrelated:
                title = "不锈钢电热水壶 1.8L" if chinese else "Stainless steel electric kettle 1.8L"
            else:
                title = (
                    f"艾克米 ACME 无线游戏手柄 {i}"
                    if chinese
                    else f"ACME Pad Pro wireless controller {i}"
                )
            out.append(
                {
                    "marketplace": market,
                    "listing_id": lid,
                    "title": title,
                    "price": round((59.0 if chinese else 8.5) + 1.25 * i, 2),
                    "currency": "CNY" if chinese else "USD",
                    "seller_id": f"{market[:2]}-seller-{i % 2}",
                    "seller_name": (
                        f"艾克米数码专营店{i % 2}" if chinese else f"Gadget Outlet {i % 2}"
                    ),
                    "image": f"sample-{i % len(colours)}.png",
                    "description": "Wireless game controller, 2.4 GHz"
                    if not unrelated
                    else "Kitchen appliance",
                    "is_ad": i == 0,
                    "location": "广东 深圳" if chinese else "CN",
                    "sales": 10 * (i + 1),
                }
            )
    return out


def _js_shell(html_text: str, marketplace: str) -> str:
    """A page with no listings in its HTML: a script writes the real page after load."""
    payload = base64.b64encode(html_text.encode("utf-8")).decode("ascii")
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Loading</title></head>'
        f'<body><div id="app" data-market="{marketplace}">Loading…</div>'
        "<script>\nsetTimeout(function () {\n"
        f'  var b = atob("{payload}");\n'
        "  var bytes = Uint8Array.from(b, function (c) { return c.charCodeAt(0); });\n"
        "  var html = new TextDecoder('utf-8').decode(bytes);\n"
        "  document.open(); document.write(html); document.close();\n"
        "}, 300);\n</script></body></html>"
    )
