"""Benchmarks: each runs our code and its baseline in the same process, on the same data.

``python -m benchmarks`` (``make bench``) runs every ``bench_*.py`` module's
``main()``; run one alone with ``python -m benchmarks.bench_NAME --help``.
Record results in ``docs/benchmarks.md`` with the command, machine and date.
"""
