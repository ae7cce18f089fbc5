"""The publishing writers read back through the project's own parsers: what a creator
publishes means what their registry terms say (the round trip)."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from clearance.core.errors import UnsupportedInput
from clearance.core.usage import Permission, Usage
from clearance.signals.aitxt import parse_aitxt
from clearance.signals.iptc_xmp import DataMining, read_iptc_data_mining
from clearance.signals.mapping import (
    evidence_from_aitxt,
    evidence_from_robots,
    evidence_from_tdmrep,
)
from clearance.signals.publish import consequences, site_files, stamp_jpeg
from clearance.signals.robots import parse_robots
from clearance.signals.tdmrep import parse_tdmrep_json

D, A, L = Permission.DENY, Permission.ALLOW, Permission.LICENSE


def _said(evidence: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {e.usage.value: e.permission.value for e in evidence}


def test_reserved_training_is_read_back_as_reserved_by_every_protocol() -> None:
    files = site_files({Usage.TRAIN_AI: D, Usage.SEARCH: A})
    robots = parse_robots(files.robots_txt)
    assert robots.is_allowed("GPTBot", "/any/page") is False
    assert robots.is_allowed("Googlebot", "/any/page") is True  # search crawlers untouched
    said = _said(
        evidence_from_robots(robots, "https://ann.example/a.jpg", training_tokens=["GPTBot"])
    )
    assert said["train-ai"] == "deny" and said["search"] == "allow"
    assert _said(evidence_from_aitxt(parse_aitxt(files.ai_txt), "/img/a.jpg")) == {
        "train-ai": "deny"
    }
    tdm = _said(evidence_from_tdmrep(parse_tdmrep_json(files.tdmrep_json).lookup("/img/a.jpg")))
    assert tdm["tdm"] == "deny"
    assert files.iptc_code is DataMining.PROHIBITED_AIML_TRAINING


def test_allowed_training_is_said_and_silence_says_nothing() -> None:
    allowed = site_files({Usage.TDM: A, Usage.TRAIN_AI: A})
    assert _said(evidence_from_aitxt(parse_aitxt(allowed.ai_txt), "/a.jpg")) == {
        "train-ai": "allow"
    }
    assert json.loads(allowed.tdmrep_json)[0]["tdm-reservation"] == 0
    assert allowed.iptc_code is DataMining.ALLOWED
    silent = site_files({})
    assert evidence_from_aitxt(parse_aitxt(silent.ai_txt), "/a.jpg") == []
    assert "Disallow" not in silent.robots_txt and silent.iptc_code is DataMining.UNSPECIFIED


def test_a_licence_links_its_policy_and_tdm_reserves_ai_input() -> None:
    files = site_files({Usage.TRAIN_GENAI: L}, policy_url="https://ann.example/rsl.xml")
    assert json.loads(files.tdmrep_json)[0]["tdm-policy"] == "https://ann.example/rsl.xml"
    assert files.iptc_code is DataMining.PROHIBITED_GENAIML_TRAINING
    tdm = site_files({Usage.TDM: D, Usage.SEARCH: D})
    assert parse_robots(tdm.robots_txt).is_allowed("ChatGPT-User", "/x") is False
    assert tdm.iptc_code is DataMining.PROHIBITED
    assert any("RSL" in line for line in consequences(Usage.OUTPUT, L))
    assert "Nothing is published" in consequences(Usage.SEARCH, Permission.UNKNOWN)[0]


def test_stamping_a_jpeg_keeps_its_pixels_and_replaces_its_xmp() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(buffer, "JPEG", exif=Image.Exif())
    original = buffer.getvalue()
    once = stamp_jpeg(original, DataMining.PROHIBITED)
    twice = stamp_jpeg(once, DataMining.ALLOWED)
    assert read_iptc_data_mining(once).code is DataMining.PROHIBITED
    assert read_iptc_data_mining(twice).code is DataMining.ALLOWED  # replaced, not added
    assert original[original.index(b"\xff\xda") :] == twice[twice.index(b"\xff\xda") :]
    assert Image.open(io.BytesIO(twice)).tobytes() == Image.open(io.BytesIO(original)).tobytes()
    for bad in (b"", b"\x89PNG\r\n", b"\xff\xd8\xff\xe1\x00"):
        with pytest.raises(UnsupportedInput):
            stamp_jpeg(bad, DataMining.ALLOWED)
