"""Every input format in, decisions and ``cleared/`` in the same format out."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clearance.fingerprint import sha256_file
from clearance.scan import scan
from tests.samples import POEM, textured_image, write_image
from tests.scan.conftest import ANN_SEED, CLEO_SEED, FREE_SEED, decisions, read_json

LONG_TEXT = "A preface of our own words before the quotation. " + POEM + " And an ending."
ROWS = [
    {"url": "https://dana.example/a.jpg", "caption": "a"},
    {"url": "https://www.dana.example/b.jpg", "caption": "b"},
    {"url": "https://ben.example/lyrics/song1", "caption": "c"},
    {"url": "https://ben.example/lyrics/song2", "caption": "d"},
    {"url": "https://cleo.example/photo.jpg", "caption": "e"},
    {"url": "https://free.example/x.jpg", "caption": "f"},
    {"text": LONG_TEXT, "caption": "g"},
    {"text": "Nothing registered here at all, just some words.", "caption": "h"},
]
EXPECTED = {
    "https://dana.example/a.jpg": "exclude",
    "https://www.dana.example/b.jpg": "exclude",
    "https://ben.example/lyrics/song1": "needs-license",
    "https://ben.example/lyrics/song2": "needs-license",
    "https://cleo.example/photo.jpg": "include",
    "https://free.example/x.jpg": "include",
}


def _check_rows(out: Path, name: str, first: int = 6) -> dict[str, dict[str, object]]:
    rows = decisions(out)
    for url, outcome in EXPECTED.items():
        assert rows[url]["outcome"] == outcome, url
    assert rows[f"{name}#{first}"]["outcome"] == "needs-license"  # text containment
    assert rows[f"{name}#{first + 1}"]["outcome"] == "include"
    assert rows["https://dana.example/a.jpg"]["reasons"] == ["registry:train-ai=deny"]
    assert rows["https://cleo.example/photo.jpg"]["reasons"] == ["registry:tdm=allow"]
    return rows


def test_folder(tmp_path: Path, registry: str) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    textured_image(ANN_SEED).resize((250, 190)).save(data / "ann_copy.jpg", quality=70)
    write_image(data / "sub" / "free.jpg", FREE_SEED)
    write_image(data / "cleo.jpg", CLEO_SEED)
    (data / "quote.txt").write_text(LONG_TEXT, encoding="utf-8")
    (data / "broken.jpg").write_bytes(b"\xff\xd8\xff this is not an image")
    (data / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (data / ".hidden").write_text("skipped")
    result = scan(data, tmp_path / "out", registry=registry, web="off", workers=1)
    rows = {Path(s).name: r for s, r in decisions(tmp_path / "out").items()}
    assert set(rows) == {
        "ann_copy.jpg",
        "free.jpg",
        "cleo.jpg",
        "quote.txt",
        "broken.jpg",
        "latin1.txt",
    }
    assert rows["ann_copy.jpg"]["outcome"] == "exclude"  # PDQ on a resized re-encode
    assert rows["ann_copy.jpg"]["reasons"] == ["registry:tdm=deny"]
    assert json.loads(rows["ann_copy.jpg"]["evidence"])["works"][0]["matched_by"][0].startswith(
        "pdq:"
    )
    assert rows["cleo.jpg"]["outcome"] == "include" and rows["cleo.jpg"]["perm_tdm"] == "allow"
    assert rows["quote.txt"]["outcome"] == "needs-license"  # text containment
    assert rows["quote.txt"]["perm_train-genai"] == "license"
    assert rows["free.jpg"]["outcome"] == "include" and rows["free.jpg"]["reasons"] == []
    assert rows["broken.jpg"]["outcome"] == "error" and "image" in rows["broken.jpg"]["error"]
    assert rows["latin1.txt"]["outcome"] == "error"
    cleared = sorted(
        p.relative_to(tmp_path / "out" / "cleared").as_posix()
        for p in (tmp_path / "out" / "cleared").rglob("*")
        if p.is_file()
    )
    assert cleared == ["cleo.jpg", "sub/free.jpg"]
    assert result.report["outcomes"] == {
        "include": 2,
        "exclude": 1,
        "needs-license": 1,
        "review": 0,
        "error": 2,
    }
    # stable ids: a second run into another directory gives the same item ids
    scan(data, tmp_path / "again", registry=registry, web="off", workers=1)
    first = {r["item_id"] for r in decisions(tmp_path / "out").values()}
    assert first == {r["item_id"] for r in decisions(tmp_path / "again").values()}


def test_parquet_with_passthrough_and_image_bytes(tmp_path: Path, registry: str) -> None:
    buf = io.BytesIO()
    textured_image(ANN_SEED).save(buf, "JPEG", quality=80)
    rows = [{"url": None, "text": None, **r, "image": None} for r in ROWS] + [
        {"url": None, "caption": "img", "text": None, "image": buf.getvalue()}
    ]
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, tmp_path / "data.parquet", row_group_size=3)
    scan(
        tmp_path / "data.parquet",
        tmp_path / "out",
        registry=registry,
        web="off",
        workers=1,
        shard_size=4,
    )
    got = _check_rows(tmp_path / "out", "data.parquet")
    assert got["data.parquet#8"]["outcome"] == "exclude"
    cleared = pq.read_table(tmp_path / "out" / "cleared" / "data.parquet")
    assert cleared.column_names == table.column_names
    assert sorted(cleared.column("caption").to_pylist()) == ["e", "f", "h"]


def test_jsonl_keeps_lines(tmp_path: Path, registry: str) -> None:
    lines = [json.dumps({**r, "extra": i}) + "\n" for i, r in enumerate(ROWS)]
    (tmp_path / "data.jsonl").write_text(lines[0] + "\n" + "".join(lines[1:]), encoding="utf-8")
    scan(
        tmp_path / "data.jsonl",
        tmp_path / "out",
        registry=registry,
        web="off",
        workers=1,
        shard_size=3,
    )
    _check_rows(tmp_path / "out", "data.jsonl")
    cleared = (tmp_path / "out" / "cleared" / "data.jsonl").read_text(encoding="utf-8")
    assert cleared == lines[4] + lines[5] + lines[7]


def test_csv_and_relative_paths(tmp_path: Path, registry: str) -> None:
    write_image(tmp_path / "ann.jpg", ANN_SEED)
    with open(tmp_path / "data.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["url", "text", "path", "caption"])
        for r in ROWS:
            w.writerow([r.get("url", ""), r.get("text", ""), "", r["caption"]])
        w.writerow(["", "", "ann.jpg", "local"])
        w.writerow(["", "", "missing.jpg", "gone"])
    scan(
        tmp_path / "data.csv",
        tmp_path / "out",
        registry=registry,
        web="off",
        workers=1,
        shard_size=4,
    )
    rows = _check_rows(tmp_path / "out", "data.csv")
    assert rows["ann.jpg"]["outcome"] == "exclude"
    assert (
        rows["missing.jpg"]["outcome"] == "error" and "missing.jpg" in rows["missing.jpg"]["error"]
    )
    with open(tmp_path / "out" / "cleared" / "data.csv", newline="", encoding="utf-8") as fh:
        cleared = list(csv.reader(fh))
    assert cleared[0] == ["url", "text", "path", "caption"]
    assert [r[3] for r in cleared[1:]] == ["e", "f", "h"]


def test_glob_of_jsonl(tmp_path: Path, registry: str) -> None:
    (tmp_path / "parts").mkdir()
    for i in range(2):
        chunk = ROWS[i * 4 : (i + 1) * 4]
        (tmp_path / "parts" / f"p{i}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in chunk), encoding="utf-8"
        )
    scan(
        str(tmp_path / "parts" / "*.jsonl"),
        tmp_path / "out",
        registry=registry,
        web="off",
        workers=1,
    )
    rows = _check_rows(tmp_path / "out", "p1.jsonl", first=2)
    assert len(rows) == len(ROWS)
    assert sorted(p.name for p in (tmp_path / "out" / "cleared").iterdir()) == [
        "p0.jsonl",
        "p1.jsonl",
    ]


def _img2dataset_tar(path: Path, samples: list[tuple[str, bytes, str, str]]) -> None:
    with tarfile.open(path, "w") as tar:
        for key, jpg, caption, url in samples:
            meta = {
                "url": url,
                "caption": caption,
                "key": key,
                "status": "success",
                "error_message": None,
                "width": 320,
                "height": 240,
            }
            for ext, data in (
                ("jpg", jpg),
                ("txt", caption.encode()),
                ("json", json.dumps(meta).encode()),
            ):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def test_webdataset_glob(tmp_path: Path, registry: str) -> None:
    def jpeg(seed: int) -> bytes:
        buf = io.BytesIO()
        textured_image(seed).save(buf, "JPEG", quality=85)
        return buf.getvalue()

    _img2dataset_tar(
        tmp_path / "00000.tar",
        [
            ("000000000", jpeg(ANN_SEED), "ann's picture", "https://x.example/1.jpg"),
            ("000000001", jpeg(FREE_SEED), "free picture", "https://x.example/2.jpg"),
        ],
    )
    _img2dataset_tar(
        tmp_path / "00001.tar",
        [
            ("000010000", jpeg(FREE_SEED + 1), "dana's", "https://dana.example/3.jpg"),
            ("000010001", jpeg(CLEO_SEED), "cleo's", "https://x.example/4.jpg"),
        ],
    )
    scan(str(tmp_path / "*.tar"), tmp_path / "out", registry=registry, web="off", workers=1)
    rows = decisions(tmp_path / "out")
    assert {u: r["outcome"] for u, r in rows.items()} == {
        "https://x.example/1.jpg": "exclude",
        "https://x.example/2.jpg": "include",
        "https://dana.example/3.jpg": "exclude",
        "https://x.example/4.jpg": "include",
    }
    with tarfile.open(tmp_path / "out" / "cleared" / "00000.tar") as tar:
        assert tar.getnames() == ["000000001.jpg", "000000001.txt", "000000001.json"]
    with tarfile.open(tmp_path / "out" / "cleared" / "00001.tar") as tar:
        assert [n.split(".")[0] for n in tar.getnames()] == ["000010001"] * 3


def test_img2dataset_parquet_as_is(tmp_path: Path, registry: str) -> None:
    """img2dataset's parquet has no bytes, but its sha256 column matches exactly."""
    ann = write_image(tmp_path / "ann.png", ANN_SEED, "PNG")
    cols = {
        "url": ["https://x.example/a.png", "https://x.example/b.png", "https://x.example/c.png"],
        "caption": ["a", "b", "c"],
        "key": ["000000000", "000000001", "000000002"],
        "status": ["success", "success", "failed_to_download"],
        "error_message": [None, None, "404"],
        "width": [320, 320, None],
        "height": [240, 240, None],
        "original_width": [320, 320, None],
        "original_height": [240, 240, None],
        "exif": ["{}", "{}", None],
        "sha256": [sha256_file(ann), "0" * 64, None],
    }
    pq.write_table(pa.table(cols), tmp_path / "00000.parquet")
    scan(tmp_path / "00000.parquet", tmp_path / "out", registry=registry, web="off", workers=1)
    rows = decisions(tmp_path / "out")
    assert rows["https://x.example/a.png"]["outcome"] == "exclude"
    assert json.loads(rows["https://x.example/a.png"]["evidence"])["works"][0]["matched_by"] == [
        "sha256"
    ]
    assert rows["https://x.example/b.png"]["outcome"] == "include"
    cleared = pq.read_table(tmp_path / "out" / "cleared" / "00000.parquet")
    assert cleared.column_names == list(cols) and cleared.num_rows == 2


@pytest.mark.parametrize("name", ["c2pa_C_with_CAWG_data.jpg", "datadiligence_sample_c2pa.png"])
def test_embedded_c2pa(tmp_path: Path, registry: str, name: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    src = Path(__file__).parents[1] / "corpus" / "c2pa" / name
    (data / name).write_bytes(src.read_bytes())
    scan(data, tmp_path / "out", registry=registry, web="off", workers=1)
    (row,) = decisions(tmp_path / "out").values()
    assert row["outcome"] == "exclude"
    assert "c2pa:train-genai=deny" in row["reasons"]
    report = read_json(tmp_path / "out" / "report.json")
    assert report["by_reason_source"] == {"c2pa": 1}
