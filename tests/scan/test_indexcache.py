"""``--index-cache``: the registry index is reused across runs only for the same registry state."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clearance.core import Permission, Usage
from clearance.matching import MatchIndex
from clearance.registry import TermsChange, add_works, init_store, open_store
from clearance.scan import scan
from clearance.scan.indexcache import _entry
from tests.samples import write_image
from tests.scan.conftest import decisions


def _folder(root: Path) -> Path:
    root.mkdir()
    for seed in (201, 202, 203):
        write_image(root / f"img{seed}.jpg", seed)
    return root


def test_index_is_reused_for_the_same_registry_state(
    tmp_path: Path, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = tmp_path / "r.db"
    shutil.copyfile(registry, reg)  # the session registry is shared: change a copy
    data, cache = _folder(tmp_path / "data"), tmp_path / "cache"
    built: list[str] = []
    real_build = MatchIndex.from_store

    def counting_build(*args: object, **kwargs: object) -> MatchIndex:
        built.append("x")
        return real_build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(MatchIndex, "from_store", staticmethod(counting_build))
    first = scan(data, tmp_path / "a", registry=str(reg), web="off", workers=1, index_cache=cache)
    second = scan(data, tmp_path / "b", registry=str(reg), web="off", workers=1, index_cache=cache)
    assert len(built) == 1  # the second run restored the cached index
    assert decisions(tmp_path / "a") == decisions(tmp_path / "b")
    assert first.report["outcomes"] == second.report["outcomes"]
    # a registry change makes a new state: the stale entry is never used
    with init_store(str(reg)) as store:
        add_works(
            store,
            [str(data / "img201.jpg")],
            owner="Late",
            terms=TermsChange({Usage.TDM: Permission.DENY}),
        )
    scan(data, tmp_path / "c", registry=str(reg), web="off", workers=1, index_cache=cache)
    assert len(built) == 2
    late = [r for r in decisions(tmp_path / "c").values() if r["outcome"] == "exclude"]
    assert len(late) == 1
    # a damaged entry (a file missing) is rebuilt, not trusted
    with open_store(str(reg)) as store:
        state = store.state_digest()
    (_entry(cache, f"{state}:regions") / "pdq.hidx").unlink()
    scan(data, tmp_path / "d", registry=str(reg), web="off", workers=1, index_cache=cache)
    assert len(built) == 3
    assert decisions(tmp_path / "d") == decisions(tmp_path / "c")
    scan(data, tmp_path / "e", registry=str(reg), web="off", workers=1, index_cache=cache)
    assert len(built) == 3  # the damaged entry was replaced by the rebuilt one
