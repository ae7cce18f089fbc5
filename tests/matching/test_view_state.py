"""The live view, refreshed incrementally, answers exactly like a fresh full build.

A Hypothesis state machine registers images, texts and characters, claims
recoloured copies of images (disputes, when another owner holds the image) and
resolves disputes, removes works, changes a work's or an owner's terms, adds aliases, and grants and
revokes licence agreements, in any order. After every step the live
``RegistryView`` (grown by ``refreshed``, never rebuilt) and a fresh
``RegistryView.from_store`` must match every probe to the same works by the
same methods with the same strength, hold the same works and the same
agreements, and so give the same verdicts. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule
from PIL import ImageOps

from clearance.core import Mode, Permission, Usage
from clearance.core.errors import ConflictError
from clearance.guard import check
from clearance.matching import MatchLevel, Query, RegistryView, match
from clearance.matching.conflicts import ContentChecker
from clearance.registry import TermsChange, add_works, init_store
from clearance.registry.agreements import grant_agreement, revoke_agreement
from clearance.registry.characters import add_character
from clearance.registry.disputes import resolve_dispute
from clearance.registry.store import SqlStore
from tests.samples import textured_image

TEXTS = [" ".join(f"w{(i * 7 + k) % 97}x{i}" for k in range(40)) for i in range(4)] + [
    "Ode on a Grecian Urn",
    "Stay gold pony boy",
]
OWNERS = ["Ann", "Ben"]
USAGES = [Usage.OUTPUT, Usage.TRAIN_AI, Usage.TDM]
PERMS = [Permission.DENY, Permission.ALLOW]


def _answers(view: RegistryView, probes: list[Query]) -> list[list[tuple[int, str, bool]]]:
    out = []
    for probe in probes:
        result = match(view.index, probe, view.work, level=MatchLevel.EMBEDDING, names=True)
        out.append(sorted((m.work_id, m.method, m.strong) for m in result.matches))
    return out


def _verdicts(view: RegistryView, probes: list[Query]) -> list[dict[str, Any]]:
    docs = []
    for probe in probes:
        for licensee in (None, "GenCo"):
            for mode in Mode:
                v = check(view, probe.data, text=probe.text, prompt=probe.prompt,
                          label="p.png", licensee=licensee, mode=mode)  # fmt: skip
                doc = v.to_dict()
                doc.pop("latency_ms")
                for event in doc["usage_events"]:
                    event.pop("at")
                docs.append(doc)
    return docs


class LiveView(RuleBasedStateMachine):
    """Bound to a backend by ``run`` (``new_location``, ``root``)."""

    works = Bundle("works")
    agreements = Bundle("agreements")
    disputed = Bundle("disputed")
    new_location: Any = None
    root_dir: Path = Path(".")

    def __init__(self) -> None:
        super().__init__()
        self.store: SqlStore = init_store(self.new_location())
        self.root = self.root_dir / uuid.uuid4().hex[:8]
        self.root.mkdir()
        self.live = RegistryView.from_store(self.store)
        images = []
        for seed in range(3):
            path = self.root / f"probe{seed}.png"
            textured_image(500 + seed, (200, 150)).save(path)
            images.append(Query(media="image", data=path.read_bytes(), name="p.png"))
        texts = [Query(text=f"{t} and more words here") for t in TEXTS[:2]]
        texts += [Query(text=TEXTS[4].upper() + "!"), Query(prompt="draw captain comet now")]
        self.probes = images + texts

    def teardown(self) -> None:
        self.store.close()

    @rule(target=works, seed=st.integers(0, 2), owner=st.sampled_from(OWNERS),
          perm=st.sampled_from(PERMS))  # fmt: skip
    def register_image(self, seed: int, owner: str, perm: Permission) -> int:
        path = self.root / f"img-{uuid.uuid4().hex[:6]}.png"
        textured_image(500 + seed, (200, 150)).save(path)
        terms = TermsChange({Usage.OUTPUT: perm})
        try:
            added = add_works(self.store, [str(path)], owner=owner, terms=terms, update_terms=True)
        except ConflictError:  # this owner's claim on the image was rejected in a dispute
            return -1
        return added.registrations[0].work.id

    @rule(target=works, which=st.integers(0, len(TEXTS) - 1), owner=st.sampled_from(OWNERS))
    def register_text(self, which: int, owner: str) -> int:
        path = self.root / f"text-{uuid.uuid4().hex[:6]}.txt"
        path.write_text(TEXTS[which], encoding="utf-8")
        return add_works(self.store, [str(path)], owner=owner).registrations[0].work.id

    @rule(target=works, alias=st.sampled_from(["Kaptain Kometo", "Comet Kid"]))
    def register_character(self, alias: str) -> int:
        found = add_character(self.store, "Captain Comet", owner="Studio", aliases=[alias],
                              terms=TermsChange({Usage.OUTPUT: Permission.DENY}))  # fmt: skip
        return found.registration.work.id

    @rule(targets=(works, disputed), seed=st.integers(0, 2), owner=st.sampled_from(OWNERS))
    def claim_copy(self, seed: int, owner: str) -> int:
        """The other owner's image, then a recoloured copy of it by ``owner``, both checked
        for near-duplicates: the copy is a disputed claim (on whichever work holds the image)."""
        path = self.root / f"copy-{uuid.uuid4().hex[:6]}.png"
        im = textured_image(500 + seed, (200, 150))
        im.save(self.root / "original.png")
        ImageOps.colorize(im.convert("L"), "#402010", "#f0e0c0").save(path)
        terms = TermsChange({Usage.OUTPUT: Permission.ALLOW, Usage.TRAIN_AI: Permission.DENY})
        checker = ContentChecker(self.store)
        other = next(o for o in OWNERS if o != owner)
        with contextlib.suppress(ConflictError):  # the other owner lost it in a resolved dispute
            add_works(self.store, [str(self.root / "original.png")], owner=other, similar=checker)
        try:
            added = add_works(self.store, [str(path)], owner=owner, terms=terms, similar=checker)
        except ConflictError:  # this owner's claim on it was rejected before
            return -1
        return added.registrations[0].work.id

    @rule(work=disputed, first=st.booleans())
    def resolve(self, work: int, first: bool) -> None:
        found = self.store.works_by_ids([work])
        if not found or not found[0].disputed:
            return
        open_claims = [c.party for c in found[0].claims if c.status.value == "disputed"]
        keep = open_claims[0] if first else open_claims[-1]
        resolve_dispute(self.store, work, keep=keep, reason="state machine", actor="Admin")

    @rule(work=consumes(works))
    def remove(self, work: int) -> None:
        if any(w.id == work for w in self.store.works_by_ids([work])):
            self.store.remove_work(work)

    @rule(work=works, usage=st.sampled_from(USAGES), perm=st.sampled_from(PERMS))
    def set_terms(self, work: int, usage: Usage, perm: Permission) -> None:
        if any(w.id == work for w in self.store.works_by_ids([work])):
            self.store.set_work_terms(work, TermsChange({usage: perm}))

    @rule(owner=st.sampled_from(OWNERS), usage=st.sampled_from(USAGES),
          perm=st.sampled_from(PERMS))  # fmt: skip
    def set_owner_terms(self, owner: str, usage: Usage, perm: Permission) -> None:
        try:
            self.store.set_party_terms(owner, TermsChange({usage: perm}))
        except Exception:  # the owner has no works yet: the store says so
            return

    @rule(target=agreements, owner=st.sampled_from(OWNERS), whole=st.booleans())
    def grant(self, owner: str, whole: bool) -> int:
        mine = [w for w in self.store.list_works() if w.owner.name == owner]
        if not mine:
            return -1
        work = None if whole else mine[0].id
        return grant_agreement(self.store, "GenCo", owner, work, usages=["output"]).id

    @rule(agreement=consumes(agreements))
    def revoke(self, agreement: int) -> None:
        if agreement > 0:
            # resolving a dispute against its grantor may have revoked it already
            with contextlib.suppress(ConflictError):
                revoke_agreement(self.store, agreement)

    @invariant()
    def live_equals_fresh(self) -> None:
        refreshed = self.live.refreshed(self.store)
        if refreshed is not None:
            self.live = refreshed
        fresh = RegistryView.from_store(self.store)
        assert self.live.watermark == fresh.watermark
        assert dict(self.live.works) == dict(fresh.works)
        assert dict(self.live.agreements) == dict(fresh.agreements)
        assert _answers(self.live, self.probes) == _answers(fresh, self.probes)
        assert _verdicts(self.live, self.probes[:1]) == _verdicts(fresh, self.probes[:1])


def run(new_location: Any, root: Path, examples: int) -> None:
    class Bound(LiveView):
        pass

    Bound.new_location = staticmethod(new_location)
    Bound.root_dir = root
    Bound.TestCase.settings = settings(
        max_examples=examples,
        stateful_step_count=8,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    Bound.TestCase().runTest()


def test_live_view_equals_a_fresh_build_sqlite(tmp_path: Path) -> None:
    counter = iter(range(10_000))
    run(lambda: str(tmp_path / f"r{next(counter)}.db"), tmp_path, examples=6)


def test_live_view_equals_a_fresh_build_postgres(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    run(lambda: _fresh_pg(request), tmp_path, examples=3)


def _fresh_pg(request: pytest.FixtureRequest) -> str:
    """A new throwaway PostgreSQL database per state-machine example."""
    import psycopg

    from tests.conftest import PG_ADMIN, _pg_url

    name = f"clearance_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    request.addfinalizer(drop)
    return _pg_url(name)
