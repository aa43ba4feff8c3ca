"""Message rendering: one small document model, written out as HTML, Markdown or text.

Listing titles, seller names and URLs are written by counterfeiters, so every piece of
text is escaped for the target's format: HTML entities for email, backslash escapes
for Markdown (Slack turns them into literal characters and `&lt;`), control and
bidirectional-override characters removed everywhere, links only for http(s) URLs.
A title such as `<script>` or `[click](https://evil)` or `<!channel>` arrives as text.

Builders in `alerts.kinds` describe messages with `Doc` blocks; `write(doc, fmt)`
turns a `Doc` into the body for one format.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

HTML = "html"
MARKDOWN = "markdown"
TEXT = "text"
FORMATS = (HTML, MARKDOWN, TEXT)

MAX_TEXT = 300

# Characters that change the meaning of Markdown / Slack mrkdwn around them.
_MD_SPECIAL = re.compile(r"([\\`*_~\[\]()<>#|!{}])")
# Bidirectional overrides can make a title read differently from what it is.
_BIDI = dict.fromkeys(
    map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
)


def clean(text: object, limit: int = MAX_TEXT, strip: bool = True) -> str:
    """Untrusted text on one line: no control or bidi characters, bounded length."""
    s = "" if text is None else str(text)
    s = s.translate(_BIDI)
    s = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in s)
    s = re.sub(r"\s+", " ", s)
    if strip:
        s = s.strip()
    return s if len(s) <= limit else s[: limit - 1] + "…"


def safe_url(url: object) -> str | None:
    """An http(s) URL with spaces, quotes and brackets percent-encoded; else None."""
    if not url:
        return None
    s = clean(url, 2000)
    try:
        parts = urlsplit(s)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(s, safe=":/?#@!$&'*+,;=%-._~").replace("'", "%27")


def escape_html(text: object, strip: bool = True) -> str:
    return html.escape(clean(text, strip=strip), quote=True)


def escape_markdown(text: object, strip: bool = True) -> str:
    return _MD_SPECIAL.sub(r"\\\1", clean(text, strip=strip))


@dataclass
class Link:
    text: str
    url: str | None


@dataclass
class Bold:
    text: str


Seg = str | Link | Bold


@dataclass
class Image:
    caption: str
    cid: str | None = None  # name of an attached file, for email
    # A remote copy: linked (never loaded) where the format has no attachments (Slack
    # webhooks). Email never references it: opening the message would fetch the photo
    # from the seller's host and tell them who is watching, and from where.
    url: str | None = None


@dataclass
class Doc:
    """A message: title (plain text) and blocks ("h", "p", "ul", "images", "hr")."""

    title: str
    blocks: list[tuple[str, object]] = field(default_factory=list)

    def h(self, *segs: Seg) -> Doc:
        self.blocks.append(("h", list(segs)))
        return self

    def p(self, *segs: Seg) -> Doc:
        self.blocks.append(("p", list(segs)))
        return self

    def ul(self, items: list[list[Seg]]) -> Doc:
        if items:
            self.blocks.append(("ul", items))
        return self

    def images(self, images: list[Image], missing: str | None = None) -> Doc:
        """Pictures; `missing` is said instead when the format can show none of them."""
        if images or missing:
            self.blocks.append(("images", (images, missing)))
        return self

    def hr(self) -> Doc:
        self.blocks.append(("hr", None))
        return self


def _seg(seg: Seg, fmt: str) -> str:
    if isinstance(seg, Link):
        url = safe_url(seg.url)
        if fmt == HTML:
            text = escape_html(seg.text)
            return f'<a href="{html.escape(url, quote=True)}">{text}</a>' if url else text
        if fmt == MARKDOWN:
            text = escape_markdown(seg.text)
            return f"[{text}]({url})" if url else text
        if url and clean(seg.text) in (url, clean(seg.url)):
            return url
        return f"{clean(seg.text)} <{url}>" if url else clean(seg.text)
    if isinstance(seg, Bold):
        if fmt == HTML:
            return f"<b>{escape_html(seg.text)}</b>"
        if fmt == MARKDOWN:
            return f"**{escape_markdown(seg.text)}**"
        return clean(seg.text)
    # Plain segments keep their edge spaces: they are joined with the next segment.
    if fmt == HTML:
        return escape_html(seg, strip=False)
    if fmt == MARKDOWN:
        return escape_markdown(seg, strip=False)
    return clean(seg, strip=False)


def _line(segs: list[Seg], fmt: str) -> str:
    return "".join(_seg(s, fmt) for s in segs)


def _shown(img: Image, fmt: str) -> bool:
    """Whether `img` appears in `fmt`: attached files everywhere, remote copies only as
    Markdown links; HTML (email) and plain text never point at the seller's host."""
    return bool(img.cid) or (fmt == MARKDOWN and safe_url(img.url) is not None)


def _images(images: list[Image], missing: str | None, fmt: str) -> str:
    shown = [img for img in images if _shown(img, fmt)]
    if not shown:
        if not missing:
            return ""
        return f"<p><i>{escape_html(missing)}</i></p>" if fmt == HTML else _seg(missing, fmt)
    if fmt == HTML:
        cells, captions = [], []
        for img in shown:
            src = f"cid:{quote(img.cid or '')}"
            cells.append(
                f'<td style="padding:4px"><img src="{html.escape(src, quote=True)}" '
                f'alt="{escape_html(img.caption)}" width="180" style="max-width:180px"></td>'
            )
            captions.append(
                f'<td style="padding:4px;font-size:small">{escape_html(img.caption)}</td>'
            )
        return f"<table><tr>{''.join(cells)}</tr><tr>{''.join(captions)}</tr></table>"
    parts = []
    for img in shown:
        if img.cid:
            parts.append(
                f"{clean(img.caption)} (attached as {clean(img.cid)})"
                if fmt == TEXT
                else f"{escape_markdown(img.caption)} \\(attached as {escape_markdown(img.cid)}\\)"
            )
        else:
            parts.append(f"[{escape_markdown(img.caption)}]({safe_url(img.url)})")
    return " | ".join(parts)


def write(doc: Doc, fmt: str) -> str:
    """The body of `doc` in one of FORMATS."""
    if fmt not in FORMATS:
        raise ValueError(f"expected one of {FORMATS}, got {fmt!r}")
    out: list[str] = []
    for kind, value in doc.blocks:
        if kind == "h":
            line = _line(value, fmt)  # type: ignore[arg-type]
            out.append(
                f"<h3>{line}</h3>" if fmt == HTML else (f"### {line}" if fmt == MARKDOWN else line)
            )
        elif kind == "p":
            line = _line(value, fmt)  # type: ignore[arg-type]
            out.append(f"<p>{line}</p>" if fmt == HTML else line)
        elif kind == "ul":
            items = [_line(item, fmt) for item in value]  # type: ignore[union-attr]
            if fmt == HTML:
                out.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            else:
                out.append("\n".join(f"- {i}" for i in items))
        elif kind == "images":
            images, missing = value  # type: ignore[misc]
            text = _images(images, missing, fmt)
            if text:
                out.append(text)
        elif kind == "hr":
            out.append("<hr>" if fmt == HTML else "---")
    if fmt == HTML:
        return '<div style="font-family:sans-serif">' + "\n".join(out) + "</div>"
    return "\n\n".join(out)


def plain_title(text: object) -> str:
    """A subject line: plain, one line, bounded (apprise escapes it per service)."""
    return clean(text, 200)
