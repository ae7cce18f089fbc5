"""The layers of docs/architecture.md hold: no upward import, no job importing another job,
no import cycle between modules.

Every ``import`` and ``from ... import`` in ``src/clearance`` counts, function-level ones
included (a lazy import is still a dependency). A module may import its own package's
modules and anything in a lower layer; packages of one layer may not import each other
where the layer is a set of jobs or of faces. An edge between a module and a package
that contains it (``from clearance.registry import schema`` inside the registry) is how
Python loads packages, not a dependency, and is left out, as the before-stop check does.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

LAYERS: dict[str, int] = {
    "clearance.core": 1,
    "clearance.data": 1,
    "clearance.signals": 2,
    "clearance.fingerprint": 2,
    "clearance.registry": 3,
    "clearance.fetch": 3,
    "clearance.evidence": 3,
    "clearance.licensing": 3,
    "clearance.matching": 4,
    "clearance.scan": 5,
    "clearance.guard": 5,
    "clearance.reports": 5,
    "clearance.service": 6,
    "clearance.config": 6,
    "clearance.api": 7,
    "clearance.web": 7,
    "clearance.integrations": 7,
    "clearance.cli": 8,
    "clearance.demo": 9,
    "clearance.__main__": 9,
}
NO_SIDEWAYS = {5, 7}
"""Layers whose packages never import each other: the jobs, and the HTTP/pipeline faces.

The command line sits above them, since ``clearance serve`` starts the API; the
demo drives the command line."""


def _modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def _package(module: str) -> str:
    """The layer key a module belongs to (``clearance.scan.formats.rows`` -> ``clearance.scan``)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rsplit(".", 1)[0] if "." in target else ""
            related = module.startswith(f"{target}.") or target.startswith(f"{module}.")
            if target and target != module and not related:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {m: _imports(m, p, known) for m, p in modules.items() if m.startswith("clearance.")}


def test_every_package_has_a_layer() -> None:
    packages = {_package(m) for m in _graph()} - {"clearance"}
    assert packages <= set(LAYERS), sorted(packages - set(LAYERS))


def test_no_upward_or_sideways_import() -> None:
    bad = []
    for module, targets in _graph().items():
        here = _package(module)
        if here == "clearance":
            continue
        for target in targets:
            there = _package(target)
            if there in (here, "clearance"):
                continue
            if LAYERS[there] > LAYERS[here]:
                bad.append(f"{module} imports {target} (layer {LAYERS[there]} > {LAYERS[here]})")
            elif LAYERS[there] == LAYERS[here] and LAYERS[here] in NO_SIDEWAYS:
                bad.append(f"{module} imports {target} (two packages of layer {LAYERS[here]})")
    assert not bad, "\n".join(sorted(bad))


def test_no_import_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in graph:
                continue
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_a_violation_is_caught(tmp_path: Path) -> None:
    """The reader sees function-level and relative imports (so the tests above can fail)."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f():\n    from clearance.cli import main\n    from . import rows\n",
        encoding="utf-8",
    )
    found = _imports(
        "clearance.scan.probe",
        probe,
        {"clearance.cli", "clearance.scan.rows", "clearance.scan"},
    )
    assert found == {"clearance.cli", "clearance.scan.rows"}
