"""What a person reads (issue 17): sentences, tables that fit 80 columns, exit codes that gate.

Every check here runs the real command line on a real registry and reads what
it printed, as a person at an 80-column terminal (or a shell ``if``) would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clearance.cli import main
from clearance.cli.check import verdict_exit_code
from clearance.cli.output import terms_text
from clearance.cli.signals import payment_text
from clearance.core import Permission, Price, Usage
from clearance.core.models import Terms
from clearance.scan.decide import reason_text
from tests.samples import write_image

ODE = "Ode on a Grecian Urn"
OWNER = "Ann (illustrator, opts out)"
LONG_URL = "http://127.0.0.1:8765/a/very/long/path/that/does/not/fit/in/a/column/" + "x" * 40


@pytest.fixture
def reg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.setenv("COLUMNS", "80")
    path = str(tmp_path / "r.db")
    assert main(["init", "-r", path]) == 0
    (tmp_path / "ode.txt").write_text(ODE, encoding="utf-8")
    write_image(tmp_path / "art.jpg", 3)
    args = ["-r", path, "--owner", OWNER]
    assert main(["works", "add", str(tmp_path / "art.jpg"), "--deny", "tdm,output", *args]) == 0
    assert main(["works", "add", str(tmp_path / "ode.txt"), "--deny", "output", *args]) == 0
    assert main(["works", "add", f"{LONG_URL}*", "--license", "train-ai", "--price", "1",
                 "--currency", "USD", "-r", path, "--owner", "Ben"]) == 0  # fmt: skip
    capsys.readouterr()
    return path


def out_of(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def words(text: str) -> str:
    """Printed text with its line wrapping undone."""
    return " ".join(text.split())


def column(table: str, n: int) -> str:
    """Column ``n`` (from 1) of a printed table, its wrapped lines joined."""
    cells = [line.split("│")[n].strip() for line in table.splitlines() if line.count("│") > n]
    return " ".join(c for c in cells if c)


def test_tables_wrap_at_80_columns_and_wide_keeps_rows_on_one_line(
    reg: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = out_of(capsys, "works", "list", "-r", reg)
    assert code == 0 and "…" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert LONG_URL in column(out, 4).replace(" ", "")  # folded over lines, never cut
    assert "at 1 USD per item" in column(out, 5)  # the price is in the table
    code, wide, _ = out_of(capsys, "works", "list", "-r", reg, "--wide")
    assert code == 0 and "…" not in wide
    row = next(line for line in wide.splitlines() if LONG_URL in line)
    assert "license: train-ai at 1 USD per item (implied: train-genai)" in row


def test_terms_show_implied_and_unset_apart(reg: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = out_of(capsys, "works", "show", "1", "-r", reg, "--wide")
    assert code == 0 and "implied/unset" not in out
    lines = {line.split()[1]: line for line in out.splitlines() if "terms." in line}
    assert "deny " in lines["terms.tdm"] and "(implied" not in lines["terms.tdm"]
    assert "deny (implied by tdm)" in lines["terms.train-ai"]
    assert "unknown (unset)" in lines["terms.search"]


def test_terms_text_says_each_permission_once_with_its_price() -> None:
    terms = Terms(
        {Usage.TDM: Permission.DENY, Usage.OUTPUT: Permission.LICENSE},
        {Usage.OUTPUT: Price.parse("0.02", "EUR", "run")},
    )
    assert terms_text(terms).splitlines() == [
        "deny: tdm (implied: train-ai, train-genai, ai-input)",
        "license: output at 0.02 EUR per run",
    ]
    two = Terms(
        {Usage.TRAIN_GENAI: Permission.LICENSE, Usage.OUTPUT: Permission.LICENSE},
        {
            Usage.TRAIN_GENAI: Price.parse("0.02", "EUR", "item"),
            Usage.OUTPUT: Price.parse("0.01", "EUR", "output"),
        },
    )
    assert terms_text(two) == (
        "license: train-genai at 0.02 EUR per item, output at 0.01 EUR per output"
    )
    assert terms_text(Terms({u: Permission.ALLOW for u in Usage})) == "allow: all"
    assert terms_text(Terms()) == "-"


def test_works_list_count_is_the_total_not_the_page(
    reg: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = out_of(capsys, "works", "list", "--limit", "2", "-r", reg, "--json")
    doc = json.loads(out)
    assert code == 0 and len(doc["works"]) == 2 and doc["count"] == 3
    code, out, _ = out_of(capsys, "works", "list", "--owner", OWNER, "--limit", "1", "-r", reg)
    assert "1 of 2 works" in words(out)


def test_check_exit_codes_gate_a_shell_if(reg: str, tmp_path: Path) -> None:
    """0 allowed, 4 blocked, 5 review: what `if clearance check ...; then` needs."""
    env = {"COLUMNS": "80", "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    script = (
        f'if "{sys.executable}" -m clearance check --text "$1" -r "{reg}" >/dev/null; '
        'then echo allowed; else echo "held $?"; fi'
    )

    def gate(text: str) -> str:
        proc = subprocess.run(["sh", "-c", script, "sh", text], capture_output=True, text=True,
                              env=env, timeout=120)  # fmt: skip
        return proc.stdout.strip()

    assert gate("a poem about trains and the weather") == "allowed"
    assert gate(ODE) == "held 4"  # the whole registered text: blocked
    assert gate(f"Tonight I read the {ODE} aloud, twice.") == "held 5"  # a weak match: review


def test_verdict_exit_code() -> None:
    assert verdict_exit_code([]) == 0
    assert verdict_exit_code(["allow", "allow"]) == 0
    assert verdict_exit_code(["allow", "review"]) == 5
    assert verdict_exit_code(["review", "block", "allow"]) == 4


def test_check_reasons_are_sentences(reg: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = out_of(capsys, "check", "--text", ODE, "-r", reg)
    assert code == 4 and f"({OWNER}): output denied by the owner" in words(out)
    assert "{" not in out and "=" not in out


def test_agreement_dates_are_echoed_as_written(
    reg: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["agreements", "grant", "--licensee", "GenCo", "--owner", "Ben", "-r", reg]
    code, out, _ = out_of(capsys, *args, "--until", "2027-12-31")
    assert code == 0 and "2028" not in out
    assert "may use all of Ben's works for output until 2027-12-31 (inclusive)" in words(out)
    code, out, _ = out_of(capsys, *args, "--until", "2027-06-30T12:00:00+00:00")
    assert "until 2027-06-30T12:00:00+00:00" in words(out)
    code, out, _ = out_of(capsys, "agreements", "list", "-r", reg)
    assert "until 2027-12-31 (inclusive)" in words(out)
    assert "until 2027-06-30T12:00:00+00:00" in words(out)
    code, out, _ = out_of(capsys, "agreements", "list", "-r", reg, "--json")
    assert json.loads(out)["agreements"][0]["ends_at"].startswith("2028-01-01T00:00:00")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["works", "list", "--bogus"], "No such option: --bogus"),
        (["scan", "data", "--out", "o", "--purpose", "output"], "--purpose must be one of"),
        (["works", "add", "x"], "Missing option '--owner'"),
    ],
)
def test_usage_errors_are_one_line_with_a_hint(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = out_of(capsys, *argv)
    lines = err.splitlines()
    assert code == 2 and out == "" and len(lines) == 1 and words in lines[0]
    assert lines[0].startswith("error:") and ("--help" in lines[0] or "valid" in lines[0]
                                              or "train-genai" in lines[0])  # fmt: skip
    assert "╭" not in err


def test_purpose_lists_only_what_it_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = out_of(capsys, "scan", "d", "--out", "o", "--purpose", "train")
    assert code == 2 and "output" not in err and "all" not in err.split("valid")[-1]


def test_scan_reasons_and_offers_read_as_sentences() -> None:
    assert reason_text("registry:tdm=deny") == "registry: tdm denied"
    assert reason_text("rsl:train-ai=license") == "rsl: train-ai needs a licence"
    assert reason_text("opt-in:train-genai=unknown") == (
        "no explicit permission for train-genai (opt-in)"
    )
    assert reason_text("review:weak match (pdq:0.80)") == "needs review: weak match (pdq:0.80)"
    offer = {"type": "purchase", "amounts": [{"value": "1", "currency": "USD"}], "standard": []}
    assert payment_text(offer) == "purchase: 1 USD"
    assert payment_text({"type": "crawl", "price": "USD 0.01"}) == "crawl: USD 0.01"
