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


def test_unreachable_sites_are_counted_and_decided(
    tmp_path: Path, registry: str, site: LocalSite, capsys: pytest.CaptureFixture[str]
) -> None:
    from clearance.cli import main

    site.routes["/ai.txt"] = (503, {}, b"")  # one file of a reachable site fails: counted too
    dead = f"http://127.0.0.1:{_free_port()}"
    urls = [site.url("/open/o.jpg"), f"{dead}/a.jpg", f"{dead}/b.jpg"]
    data = _input(tmp_path / "u.jsonl", urls)
    # without --allow-private every loopback site is refused: all three are counted
    refused = scan(data, tmp_path / "refused", registry=registry, workers=1)
    info = refused.report["unreachable"]
    assert info["items"] == 3 and info["origins"] == 2 and info["on_unreachable"] == "include"
    assert "address refused" in info["top"][0]["reason"]
    assert refused.report["outcomes"]["include"] == 3  # opt-out default: include, but said
    html = (tmp_path / "refused" / "report.html").read_text(encoding="utf-8")
    assert "Sites that could not be read" in html and dead in html
    out = scan(data, tmp_path / "out", registry=registry, allow_private=True, workers=1)
    info = out.report["unreachable"]
    assert info["items"] == 3 and info["top"][0] == {
        "origin": dead,
        "items": 2,
        "reason": info["top"][0]["reason"],
    }
    reason = {o["origin"]: o["reason"] for o in info["top"]}
    assert reason[site.url("").rstrip("/")] == "ai.txt: HTTP 503"
    rows = decisions(tmp_path / "out")
    assert json.loads(rows[urls[1]]["evidence"])["unreachable"]["origin"] == dead
    # exclude: a deny through the resolver, named in the reasons
    scan(data, tmp_path / "ex", registry=registry, allow_private=True, workers=1,
         on_unreachable="exclude")  # fmt: skip
    rows = decisions(tmp_path / "ex")
    assert all(r["outcome"] == "exclude" for r in rows.values())
    assert "unreachable:train-genai=deny" in rows[urls[1]]["reasons"]
    # opt-in mode defaults to exclude; error makes error rows
    opt_in = scan(data, tmp_path / "in", registry=registry, allow_private=True, workers=1,
                  mode="opt-in")  # fmt: skip
    assert opt_in.report["unreachable"]["on_unreachable"] == "exclude"
    scan(data, tmp_path / "err", registry=registry, allow_private=True, workers=1,
         on_unreachable="error")  # fmt: skip
    rows = decisions(tmp_path / "err")
    assert rows[urls[1]]["outcome"] == "error" and "could not be read" in rows[urls[1]]["error"]
    # the CLI summary says it too
    code = main(["scan", str(data), "--out", str(tmp_path / "cli"), "--registry", registry,
                 "--allow-private", "--workers", "1"])  # fmt: skip
    assert code == 0
    said = capsys.readouterr().out
    assert "3 URL items from 2 origins" in said and "--on-unreachable include" in said
    assert main(["scan", str(data), "--out", str(tmp_path / "bad"), "--registry", registry,
                 "--on-unreachable", "maybe"]) == 2  # fmt: skip
