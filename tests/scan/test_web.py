"""URL rows against a local site: robots.txt and tdmrep.json, HEAD mode, unreachable sites."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from clearance.scan import scan
from tests.localsite import LocalSite, serve
from tests.scan.conftest import decisions


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with serve(LocalSite()) as s:
        s.routes.update(
            {
                "/robots.txt": (200, {}, b"User-agent: GPTBot\nDisallow: /\n"),
                "/.well-known/tdmrep.json": (
                    200,
                    {"Content-Type": "application/json"},
                    json.dumps(
                        [
                            {"location": "/books/*", "tdm-reservation": 1},
                            {"location": "/*", "tdm-reservation": 0},
                        ]
                    ).encode(),
                ),
                "/books/b.jpg": (200, {"Content-Type": "image/jpeg"}, b""),
                "/open/o.jpg": (200, {"Content-Type": "image/jpeg"}, b""),
                "/open/noai.jpg": (200, {"X-Robots-Tag": "noai"}, b""),
            }
        )
        yield s


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _input(path: Path, urls: list[str]) -> Path:
    path.write_text("".join(json.dumps({"url": u}) + "\n" for u in urls), encoding="utf-8")
    return path


def test_origin_signals(tmp_path: Path, registry: str, site: LocalSite) -> None:
    dead = f"http://127.0.0.1:{_free_port()}/x.jpg"
    urls = [site.url("/books/b.jpg"), site.url("/open/o.jpg"), site.url("/open/noai.jpg"), dead]
    data = _input(tmp_path / "u.jsonl", urls)
    scan(data, tmp_path / "out", registry=registry, allow_private=True, workers=1)
    rows = decisions(tmp_path / "out")
    books = rows[urls[0]]
    assert books["outcome"] == "exclude" and "tdmrep.json:tdm=deny" in books["reasons"]
    assert any(r.startswith("robots.txt:train-") for r in books["reasons"])
    assert rows[urls[1]]["perm_tdm"] == "allow"
    # origin mode reads no per-URL headers: noai in X-Robots-Tag is not seen
    assert site.count("/open/noai.jpg") == 0
    assert site.count("/robots.txt") == 1  # once per origin
    # an unreachable site is never a silent allow: usages stay unknown, with a warning
    gone = rows[dead]
    assert gone["outcome"] == "include" and gone["perm_train-genai"] == "unknown"
    assert json.loads(gone["evidence"])["warnings"]
    # opt-in mode excludes what is unknown
    scan(data, tmp_path / "in", registry=registry, allow_private=True, workers=1, mode="opt-in")
    assert decisions(tmp_path / "in")[dead]["outcome"] == "exclude"


def test_head_mode_and_errors(tmp_path: Path, registry: str, site: LocalSite) -> None:
    dead = f"http://127.0.0.1:{_free_port()}/x.jpg"
    urls = [site.url("/open/noai.jpg"), dead, "ftp://example.com/file"]
    data = _input(tmp_path / "u.jsonl", urls)
    scan(data, tmp_path / "out", registry=registry, allow_private=True, web="head", workers=1)
    rows = decisions(tmp_path / "out")
    assert rows[urls[0]]["outcome"] == "exclude"
    assert rows[dead]["outcome"] == "error" and "unavailable" in rows[dead]["error"]
    assert rows[urls[2]]["outcome"] == "error"


def test_private_addresses_need_allow_private(
    tmp_path: Path, registry: str, site: LocalSite
) -> None:
    data = _input(tmp_path / "u.jsonl", [site.url("/books/b.jpg")])
    scan(data, tmp_path / "out", registry=registry, workers=1)
    row = decisions(tmp_path / "out")[site.url("/books/b.jpg")]
    assert site.requests == []
    assert row["perm_tdm"] == "unknown"


def test_web_off_makes_no_requests(tmp_path: Path, registry: str, site: LocalSite) -> None:
    data = _input(tmp_path / "u.jsonl", [site.url("/books/b.jpg")])
    scan(data, tmp_path / "out", registry=registry, web="off", allow_private=True, workers=1)
    assert site.requests == []
    assert decisions(tmp_path / "out")[site.url("/books/b.jpg")]["outcome"] == "include"
