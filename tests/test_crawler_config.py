"""The client file: the demo loads, and broken files fail with one line naming the key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from crawler.config import ConfigError, load_client, redact
from tests.conftest import DEMO_CONFIG, run_cli


def test_demo_client_loads_with_paths_resolved():
    client = load_client(DEMO_CONFIG)
    assert client.client.name == "Lumora Audio Co., Ltd."
    lumora = client.mark("lumora")
    assert lumora.owner == client.client.name  # defaults to the client's name
    assert "路莫拉" in lumora.terms
    assert {r.country for r in lumora.registrations} == {"CN", "US"}
    assert all(p.is_absolute() and p.is_file() for p in client.mark("lumora-logo").images)
    assert client.products[1].currency == "CNY"
    assert client.exchange_rates.to_base(100, "CNY") == pytest.approx(13.8)
    assert client.is_authorized("taobao", None, "路莫拉官方旗舰店")
    assert not client.is_authorized("dhgate", "1100200300")


def test_check_prints_summary():
    out = run_cli("check", "--config", str(DEMO_CONFIG))
    assert out.returncode == 0, out.stderr
    for text in ("Lumora Audio Co., Ltd.", "68120045", "CN (China)", "lumora-buds", "aliexpress", "valid today"):
        assert text in out.stdout


def test_every_example_client_file_loads():
    # config/ holds the examples users copy; each must pass `markwatch check`.
    examples = sorted((DEMO_CONFIG.parent.parent).glob("*/markwatch.yaml"))
    assert len(examples) >= 2
    for path in examples:
        client = load_client(path)
        assert client.marks and client.enabled_marketplaces(), path
    example = load_client(DEMO_CONFIG.parent.parent / "example" / "markwatch.yaml")
    generic = example.marketplaces["smallshop"]
    assert generic.search_url and generic.selectors and not generic.enabled


def test_check_redacts_alert_secrets(demo_dir: Path, monkeypatch):
    data = yaml.safe_load((demo_dir / "markwatch.yaml").read_text())
    data["alerts"] = [{"url": "mailtos://bob:hunter2secret@mail.example.com"}, {"url": "${SLACK_URL}"}]
    (demo_dir / "markwatch.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    out = run_cli(
        "check", "--config", str(demo_dir / "markwatch.yaml"),
        env={"SLACK_URL": "slack://TOKENAAAA/TOKENBBBB/TOKENCCCCCCCC"},
    )
    assert out.returncode == 0, out.stderr
    assert "hunter2secret" not in out.stdout and "TOKENBBBB" not in out.stdout
    assert "mailtos://***@mail.example.com" in out.stdout


def test_redact_masks_tokens_and_query_secrets():
    assert "abc123secret" not in redact("json://host/path?token=abc123secret")
    assert redact("slack://T1234567/B7654321/abcdefghijklmnop") == "slack://***/***/***"


@pytest.mark.parametrize(
    "url, shown",
    [
        # The "host" of these services is a token: nothing of it may show.
        ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654", "tgram://***/***"),
        ("pbul://o.gn5kj6nfhv736I7jC3cj3QLRiyhgl98b", "pbul://***"),
        ("slack://T000/B000/XXXX", "slack://***/***/***"),
        ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "discord://***/***"),
        # A real host name shows; user, password, path and query values do not.
        ("mailtos://me:pw123456@smtp.example.com", "mailtos://***@smtp.example.com"),
        ("json://hooks.example.com/a1/b2?token=abc", "json://hooks.example.com/***/***?token=***"),
        (
            "mailto://smtp.internal:25?mode=insecure&from=markwatch@brand.example&to=ops@brand.example",
            "mailto://smtp.internal:25?mode=***&from=***&to=***",
        ),
        ("json://127.0.0.1:9/hook", "json://127.0.0.1:9/***"),
        ("json://localhost", "json://localhost"),
        # A dotted token is not a host name either.
        ("json://o.gn5kj6nfhv736I7jC3cj3QLRiyhgl98b/x", "json://***/***"),
        ("user:hunter2secret@nowhere", "***@***"),
    ],
)
def test_redact_shows_scheme_and_real_host_only(url: str, shown: str):
    assert redact(url) == shown


def test_check_refuses_an_alert_url_apprise_cannot_load(demo_dir: Path):
    # A mistyped scheme passed `check` and then queued alerts that were never sent.
    path = demo_dir / "markwatch.yaml"
    data = yaml.safe_load(path.read_text())
    data["alerts"] = [{"url": "json://hooks.example.com/a"}, {"url": "mailot://bob:hunter2secret@mail.example.com"}]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    out = run_cli("check", "--config", str(path))
    assert out.returncode == 2, out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "alerts[1].url: apprise does not recognise this URL" in lines[0], out.stderr
    assert "mailot://***@mail.example.com" in lines[0]
    assert "hunter2secret" not in out.stderr + out.stdout


def test_check_masks_token_hosts(demo_dir: Path):
    path = demo_dir / "markwatch.yaml"
    data = yaml.safe_load(path.read_text())
    data["alerts"] = [{"url": "${TG_URL}"}, {"url": "slack://T000/B000/XXXX"}]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    out = run_cli(
        "check", "--config", str(path),
        env={"TG_URL": "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654"},
    )
    assert out.returncode == 0, out.stderr
    assert "tgram://***/***" in out.stdout and "slack://***/***/***" in out.stdout
    for secret in ("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "123456789", "T000", "B000", "XXXX"):
        assert secret not in out.stdout


def test_alert_variables_are_read_only_when_alerts_are_used(demo_dir: Path, monkeypatch):
    path = demo_dir / "markwatch.yaml"
    data = yaml.safe_load(path.read_text())
    data["alerts"] = [{"url": "json://hooks.example.com"}, {"url": "json://${QA_HOOK_USER}@hooks.example.com/x"}]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    monkeypatch.delenv("QA_HOOK_USER", raising=False)
    client = load_client(path)  # scoring needs no alert secrets
    assert client.alerts[1].url == "json://${QA_HOOK_USER}@hooks.example.com/x"
    with pytest.raises(ConfigError, match=r"alerts\[1\]\.url: expected environment variable QA_HOOK_USER"):
        load_client(path, resolve_alerts=True)
    with pytest.raises(ConfigError, match=r"alerts\[1\]\.url: expected environment variable QA_HOOK_USER"):
        client.alert_urls()
    listings = demo_dir / "listings.jsonl"
    listings.write_text('{"id": "x:1", "title": "plain cable"}\n')
    out = run_cli(
        "score", "--config", str(path), "--listings", str(listings), "--out", str(demo_dir / "s.jsonl"),
        "--workers", "1", "--no-images",
    )
    assert out.returncode == 0, out.stderr
    assert (demo_dir / "s.jsonl").read_text().count("\n") == 1
    # An analyst's report or readiness check needs no alert secrets either; check and run do.
    assert run_cli("readiness", "--config", str(path)).returncode == 0
    store = str(demo_dir / "store.db")
    run_cli("db", "upgrade", "--db", store)
    assert run_cli("report", "--config", str(path), "--db", store, "-o", str(demo_dir / "r.html")).returncode == 0
    for command in (["check", "--config", str(path)], ["run", "--config", str(path), "--db", store]):
        out = run_cli(*command)
        assert out.returncode == 2 and "QA_HOOK_USER" in out.stderr, out.stderr
    monkeypatch.setenv("QA_HOOK_USER", "bob")
    assert client.alert_urls()[1] == "json://bob@hooks.example.com/x"


def test_a_bad_alert_url_is_described_without_its_secret(demo_dir: Path, monkeypatch):
    path = demo_dir / "markwatch.yaml"
    data = yaml.safe_load(path.read_text())
    data["alerts"] = [{"url": "${HOOK}"}]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    monkeypatch.setenv("HOOK", "hooks.example.com/s3cr3tpath")
    with pytest.raises(ConfigError) as err:
        load_client(path, resolve_alerts=True)
    message = str(err.value)
    assert "s3cr3tpath" not in message
    assert "got 'hooks.example.com/***' (from ${HOOK})" in message, message
    monkeypatch.setenv("HOOK", "a1b2c3d4e5")
    with pytest.raises(ConfigError, match=r"got 10 characters without '://' \(from \$\{HOOK\}\)"):
        load_client(path, resolve_alerts=True)


def _set(data: dict, path: str, value) -> None:
    """Set (or with value=DELETE remove) a key given as 'marks.0.registrations.0.number'."""
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if value is DELETE:
        del node[int(last) if last.isdigit() else last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


DELETE = object()

# (case id, edits to the demo file, key path the error must name, words the reason must contain)
BROKEN = [
    ("unknown-top-key", [("marketplace", {})], "marketplace", "unknown key"),
    ("unknown-mark-key", [("marks.0.term", ["x"])], "marks[0].term", "unknown key"),
    ("missing-client-name", [("client.name", DELETE)], "client.name", "missing"),
    ("no-marks", [("marks", [])], "marks", "at least 1 item"),
    ("bad-date", [("marks.0.registrations.0.valid_until", "soon")], "marks[0].registrations[0].valid_until", "date"),
    ("expired-before-valid", [("marks.0.registrations.0.valid_until", dt.date(2020, 1, 1))],
     "marks[0].registrations[0]", "must be after valid_from"),
    ("bad-country", [("marks.0.registrations.1.country", "XX")], "marks[0].registrations[1].country", "ISO 3166"),
    ("missing-image", [("marks.1.images", ["marks/nope.png"])], "marks[1].images", "not found"),
    ("duplicate-mark-id", [("marks.1.id", "lumora")], "marks[1].id", "duplicate mark id"),
    ("unknown-mark-in-product", [("products.0.mark", "acme")], "products[0].mark", "mark ids"),
    ("bad-currency", [("products.0.currency", "DOLLARS")], "products[0].currency", "ISO 4217"),
    ("negative-msrp", [("products.0.msrp", -5)], "products[0].msrp", "> 0"),
    ("msrp-not-number", [("products.0.msrp", "cheap")], "products[0].msrp", "number"),
    ("bad-mark-type", [("marks.0.type", "brand")], "marks[0].type", "trademark"),
    ("nice-class-out-of-range", [("marks.0.classes", [9, 46])], "marks[0].classes[1]", "<= 45"),
    ("mark-without-terms-or-images", [("marks.1.images", [])], "marks[1]", "terms or images"),
    ("seller-without-id-or-name", [("authorized_sellers.0.seller_id", DELETE)], "authorized_sellers[0]",
     "seller_id or seller_name"),
    ("bad-base-url", [("marketplaces.aliexpress.base_url", "ftp://x")], "marketplaces.aliexpress.base_url", "http"),
    ("max-pages-zero", [("marketplaces.aliexpress.max_pages", 0)], "marketplaces.aliexpress.max_pages",
     ">= 1"),
    ("enabled-not-bool", [("marketplaces.taobao.enabled", "sometimes")], "marketplaces.taobao.enabled", "true or false"),
    ("bad-min-verdict", [("alerts", [{"url": "json://localhost", "min_verdict": "maybe"}])], "alerts[0].min_verdict",
     "counterfeit"),
    ("alert-env-missing", [("alerts", [{"url": "${MARKWATCH_NOT_SET_ANYWHERE}"}])], "alerts[0].url",
     "MARKWATCH_NOT_SET_ANYWHERE"),
    ("rate-currency", [("exchange_rates.rates", {"BTCX": 1.0})], "exchange_rates.rates", "ISO 4217"),
    ("rate-missing-for-product", [("exchange_rates.rates", {"EUR": 1.08})], "products[1].currency",
     "expected a rate for CNY"),
    ("thresholds-inverted", [("thresholds", {"counterfeit": 0.3, "review": 0.6})], "thresholds", "review <= counterfeit"),
    ("missing-document", [("client.documents.business_license", "docs/missing.pdf")],
     "client.documents.business_license", "not found"),
    ("missing-certificate", [("marks.0.registrations.0.certificate", "docs/nope.pdf")],
     "marks[0].registrations[0].certificate", "not found"),
    ("marks-not-list", [("marks", "lumora")], "marks", "list"),
    # Misspelt or uncrawlable names: a typo must not switch monitoring off.
    ("marketplace-typo", [("marketplaces.ebayy", {"max_pages": 2})], "marketplaces.ebayy",
     "did you mean 'ebay'? expected one of 1688, alibaba, aliexpress"),
    ("generic-site-without-selectors", [("marketplaces.smallshop", {"search_url": "https://s.example/?q={term}"})],
     "marketplaces.smallshop", "needs search_url and selectors (missing: selectors)"),
    ("seller-marketplace-typo", [("authorized_sellers.0.marketplace", "aliexprss")],
     "authorized_sellers[0].marketplace", "unknown marketplace 'aliexprss'; did you mean 'aliexpress'?"),
    ("seller-marketplace-unknown", [("authorized_sellers.1.marketplace", "shopx")],
     "authorized_sellers[1].marketplace", "expected a configured marketplace or a spider name"),
    ("search-url-without-term", [("marketplaces.smallshop", {
        "search_url": "https://s.example/search?q=x", "selectors": {"item": "div", "id": "::attr(id)", "title": "h2"}})],
     "marketplaces.smallshop.search_url", "{term}"),
    ("bad-css-selector", [("marketplaces.smallshop", {
        "search_url": "https://s.example/?q={term}", "selectors": {"item": "div[[[", "id": "::attr(id)", "title": "h2"}})],
     "marketplaces.smallshop.selectors.item", "expected a CSS selector"),
    ("bad-xpath-selector", [("marketplaces.smallshop", {
        "search_url": "https://s.example/?q={term}", "selectors": {"item": "div", "id": "xpath:.//a[", "title": "h2"}})],
     "marketplaces.smallshop.selectors.id", "XPath"),
    ("bad-mark-id", [("marks.0.id", "has space")], "marks[0].id", "no spaces"),
]


@pytest.mark.parametrize("case, edits, key, words", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_client_file_one_line_exit_2(demo_dir: Path, tmp_path: Path, case, edits, key, words):
    path = demo_dir / "markwatch.yaml"
    data = yaml.safe_load(path.read_text())
    for where, value in edits:
        _set(data, where, value)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    with pytest.raises(ConfigError) as err:
        load_client(path, resolve_alerts=True)
    message = str(err.value)
    assert message.startswith(f"{path}: {key}"), message
    assert words.lower() in message.lower(), message
    assert "\n" not in message
    out = run_cli("check", "--config", str(path))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0], out.stderr


@pytest.mark.parametrize(
    "text, words",
    [
        ("client: [unclosed\n", "invalid YAML at line"),
        ("- just\n- a list\n", "expected a mapping"),
        ("", "expected a mapping"),
        ("client:\n  name: X\nmarks:\n  - id: a\n    title: A\n    terms: [A]\n  bad indent\n", "invalid YAML"),
    ],
)
def test_unparseable_files(tmp_path: Path, text: str, words: str):
    path = tmp_path / "markwatch.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words):
        load_client(path)


def test_missing_and_binary_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="file not found"):
        load_client(tmp_path / "absent.yaml")
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConfigError, match="cannot read"):
        load_client(junk)


def test_duplicate_key_is_refused_with_its_line(demo_dir: Path):
    path = demo_dir / "markwatch.yaml"
    text = path.read_text()
    text = text.replace("marketplaces:\n", "marketplaces:\n  amazon:\n    max_pages: 9\n", 1)
    path.write_text(text)
    lines = text.splitlines()
    first = lines.index("  amazon:") + 1
    second = lines.index("  amazon:", first) + 1
    with pytest.raises(ConfigError) as err:
        load_client(path)
    message = str(err.value)
    assert message.startswith(f"{path}: line {second}: duplicate key 'amazon' (first at line {first})"), message
    assert "\n" not in message
    out = run_cli("check", "--config", str(path))
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0, out.stderr
    assert f"line {second}: duplicate key 'amazon'" in out.stderr
    # Two on one line (a flow mapping) are caught too.
    path.write_text(text.replace("  amazon:\n    max_pages: 9\n", "  shop: {enabled: false, enabled: true}\n", 1))
    with pytest.raises(ConfigError, match=r"line \d+: duplicate key 'enabled' \(first at line \d+\)"):
        load_client(path)


def test_an_impossible_date_is_one_line_with_its_place(demo_dir: Path):
    # 2031-02-30 looks like a date to YAML, and datetime refuses it with a traceback.
    path = demo_dir / "markwatch.yaml"
    text = path.read_text()
    assert "valid_until: 2031-03-13" in text
    path.write_text(text.replace("valid_until: 2031-03-13", "valid_until: 2031-02-30", 1))
    out = run_cli("check", "--config", str(path))
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0, out.stderr
    assert "registrations[0].valid_until: expected a date YYYY-MM-DD, got '2031-02-30'" in out.stderr


def test_yaml_merge_keys_may_be_overridden(demo_dir: Path):
    path = demo_dir / "markwatch.yaml"
    data = yaml.safe_load(path.read_text())
    data.pop("marketplaces")
    text = yaml.safe_dump(data, allow_unicode=True)
    text += "marketplaces:\n  aliexpress: &polite {max_pages: 2, download_delay: 3.0}\n"
    text += "  dhgate:\n    <<: *polite\n    max_pages: 4\n"
    path.write_text(text)
    client = load_client(path)
    assert client.marketplaces["dhgate"].max_pages == 4
    assert client.marketplaces["dhgate"].download_delay == 3.0


def test_spider_names_match_scrapys_spider_loader():
    from scrapy.spiderloader import SpiderLoader

    from crawler.config import spider_names
    from crawler.spider import project_settings

    found = set(SpiderLoader.from_settings(project_settings()).list())
    assert set(spider_names()) == found - {"generic"}


def test_a_disabled_block_or_a_score_only_file_may_name_other_sites(demo_dir: Path):
    path = demo_dir / "markwatch.yaml"
    data = yaml.safe_load(path.read_text())
    data["marketplaces"]["shopsite"] = {"enabled": False, "base_url": "https://shopsite.example"}
    data["authorized_sellers"].append({"marketplace": "shopsite", "seller_id": "1"})
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    assert load_client(path).marketplaces["shopsite"].enabled is False
    # Without marketplaces (a file for `score`), a listing source may be any name but a
    # near miss of a spider's.
    data.pop("marketplaces")
    data["authorized_sellers"] = [{"marketplace": "shopx", "seller_id": "1"}]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    assert load_client(path).authorized_sellers[0].marketplace == "shopx"
    data["authorized_sellers"] = [{"marketplace": "taobo", "seller_id": "1"}]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(ConfigError, match=r"authorized_sellers\[0\]\.marketplace: .*did you mean 'taobao'"):
        load_client(path)


def test_benchmark_client_file_loads():
    bench = Path("/work/shared/benchmark/dev/markwatch.yaml")
    if not bench.is_file():
        pytest.skip("no benchmark client file here")
    assert load_client(bench).authorized_sellers
