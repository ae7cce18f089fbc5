"""Disputes: near-duplicate registrations become disputed claims; the strictest claim decides;
an admin resolves the dispute, audited. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import ImageOps

from clearance.core import Mode, Permission, Price, Usage
from clearance.core.errors import ConflictError, NotFound, UserError
from clearance.core.models import ClaimStatus, Party, VerificationLevel
from clearance.guard import GuardIndex, check
from clearance.matching.conflicts import ContentChecker
from clearance.matching.decide import strictest_terms
from clearance.registry import (
    RegistrationStatus,
    SqlStore,
    TermsChange,
    add_works,
    parse_identifier,
)
from clearance.registry.agreements import grant_agreement
from clearance.registry.disputes import (
    get_dispute,
    list_disputes,
    resolve_dispute,
    verification_of,
)
from tests.samples import textured_image

WORDS = [a + b for a in ("ka", "lo", "mi", "ne", "ru", "ta") for b in "bdgklmnprst"]


def _photos(root: Path) -> tuple[Path, Path, Path]:
    """Ann's photo, a recoloured (sepia) copy of it, and an unrelated photo."""
    im = textured_image(7, (480, 360))
    original, sepia, other = root / "ann.png", root / "zed.jpg", root / "other.png"
    im.save(original)
    ImageOps.colorize(im.convert("L"), "#402010", "#f0e0c0").save(sepia, quality=90)
    textured_image(8, (480, 360)).save(other)
    return original, sepia, other


def _ann_and_zed(store: SqlStore, root: Path) -> tuple[int, ContentChecker]:
    original, sepia, _ = _photos(root)
    checker = ContentChecker(store)
    ann = add_works(
        store,
        [str(original)],
        owner="Ann",
        terms=TermsChange({Usage.OUTPUT: Permission.DENY, Usage.TRAIN_AI: Permission.ALLOW}),
        similar=checker,
    )
    offer = TermsChange(
        {Usage.TRAIN_AI: Permission.LICENSE, Usage.OUTPUT: Permission.ALLOW},
        price=Price.parse("0.05", "EUR"),
    )
    zed = add_works(store, [str(sepia)], owner="Zed", terms=offer, similar=checker, actor="Zed")
    assert zed.registrations[0].status is RegistrationStatus.DISPUTED
    assert zed.registrations[0].work.id == ann.registrations[0].work.id
    return ann.registrations[0].work.id, checker


def test_a_recoloured_copy_by_another_owner_is_a_disputed_claim(
    store: SqlStore, tmp_path: Path
) -> None:
    work_id, _ = _ann_and_zed(store, tmp_path)
    assert store.count_works() == 1  # never a separate, undisputed work
    work = store.get_work(work_id)
    assert work.owner.name == "Ann" and work.disputed
    assert [(c.party, c.status) for c in work.claims] == [
        ("Ann", ClaimStatus.DISPUTED),
        ("Zed", ClaimStatus.DISPUTED),
    ]
    dispute = get_dispute(store, work_id)
    assert dispute.status == "open" and dispute.to_dict()["first_claim"] == "Ann"
    ann, zed = dispute.claims
    assert ann.owner and not zed.owner
    assert ann.terms.permissions[Usage.OUTPUT] is Permission.DENY
    assert zed.terms.permissions[Usage.TRAIN_AI] is Permission.LICENSE
    assert zed.terms.prices[Usage.TRAIN_AI].amount_text == "0.05"
    methods = {e["method"] for e in zed.evidence}
    assert methods & {"pdq", "region"}, zed.evidence
    pdq = next(e for e in zed.evidence if e["method"] in ("pdq", "region"))
    assert pdq["distance"] <= 31 and pdq["strong"] and pdq["label"].startswith(pdq["method"])
    assert ann.verification == zed.verification == "self"
    audit = [e for e in store.audit_log() if e.action == "claim.dispute"]
    assert len(audit) == 1 and audit[0].actor == "Zed" and audit[0].detail["claimant"] == "Zed"
    assert [d.id for d in list_disputes(store)] == [work_id]
    for party in ("Ann", "Zed"):  # either side's disputes
        assert [d.id for d in list_disputes(store, party=party)] == [work_id]
    assert list_disputes(store, party="Nobody") == []


def test_claiming_again_changes_nothing(store: SqlStore, tmp_path: Path) -> None:
    work_id, checker = _ann_and_zed(store, tmp_path)
    before = len(store.audit_log())
    again = add_works(store, [str(tmp_path / "zed.jpg")], owner="Zed", similar=checker)
    assert again.registrations[0].status is RegistrationStatus.DISPUTED
    assert again.registrations[0].work.id == work_id
    assert len(store.audit_log()) == before and store.count_works() == 1


def test_same_owner_near_duplicate_and_unrelated_works_stay_new_works(
    store: SqlStore, tmp_path: Path
) -> None:
    original, sepia, other = _photos(tmp_path)
    checker = ContentChecker(store)
    first = add_works(store, [str(original)], owner="Ann", similar=checker)
    mine = add_works(store, [str(sepia)], owner="Ann", similar=checker)
    theirs = add_works(store, [str(other)], owner="Zed", similar=checker)
    statuses = [s.registrations[0].status for s in (first, mine, theirs)]
    assert statuses == [RegistrationStatus.CREATED] * 3
    assert store.count_works() == 3 and not list_disputes(store)


def test_a_retyped_text_is_disputed_too(store: SqlStore, tmp_path: Path) -> None:
    body = " ".join(WORDS[(i * 7) % len(WORDS)] + WORDS[i % 11] for i in range(90))
    (tmp_path / "poem.txt").write_text(body, encoding="utf-8")
    (tmp_path / "copy.txt").write_text(body.upper().replace(" ", ",  ", 5), encoding="utf-8")
    checker = ContentChecker(store)
    add_works(store, [str(tmp_path / "poem.txt")], owner="Ann", similar=checker)
    zed = add_works(store, [str(tmp_path / "copy.txt")], owner="Zed", similar=checker)
    reg = zed.registrations[0]
    assert reg.status is RegistrationStatus.DISPUTED and store.count_works() == 1
    evidence = get_dispute(store, reg.work.id).claims[1].evidence
    assert evidence[0]["method"] == "text-containment" and evidence[0]["score"] >= 0.5


def test_the_strictest_claim_decides_and_says_disputed(store: SqlStore, tmp_path: Path) -> None:
    work_id, _ = _ann_and_zed(store, tmp_path)
    grant_agreement(store, "GenCo", "Ann", usages=["output"])
    work = store.get_work(work_id)
    terms = strictest_terms(work).effective()
    assert terms[Usage.OUTPUT] is Permission.DENY  # Ann's deny beats Zed's allow
    assert terms[Usage.TRAIN_AI] is Permission.LICENSE  # Zed's licence beats Ann's allow
    index = GuardIndex.from_store(store)
    verdict = check(index, tmp_path / "zed.jpg", licensee="GenCo", mode=Mode.OPT_OUT)
    # Ann's agreement binds Ann only: while disputed, the strictest claim decides
    assert verdict.verdict == "block" and not verdict.usage_events
    assert any("disputed" in r for r in verdict.reasons), verdict.reasons


def test_resolve_for_the_claimant_moves_the_work_with_its_terms(
    store: SqlStore, tmp_path: Path
) -> None:
    work_id, checker = _ann_and_zed(store, tmp_path)
    agreement = grant_agreement(store, "GenCo", "Ann", usages=["output"], work_id=work_id)
    done = resolve_dispute(store, work_id, keep="Zed", reason="Zed's original", actor="Admin")
    assert done.status == "resolved" and done.work.owner.name == "Zed"
    assert done.resolution is not None and done.resolution["actor"] == "Admin"
    assert done.resolution["keep"] == "Zed" and done.resolution["rejected"] == ["Ann"]
    work = store.get_work(work_id)
    assert not work.disputed and work.owner.name == "Zed"
    assert work.terms.permissions == {
        Usage.TRAIN_AI: Permission.LICENSE,
        Usage.OUTPUT: Permission.ALLOW,
    }
    assert {c.party: c.status for c in work.claims} == {
        "Ann": ClaimStatus.REJECTED,
        "Zed": ClaimStatus.ACTIVE,
    }
    ann_side = next(c for c in done.claims if c.party == "Ann")
    assert ann_side.terms.permissions[Usage.OUTPUT] is Permission.DENY  # kept as history
    actions = [(e.action, e.actor) for e in store.audit_log()]
    assert ("claim.resolve", "Admin") in actions and ("terms.set", "Admin") in actions
    revoked = [e for e in store.audit_log() if e.action == "agreement.revoke"]
    assert [e.entity_id for e in revoked] == [agreement.id]
    assert get_dispute(store, work_id).status == "resolved"
    assert not list_disputes(store) and [d.id for d in list_disputes(store, resolved=True)] == [
        work_id
    ]
    with pytest.raises(ConflictError, match="rejected"):  # Ann's original, claimed again
        add_works(store, [str(tmp_path / "ann.png")], owner="Ann", similar=checker)
    assert store.count_works() == 1


def test_resolve_for_the_owner_rejects_the_claimant(store: SqlStore, tmp_path: Path) -> None:
    work_id, checker = _ann_and_zed(store, tmp_path)
    done = resolve_dispute(store, work_id, keep="Ann", reason="registered first", actor="Admin")
    work = store.get_work(work_id)
    assert work.owner.name == "Ann" and not work.disputed
    assert work.terms.permissions[Usage.OUTPUT] is Permission.DENY
    assert [c.status for c in done.claims] == [ClaimStatus.ACTIVE, ClaimStatus.REJECTED]
    with pytest.raises(ConflictError):
        add_works(store, [str(tmp_path / "zed.jpg")], owner="Zed", similar=checker)
    resolve = [e for e in store.audit_log() if e.action == "claim.resolve"]
    assert resolve[0].detail["reason"] == "registered first"


def test_bad_resolutions_are_user_errors(store: SqlStore, tmp_path: Path) -> None:
    work_id, _ = _ann_and_zed(store, tmp_path)
    with pytest.raises(UserError, match="no open claim"):
        resolve_dispute(store, work_id, keep="Bob", reason="x", actor="Admin")
    with pytest.raises(UserError, match="reason"):
        resolve_dispute(store, work_id, keep="Ann", reason="  ", actor="Admin")
    with pytest.raises(NotFound):
        resolve_dispute(store, 999, keep="Ann", reason="x", actor="Admin")
    with pytest.raises(NotFound):
        get_dispute(store, 999)
    resolve_dispute(store, work_id, keep="Ann", reason="x", actor="Admin")
    with pytest.raises(UserError, match="not disputed"):
        resolve_dispute(store, work_id, keep="Ann", reason="x", actor="Admin")
    assert get_dispute(store, work_id).status == "resolved"


def test_claim_notes_keep_the_claimants_side(store: SqlStore, tmp_path: Path) -> None:
    work_id, _ = _ann_and_zed(store, tmp_path)
    zed = next(c for c in store.get_work(work_id).claims if c.party == "Zed")
    note = json.loads(zed.note or "{}")
    assert note["title"] == "zed.jpg" and note["identifiers"][0].startswith("sha256:")
    assert {"pdq", "pdq-regions", "sha256"} <= set(note["fingerprints"])


def test_verification_reads_the_partys_level(store: SqlStore) -> None:
    from clearance.registry.parties import verify_admin

    assert verification_of(Party(1, "Ann", None, VerificationLevel.DOMAIN)) == "domain"
    store.set_party_contact("Ann", "ann@example.org")
    assert verification_of(store.get_party("Ann")) == "self"
    verify_admin(store, "Ann", "checked her passport", actor="operator")
    assert verification_of(store.get_party("Ann")) == "admin"


def test_concurrent_near_duplicates_make_one_work_and_disputes(
    registry_location: str, tmp_path: Path
) -> None:
    """Four owners register four edits of one photo at once, each from its own store and
    check (as separate processes would): one work, three disputed claims, nothing doubled."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import ImageEnhance

    from clearance.registry import init_store, open_store

    im = textured_image(7, (480, 360))
    edits = [
        im,
        ImageOps.colorize(im.convert("L"), "#402010", "#f0e0c0"),
        ImageEnhance.Color(im).enhance(0.3),
        im.resize((360, 270)),
    ]
    paths = []
    for i, edit in enumerate(edits):
        paths.append(tmp_path / f"edit{i}.png")
        edit.convert("RGB").save(paths[-1])
    init_store(registry_location).close()

    def register(i: int) -> RegistrationStatus:
        with open_store(registry_location) as own:
            done = add_works(own, [str(paths[i])], owner=f"Owner{i}", similar=ContentChecker(own))
            return done.registrations[0].status

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(register, range(4)))
    assert sorted(statuses) == sorted(
        [RegistrationStatus.CREATED] + [RegistrationStatus.DISPUTED] * 3
    )
    with open_store(registry_location) as store:
        assert store.count_works() == 1
        (work,) = store.list_works()
        assert len(work.claims) == 4 and work.disputed


def test_the_bulk_query_applies_the_strictest_claim(store: SqlStore) -> None:
    """Two of Ann's pages with the same terms; Zed claims one with a deny. The bulk query
    (which decides each distinct set of terms once) answers each page by its own claims."""
    from clearance.matching import RegistryView
    from clearance.matching.bulk import query_urls
    from clearance.registry import register_identifier

    allow = TermsChange({Usage.TRAIN_AI: Permission.ALLOW})
    for page in ("one", "two"):
        ident = parse_identifier(f"https://ann.example/{page}")
        register_identifier(store, ident, owner="Ann", terms=allow)
    zed = register_identifier(
        store,
        parse_identifier("https://ann.example/two"),
        owner="Zed",
        terms=TermsChange({Usage.TRAIN_AI: Permission.DENY}),
    )
    assert zed.status is RegistrationStatus.DISPUTED
    view = RegistryView.from_store(store)
    one, two = query_urls(view, ["https://ann.example/one", "https://ann.example/two"])
    assert one is not None and two is not None
    assert not one.opt_out and one.usages[Usage.TRAIN_AI] is Permission.ALLOW
    assert two.opt_out and two.usages[Usage.TRAIN_AI] is Permission.DENY


def test_min_verification_weighs_each_claim_of_a_disputed_work(
    store: SqlStore, tmp_path: Path
) -> None:
    """A claim below the minimum is not acted on; the disputed work's other claims still are."""
    from clearance.registry.parties import verify_admin

    work_id, _ = _ann_and_zed(store, tmp_path)  # Ann: output deny; Zed: output allow
    verify_admin(store, "Zed", "checked his passport", actor="Operator")
    index = GuardIndex.from_store(store)
    copy = tmp_path / "zed.jpg"
    everyone = check(index, copy, min_verification="self")
    assert everyone.verdict == "block"  # Ann's deny is the strictest claim
    admins = check(index, copy, min_verification="admin")
    assert admins.verdict == "allow", admins.reasons  # only Zed's (verified) claim counts
    (work,) = admins.works
    assert not work.ignored and work.decision.permission is Permission.ALLOW
    assert any("disputed by Zed" in r for r in admins.reasons), admins.reasons
    terms = strictest_terms(store.get_work(work_id), VerificationLevel.ADMIN).effective()
    assert terms[Usage.OUTPUT] is Permission.ALLOW
    assert get_dispute(store, work_id).claims[1].verification == "admin"
