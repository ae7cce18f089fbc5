"""Two scans of two datasets, as a training run that combines them: the summaries' input.

``web`` is a JSONL of URL rows over 20 hosts (host ``h{i}.example`` has i+1
rows, so the ranking by volume is known) plus rows of Dana's opted-out
domain and of Ben Music's licensed lyrics; ``texts`` is the evidence tests'
mixed dataset. Both are scanned for train-ai with ``--web off``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clearance.scan import scan
from tests.evidence.conftest import dataset
from tests.scan.conftest import registry  # noqa: F401  (the session registry fixture)

HOSTS = 20


@pytest.fixture(scope="session")
def scans(tmp_path_factory: pytest.TempPathFactory, registry: str) -> list[Path]:  # noqa: F811
    root = tmp_path_factory.mktemp("summaries")
    rows = [
        {"url": f"https://h{i:02d}.example/p/{k}.jpg"} for i in range(HOSTS) for k in range(i + 1)
    ]
    rows += [{"url": f"https://dana.example/{k}.jpg"} for k in range(4)]
    rows += [{"url": f"https://ben.example/lyrics/{k}"} for k in range(3)]
    web = root / "web.jsonl"
    web.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    texts = dataset(root / "texts.jsonl")
    common = {"registry": registry, "purpose": "train-ai", "web": "off", "workers": 1}
    scan(web, root / "web-images", shard_size=50, **common)
    scan(texts, root / "texts", shard_size=7, **common)
    return [root / "web-images", root / "texts"]


INFO = """\
provider:
  name: Example AI SAS
  contact: legal@example.ai
model:
  name: "example-gen 1.0 <beta>"
  placed_on_market: 2026-03-01
  modalities: [image, text]
  training_data_size: {image: "less than 1 million images", text: "less than 1 billion tokens"}
  content_types: {image: photography, text: fiction and non-fiction}
  latest_data_acquisition: 01/2026
  languages: English
  intended_purpose: image and text generation
datasets:
  web-images:
    name: Web images
    kind: crawled
    owner: the sites listed in 2.3
    first_used: 2026-01-10
  texts:
    name: Licensed texts
    kind: licensed
    link: https://texts.example/catalogue
crawlers:
  - {name: ExampleBot, purpose: collecting training data, behaviour: follows robots.txt}
crawling:
  period: 11/2025 to 01/2026
code_of_practice_signatory: true
"""


@pytest.fixture
def info(tmp_path: Path) -> Path:
    path = tmp_path / "model.yaml"
    path.write_text(INFO, encoding="utf-8")
    return path
