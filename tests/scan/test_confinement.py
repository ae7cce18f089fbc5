"""A crafted dataset cannot make the scan write outside ``--out``, read outside its tree,
block on a device, or fail a whole shard with one bad row (issue #11's repros)."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clearance.cli import main
from clearance.core.errors import UnsafePath, UnsupportedInput, UserError
from clearance.scan import scan
from clearance.scan.outputs import build_licenses
from tests.samples import write_image
from tests.scan.conftest import decisions


def _hf(tmp_path: Path, names: list[object]) -> Path:
    folder = tmp_path / "hf"
    datasets.Dataset.from_dict({"text": ["a b c d e f g h"]}).save_to_disk(str(folder))
    state = json.loads((folder / "state.json").read_text())
    state["_data_files"] = [{"filename": n} for n in names]
    (folder / "state.json").write_text(json.dumps(state))
    return folder


@pytest.mark.parametrize("name", ["deep/../../../../PWNED.sh", "../victim/data.arrow", "/etc/x"])
def test_hf_state_naming_files_outside_is_refused(tmp_path: Path, registry: str, name: str) -> None:
    folder = _hf(tmp_path, [name])
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "data.arrow").write_bytes(b"precious")
    out = tmp_path / "out"
    with pytest.raises(UnsafePath):
        scan(folder, out, registry=registry, web="off", workers=1)
    assert not out.exists() or not (out / "cleared").exists()
    assert (victim / "data.arrow").read_bytes() == b"precious"
    assert not (tmp_path.parent / "PWNED.sh").exists()


def test_hf_state_with_non_string_names_is_a_user_error(tmp_path: Path, registry: str) -> None:
    folder = _hf(tmp_path, [123])
    with pytest.raises(UserError):
        scan(folder, tmp_path / "out", registry=registry, web="off", workers=1)
    bad = json.loads((folder / "state.json").read_text())
    bad["_data_files"] = "nope"
    (folder / "state.json").write_text(json.dumps(bad))
    with pytest.raises(UnsupportedInput):
        scan(folder, tmp_path / "out2", registry=registry, web="off", workers=1)


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_hostile_tar_members_are_error_rows_and_never_copied(tmp_path: Path, registry: str) -> None:
    shards = tmp_path / "shards"
    shards.mkdir()
    img = write_image(tmp_path / "free.jpg", 4242).read_bytes()
    _tar(
        shards / "00000.tar",
        {
            "../../escape.jpg": img,
            "/abs/path.png": img,
            "ok.jpg": img,
            "ok.json": json.dumps({"url": "https://free.example/ok.jpg"}).encode(),
        },
    )
    out = tmp_path / "out"
    scan(shards / "00000.tar", out, registry=registry, web="off", workers=1)
    rows = decisions(out)
    errors = [r for r in rows.values() if r["outcome"] == "error"]
    assert len(errors) == 2 and all("tar member" in r["error"] for r in errors)
    assert rows["https://free.example/ok.jpg"]["outcome"] == "include"
    with tarfile.open(out / "cleared" / "00000.tar") as tar:
        assert tar.getnames() == ["ok.jpg", "ok.json"]
    assert not (tmp_path / "escape.jpg").exists()


def test_deep_json_in_a_sample_is_an_error_row(tmp_path: Path, registry: str) -> None:
    shards = tmp_path / "shards"
    shards.mkdir()
    _tar(shards / "00000.tar", {"a.txt": b"hello there", "a.json": b"[" * 100_000})
    out = tmp_path / "out"
    scan(shards / "00000.tar", out, registry=registry, web="off", workers=1)
    (row,) = decisions(out).values()
    assert row["outcome"] == "error" and "nested too deeply" in row["error"]


def test_folder_links_out_of_the_tree_are_refused(tmp_path: Path, registry: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    write_image(outside / "secret.jpg", 4243)
    data = tmp_path / "data"
    data.mkdir()
    write_image(data / "mine.jpg", 4244)
    (data / "link.jpg").symlink_to(outside / "secret.jpg")
    (data / "loop.jpg").symlink_to(data / "loop.jpg")
    out = tmp_path / "out"
    scan(data, out, registry=registry, web="off", workers=1)
    rows = {Path(k).name: r for k, r in decisions(out).items()}
    assert rows["mine.jpg"]["outcome"] == "include"
    assert rows["link.jpg"]["outcome"] == "error" and "outside" in rows["link.jpg"]["error"]
    assert rows["loop.jpg"]["outcome"] == "error"
    assert sorted(p.name for p in (out / "cleared").iterdir()) == ["mine.jpg"]
    # a base directory that holds the link's target lets it in
    scan(data, tmp_path / "out2", registry=registry, web="off", workers=1, base_dir=tmp_path)
    rows = {Path(k).name: r for k, r in decisions(tmp_path / "out2").items()}
    assert rows["link.jpg"]["outcome"] == "include"


def test_path_rows_to_devices_fifos_and_outside_files(tmp_path: Path, registry: str) -> None:
    fifo = tmp_path / "data" / "pipe.jpg"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    write_image(tmp_path / "data" / "ok.jpg", 4245)
    table = tmp_path / "data" / "t.parquet"
    paths = ["/dev/zero", str(fifo), "ok.jpg", "../secret.txt", "/etc/hostname", "x\x00y"]
    (tmp_path / "secret.txt").write_text("nope")
    pq.write_table(pa.table({"path": paths}), table)
    out = tmp_path / "out"
    scan(table, out, registry=registry, web="off", workers=1)  # returns: nothing blocks
    rows = decisions(out)
    assert rows["ok.jpg"]["outcome"] == "include"
    for path in paths:
        if path != "ok.jpg":
            assert rows[path]["outcome"] == "error", path
    assert "not a regular file" in rows[str(fifo)]["error"]
    assert "outside" in rows["../secret.txt"]["error"]
    assert "outside" in rows["/dev/zero"]["error"]
    # inside the base directory, a device is still never read
    scan(table, tmp_path / "out2", registry=registry, web="off", workers=1, base_dir="/")
    again = decisions(tmp_path / "out2")
    assert "not a regular file" in again["/dev/zero"]["error"]


def test_long_csv_fields_and_deep_jsonl_rows(tmp_path: Path, registry: str) -> None:
    chapter = "word " * 60_000  # 300,000 characters, over csv's default 131,072
    csv_file = tmp_path / "t.csv"
    csv_file.write_text(f'text,n\n"{chapter}",1\nshort text here,2\n', encoding="utf-8")
    out = tmp_path / "csv-out"
    result = scan(csv_file, out, registry=registry, web="off", workers=1)
    assert result.report["outcomes"]["error"] == 0 and result.report["items"] == 2
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text(
        '{"text": "one"}\n' + '{"text": ' + "[" * 100_000 + "\n" + '{"text": "three"}\n'
    )
    out = tmp_path / "jsonl-out"
    result = scan(jsonl, out, registry=registry, web="off", workers=1, shard_size=2)
    assert result.report["outcomes"]["error"] == 1 and result.report["items"] == 3
    assert any("nested too deeply" in (r["error"] or "") for r in decisions(out).values())


def test_urls_that_are_not_http_are_error_rows_without_the_web(
    tmp_path: Path, registry: str
) -> None:
    rows = ["javascript:alert(1)", "file:///etc/passwd", "ftp://x.example/a", "https://[::1", "7"]
    table = tmp_path / "t.jsonl"
    table.write_text("\n".join(json.dumps({"url": u}) for u in rows) + "\n" + '{"url": 12}\n')
    out = tmp_path / "out"
    result = scan(table, out, registry=registry, web="off", workers=1)
    assert result.report["outcomes"]["error"] == 6
    assert all("invalid URL" in r["error"] for r in decisions(out).values())


def test_out_inside_the_input_or_unusable_is_refused(tmp_path: Path, registry: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_image(data / "a.jpg", 4246)
    with pytest.raises(UserError, match="inside the input"):
        scan(data, data / "out", registry=registry, web="off", workers=1)
    code = main(["scan", str(data), "--out", "/proc/x", "--web", "off", "--registry", registry])
    assert code == 2
    table = tmp_path / "out" / "t.jsonl"
    table.parent.mkdir()
    table.write_text('{"text": "hello"}\n')
    with pytest.raises(UserError, match="inside --out"):
        scan(table, tmp_path / "out", registry=registry, web="off", workers=1)


def test_a_bill_with_an_absurd_price_is_reported_not_fatal() -> None:
    work = {"id": 1, "owner": "Zed", "title": None, "permission": "license",
            "price": {"amount": "1e99999999999999", "currency": "EUR", "per": "item"}}  # fmt: skip
    row = {"item_id": "x", "source": "s", "outcome": "needs-license", "reasons": [],
           "evidence": json.dumps({"works": [work]})}  # fmt: skip
    bill = build_licenses([row], "train-genai")
    assert bill["owners"][0]["works"][0]["amount"] is None
    assert bill["totals"] == {} and "cannot be billed" in bill["warnings"][0]
