"""Core queries shared by the flows and the dashboard (keyword-only arguments).

Every function takes an open :class:`~sqlalchemy.orm.Session` and leaves committing to
the caller (use :func:`storage.db.session_scope`); functions that must survive a
concurrent insert of the same row use a SAVEPOINT so the caller's transaction stays
usable. JSON values are passed through :func:`jsonable` first; timestamps are UTC.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from posterqa.errors import InputError, StorageError
from storage.models import (
    DEFECT_STATUSES,
    REPAIR_VERDICTS,
    RUN_STATUSES,
    Asset,
    AuditEvent,
    Defect,
    Repair,
    Run,
    Scan,
    utcnow,
)

log = logging.getLogger(__name__)

__all__ = [
    "add_audit_event",
    "already_scanned",
    "claim_pending_defects",
    "defect_fingerprint",
    "finish_run",
    "get_asset_by_key",
    "jsonable",
    "mark_scanned",
    "record_defects",
    "record_repair",
    "release_stale_claims",
    "start_run",
    "upsert_asset",
]


# --------------------------------------------------------------------------- helpers


def _json_default(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy scalar / 0-d array
        return value.item()
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy array
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    if hasattr(value, "to_json") and callable(value.to_json):
        return value.to_json()
    raise TypeError(f"value of type {type(value).__name__} is not JSON-able: {value!r}")


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON (tuples -> lists, numpy -> Python numbers, NaN -> None).

    Raises :class:`InputError` naming the type of a value that has no JSON form.
    """
    try:
        text = json.dumps(value, default=_json_default, allow_nan=True)
    except TypeError as exc:
        raise InputError(str(exc)) from exc
    return _drop_nan(json.loads(text))


def _drop_nan(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_drop_nan(v) for v in value]
    if isinstance(value, dict):
        return {k: _drop_nan(v) for k, v in value.items()}
    return value


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --------------------------------------------------------------------------- runs


def start_run(
    session: Session,
    *,
    kind: str,
    pipeline_version: str,
    prefix: str | None = None,
    flow_run_id: str | None = None,
) -> Run:
    """Insert a run in status ``running`` and return it (its ``id`` is set)."""
    run = Run(
        kind=kind,
        prefix=prefix,
        flow_run_id=flow_run_id,
        pipeline_version=pipeline_version,
        status="running",
        counts={},
    )
    session.add(run)
    session.flush()
    return run


def finish_run(
    session: Session,
    *,
    run_id: int,
    status: str = "completed",
    counts: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> Run:
    """Set a run's final status, counts and ``finished_at``."""
    if status not in RUN_STATUSES:
        raise InputError(f"run status {status!r} is not one of {RUN_STATUSES}")
    run = session.get(Run, run_id)
    if run is None:
        raise StorageError(f"run {run_id} does not exist")
    run.status = status
    run.finished_at = utcnow()
    if counts is not None:
        run.counts = jsonable(dict(counts))
    run.error = error
    session.flush()
    return run


# --------------------------------------------------------------------------- assets


def get_asset_by_key(session: Session, *, bucket: str, key: str) -> Asset | None:
    """The asset row of ``s3://bucket/key``, or None."""
    return session.scalars(select(Asset).where(Asset.bucket == bucket, Asset.key == key)).first()


def upsert_asset(
    session: Session,
    *,
    bucket: str,
    key: str,
    etag: str,
    size: int | None = None,
    sha256: str | None = None,
    brand: str | None = None,
    has_manifest: bool | None = None,
    status: str | None = None,
    pipeline_version: str | None = None,
    run_id: int | None = None,
    last_error: str | None = None,
) -> Asset:
    """Insert or update the asset row of ``(bucket, key)``; returns it with ``id`` set.

    ``etag`` is always written; ``size``, ``sha256``, ``brand``, ``has_manifest``,
    ``status``, ``pipeline_version`` and ``run_id`` only when given (not None), so an
    existing row keeps what the caller does not know. A new row gets ``status="new"``,
    ``size=0`` and ``has_manifest=False`` by default. ``last_error`` is always written
    (None clears it). A concurrent insert of the same key is absorbed (the other
    writer's row is updated instead).
    """
    etag = etag.strip('"')
    asset = get_asset_by_key(session, bucket=bucket, key=key)
    if asset is None:
        try:
            with session.begin_nested():
                asset = Asset(
                    bucket=bucket,
                    key=key,
                    etag=etag,
                    size=size or 0,
                    sha256=sha256,
                    brand=brand,
                    has_manifest=bool(has_manifest),
                    status=status or "new",
                    pipeline_version=pipeline_version,
                    last_run_id=run_id,
                    last_error=last_error,
                )
                session.add(asset)
                session.flush()
            return asset
        except IntegrityError:
            asset = get_asset_by_key(session, bucket=bucket, key=key)
            if asset is None:
                raise
    asset.etag = etag
    if size is not None:
        asset.size = size
    if sha256 is not None:
        asset.sha256 = sha256
    if brand is not None:
        asset.brand = brand
    if has_manifest is not None:
        asset.has_manifest = has_manifest
    if status is not None:
        asset.status = status
    if pipeline_version is not None:
        asset.pipeline_version = pipeline_version
    if run_id is not None:
        asset.last_run_id = run_id
    asset.last_error = last_error
    session.flush()
    return asset


# --------------------------------------------------------------------------- scans


def already_scanned(session: Session, *, asset_id: int, etag: str, pipeline_version: str) -> bool:
    """True when this version (etag) of the asset was processed by this pipeline version."""
    stmt = select(Scan.id).where(
        Scan.asset_id == asset_id,
        Scan.etag == etag.strip('"'),
        Scan.pipeline_version == pipeline_version,
    )
    return session.scalars(stmt).first() is not None


def mark_scanned(
    session: Session,
    *,
    asset_id: int,
    etag: str,
    pipeline_version: str,
    run_id: int | None = None,
    outcome: str = "clean",
    n_defects: int = 0,
) -> Scan:
    """Record that ``(asset, etag, pipeline_version)`` was processed (idempotent).

    Marking twice returns the first row unchanged.
    """
    etag = etag.strip('"')
    stmt = select(Scan).where(
        Scan.asset_id == asset_id, Scan.etag == etag, Scan.pipeline_version == pipeline_version
    )
    existing = session.scalars(stmt).first()
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            scan = Scan(
                asset_id=asset_id,
                etag=etag,
                pipeline_version=pipeline_version,
                run_id=run_id,
                outcome=outcome,
                n_defects=n_defects,
            )
            session.add(scan)
            session.flush()
        return scan
    except IntegrityError:
        existing = session.scalars(stmt).first()
        if existing is None:
            raise
        return existing


# --------------------------------------------------------------------------- defects


def _defect_dict(defect: Any) -> dict[str, Any]:
    if isinstance(defect, Mapping):
        return dict(defect)
    if hasattr(defect, "to_json"):
        return dict(defect.to_json())
    raise InputError(f"a defect must be a mapping or have to_json(), got {type(defect).__name__}")


def defect_fingerprint(defect: Mapping[str, Any] | Any) -> str:
    """A stable 32-hex-digit id of a defect: kind, category, bbox and expected text.

    ``defect`` is a :class:`detectors.types.Defect` or its ``to_json()`` dict. A dict
    that carries a ``fingerprint`` key keeps it.
    """
    data = _defect_dict(defect)
    if data.get("fingerprint"):
        return str(data["fingerprint"])
    ident = {
        "kind": data.get("kind"),
        "category": data.get("category"),
        "bbox": [int(round(float(v))) for v in data.get("bbox") or ()],
        "expected": data.get("expected"),
    }
    raw = json.dumps(ident, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()[:32]


def record_defects(
    session: Session,
    *,
    asset_id: int,
    etag: str,
    pipeline_version: str,
    defects: Iterable[Mapping[str, Any] | Any],
    run_id: int | None = None,
) -> list[Defect]:
    """Insert the defects found on ``(asset, etag, pipeline_version)``; idempotent.

    ``defects`` are :class:`detectors.types.Defect` values or their ``to_json()`` dicts
    (``kind``, ``category``, ``bbox``, ``quad``, ``repair_quad``, ``expected``,
    ``observed``, ``score``, ``reasons``, ``details``, ``repairable``). Defects are
    recorded ``pending``, or ``skipped`` when ``repairable`` is false (the detector could
    not localise them). A defect whose fingerprint is
    already recorded for this version is not inserted again: the existing row is
    returned in its place, with its status untouched. Returns one row per input, in order.
    """
    etag = etag.strip('"')
    items = [_defect_dict(d) for d in defects]
    for item in items:
        if "kind" not in item or "category" not in item or "bbox" not in item:
            raise InputError(f"defect needs kind, category and bbox, got keys {sorted(item)}")
    fingerprints = [defect_fingerprint(item) for item in items]

    def existing() -> dict[str, Defect]:
        rows = session.scalars(
            select(Defect).where(
                Defect.asset_id == asset_id,
                Defect.etag == etag,
                Defect.pipeline_version == pipeline_version,
                Defect.fingerprint.in_(set(fingerprints)),
            )
        )
        return {row.fingerprint: row for row in rows}

    def make_row(item: Mapping[str, Any], fp: str) -> Defect:
        return Defect(
            asset_id=asset_id,
            run_id=run_id,
            etag=etag,
            pipeline_version=pipeline_version,
            kind=str(item["kind"]),
            category=str(item["category"]),
            bbox=jsonable(item["bbox"]),
            quad=jsonable(item.get("quad")),
            repair_quad=jsonable(item.get("repair_quad")),
            expected=item.get("expected"),
            observed=item.get("observed"),
            score=float(item.get("score") or 0.0),
            reasons=jsonable(list(item.get("reasons") or ())),
            details=jsonable(dict(item.get("details") or {})),
            fingerprint=fp,
            # an unlocalised defect (whole-poster box) waits for a reviewer, not the refiner
            status="pending" if item.get("repairable", True) else "skipped",
            attempts=0,
        )

    known = existing() if fingerprints else {}
    new: dict[str, Mapping[str, Any]] = {}
    for item, fp in zip(items, fingerprints, strict=True):
        if fp not in known and fp not in new:
            new[fp] = item
    if new:
        try:  # one round trip for the usual case: nobody else recorded them meanwhile
            with session.begin_nested():
                rows = [make_row(item, fp) for fp, item in new.items()]
                session.add_all(rows)
                session.flush()
            known.update((row.fingerprint, row) for row in rows)
        except IntegrityError:  # another worker recorded some: insert one by one
            log.info(
                "record_defects: a concurrent writer recorded defects of asset %s; "
                "inserting one by one",
                asset_id,
            )
            for fp, item in new.items():
                if fp in known:
                    continue
                try:
                    with session.begin_nested():
                        row = make_row(item, fp)
                        session.add(row)
                        session.flush()
                    known[fp] = row
                except IntegrityError:
                    known = {**known, **existing()}
                    if fp not in known:
                        raise
    return [known[fp] for fp in fingerprints]


def claim_pending_defects(
    session: Session,
    *,
    worker: str,
    limit: int,
    asset_id: int | None = None,
    kinds: Sequence[str] | None = None,
    max_attempts: int | None = None,
) -> list[Defect]:
    """Claim up to ``limit`` pending defects for ``worker`` (oldest first).

    Claimed rows get ``status="claimed"``, ``claimed_by``, ``claimed_at`` and
    ``attempts + 1``. On PostgreSQL the candidates are selected ``FOR UPDATE SKIP
    LOCKED``, so concurrent workers never claim the same row and never wait on each
    other. On SQLite (one writer at a time: :func:`storage.db.make_engine` begins every
    transaction ``IMMEDIATE``) the selected rows are claimed with one
    ``UPDATE ... WHERE status = 'pending'`` and only the rows that changed are returned.
    Commit soon after claiming: on PostgreSQL the row locks are held until then.
    """
    if limit <= 0:
        return []
    stmt = select(Defect).where(Defect.status == "pending")
    if asset_id is not None:
        stmt = stmt.where(Defect.asset_id == asset_id)
    if kinds:
        stmt = stmt.where(Defect.kind.in_(list(kinds)))
    if max_attempts is not None:
        stmt = stmt.where(Defect.attempts < max_attempts)
    stmt = stmt.order_by(Defect.id).limit(limit)
    now = utcnow()
    if _is_postgres(session):
        rows = list(session.scalars(stmt.with_for_update(skip_locked=True, of=Defect)).unique())
        for row in rows:
            row.status = "claimed"
            row.claimed_by = worker
            row.claimed_at = now
            row.attempts = row.attempts + 1
        session.flush()
        return rows
    # SQLite: the transaction began IMMEDIATE (storage.db), so no other writer can slip
    # in between this SELECT and the UPDATE; the status guard keeps it safe regardless
    ids = list(session.scalars(stmt.with_only_columns(Defect.id)))
    if not ids:
        return []
    session.execute(
        update(Defect)
        .where(Defect.id.in_(ids), Defect.status == "pending")
        .values(
            status="claimed",
            claimed_by=worker,
            claimed_at=now,
            attempts=Defect.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    rows = session.scalars(
        select(Defect)
        .where(Defect.id.in_(ids), Defect.status == "claimed", Defect.claimed_by == worker)
        .order_by(Defect.id)
        .execution_options(populate_existing=True)
    ).unique()
    return list(rows)


def release_stale_claims(
    session: Session, *, older_than: timedelta, now: datetime | None = None
) -> int:
    """Return claims older than ``older_than`` to ``pending`` (a worker died); the count."""
    cutoff = (now or utcnow()) - older_than
    result = session.execute(
        update(Defect)
        .where(Defect.status == "claimed", Defect.claimed_at < cutoff)
        .values(status="pending", claimed_by=None, claimed_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def set_defect_status(session: Session, *, defect_id: int, status: str) -> Defect:
    """Set a defect's status (one of ``storage.models.DEFECT_STATUSES``)."""
    if status not in DEFECT_STATUSES:
        raise InputError(f"defect status {status!r} is not one of {DEFECT_STATUSES}")
    defect = session.get(Defect, defect_id)
    if defect is None:
        raise StorageError(f"defect {defect_id} does not exist")
    defect.status = status
    if status != "claimed":
        defect.claimed_by = None
        defect.claimed_at = None
    session.flush()
    return defect


# --------------------------------------------------------------------------- repairs


def record_repair(
    session: Session,
    *,
    defect_id: int,
    backend: str,
    verdict: str,
    prompt: str = "",
    seed: int | None = None,
    reason: str | None = None,
    metrics: Mapping[str, Any] | None = None,
    repaired_key: str | None = None,
    artifacts: Mapping[str, str] | None = None,
    seconds: float | None = None,
    run_id: int | None = None,
    attempt: int | None = None,
    defect_status: str | None = None,
) -> Repair:
    """Insert one repair attempt and settle its defect.

    ``attempt`` defaults to one more than the defect's last recorded attempt.
    The defect becomes ``repaired`` for a ``verified`` verdict and ``failed`` otherwise
    (or ``defect_status`` when given), and its claim is cleared. Raises
    :class:`StorageError` when ``(defect_id, attempt)`` is already recorded.
    """
    if verdict not in REPAIR_VERDICTS:
        raise InputError(f"repair verdict {verdict!r} is not one of {REPAIR_VERDICTS}")
    defect = session.get(Defect, defect_id)
    if defect is None:
        raise StorageError(f"defect {defect_id} does not exist")
    if attempt is None:
        last = session.scalar(select(func.max(Repair.attempt)).where(Repair.defect_id == defect_id))
        attempt = int(last or 0) + 1
    repair = Repair(
        defect_id=defect_id,
        run_id=run_id,
        attempt=attempt,
        backend=backend,
        seed=seed,
        prompt=prompt,
        verdict=verdict,
        reason=reason,
        metrics=jsonable(dict(metrics or {})),
        repaired_key=repaired_key,
        artifacts=jsonable(dict(artifacts or {})),
        seconds=seconds,
        review_status="pending",
    )
    try:
        with session.begin_nested():
            session.add(repair)
            session.flush()
    except IntegrityError as exc:
        raise StorageError(
            f"repair attempt {attempt} of defect {defect_id} is already recorded"
        ) from exc
    new_status = defect_status or ("repaired" if verdict == "verified" else "failed")
    set_defect_status(session, defect_id=defect_id, status=new_status)
    return repair


# --------------------------------------------------------------------------- audit


def add_audit_event(
    session: Session,
    *,
    actor: str,
    entity: str,
    entity_id: str | int,
    action: str,
    detail: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit event (``actor`` did ``action`` to ``entity`` ``entity_id``)."""
    event = AuditEvent(
        actor=actor,
        entity=entity,
        entity_id=str(entity_id),
        action=action,
        detail=jsonable(dict(detail or {})),
    )
    session.add(event)
    session.flush()
    return event
