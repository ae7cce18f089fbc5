"""The ``clearance`` command line: a thin Typer face over the library.

``main`` runs the app and maps errors to exit codes: 0 success, 2 user error
(bad flag, unknown usage, missing file), 3 external failure (database
unreachable), 1 internal error. Messages are one line; ``--debug`` adds the
traceback.
"""

from __future__ import annotations

import sys
import traceback

import typer

from clearance.cli import (
    agreements,
    audit,
    characters,
    check,
    evidence,
    init,
    keys,
    report,
    scan,
    serve,
    signals,
    terms,
    works,
)
from clearance.cli.output import stderr
from clearance.core.errors import ClearanceError

app = typer.Typer(
    name="clearance",
    help="Rights clearance for AI training data and AI outputs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """Rights clearance for AI training data and AI outputs."""


app.command("init")(init.init_command)
app.add_typer(works.app, name="works")
app.add_typer(terms.app, name="terms")
app.add_typer(characters.app, name="characters")
app.add_typer(agreements.app, name="agreements")
app.add_typer(agreements.usage_app, name="usage")
app.command("audit")(audit.audit_command)
app.command("signals")(signals.signals_command)
app.command("inspect")(signals.inspect_command)
app.command("check")(check.check_command)
app.command("scan")(scan.scan_command)
app.command("serve")(serve.serve_command)
app.add_typer(keys.app, name="keys")
app.command("verify")(evidence.verify_command)
app.command("prove")(evidence.prove_command)
app.command("verify-proof")(evidence.verify_proof_command)
app.command("report")(report.report_command)
app.command("policy")(report.policy_command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        app(args=args, prog_name="clearance")
    except SystemExit as exc:  # Typer's standalone mode: usage errors exit 2, success 0
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except ClearanceError as exc:
        if debug:
            traceback.print_exc()
        stderr.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        stderr.print("interrupted")
        return 130
    except Exception as exc:
        if debug:
            traceback.print_exc()
        stderr.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc} "
            "(run with --debug for the traceback, and please report it)",
            highlight=False,
            soft_wrap=True,
        )
        return 1
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
