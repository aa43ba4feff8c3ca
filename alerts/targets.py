"""Where alerts go: apprise targets from the client file, the environment or a secret file.

A target is one apprise URL with routing tags and a minimum verdict. Sources, in order:

1. the client file's `alerts:` list (`url` may use `${ENV}` so the secret stays out of
   the file; `tags`, `min_verdict`);
2. `MARKWATCH_ALERT_URLS`: apprise URLs separated by whitespace or newlines, each
   optionally prefixed with comma-separated tags and `=`, as in apprise's text config
   (`ops,takedown=slack://T/B/C`);
3. `MARKWATCH_APPRISE_CONFIG`: the path of an apprise config file (text or YAML) kept
   outside the repository, with its own tags.

Targets from 2 and 3 cannot say `min_verdict`: the tag `review` stands for it.

Routing: every alert carries route tags (`hits`, the client's slug and the mark id for
new hits; `review` for the review queue; `takedown` for deadlines and relists; `ops` for
crawl health). A target without tags receives everything; a tagged target receives an
alert when they share a tag. URLs hold secrets: only `redact(url)` (`Target.display`) and
a fingerprint are ever printed or stored; `mask_secrets` cleans error text of them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.config import Client, ConfigError, mask_secrets, redact

ENV_URLS = "MARKWATCH_ALERT_URLS"
ENV_CONFIG = "MARKWATCH_APPRISE_CONFIG"

VERDICT_RANK = {"clear": 0, "review": 1, "counterfeit": 2}

# Route tags of the built-in kinds of alert.
TAG_HITS = "hits"
TAG_REVIEW = "review"
TAG_TAKEDOWN = "takedown"
TAG_OPS = "ops"

_TAGGED = re.compile(r"^(?P<tags>[A-Za-z0-9_.,\- ]+)=(?P<url>[A-Za-z][A-Za-z0-9+.-]*://.+)$")


@dataclass(frozen=True)
class Target:
    """One apprise URL with its routing tags; `url` is secret, `display` is not."""

    url: str = field(repr=False)
    tags: frozenset[str] = frozenset()
    min_verdict: str = "counterfeit"
    source: str = ""

    @property
    def fingerprint(self) -> str:
        """A stable id for the outbox that reveals nothing of the URL."""
        return hashlib.sha256(self.url.encode("utf-8")).hexdigest()[:16]

    @property
    def display(self) -> str:
        """The URL as `redact` shows it: scheme and real host name, everything else `***`."""
        return redact(self.url)

    def wants(self, route_tags: Iterable[str]) -> bool:
        """An untagged target takes every alert; a tagged one takes alerts sharing a tag."""
        return not self.tags or bool(self.tags & {t.lower() for t in route_tags})

    def accepts_verdict(self, verdict: str) -> bool:
        return VERDICT_RANK.get(verdict, 0) >= VERDICT_RANK[self.min_verdict]

    def __str__(self) -> str:
        return self.display


def slug(text: str) -> str:
    """The client's name as a routing tag: `Acme Games Ltd.` -> `acme-games-ltd`."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "client"


def _clean_tags(tags: Iterable[str]) -> frozenset[str]:
    return frozenset(str(t).strip().lower() for t in tags if t and str(t).strip())


def parse_url_list(text: str, source: str = ENV_URLS) -> list[Target]:
    """Targets from `[tags=]url` entries separated by whitespace or newlines."""
    targets: list[Target] = []
    for n, entry in enumerate(text.split(), start=1):
        if entry.startswith("#"):
            continue
        match = _TAGGED.match(entry)
        tags: frozenset[str] = frozenset()
        url = entry
        if match:
            tags = _clean_tags(match.group("tags").split(","))
            url = match.group("url")
        if "://" not in url:
            raise ConfigError(
                f"{source}: entry {n}: expected an apprise URL such as mailtos://... or "
                f"[tags=]slack://..., got {redact(entry)!r}"
            )
        targets.append(
            Target(
                url, tags, "review" if TAG_REVIEW in tags else "counterfeit", f"{source} entry {n}"
            )
        )
    return targets


def parse_apprise_config(path: str | os.PathLike[str]) -> list[Target]:
    """Targets from an apprise config file (text or YAML), keeping their tags."""
    import apprise

    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"{ENV_CONFIG}: expected an apprise config file, {path} not found")
    config = apprise.AppriseConfig()
    if not config.add(str(path)):
        raise ConfigError(f"{ENV_CONFIG}: {path}: expected an apprise text or YAML config file")
    bundle = apprise.Apprise()
    bundle.add(config)
    targets: list[Target] = []
    for n, server in enumerate(bundle, start=1):
        tags = _clean_tags(server.tags)
        targets.append(
            Target(
                server.url(privacy=False),
                tags,
                "review" if TAG_REVIEW in tags else "counterfeit",
                f"{path.name} entry {n}",
            )
        )
    if not targets:
        raise ConfigError(f"{ENV_CONFIG}: {path}: expected at least one apprise URL in the file")
    return targets


def load_targets(client: Client | None, env: Mapping[str, str] | None = None) -> list[Target]:
    """Every configured target, client file first; duplicates (same URL) are merged."""
    env = os.environ if env is None else env
    found: list[Target] = []
    if client is not None:
        # ${NAME} in the client file's URLs is read now, when alerts are used.
        for i, (alert, url) in enumerate(zip(client.alerts, client.alert_urls(), strict=True)):
            found.append(Target(url, _clean_tags(alert.tags), alert.min_verdict, f"alerts[{i}]"))
    if env.get(ENV_URLS, "").strip():
        found.extend(parse_url_list(env[ENV_URLS]))
    if env.get(ENV_CONFIG, "").strip():
        found.extend(parse_apprise_config(env[ENV_CONFIG]))
    merged: dict[str, Target] = {}
    for target in found:
        seen = merged.get(target.url)
        if seen is None:
            merged[target.url] = target
            continue
        # The same URL listed twice: one target, the union of tags, the wider verdict.
        verdict = min((seen.min_verdict, target.min_verdict), key=VERDICT_RANK.__getitem__)
        tags = seen.tags | target.tags if seen.tags and target.tags else frozenset()
        merged[target.url] = Target(seen.url, tags, verdict, seen.source)
    return list(merged.values())


def check_targets(targets: Iterable[Target]) -> list[tuple[Target, str]]:
    """Targets apprise cannot load, with a reason that does not reveal the URL."""
    bad: list[tuple[Target, str]] = []
    for target in targets:
        if instantiate(target) is None:
            bad.append(
                (target, "apprise does not recognise this URL (unknown scheme or missing parts)")
            )
    return bad


class _MaskSecrets(logging.Filter):
    """Rewrites a log record so that nothing secret of one URL is in it."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message, self.url)
        if masked != message:
            record.msg, record.args = masked, None
        return True


@contextmanager
def masked_logs(target: Target) -> Iterator[None]:
    """Apprise's log lines, while `target` is in use, with its URL's secrets masked:
    apprise names a bot token or a chat id in its own warnings."""
    logger = logging.getLogger("apprise")
    mask = _MaskSecrets(target.url)
    logger.addFilter(mask)
    try:
        yield
    finally:
        logger.removeFilter(mask)


def instantiate(target: Target) -> Any:
    """The apprise plugin for a target, or None when the URL is not usable."""
    import apprise

    with masked_logs(target):
        return apprise.Apprise.instantiate(target.url)
