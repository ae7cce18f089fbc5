"""Licences in the guard: ``output=license`` blocks with the offer unless the licensee holds
an agreement in force, and every licensed or attributed allow becomes one usage event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clearance.cli import main
from clearance.core import Permission, Price, Usage, UsageBasis
from clearance.guard import GuardIndex, check, check_pdq
from clearance.registry import (
    SqlStore,
    TermsChange,
    add_works,
    grant_agreement,
    init_store,
    list_usage_events,
    revoke_agreement,
)
from tests.samples import textured_image

LYRIC = (
    "under the harbour lights we sang until the morning came and every wave that broke "
    "the silence seemed to call your name so we walked along the water where the gulls "
    "were flying low and the lanterns of the fishing boats were swaying to and fro"
)
NOW = datetime.now(UTC)


class World:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.reg = str(tmp / "r.db")
        self.store: SqlStore = init_store(self.reg)
        textured_image(81, (400, 300)).save(tmp / "licensed.png")
        textured_image(82, (400, 300)).save(tmp / "free.png")
        (tmp / "lyric.txt").write_text(LYRIC, encoding="utf-8")
        offer = TermsChange(
            {Usage.OUTPUT: Permission.LICENSE}, price=Price.parse("0.10", "EUR", "item")
        )
        self.licensed = self._add("licensed.png", "Studio", offer)
        self.free = self._add("free.png", "Cleo", TermsChange({Usage.OUTPUT: Permission.ALLOW}))
        self.denied = self._add("lyric.txt", "Ben", TermsChange({Usage.OUTPUT: Permission.DENY}))
        self.png = (tmp / "licensed.png").read_bytes()

    def _add(self, name: str, owner: str, terms: TermsChange) -> int:
        summary = add_works(self.store, [str(self.tmp / name)], owner=owner, terms=terms)
        return summary.registrations[0].work.id

    def index(self) -> GuardIndex:
        return GuardIndex.from_store(self.store)


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    yield w
    w.store.close()


def _blocked_with_offer(world: World, licensee: str | None) -> None:
    v = check(world.index(), world.png, label="out.png", licensee=licensee)
    assert v.verdict == "block" and v.usage_events == ()
    assert {m.work_id for m in v.matches} == {world.licensed}
    reasons = " ".join(v.reasons)
    assert "needs a licence" in reasons and "0.10" in reasons and "EUR" in reasons


def test_no_licensee_is_blocked_with_the_offer(world: World) -> None:
    _blocked_with_offer(world, None)


def test_unknown_or_other_licensee_is_blocked(world: World) -> None:
    grant_agreement(world.store, "Other", "Cleo")  # another owner's works only
    _blocked_with_offer(world, "Nobody Inc")
    _blocked_with_offer(world, "Other")
    v = check(world.index(), world.png, licensee="Nobody Inc")
    assert any("'Nobody Inc' holds no agreement" in r for r in v.reasons)


@pytest.mark.parametrize("kind", ["expired", "future", "revoked", "wrong-usage", "other-work"])
def test_agreements_not_in_force_or_not_covering_output_block(world: World, kind: str) -> None:
    s = world.store
    if kind == "expired":
        grant_agreement(s, "GenCo", "Studio", starts_at=NOW - timedelta(days=30), ends_at=NOW)
    elif kind == "future":
        grant_agreement(s, "GenCo", "Studio", starts_at=NOW + timedelta(days=1))
    elif kind == "revoked":
        revoke_agreement(s, grant_agreement(s, "GenCo", "Studio", world.licensed).id)
    elif kind == "wrong-usage":
        grant_agreement(s, "GenCo", "Studio", usages=["tdm"])  # tdm does not reach output
    else:
        textured_image(83, (400, 300)).save(world.tmp / "other.png")
        other = add_works(s, [str(world.tmp / "other.png")], owner="Studio")
        grant_agreement(s, "GenCo", "Studio", other.registrations[0].work.id)
    _blocked_with_offer(world, "GenCo")


@pytest.mark.parametrize("scope", ["work", "owner-wide"])
def test_licensee_with_agreement_is_allowed_with_one_event(world: World, scope: str) -> None:
    work = world.licensed if scope == "work" else None
    a = grant_agreement(world.store, "GenCo", "Studio", work, reference="C-7")
    v = check(world.index(), world.png, label="out.png", licensee="GenCo")
    assert v.verdict == "allow"
    assert any(f"under agreement {a.id}, C-7" in r for r in v.reasons)
    (event,) = v.usage_events
    assert (event.work_id, event.basis, event.agreement_id) == (
        world.licensed,
        UsageBasis.LICENCE,
        a.id,
    )
    assert (event.licensee, event.kind, event.input_label, event.verdict) == (
        "GenCo",
        "inference",
        "out.png",
        "allow",
    )
    assert event.method == "pdq" and event.score > 0.8
    assert v.to_dict()["usage_events"][0]["agreement_id"] == a.id
    # check is pure: nothing is recorded until the caller records it
    assert list_usage_events(world.store) == []


def test_client_side_pdq_honours_licences(world: World) -> None:
    from clearance.fingerprint import image_hash

    grant_agreement(world.store, "GenCo", "Studio")
    pdq = image_hash(world.png).pdq
    assert check_pdq(world.index(), pdq).verdict == "block"
    v = check_pdq(world.index(), pdq, licensee="GenCo")
    assert v.verdict == "allow" and v.usage_events[0].basis is UsageBasis.LICENCE


def test_allowed_work_gets_an_attribution_event(world: World) -> None:
    v = check(world.index(), (world.tmp / "free.png").read_bytes(), label="free")
    assert v.verdict == "allow"
    (event,) = v.usage_events
    assert event.work_id == world.free and event.basis is UsageBasis.ATTRIBUTION
    assert event.licensee is None and event.agreement_id is None


def test_blocked_output_records_no_event(world: World) -> None:
    grant_agreement(world.store, "GenCo", "Studio")
    v = check(world.index(), world.png, text=LYRIC, licensee="GenCo")
    assert v.verdict == "block"  # the licensed image is fine, the lyric is denied
    assert v.usage_events == ()


def test_unrelated_output_records_nothing(world: World) -> None:
    v = check(world.index(), text="a plain story about a cat and a dog", prompt="a cat")
    assert v.verdict == "allow" and v.usage_events == ()


def test_cli_check_with_licensee_records_the_event(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = ["--registry", world.reg]
    png = str(world.tmp / "licensed.png")
    assert main(["check", png, *reg, "--json"]) == 4
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "block" and doc["usage_events"] == []
    assert main(["agreements", "grant", "--licensee", "GenCo", "--owner", "Studio", *reg]) == 0
    capsys.readouterr()
    assert main(["check", png, "--licensee", "GenCo", *reg, "--json"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "allow" and doc["licensee"] == "GenCo"
    (event,) = list_usage_events(world.store)
    assert event.licensee == "GenCo" and event.basis is UsageBasis.LICENCE
    assert event.work_id == world.licensed and event.input_label == png
    assert main(["usage", "list", "--licensee", "GenCo", *reg, "--json"]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    assert [(e["work_id"], e["basis"]) for e in events] == [(world.licensed, "licence")]


def test_api_check_with_a_licensee_key_records_the_event(world: World) -> None:
    from fastapi.testclient import TestClient

    from clearance.api import create_app
    from clearance.config import Settings
    from clearance.registry import create_key

    grant_agreement(world.store, "GenCo", "Studio", world.licensed, reference="C-9")
    # usage is recorded only for the party that proves who it is (an API key; docs/api.md)
    genco = {"Authorization": f"Bearer {create_key(world.store, 'GenCo', 'licensee')[1]}"}
    app = create_app(Settings(registry=world.reg))
    try:
        client = TestClient(app)
        files = {"file": ("out.png", world.png, "image/png")}
        r = client.post("/v1/check", files=files)
        assert r.status_code == 200 and r.json()["verdict"] == "block"
        r = client.post("/v1/check", files=files, data={"licensee": "GenCo"})
        assert r.json()["verdict"] == "allow"  # answered, but anonymous: not recorded
        r = client.post("/v1/check", files=files, data={"licensee": "GenCo"}, headers=genco)
        doc = r.json()
        assert r.status_code == 200 and doc["verdict"] == "allow"
        assert doc["usage_events"][0]["basis"] == "licence"
        from clearance.fingerprint import image_hash

        pdq = image_hash(world.png).pdq.hex()
        r = client.post("/v1/check", json={"pdq": pdq}, headers=genco)
        assert r.json()["verdict"] == "allow"
        r = client.post("/v1/check", json={"pdq": pdq, "licensee": 7})
        assert r.status_code == 400
    finally:
        guard = app.state.guard
        guard.close()
        if guard.store is not None:
            guard.store.close()
    events = list_usage_events(world.store)
    assert [(e.licensee, e.work_id, e.input_label) for e in events] == [
        ("GenCo", world.licensed, "out.png"),
        ("GenCo", world.licensed, "pdq"),
    ]


def test_live_guard_picks_up_grants_and_revocations(world: World) -> None:
    from clearance.guard.live import Guard

    with Guard(world.store) as guard:
        assert guard.check(world.png, licensee="GenCo").verdict == "block"
        a = grant_agreement(world.store, "GenCo", "Studio")
        assert guard.check(world.png, licensee="GenCo").verdict == "allow"
        revoke_agreement(world.store, a.id)
        assert guard.check(world.png, licensee="GenCo").verdict == "block"
