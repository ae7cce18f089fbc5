"""The ``clearance`` command line: a thin Typer face over the library.

``main`` runs the app and maps errors to exit codes: 0 success, 2 user error
(bad flag, unknown usage, missing file), 3 external failure (database
unreachable), 4 a ledger that fails its hash chain (``audit verify``), 1
internal error. Messages are one line, Click's usage errors included (with
control characters and markup in them escaped); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer
from rich.markup import escape
from typer import Abort, Exit

try:  # recent Typer vendors Click as typer._click; older ones use Click itself
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - depends on the Typer release
    from click.exceptions import (  # type: ignore[assignment]
        ClickException,
        NoArgsIsHelpError,
        UsageError,
    )

from clearance.cli import (
    accounts,
    agreements,
    audit,
    characters,
    check,
    declarations,
    disputes,
    evidence,
    impact,
    init,
    keys,
    license,
    mirror,
    offers,
    parties,
    report,
    royalties,
    runs,
    scan,
    serve,
    signals,
    sites,
    terms,
    works,
)
from clearance.cli.output import stderr
from clearance.core.errors import ClearanceError
from clearance.core.validation import clean_data_text

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
app.add_typer(audit.app, name="audit")
app.add_typer(disputes.app, name="disputes")
app.command("signals")(signals.signals_command)
app.command("inspect")(signals.inspect_command)
app.command("check")(check.check_command)
app.command("scan")(scan.scan_command)
app.command("serve")(serve.serve_command)
app.command("mirror")(mirror.mirror_command)
app.add_typer(keys.app, name="keys")
app.add_typer(parties.app, name="parties")
app.add_typer(declarations.app, name="declarations")
app.add_typer(accounts.app, name="accounts")
app.add_typer(sites.app, name="sites")
app.command("verify")(evidence.verify_command)
app.command("prove")(evidence.prove_command)
app.command("verify-proof")(evidence.verify_proof_command)
app.command("report")(report.report_command)
app.command("policy")(report.policy_command)
app.add_typer(offers.app, name="offers")
app.add_typer(license.app, name="license")
app.add_typer(runs.app, name="runs")
app.command("royalties")(royalties.royalties_command)
app.command("impact")(impact.impact_command)
app.command("notices")(impact.notices_command)


def _say(prefix: str, message: str) -> None:
    """One line on stderr: escapes, newlines and Rich markup in ``message`` are neutralised."""
    stderr.print(
        f"[bold red]{prefix}[/] {escape(clean_data_text(message, limit=2000))}",
        highlight=False,
        soft_wrap=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        result = app(args=args, prog_name="clearance", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # the group's help is already printed
        _say(
            "error:",
            f"missing command (see '{exc.ctx.command_path if exc.ctx else 'clearance'} --help')",
        )
        return 2
    except UsageError as exc:  # bad flags and arguments: one line, not Click's boxed usage
        where = exc.ctx.command_path if exc.ctx is not None else "clearance"
        _say("error:", f"{exc.format_message()} (try '{where} --help')")
        return 2
    except ClickException as exc:
        _say("error:", exc.format_message())
        return exc.exit_code
    except Exit as exc:
        return exc.exit_code
    except ClearanceError as exc:
        if debug:
            traceback.print_exc()
        _say("error:", str(exc))
        return exc.exit_code
    except (KeyboardInterrupt, Abort):
        stderr.print("interrupted")
        return 130
    except BrokenPipeError:  # `clearance ... | head`: the reader left; nothing more to say
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps Python's exit flush quiet
        return 141
    except Exception as exc:
        if debug:
            traceback.print_exc()
        _say(
            "internal error:",
            f"{type(exc).__name__}: {exc} "
            "(run with --debug for the traceback, and please report it)",
        )
        return 1
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
