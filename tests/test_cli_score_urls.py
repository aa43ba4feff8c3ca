"""`markwatch score` reads photos given as http(s) URLs (CONTRACT §2), through the network guard."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.conftest import DEMO_CONFIG, run_cli


class _Photos(SimpleHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/to-metadata":  # a redirect to the cloud metadata address
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/photo.jpg")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def photo_server(tmp_path: Path):
    folder = tmp_path / "www"
    folder.mkdir()
    shutil.copy(DEMO_CONFIG.parent / "products" / "lumora-buds.jpg", folder / "buds.jpg")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Photos, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _score(tmp_path: Path, config: Path, urls: list[str]):
    lines = [json.dumps({"id": f"x:{i}", "title": "wireless earbuds", "images": [u]}) for i, u in enumerate(urls)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    res = run_cli("score", "--config", str(config), "--listings", str(tmp_path / "in.jsonl"),
                  "--out", str(tmp_path / "out.jsonl"), "--workers", "1")
    assert res.returncode == 0, res.stderr
    return [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()], res.stderr


def test_photos_by_url_from_a_marketplace_host_are_compared(photo_server: str, tmp_path: Path) -> None:
    folder = tmp_path / "client"
    shutil.copytree(DEMO_CONFIG.parent, folder, ignore=shutil.ignore_patterns("market"))
    data = yaml.safe_load((folder / "markwatch.yaml").read_text())
    data["marketplaces"] = {"aliexpress": {"base_url": photo_server}}  # its host is trusted (CONTRACT §1)
    (folder / "markwatch.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    rows, err = _score(tmp_path, folder / "markwatch.yaml", [f"{photo_server}/buds.jpg", f"{photo_server}/to-metadata"])
    assert rows[0]["verdict"] != "clear" and any(s["kind"] == "image" for s in rows[0]["signals"]), rows[0]
    # A redirect to a private address is refused before connecting.
    assert rows[1]["verdict"] == "clear" and "refused" in err and "169.254.169.254" in err, err


def test_photos_on_a_private_host_the_client_does_not_name_are_refused(photo_server: str, tmp_path: Path) -> None:
    rows, err = _score(tmp_path, DEMO_CONFIG, [f"{photo_server}/buds.jpg"])
    assert rows[0]["verdict"] == "clear" and not rows[0]["signals"] or all(
        s["kind"] != "image" for s in rows[0]["signals"]
    )
    assert "refused" in err and "127.0.0.1" in err, err
