"""Bad input on the command line is one ``error:`` line and exit 2 (issue #11, items 3, 4, 7, 8).

Every case here used to end in exit 1 (an internal error with a Python
exception's text), in a hang, or in silent acceptance of something that broke
every later scan. The table is the issue's list, flag by flag.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from clearance.cli import main
from clearance.registry import grant_agreement, init_store
from clearance.registry.characters import add_character

HUGE = "99999999999999999999"  # past SQLite's 64-bit and PostgreSQL's 32-bit integers


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> str:
    location = str(tmp_path_factory.mktemp("reg") / "r.db")
    with init_store(location) as store:
        add_character(store, "Pikachu", owner="Ann")
        grant_agreement(store, "GenCo", "Ann")
    return location


CASES: list[tuple[str, list[str]]] = [
    ("work id past int64", ["works", "show", HUGE]),
    ("work id at int64+1", ["works", "show", "9223372036854775808"]),
    ("work id past int32", ["works", "show", "2147483648"]),
    ("zero id", ["works", "remove", "0"]),
    ("list limit", ["works", "list", "--limit", HUGE]),
    ("list offset", ["works", "list", "--offset", HUGE]),
    ("terms --work", ["terms", "set", "--work", HUGE, "--deny", "tdm"]),
    ("grant --work", ["agreements", "grant", "--licensee", "L", "--owner", "Ann", "--work", HUGE]),
    ("revoke id", ["agreements", "revoke", HUGE]),
    ("usage --work", ["usage", "list", "--work", HUGE]),
    ("usage --limit", ["usage", "list", "--limit", HUGE]),
    ("audit --limit", ["audit", "--limit", HUGE]),
    (
        "until the last day",
        ["agreements", "grant", "--licensee", "L", "--owner", "Ann", "--until", "9999-12-31"],
    ),
    (
        "until a late instant",
        [
            "agreements",
            "grant",
            "--licensee",
            "L",
            "--owner",
            "Ann",
            "--until",
            "9999-12-31T23:59:59-05:00",
        ],
    ),
    ("unclosed IPv6 host", ["works", "add", "https://[::1", "--owner", "Ann"]),
    ("port past 65535", ["works", "add", "https://x.example:99999/", "--owner", "Ann"]),
    ("bad IDNA label", ["works", "add", "https://xn--.example/", "--owner", "Ann"]),
    ("NFKC host", ["works", "add", "https://ex\u2100ample.com/", "--owner", "Ann"]),
    (
        "price past every bound",
        [
            "works",
            "add",
            "domain:a.example",
            "--owner",
            "Ann",
            "--license",
            "output",
            "--price",
            "1e99999999999999",
            "--currency",
            "EUR",
        ],
    ),
    (
        "price too precise",
        [
            "works",
            "add",
            "domain:a.example",
            "--owner",
            "Ann",
            "--license",
            "output",
            "--price",
            "0.0000000001",
            "--currency",
            "EUR",
        ],
    ),
    (
        "price not a number",
        [
            "works",
            "add",
            "domain:a.example",
            "--owner",
            "Ann",
            "--license",
            "output",
            "--price",
            "NaN",
            "--currency",
            "EUR",
        ],
    ),
    ("owner with an escape", ["works", "add", "domain:a.example", "--owner", "A\x1b[31mnn"]),
    ("owner with a bidi override", ["works", "add", "domain:a.example", "--owner", "A\u202enn"]),
    ("licensee with a NUL", ["agreements", "grant", "--licensee", "L\x00", "--owner", "Ann"]),
    ("character with an OSC", ["characters", "add", "Pika\x1b]0;owned\x07", "--owner", "Ann"]),
    (
        "reference too long",
        ["agreements", "grant", "--licensee", "L", "--owner", "Ann", "--reference", "x" * 5000],
    ),
    ("device as a work", ["works", "add", "/dev/zero", "--owner", "Ann"]),
    (
        "device as images",
        ["characters", "add", "Raichu", "--owner", "Ann", "--images", "/dev/null"],
    ),
    ("timeout NaN", ["signals", "https://example.com/", "--timeout", "nan"]),
    ("agent with spaces", ["signals", "https://example.com/", "--agent", "My Bot"]),
    (
        "workers past the cap",
        ["works", "add", "domain:b.example", "--owner", "Ann", "--workers", "100000"],
    ),
    ("serve host", ["serve", "--host", "not a host!"]),
    ("unknown command", ["nosuch"]),
    ("missing argument", ["works", "show"]),
]


def _check(code: int, err: str, out: str) -> None:
    assert code == 2, (code, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "\x1b" not in err and "\x00" not in err


@pytest.mark.parametrize(("case", "argv"), CASES, ids=[c for c, _ in CASES])
def test_bad_input_is_one_error_line_and_exit_2(
    registry: str, case: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*argv, "-r", registry] if argv[0] not in ("nosuch",) else argv)
    out, err = capsys.readouterr()
    _check(code, err, out)


def test_a_file_that_is_not_a_registry(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["works", "list", "--registry", "/etc/passwd"])  # was a raw SQLAlchemy error
    out, err = capsys.readouterr()
    _check(code, err, out)
    assert "not a SQLite database" in err


@pytest.mark.timeout(30)  # was: hung for ever on the open
def test_a_fifo_is_refused_not_read_forever(
    registry: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    code = main(["works", "add", str(fifo), "--owner", "Ann", "-r", registry])
    out, err = capsys.readouterr()
    _check(code, err, out)
    assert "not a regular file" in err


def test_a_bad_setting_in_the_environment_is_a_user_error(
    registry: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in (("CLEARANCE_MAX_PIXELS", "many"), ("CLEARANCE_API_BODY_TIMEOUT", "-1")):
        monkeypatch.setenv(name, value)
        code = main(["works", "list", "-r", registry])
        out, err = capsys.readouterr()
        _check(code, err, out)
        monkeypatch.delenv(name)


def test_names_already_stored_with_escapes_print_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A registry written before names were checked: the tables escape, never replay, them."""
    location = str(tmp_path / "old.db")
    with init_store(location) as store:
        work = add_character(store, "Pikachu", owner="Ann").registration.work.id
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE parties SET name = :n"), {"n": "Ann\x1b]0;owned\x07[red]"})
    for argv in (["works", "list"], ["works", "show", str(work)], ["audit"]):
        assert main([*argv, "-r", location]) == 0
        out, _ = capsys.readouterr()
        assert "\x1b" not in out and "\x07" not in out
    assert main(["works", "show", str(work), "-r", location]) == 0
    assert "\\x1b]0;owned\\x07[red]" in capsys.readouterr().out
