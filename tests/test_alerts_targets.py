"""Alert targets: only a redacted URL is ever shown, secrets are masked in error text
without damaging its words, and `${NAME}` in the client file is read when alerts are used."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alerts.outbox import send
from alerts.targets import Target, load_targets, parse_url_list
from crawler.config import ConfigError, load_client, mask_secrets, redact
from tests.conftest import run_cli

TG = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654"
PBUL = "pbul://o.gn5kj6nfhv736I7jC3cj3QLRiyhgl98b"
SLACK = "slack://T000/B000/XXXX"
SECRETS = ("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "123456789", "987654", "gn5kj6nfhv736I7jC3cj3QLRiyhgl98b",
           "T000", "B000", "XXXX")


@pytest.mark.parametrize(
    "url, shown",
    [
        (TG, "tgram://***/***"),
        (PBUL, "pbul://***"),
        (SLACK, "slack://***/***/***"),
        ("mailtos://me:pw123456@smtp.example.com", "mailtos://***@smtp.example.com"),
        (
            "mailto://smtp.internal:25?mode=insecure&from=markwatch@brand.example&to=ops@brand.example",
            "mailto://smtp.internal:25?mode=***&from=***&to=***",
        ),
    ],
)
def test_display_is_the_one_redaction(url: str, shown: str):
    target = Target(url)
    assert target.display == redact(url) == shown == str(target)
    assert url not in repr(target)


def test_masking_keeps_ordinary_words_and_hides_every_secret():
    url = "mailtos://u:hunter2secret@smtp.example.com?from=markwatch@brand.example&to=ops@brand.example"
    text = f"Connection error while submitting email as u with hunter2secret to {url}"
    masked = mask_secrets(text, url)
    assert masked.startswith("Connection error while submitting email as *** with *** to mailtos://***@smtp")
    assert "hunter2secret" not in masked and "brand.example" not in masked
    # A long secret is masked even inside other text; the URL's real host is not a secret.
    assert mask_secrets("tokenAAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw!", TG) == "token***!"
    assert mask_secrets("sent to smtp.example.com", url) == "sent to smtp.example.com"


def test_masking_hides_apprise_s_abbreviated_secrets():
    # apprise logs an unusable URL as "Unparseable URL mailot://bob:h...t@m...m": the
    # first and last characters of the password are not to be printed either.
    from apprise.utils.cwe312 import cwe312_url

    url = "mailot://bob:hunter2secret@mail.example.com/?token=TOK123abc"
    masked = mask_secrets(f"Unparseable URL {cwe312_url(url)}", url)
    assert "h...t" not in masked and "T...c" not in masked, masked


def test_a_failed_send_names_the_error_without_damage_or_secrets():
    # Port 9 on loopback: nothing listens, so the send fails at once.
    target = Target("mailto://u:hunter2secret@127.0.0.1:9?from=a@brand.example&to=b@brand.example")
    ok, error = send(target, "test", [{"target": target.display}], None, "test-1")
    assert not ok
    assert "submitting" in error or "sending" in error, error
    assert "***bmitting" not in error and "hunter2secret" not in error


def test_url_list_errors_show_the_host_but_no_secret():
    with pytest.raises(ConfigError) as err:
        parse_url_list("ops=memo://ops user:hunter2secret@hooks.example.com/abc")
    message = str(err.value)
    assert "hunter2secret" not in message and "'***@hooks.example.com/***'" in message, message


def _client_with_alerts(folder: Path, urls: list[str]) -> Path:
    path = folder / "markwatch.yaml"
    data = yaml.safe_load(path.read_text())
    data["alerts"] = [{"url": u} for u in urls]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_targets_read_environment_variables_when_loaded(demo_dir: Path, monkeypatch):
    path = _client_with_alerts(demo_dir, ["json://hooks.example.com/a", "${TG_URL}"])
    monkeypatch.delenv("TG_URL", raising=False)
    client = load_client(path)
    with pytest.raises(ConfigError, match=r"alerts\[1\]\.url: expected environment variable TG_URL to be set"):
        load_targets(client, env={})
    monkeypatch.setenv("TG_URL", TG)
    targets = load_targets(client, env={})
    assert [t.url for t in targets] == ["json://hooks.example.com/a", TG]
    assert [t.display for t in targets] == ["json://hooks.example.com/***", "tgram://***/***"]


def test_alerts_test_and_check_print_no_token(demo_dir: Path):
    path = _client_with_alerts(demo_dir, ["${TG_URL}", PBUL, SLACK])
    # A proxy nobody listens on: every service fails at once, without the internet.
    env = {"TG_URL": TG, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "NO_PROXY": "", "MARKWATCH_ALERT_URLS": "", "MARKWATCH_APPRISE_CONFIG": ""}
    out = run_cli("alerts", "test", "--config", str(path), env=env, timeout=120)
    shown = out.stdout + out.stderr
    assert "tgram://***/***" in shown and "pbul://***" in shown and "slack://***/***/***" in shown, shown
    for secret in SECRETS:
        assert secret not in shown, secret
    out = run_cli("check", "--config", str(path), env=env)
    assert out.returncode == 0, out.stderr
    for secret in SECRETS:
        assert secret not in out.stdout, secret
