"""The policy resolver: precedence, implications, modes, and its algebraic properties."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given

from clearance.core import (
    ALL_USAGES,
    Evidence,
    Mode,
    Permission,
    Usage,
    resolve,
    resolve_all,
)


def ev(
    usage: Usage,
    perm: Permission,
    source: str = "test",
    agreement: int | None = None,
    work: int | None = None,
) -> Evidence:
    return Evidence(source, usage, perm, agreement_id=agreement, work_id=work)


def test_unknown_depends_on_mode() -> None:
    assert resolve([], Usage.TRAIN_AI, Mode.OPT_OUT).allowed
    assert not resolve([], Usage.TRAIN_AI, Mode.OPT_IN).allowed
    assert resolve([], Usage.TRAIN_AI, "opt-in").permission is Permission.UNKNOWN


def test_deny_beats_license_beats_allow() -> None:
    items = [ev(Usage.TRAIN_AI, Permission.ALLOW), ev(Usage.TRAIN_AI, Permission.LICENSE)]
    d = resolve(items, Usage.TRAIN_AI)
    assert d.permission is Permission.LICENSE and not d.allowed
    d = resolve([*items, ev(Usage.TRAIN_AI, Permission.DENY, "tdmrep")], Usage.TRAIN_AI)
    assert d.permission is Permission.DENY and not d.allowed
    assert [e.source for e in d.evidence] == ["tdmrep"]


def test_active_licence_overrides_deny() -> None:
    items = [ev(Usage.TRAIN_AI, Permission.DENY), ev(Usage.TRAIN_AI, Permission.ALLOW, "ag", 1)]
    d = resolve(items, Usage.TRAIN_AI, Mode.OPT_IN)
    assert d.allowed and d.licensed and d.permission is Permission.LICENSE
    assert d.evidence[0].agreement_id == 1


def test_a_licence_for_one_work_does_not_clear_another_work() -> None:
    """Ann's licence covers Ann's work; Zed's deny on the other matched work still stands."""
    items = [
        ev(Usage.TRAIN_AI, Permission.LICENSE, "registry", work=1),
        ev(Usage.TRAIN_AI, Permission.LICENSE, "agreement", agreement=7, work=1),
        ev(Usage.TRAIN_AI, Permission.DENY, "registry", work=2),
    ]
    d = resolve(items, Usage.TRAIN_AI)
    assert not d.allowed and d.permission is Permission.DENY
    assert [e.work_id for e in d.evidence] == [2]
    # without the second work the licence carries the decision, over a site's preference too
    d = resolve([*items[:2], ev(Usage.TRAIN_AI, Permission.DENY, "robots.txt")], Usage.TRAIN_AI)
    assert d.allowed and d.licensed
    # a licence covering both works clears the item
    both = [*items, ev(Usage.TRAIN_AI, Permission.LICENSE, "agreement", agreement=8, work=2)]
    assert resolve(both, Usage.TRAIN_AI).licensed


def test_implications_follow_protocols_digest() -> None:
    deny_tdm = [ev(Usage.TDM, Permission.DENY)]
    out = resolve_all(deny_tdm)
    for usage in (Usage.TDM, Usage.TRAIN_AI, Usage.TRAIN_GENAI, Usage.AI_INPUT):
        assert out[usage].permission is Permission.DENY, usage
    assert out[Usage.SEARCH].permission is Permission.UNKNOWN
    assert out[Usage.OUTPUT].permission is Permission.UNKNOWN
    out = resolve_all([ev(Usage.TRAIN_AI, Permission.DENY)])
    assert out[Usage.TRAIN_GENAI].permission is Permission.DENY
    assert out[Usage.TDM].permission is Permission.UNKNOWN
    assert out[Usage.AI_INPUT].permission is Permission.UNKNOWN


def test_narrow_allow_never_overrides_broad_deny() -> None:
    items = [ev(Usage.TDM, Permission.DENY, "a"), ev(Usage.TRAIN_GENAI, Permission.ALLOW, "b")]
    assert resolve(items, Usage.TRAIN_GENAI).permission is Permission.DENY


def test_opt_in_allows_explicit_allow_from_broader_usage() -> None:
    d = resolve([ev(Usage.TRAIN_AI, Permission.ALLOW)], Usage.TRAIN_GENAI, Mode.OPT_IN)
    assert d.allowed and d.permission is Permission.ALLOW


evidence_st = st.builds(
    Evidence,
    source=st.sampled_from(["registry", "robots.txt", "tdmrep.json", "c2pa", "iptc"]),
    usage=st.sampled_from(ALL_USAGES),
    permission=st.sampled_from(list(Permission)),
    detail=st.text(max_size=5),
    agreement_id=st.one_of(st.none(), st.just(1)),
    work_id=st.one_of(st.none(), st.integers(1, 3)),
)


@given(st.lists(evidence_st, max_size=12), st.randoms(), st.sampled_from(list(Mode)))
def test_order_independent(items: list[Evidence], rnd: object, mode: Mode) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert resolve_all(items, mode) == resolve_all(shuffled, mode)


@given(st.lists(evidence_st, max_size=12), st.sampled_from(ALL_USAGES), st.sampled_from(list(Mode)))
def test_adding_a_deny_never_makes_anything_more_allowed(
    items: list[Evidence], deny_usage: Usage, mode: Mode
) -> None:
    before = resolve_all(items, mode)
    after = resolve_all([*items, ev(deny_usage, Permission.DENY, "new")], mode)
    for usage in ALL_USAGES:
        if not before[usage].allowed:
            assert not after[usage].allowed
        assert not (
            after[usage].permission is Permission.ALLOW
            and before[usage].permission is not Permission.ALLOW
        )


@given(st.lists(evidence_st, max_size=12), st.sampled_from(ALL_USAGES))
def test_opt_in_is_never_more_permissive_than_opt_out(items: list[Evidence], usage: Usage) -> None:
    if resolve(items, usage, Mode.OPT_IN).allowed:
        assert resolve(items, usage, Mode.OPT_OUT).allowed
