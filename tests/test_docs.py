"""The docs match the program (in the style of sqlite-utils' ``tests/test_docs.py``).

* Every command of ``clearance --help``, and every option of each command,
  appears in ``docs/cli.md``: the option in the command's own section.
* Every ``clearance ...`` command written in the README and ``docs/`` parses:
  a command in a code block is parsed as the CLI would parse it (arguments,
  required options and value types included; a synopsis with ``[--...]`` is
  skipped); inline code that names a command (``clearance audit verify
  --anchor``) must name a real command and real options of it. A flag that
  was renamed or removed, or a value of the wrong type, fails here instead
  of for a reader who pasted it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from clearance.cli import app

try:  # recent Typer vendors Click as typer._click
    from typer._click.core import Command, Context
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - depends on the Typer release
    from click import Command, Context  # type: ignore[assignment]
    from click.exceptions import ClickException  # type: ignore[assignment]

ROOT = Path(__file__).parents[1]
CLI_MD = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ROOT_COMMAND = typer.main.get_command(app)


def commands(cmd: Command = ROOT_COMMAND, path: tuple[str, ...] = ()) -> Iterator[
    tuple[str, Command]
]:  # fmt: skip
    """Every command reachable from ``clearance``, as ``("works add", command)``."""
    if path:
        yield " ".join(path), cmd
    if is_group(cmd):
        ctx = Context(cmd)
        for name in cmd.list_commands(ctx):  # type: ignore[attr-defined]
            sub = cmd.get_command(ctx, name)  # type: ignore[attr-defined]
            if sub is not None and not getattr(sub, "hidden", False):
                yield from commands(sub, (*path, name))


def is_group(cmd: Command) -> bool:
    return isinstance(cmd, typer.core.TyperGroup)


def section(path: str) -> str:
    """The text of ``docs/cli.md`` under the headings for ``clearance PATH``."""
    heading = re.compile(rf"^## `clearance {re.escape(path)}(?=[ `])", re.M)
    parts = []
    for m in heading.finditer(CLI_MD):
        end = CLI_MD.find("\n## ", m.end())
        parts.append(CLI_MD[m.start() : end if end >= 0 else len(CLI_MD)])
    return "\n".join(parts)


ALL = list(commands())


@pytest.mark.parametrize(("path", "command"), ALL, ids=[p for p, _ in ALL])
def test_every_command_and_option_is_documented(path: str, command: Command) -> None:
    text = section(path)
    assert text, f"docs/cli.md has no section '## `clearance {path} ...`'"
    if is_group(command) and not getattr(command, "invoke_without_command", False):
        return  # a group's options are its subcommands'
    for param in command.params:
        for name in param.opts:
            if name.startswith("--") and name not in COMMON:
                assert name in text, f"{name} of 'clearance {path}' is not in its docs section"


PREAMBLE = CLI_MD[: CLI_MD.index("\n## `clearance ")]
COMMON = {"--help", "--json", "--registry", "--wide"}
"""Options many commands share: documented once, at the top of docs/cli.md."""


def test_common_and_root_options_are_documented_at_the_top() -> None:
    for name in COMMON - {"--help"}:
        assert f"`{name}" in PREAMBLE, f"{name} is not described at the top of docs/cli.md"
    for param in ROOT_COMMAND.params:
        for name in param.opts:
            if name.startswith("--") and name != "--help":
                assert name in PREAMBLE


def _code_commands(text: str) -> Iterator[str]:
    """``clearance ...`` lines of fenced code blocks (continuations joined, comments cut)."""
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("clearance ") and "[--" not in line:  # not a synopsis
                yield line


def _inline_commands(text: str) -> Iterator[str]:
    """Inline code naming a command: ``clearance`` and words up to a placeholder or ellipsis."""
    for span in re.findall(r"`(clearance [^`\n]+)`", text):
        words = []
        for word in span.split():
            if any(mark in word for mark in ("[", "|", "...", "…", "<", "(")):
                break
            words.append(word)
        yield " ".join(words)


def documented_commands() -> list[tuple[str, str, bool]]:
    """``(doc, command line, whole)``: ``whole`` for a code block's command, parsed in full."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        found += [(doc.name, line, True) for line in _code_commands(text)]
        found += [(doc.name, line, False) for line in _inline_commands(text)]
    return found


def parse(args: list[str]) -> None:
    """Parse ``clearance ARGS`` as the CLI would, without running anything."""
    cmd: Command = ROOT_COMMAND
    ctx: Context = cmd.make_context("clearance", list(args))
    while is_group(cmd):
        protected = getattr(ctx, "_protected_args", None)  # the subcommand's name, and so on
        if protected is None:  # pragma: no cover - older Click
            protected = ctx.protected_args
        rest = [*protected, *ctx.args]
        if not rest:
            return
        name, sub, rest = cmd.resolve_command(ctx, rest)  # type: ignore[attr-defined]
        assert sub is not None and name is not None
        cmd = sub
        ctx = cmd.make_context(name, rest, parent=ctx)


def names(args: list[str]) -> None:
    """``clearance ARGS`` names a command, and every ``--option`` in ARGS is one of its own."""
    cmd: Command = ROOT_COMMAND
    known = {o for p in cmd.params for o in p.opts}
    words = list(args)
    while is_group(cmd) and words and not words[0].startswith("-"):
        sub = cmd.get_command(Context(cmd), words[0])  # type: ignore[attr-defined]
        assert sub is not None, f"no command {words[0]!r}"
        cmd, words = sub, words[1:]
        known |= {o for p in cmd.params for o in p.opts}
    for word in words:
        if word.startswith("--"):
            assert word.split("=", 1)[0] in known, f"no option {word} here"


COMMANDS = documented_commands()


def test_the_docs_hold_commands_to_check() -> None:
    assert sum(whole for _, _, whole in COMMANDS) > 30
    assert {doc for doc, _, _ in COMMANDS} >= {"README.md", "cli.md", "scan.md"}


@pytest.mark.parametrize(
    ("doc", "line", "whole"), COMMANDS, ids=[f"{d}:{c[:60]}" for d, c, _ in COMMANDS]
)
def test_every_documented_command_parses(doc: str, line: str, whole: bool) -> None:
    args = shlex.split(line, comments=True)[1:]
    for i, word in enumerate(args):  # what a shell would not pass on: pipes, redirections
        if word in ("|", "||", "&&", ";", ">", ">>", "2>&1"):
            args = args[:i]
            break
    try:
        parse(args) if whole else names(args)
    except (ClickException, AssertionError) as exc:
        why = exc.format_message() if isinstance(exc, ClickException) else exc
        pytest.fail(f"{doc}: `{line}` does not parse: {why}")
