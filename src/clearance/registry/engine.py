"""Turning a registry location into a SQLAlchemy engine, and database errors into ours.

A location is a file path (SQLite, the embedded default) or a
``postgresql://`` URL. SQLite runs in WAL mode with foreign keys on and a busy
timeout; write transactions start with ``BEGIN IMMEDIATE`` so two writers queue
instead of deadlocking on a lock upgrade.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DataError, DBAPIError, OperationalError

from clearance.core.errors import ClearanceError, RegistryUnavailable, UserError

DEFAULT_REGISTRY = "clearance.db"


def registry_url(location: str | Path) -> str:
    """Normalise a registry location to a SQLAlchemy URL string."""
    text = str(location).strip()
    if not text:
        raise UserError("empty registry location")
    if text.startswith(("postgresql://", "postgres://")):
        rest = text.split("://", 1)[1]
        return f"postgresql+psycopg://{rest}"
    if text.startswith("postgresql+"):
        return text
    if text.startswith("sqlite:"):
        return text
    if "://" in text:
        raise UserError(
            f"unsupported registry URL {text!r}",
            hint="use a file path for SQLite or a postgresql:// URL",
        )
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for other backends / in-memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_sqlite_begin)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _on_sqlite_begin(conn: Connection) -> None:
    if conn.get_execution_options().get("clearance_write"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def make_engine(url: str) -> Engine:
    """Create the engine for a normalised registry URL."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 10})
            event.listen(engine, "connect", _on_sqlite_connect)
            event.listen(engine, "begin", _on_sqlite_begin)
            return engine
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    except ArgumentError as exc:
        raise UserError(f"bad registry URL: {exc}") from None
    except ModuleNotFoundError as exc:
        raise UserError(
            f"the database driver is not installed ({exc.name})",
            hint="pip install 'clearance[postgres]'",
        ) from None


@contextlib.contextmanager
def database_errors(where: str) -> Iterator[None]:
    """Translate driver errors into our errors, each one clear line.

    Unreachable or locked databases become ``RegistryUnavailable`` (exit 3).
    Values the database refuses (a number past a column's range, a NUL in
    text on PostgreSQL, undecodable text) and a file that is not a database
    become ``UserError`` (exit 2): the faces validate input first, and this is
    the net under them. Anything else is a bug and stays as it is.
    """
    try:
        yield
    except ClearanceError:
        raise
    except OperationalError as exc:
        reason = _first_line(exc)
        if "not a database" in reason or "file is encrypted" in reason:
            raise UserError(f"the registry is not a SQLite database ({reason})") from exc
        raise RegistryUnavailable(f"cannot reach the registry ({where}): {reason}") from exc
    except DataError as exc:
        raise UserError(f"the registry refused a value: {_first_line(exc)}") from exc
    except DatabaseError as exc:
        reason = _first_line(exc)
        if exc.connection_invalidated:
            raise RegistryUnavailable(f"registry {where}: connection lost") from exc
        if "not a database" in reason or "file is encrypted" in reason:
            raise UserError(
                f"the registry is not a SQLite database ({reason})",
                hint="pass the path of a registry made by `clearance init`",
            ) from exc
        raise
    except OverflowError as exc:  # sqlite3: "Python int too large to convert to SQLite INTEGER"
        raise UserError(f"a number is too large for the registry ({exc})") from exc
    except UnicodeEncodeError:  # undecodable bytes (surrogate escapes) in text
        raise UserError("text with undecodable bytes cannot be stored in the registry") from None


def _first_line(exc: DBAPIError) -> str:
    text = str(exc.orig).strip() if exc.orig is not None else str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def redact(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
