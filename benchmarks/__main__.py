"""Run every ``bench_*.py`` module's ``main()`` in turn (what ``make bench`` calls).

``python -m benchmarks`` runs them all; ``python -m benchmarks hamming`` runs
those whose name contains ``hamming``. Each benchmark prints its own results.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import benchmarks


def run(selected: list[str]) -> int:
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(benchmarks.__path__)
        if info.name.startswith("bench_")
        and (not selected or any(s in info.name for s in selected))
    )
    if not names:
        print(f"no benchmark matches {selected}", file=sys.stderr)
        return 2
    for name in names:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"benchmarks.{name}")
        module.main([])
        print(f"== {name} done in {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
