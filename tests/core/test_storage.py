"""``core.storage``: local paths and object-store URIs, with the file rules of ``core.files``."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearance.core.errors import UnsafePath, UserError
from clearance.core.storage import Location, check_uri, is_uri, redact_uri


def test_uris_and_local_paths_are_told_apart() -> None:
    assert is_uri("s3://bucket/x") and is_uri("gs://b") and is_uri("hf://datasets/a/b")
    assert not is_uri("data/x.parquet") and not is_uri("/abs/x") and not is_uri("file:///tmp/x")
    assert not is_uri("C:\\data")


@pytest.mark.parametrize(
    "uri",
    ["s3://key:secret@bucket/x", "s3://token@bucket", "gs://a:b@c/d"],
)
def test_credentials_in_a_uri_are_refused_and_never_echoed(uri: str) -> None:
    with pytest.raises(UserError, match="credentials") as info:
        check_uri(uri)
    assert "secret" not in str(info.value) and ":b@" not in str(info.value)
    assert "@" not in redact_uri(uri)


@pytest.mark.parametrize("uri", ["s3://", "s3:///x", "s3://b/../c", "s3://b/./c", "s3://b//c"])
def test_hostile_uris_are_refused(uri: str) -> None:
    with pytest.raises(UserError):
        check_uri(uri)


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/../../b", "", "a//b", "a\\b", "a\x00b"])
def test_names_joined_onto_a_location_stay_inside_it(name: str, tmp_path: Path) -> None:
    remote = Location("s3://bucket/run")
    with pytest.raises(UnsafePath):
        remote.join(name)
    with pytest.raises(UnsafePath):
        Location(tmp_path).join(name)
    assert remote.join("a/b.json") == "s3://bucket/run/a/b.json"


def test_a_local_location_refuses_a_link_out(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "out").symlink_to(tmp_path)
    loc = Location(tmp_path / "run")
    with pytest.raises(UnsafePath):
        loc.write_text("out/escaped.txt", "x")
    assert not (tmp_path / "escaped.txt").exists()
    loc.write_text("a/b.txt", "hello")
    assert loc.read_text("a/b.txt") == "hello" and loc.files() == ["a/b.txt"]


def test_containment_is_by_whole_parts() -> None:
    run = Location("s3://bucket/run")
    assert run.contains("s3://bucket/run/x.parquet") and run.contains("s3://bucket/run")
    assert not run.contains("s3://bucket/run2/x") and not run.contains("/bucket/run/x")


def test_read_only_schemes_are_not_written() -> None:
    with pytest.raises(UserError, match="read only"):
        Location("hf://datasets/a/b").write_text("x", "y")


def test_a_missing_file_system_package_is_a_user_error_with_the_hint() -> None:
    import importlib.util

    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here")
    from clearance.core.storage import filesystem

    with pytest.raises(UserError, match="gcsfs") as info:
        filesystem("gs")
    assert "clearance[cloud]" in str(info.value.hint)
