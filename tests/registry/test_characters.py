"""Characters: name and aliases as identifiers, reference images fingerprinted, disputes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clearance.cli import main
from clearance.core import IdentifierScheme, InputNotFound, Permission, Usage, UserError
from clearance.core.models import WorkKind
from clearance.registry import RegistrationStatus, SqlStore, TermsChange
from clearance.registry.characters import add_character
from tests.samples import write_image


def _refs(tmp_path: Path) -> Path:
    refs = tmp_path / "refs"
    refs.mkdir()
    write_image(refs / "front.jpg", 41)
    write_image(refs / "side.png", 42, "PNG")
    (refs / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (refs / "notes.txt").write_text("ignored")
    return refs


def test_character_with_aliases_and_reference_images(store: SqlStore, tmp_path: Path) -> None:
    summary = add_character(
        store,
        "SpongeBob SquarePants",
        owner="Studio",
        aliases=["SpongeBob"],
        images=_refs(tmp_path),
        terms=TermsChange({Usage.OUTPUT: Permission.DENY}),
    )
    work = summary.registration.work
    assert work.kind is WorkKind.CHARACTER and work.title == "SpongeBob SquarePants"
    assert [(i.scheme, i.value) for i in work.identifiers] == [
        (IdentifierScheme.NAME, "SpongeBob SquarePants"),
        (IdentifierScheme.NAME, "SpongeBob"),
    ]
    assert summary.images == 2 and [Path(s.path).name for s in summary.skipped] == ["broken.jpg"]
    assert len([1 for wid, _ in store.iter_fingerprints("pdq") if wid == work.id]) == 2
    assert len([1 for wid, _ in store.iter_fingerprints("pdq-regions") if wid == work.id]) == 2
    assert work.terms.effective()[Usage.OUTPUT] is Permission.DENY
    again = add_character(store, "SpongeBob SquarePants", owner="Studio", aliases=["Sponge Bob"])
    assert again.registration.status is RegistrationStatus.EXISTING
    assert "Sponge Bob" in {i.value for i in again.registration.work.identifiers}
    other = add_character(store, "SpongeBob SquarePants", owner="Someone else")
    assert other.registration.status is RegistrationStatus.DISPUTED


def test_bad_character_inputs(store: SqlStore, tmp_path: Path) -> None:
    with pytest.raises(InputNotFound):
        add_character(store, "Pikachu", owner="O", images=tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError):
        add_character(store, "Pikachu", owner="O", images=empty)
    with pytest.raises(UserError):
        add_character(store, "X", owner="O")
    assert store.count_works() == 0


def test_cli_characters_add(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reg = str(tmp_path / "r.db")
    assert main(["init", "--registry", reg]) == 0
    capsys.readouterr()
    code = main(
        [
            "characters",
            "add",
            "Pikachu",
            "--images",
            str(_refs(tmp_path)),
            "--alias",
            "Pika-chu",
            "--alias",
            "Pikachuu",
            "--owner",
            "Games Co",
            "--deny",
            "output",
            "--registry",
            reg,
            "--json",
        ]
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["work"]["kind"] == "character" and doc["images"] == 2
    assert doc["work"]["terms"]["output"] == "deny"
    assert [i["value"] for i in doc["work"]["identifiers"]] == ["Pikachu", "Pika-chu", "Pikachuu"]
    assert (
        main(
            [
                "characters",
                "add",
                "Pikachu",
                "--images",
                str(tmp_path / "nope"),
                "--owner",
                "Games Co",
                "--registry",
                reg,
            ]
        )
        == 2
    )


def test_new_reference_art_for_an_existing_character_is_stored_and_matched(
    store: SqlStore, tmp_path: Path
) -> None:
    """Was: "added 1 reference image" while nothing was stored, so the new art never matched."""
    from clearance.guard import GuardIndex, check

    first = tmp_path / "first"
    first.mkdir()
    write_image(first / "a.png", 51, "PNG")
    made = add_character(
        store,
        "Pikachu",
        owner="Games Co",
        images=first,
        terms=TermsChange({Usage.OUTPUT: Permission.DENY}),
    )
    later = tmp_path / "later"
    later.mkdir()
    new_art = write_image(later / "b.png", 77, "PNG")
    again = add_character(store, "Pikachu", owner="Games Co", images=later)
    assert again.registration.status is RegistrationStatus.EXISTING
    assert again.images == 1 and again.registration.fingerprints_added >= 2  # sha256 + pdq...
    work_id = made.registration.work.id
    assert len([1 for wid, _ in store.iter_fingerprints("pdq") if wid == work_id]) == 2
    verdict = check(GuardIndex.from_store(store), new_art)
    assert verdict.verdict == "block" and verdict.matches[0].work_id == work_id
    same = add_character(store, "Pikachu", owner="Games Co", images=later)
    assert same.registration.fingerprints_added == 0  # nothing twice
    assert [e.action for e in store.audit_log()].count("fingerprints.add") == 1


@pytest.mark.parametrize("name", ["Pika\x1b[31mchu", "Pika\u202echu", "Pika\x00chu"])
def test_character_names_refuse_control_characters(store: SqlStore, name: str) -> None:
    with pytest.raises(UserError, match="control character"):
        add_character(store, name, owner="Games Co")
    with pytest.raises(UserError, match="control character"):
        add_character(store, "Pikachu", owner="Games Co", aliases=[name])
