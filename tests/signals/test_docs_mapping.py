"""docs/signals.md documents every evidence source the mapping can produce."""

from __future__ import annotations

from pathlib import Path

from clearance.signals.mapping import SECTION_A_SOURCES, SECTION_B_SOURCES

DOC = Path(__file__).parents[2] / "docs" / "signals.md"


def test_every_source_is_in_the_mapping_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    for source in (*SECTION_A_SOURCES, *SECTION_B_SOURCES):
        assert f"(`{source}`)" in text or f"`{source}`" in text, source
