"""`markwatch score`: output in input order, bad lines skipped with their number, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLIENT = """
client:
  name: Test Brands Ltd.
marks:
  - id: dyson
    title: Dyson
    terms: [Dyson, 戴森]
    classes: [7, 11]
    keywords: [vacuum, hair dryer]
products:
  - id: dyson-v15
    mark: dyson
    name: Dyson V15 Detect cordless vacuum
    msrp: 700
    currency: USD
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", "score", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_scores_in_order_and_skips_bad_lines(tmp_path: Path) -> None:
    (tmp_path / "markwatch.yaml").write_text(CLIENT, encoding="utf-8")
    lines = [
        json.dumps({"id": "a", "title": "Dyson V15 vacuum 1:1 replica", "price": 90}),
        '{"id": "t", "title": "cut off here"',
        json.dumps({"id": "b", "title": "Ceramic flower pot"}),
        json.dumps({"title": "no id here"}),
        json.dumps(
            {
                "id": "c",
                "title": "D.Y.S.O.N cordless vacuum",
                "price": 80,
                "images": ["missing.jpg"],
            }
        ),
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = run(
        "--config", "markwatch.yaml", "--listings", "in.jsonl", "--out", "out.jsonl", cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    assert "in.jsonl:2:" in res.stderr and "invalid JSON" in res.stderr
    assert "at column 36" in res.stderr  # where the line is cut, not on a next line
    assert "in.jsonl:4:" in res.stderr and "'id'" in res.stderr
    out = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in out] == ["a", "b", "c"]
    assert out[0]["verdict"] == "counterfeit" and out[0]["mark_id"] == "dyson"
    assert out[1]["verdict"] == "clear" and out[1]["mark_id"] is None
    assert out[2]["verdict"] != "clear"
    for r in out:
        assert set(r) >= {"id", "score", "verdict", "mark_id", "signals"}
        assert 0.0 <= r["score"] <= 1.0
        assert all(s["detail"] for s in r["signals"])


def test_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "markwatch.yaml").write_text(
        "client: {name: X}\nmarks: []\nbogus: 1\n", encoding="utf-8"
    )
    (tmp_path / "in.jsonl").write_text('{"id": "a", "title": "x"}\n', encoding="utf-8")
    res = run(
        "--config", "markwatch.yaml", "--listings", "in.jsonl", "--out", "out.jsonl", cwd=tmp_path
    )
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "markwatch.yaml" in res.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    (tmp_path / "markwatch.yaml").write_text(CLIENT, encoding="utf-8")
    res = run(
        "--config", "markwatch.yaml", "--listings", "nope.jsonl", "--out", "out.jsonl", cwd=tmp_path
    )
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "nope.jsonl" in res.stderr
    (tmp_path / "dir.jsonl").mkdir()
    res = run(
        "--config", "markwatch.yaml", "--listings", "dir.jsonl", "--out", "out.jsonl", cwd=tmp_path
    )
    assert res.returncode == 2


def test_many_listings_use_the_worker_pool_and_keep_order(tmp_path: Path) -> None:
    (tmp_path / "markwatch.yaml").write_text(CLIENT, encoding="utf-8")
    titles = ["Dyson vacuum replica", "Garden hose 20m", "戴森吹风机 高仿", "Yoga mat"]
    with (tmp_path / "in.jsonl").open("w", encoding="utf-8") as f:
        for i in range(300):
            f.write(
                json.dumps(
                    {"id": f"id{i}", "title": titles[i % 4], "price": 20}, ensure_ascii=False
                )
                + "\n"
            )
    res = run(
        "--config",
        "markwatch.yaml",
        "--listings",
        "in.jsonl",
        "--out",
        "out.jsonl",
        "--workers",
        "2",
        "--no-images",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    out = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in out] == [f"id{i}" for i in range(300)]
    assert [r["verdict"] != "clear" for r in out[:4]] == [True, False, True, False]


def _photo_run(tmp_path: Path, photos: dict[str, str], shown: list[str]) -> None:
    """A client with one logo mark, the fixture `photos` under their new names, and
    in.jsonl with one listing per entry of `shown` (the photo it shows)."""
    fixtures = Path(__file__).parent / "fixtures" / "matching_images"
    for name, source in {"logo.png": "round-logo.png", **photos}.items():
        (tmp_path / name).write_bytes((fixtures / source).read_bytes())
    (tmp_path / "markwatch.yaml").write_text(
        "client: {name: Test Brands Ltd.}\n"
        "marks:\n  - {id: roundco, title: Roundco, images: [logo.png]}\n",
        encoding="utf-8",
    )
    with (tmp_path / "in.jsonl").open("w", encoding="utf-8") as f:
        for i, photo in enumerate(shown):
            f.write(json.dumps({"id": f"id{i}", "title": "Garden hose", "images": [photo]}) + "\n")


def test_workers_match_each_photo_once_between_them(tmp_path: Path) -> None:
    # Two workers take chunks of CHUNK listings. Photo A opens the run; B (slow)
    # keeps the second worker busy while the first matches A and moves on to C
    # (slower); the second worker then meets A again and finds A's findings in
    # the run's shared photo store instead of matching it.
    import io

    import numpy as np

    from crawler.config import load_client
    from matching.batch import CHUNK, score_file
    from matching.image import load_image
    from matching.score import Matcher

    photos = ["a.jpg"] * CHUNK + ["b.jpg"] * CHUNK + ["c.jpg"] * CHUNK + ["a.jpg"] * 2 * CHUNK
    _photo_run(
        tmp_path,
        {"a.jpg": "flower.jpg", "b.jpg": "coins.jpg", "c.jpg": "studio-render.jpg"},
        photos,
    )
    matcher = Matcher(load_client(tmp_path / "markwatch.yaml"))
    delay = {load_image(tmp_path / "b.jpg").shape: 0.5, load_image(tmp_path / "c.jpg").shape: 1.0}
    calls = tmp_path / "calls.txt"
    match_photo = matcher.images.match_photo

    def counted(rgb: np.ndarray, name: str = "photo") -> list:  # runs in the forked workers
        with calls.open("a") as f:
            f.write(f"matched {rgb.shape} in {os.getpid()}\n")
        time.sleep(delay.get(rgb.shape, 0.0))
        return match_photo(rgb, name)

    matcher.images.match_photo = counted
    out = io.StringIO()
    stats = score_file(
        tmp_path / "markwatch.yaml", tmp_path / "in.jsonl", out, workers=2, matcher=matcher
    )
    assert stats.scored == len(photos)
    assert calls.read_text().count("matched") == 3, calls.read_text()
    # The parent's own cache was left as it was.
    assert matcher.images.cache.store is None


def test_no_room_for_the_shared_photo_store_still_scores_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import tempfile

    from matching.batch import CHUNK, score_file

    _photo_run(tmp_path, {"a.jpg": "flower.jpg"}, ["a.jpg"] * 3 * CHUNK)

    def no_room(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryDirectory", no_room)
    warnings: list[str] = []
    out = io.StringIO()
    stats = score_file(
        tmp_path / "markwatch.yaml", tmp_path / "in.jsonl", out, workers=2, warn=warnings.append
    )
    assert stats.scored == 3 * CHUNK and len(out.getvalue().splitlines()) == 3 * CHUNK
    assert warnings == [
        "photo findings not shared between workers: [Errno 28] No space left on device"
    ]


def test_every_warning_line_is_marked_as_markwatch_s(tmp_path: Path) -> None:
    # A photo that is not an image is logged by matching; it reads like the command's own lines.
    (tmp_path / "markwatch.yaml").write_text(CLIENT, encoding="utf-8")
    (tmp_path / "page.jpg").write_text("<html>not an image</html>", encoding="utf-8")
    lines = [json.dumps({"id": "d", "title": "cordless stick vacuum", "images": ["page.jpg"]}), "{not json"]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = run("--config", "markwatch.yaml", "--listings", "in.jsonl", "--out", "out.jsonl", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    warnings = [w for w in res.stderr.strip().splitlines() if "scored to" not in w]  # not the summary
    assert any("HTML/markup instead of an image" in w for w in warnings), res.stderr
    assert warnings and all(w.startswith("markwatch: ") for w in warnings), res.stderr


def test_a_byte_order_mark_and_wrong_types_are_told_apart(tmp_path: Path) -> None:
    (tmp_path / "markwatch.yaml").write_text(CLIENT, encoding="utf-8")
    lines = [
        json.dumps({"id": "a", "title": "Ceramic flower pot"}),  # after a BOM, as spreadsheet tools save it
        json.dumps({"id": "b", "title": 42}),
        json.dumps({"id": "c", "title": "Dyson V15", "price": "cheap"}),
    ]
    (tmp_path / "in.jsonl").write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode())
    res = run("--config", "markwatch.yaml", "--listings", "in.jsonl", "--out", "out.jsonl", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = [json.loads(x)["id"] for x in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert out == ["a"]
    assert "in.jsonl:2: skipped: 'title' must be text, got int 42" in res.stderr
    assert "in.jsonl:3: skipped: 'price' must be a number, got 'cheap'" in res.stderr
