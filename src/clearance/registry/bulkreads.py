"""Bulk and change-feed reads of the registry, shared by every store backend.

Why a module of its own: index builders (the scan, the guard) read every
fingerprint or identifier of one kind, and the live guard follows the audit
log; these reads are streamed or batched, never loaded as ``Work`` objects,
and they would otherwise crowd ``store.py``, which holds registration and the
per-work queries. ``SqlStore`` inherits them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from clearance.core.models import IdentifierScheme
from clearance.core.validation import check_count
from clearance.registry import schema as s
from clearance.registry.engine import database_errors
from clearance.registry.records import AuditEntry, FingerprintRecord


def aware(value: datetime) -> datetime:
    """A timestamp read back from the database, as UTC (SQLite drops the zone)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class BulkReads:
    """Streaming reads over one engine (``engine`` and ``dialect`` come from the store)."""

    engine: Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def iter_fingerprints(self, algo: str) -> Iterator[tuple[int, FingerprintRecord]]:
        with database_errors("read"), self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=10_000).execute(
                select(s.fingerprints)
                .where(s.fingerprints.c.algo == algo)
                .order_by(s.fingerprints.c.id)
            )
            for r in result:
                yield (
                    r.work_id,
                    FingerprintRecord(r.algo, bytes(r.data), r.format_version, r.quality),
                )

    def iter_fingerprint_batches(
        self, algo: str, batch: int = 50_000
    ) -> Iterator[list[tuple[int, bytes, int | None]]]:
        """Every ``(work_id, data, quality)`` of one algorithm, in batches, in stored order.

        For bulk loads (a million image codes): about 4x faster than
        ``iter_fingerprints``, which builds one record object per row.
        """
        query = (
            select(s.fingerprints.c.work_id, s.fingerprints.c.data, s.fingerprints.c.quality)
            .where(s.fingerprints.c.algo == algo)
            .order_by(s.fingerprints.c.id)
        )
        with database_errors("read"), self.engine.connect() as conn:
            if self.dialect == "sqlite":  # the DB-API cursor: 3x less overhead per row
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                try:
                    cursor.execute(
                        "SELECT work_id, data, quality FROM fingerprints "
                        "WHERE algo = ? ORDER BY id",
                        (algo,),
                    )
                    while raw := cursor.fetchmany(batch):
                        yield [(int(r[0]), bytes(r[1]), r[2]) for r in raw]
                finally:
                    cursor.close()
                return
            result = conn.execution_options(stream_results=True).execute(query)
            while rows := result.fetchmany(batch):
                yield [(int(r[0]), bytes(r[1]), r[2]) for r in rows]

    def iter_identifiers(self, scheme: IdentifierScheme) -> Iterator[tuple[int, str]]:
        """Every ``(work_id, value)`` of one identifier scheme, ordered by value then work."""
        with database_errors("read"), self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=10_000).execute(
                select(s.identifiers.c.work_id, s.identifiers.c.value)
                .where(s.identifiers.c.scheme == scheme.value)
                .order_by(s.identifiers.c.value, s.identifiers.c.work_id)
            )
            for r in result:
                yield int(r.work_id), str(r.value)

    def audit_log(self, *, limit: int | None = None) -> list[AuditEntry]:
        query = select(s.audit_log).order_by(s.audit_log.c.id.desc())
        if limit is not None:
            query = query.limit(check_count(limit, "limit"))
        with database_errors("read"), self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEntry(
                r.id, aware(r.at), r.actor, r.action, r.entity, r.entity_id, json.loads(r.detail)
            )
            for r in reversed(rows)
        ]

    def audit_watermark(self) -> int:
        """The newest audit entry's id (0 for none): it grows with every change."""
        with database_errors("read"), self.engine.connect() as conn:
            return int(conn.execute(select(func.max(s.audit_log.c.id))).scalar() or 0)

    def audit_since(self, after: int, upto: int | None = None) -> list[AuditEntry]:
        """Audit entries with ``after < id <= upto``, oldest first (what changed since then)."""
        query = select(s.audit_log).where(s.audit_log.c.id > after).order_by(s.audit_log.c.id)
        if upto is not None:
            query = query.where(s.audit_log.c.id <= upto)
        with database_errors("read"), self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEntry(
                r.id, aware(r.at), r.actor, r.action, r.entity, r.entity_id, json.loads(r.detail)
            )
            for r in rows
        ]

    def fingerprints_of(self, work_ids: Sequence[int]) -> list[tuple[int, FingerprintRecord]]:
        """Every stored fingerprint of these works, as ``(work_id, record)``, in stored order."""
        out: list[tuple[int, FingerprintRecord]] = []
        with database_errors("read"), self.engine.connect() as conn:
            for start in range(0, len(work_ids), 500):
                rows = conn.execute(
                    select(s.fingerprints)
                    .where(s.fingerprints.c.work_id.in_(list(work_ids[start : start + 500])))
                    .order_by(s.fingerprints.c.id)
                )
                out.extend(
                    (
                        r.work_id,
                        FingerprintRecord(r.algo, bytes(r.data), r.format_version, r.quality),
                    )
                    for r in rows
                )
        return out
