"""Shared fixtures: registries on both backends, and sample files.

The PostgreSQL backend runs against the real server on 127.0.0.1:5432 (trust
auth, as on the development and CI machines). Each test gets its own throwaway
database, dropped afterwards. If the server is unreachable the tests fail: a
missing service must not hide as a skip. Override the admin URL with
``CLEARANCE_TEST_PG`` (a URL to a database you may create databases from).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from clearance.registry import SqlStore, init_store

PG_ADMIN = os.environ.get("CLEARANCE_TEST_PG", "postgresql://root@127.0.0.1:5432/postgres")


def _pg_url(dbname: str) -> str:
    base, _, _ = PG_ADMIN.rpartition("/")
    return f"{base}/{dbname}"


@contextmanager
def throwaway_pg_database(template: str | None = None) -> Iterator[str]:
    """A fresh PostgreSQL database URL (a copy of ``template``'s database when given),
    dropped afterwards."""
    name = f"clearance_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template.rpartition("/")[2]}"' if template else ""
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield _pg_url(name)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database URL, dropped after the test."""
    with throwaway_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def registry_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An uninitialised registry location on each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "registry.db")
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
def store(registry_location: str) -> Iterator[SqlStore]:
    """An initialised, empty registry on each backend."""
    s = init_store(registry_location)
    try:
        yield s
    finally:
        s.close()


@contextmanager
def registry_template(backend: str, root: Path) -> Iterator[str]:
    """An uninitialised registry location on ``backend`` to prepare once (module scope)
    and copy per test with ``registry_copy``; a PostgreSQL one is dropped afterwards."""
    if backend == "sqlite":
        yield str(root / "template.db")
        return
    with throwaway_pg_database() as url:
        yield url


@contextmanager
def registry_copy(template: str, tmp_path: Path) -> Iterator[str]:
    """A copy of a prepared, closed registry for one test: a file copy on SQLite,
    ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL (dropped afterwards). Much cheaper
    than preparing it again when that takes scans or argon2 key hashes."""
    if not template.startswith("postgresql"):
        copy = tmp_path / "registry.db"
        shutil.copy(template, copy)  # closed: SQLite folded its WAL into the file
        yield str(copy)
        return
    with throwaway_pg_database(template) as url:
        yield url
