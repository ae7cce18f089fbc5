"""Eight writers registering overlapping works at once: no lost or doubled work, every
dispute detected, no error (a unique violation used to surface when two writers created
the same new owner at once). ``benchmarks/bench_service.py --registration`` runs the same
through the HTTP API at a larger size."""

from __future__ import annotations

import hashlib
import random
import threading

from clearance.core.models import Identifier, IdentifierScheme, WorkKind
from clearance.registry import SqlStore
from clearance.registry.records import RegistrationStatus, WorkSpec

WRITERS = 8
SHARED = 6  # every writer registers these as the same owner: one work each, undisputed
CONTESTED = 6  # writer w registers these as owner O{w % 4}: one work each, disputed by 4


def _spec(i: int, owner: str) -> WorkSpec:
    digest = hashlib.sha256(f"content {i}".encode()).hexdigest()
    idents = (
        Identifier(IdentifierScheme.SHA256, digest),
        Identifier(IdentifierScheme.URL, f"https://host{i}.example/item/{i}.txt"),
    )
    return WorkSpec(WorkKind.TEXT, owner, idents, title=f"item {i}")


def test_eight_writers_neither_lose_nor_double_and_detect_disputes(store: SqlStore) -> None:
    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []
    outcomes: list[tuple[int, str, RegistrationStatus]] = []

    def writer(w: int) -> None:
        plan = [(i, "Ann") for i in range(SHARED)]
        plan += [(SHARED + i, f"O{w % 4}") for i in range(CONTESTED)]
        random.Random(w).shuffle(plan)
        barrier.wait()
        try:
            for i, owner in plan:
                reg = store.register(_spec(i, owner), actor=owner)
                outcomes.append((i, owner, reg.status))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, repr(errors[0])
    assert len(outcomes) == WRITERS * (SHARED + CONTESTED)
    works = store.list_works()
    assert store.count_works() == len(works) == SHARED + CONTESTED  # none lost, none doubled
    by_key = {w.sha256: w for w in works}
    for i in range(SHARED + CONTESTED):
        work = by_key[_spec(i, "x").identifiers[0].value]
        claimants = sorted(c.party for c in work.claims)
        if i < SHARED:
            assert claimants == ["Ann"] and not work.disputed, work
        else:
            assert claimants == ["O0", "O1", "O2", "O3"] and work.disputed, work
            assert all(c.status.value == "disputed" for c in work.claims)
    created = [o for o in outcomes if o[2] is RegistrationStatus.CREATED]
    assert sorted(i for i, _, _ in created) == list(range(SHARED + CONTESTED))
    assert len({w.owner.name for w in works}) <= 5
    audited = [e for e in store.audit_log() if e.action == "party.create"]
    assert sorted(e.detail["name"] for e in audited) == ["Ann", "O0", "O1", "O2", "O3"]
