"""The flows' database side: runs, scans, defects, claims, repairs and audit events.

Each function is one transaction (``storage.db.session_scope``) built from the core
queries in :mod:`storage.queries`; every state change appends an audit event in the
same transaction, so the audit trail and the rows can never disagree. The unique
constraints of the schema make every write idempotent: a re-run after a crash
continues, it never duplicates.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError

import posterqa
from flows.detection import MODE_UNKNOWN, Detection, PosterRef
from flows.repairing import ClaimGroup, DefectJob, RefineOutcome
from posterqa.errors import InputError
from posterqa.manifest import is_poster_key
from storage import queries as q
from storage.db import session_scope
from storage.models import Asset, AuditEvent, Defect, Repair, Run, Scan, utcnow
from storage.seaweed import pid_alive

log = logging.getLogger(__name__)

ACTOR = "flows"
STALE_CLAIM_AGE = timedelta(hours=1)
UNCLOSED_RUNS_DIR = "unclosed-runs"  # under the state folder, see close_run_or_note
CLOSE_RETRY_DELAYS = (0.5, 2.0)


def _actor(run_id: int | None) -> str:
    return f"{ACTOR}:run-{run_id}" if run_id is not None else ACTOR


# --------------------------------------------------------------------------- runs


def open_run(engine: Any, *, kind: str, prefix: str | None, params: dict[str, Any],
             state_dir: str | Path | None = None) -> int:
    """Insert a ``running`` run (with the Prefect flow run id when there is one).

    First closes the runs left ``running`` by earlier processes: with the cause they
    noted under ``state_dir`` when they could not write it, else as killed."""
    flow_run_id = None
    try:
        from prefect.runtime import flow_run

        flow_run_id = flow_run.get_id()
    except Exception:  # outside a flow run
        flow_run_id = None
    close_dead_runs(engine, state_dir=state_dir)
    with session_scope(engine) as session:
        run = q.start_run(session, kind=kind, prefix=prefix, flow_run_id=flow_run_id,
                          pipeline_version=posterqa.PIPELINE_VERSION)
        q.add_audit_event(session, actor=_actor(run.id), entity="run", entity_id=run.id,
                          action="started", detail={"kind": kind, "prefix": prefix,
                                                    "process": _process(), **params})
        return run.id


def _process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def close_dead_runs(engine: Any, *, state_dir: str | Path | None = None) -> int:
    """Mark ``failed`` the running runs whose process on this host is gone: with the
    cause it noted under ``state_dir`` (:func:`close_run_or_note`), else as killed."""
    host = f"{socket.gethostname()}:"
    closed = close_noted_runs(engine, state_dir) if state_dir is not None else 0
    with session_scope(engine) as session:
        running = session.scalars(select(Run.id).where(Run.status == "running")).all()
        if not running:
            return closed
        started = session.scalars(select(AuditEvent).where(
            AuditEvent.entity == "run", AuditEvent.action == "started",
            AuditEvent.entity_id.in_([str(r) for r in running])))
        for event in started:
            proc = str((event.detail or {}).get("process") or "")
            pid = proc.rpartition(":")[2]
            if not proc.startswith(host) or not pid.isdigit() or pid_alive(int(pid)):
                continue
            q.finish_run(session, run_id=int(event.entity_id), status="failed",
                         counts=run_counts(session, int(event.entity_id)),
                         error=f"process {proc} ended without closing the run (killed)")
            q.add_audit_event(session, actor=ACTOR, entity="run", entity_id=event.entity_id,
                              action="failed", detail={"reason": "process died", "process": proc})
            closed += 1
    return closed


def run_counts(session: Any, run_id: int) -> dict[str, Any]:
    """Posters scanned, defects by kind, repairs verified/failed/pending review."""
    scans = Counter(dict(session.execute(
        select(Scan.outcome, func.count()).where(Scan.run_id == run_id).group_by(Scan.outcome)
    ).all()))
    kinds = dict(session.execute(
        select(Defect.kind, func.count()).where(Defect.run_id == run_id).group_by(Defect.kind)
    ).all())
    verdicts = Counter(dict(session.execute(
        select(Repair.verdict, func.count()).where(Repair.run_id == run_id)
        .group_by(Repair.verdict)
    ).all()))
    pending_review = session.scalar(
        select(func.count()).select_from(Repair).where(
            Repair.run_id == run_id, Repair.verdict == "verified",
            Repair.review_status == "pending")
    )
    queued = session.scalar(
        select(func.count()).select_from(Defect).where(Defect.status == "pending")
    )
    unlocalised = session.scalar(
        select(func.count()).select_from(Defect).where(
            Defect.run_id == run_id, Defect.status == "skipped")
    )
    unread = session.scalar(
        select(func.count()).select_from(AuditEvent).where(
            AuditEvent.actor == _actor(run_id), AuditEvent.action == "unread")
    )
    return {
        "posters_scanned": int(sum(scans.values())),
        "posters_clean": int(scans.get("clean", 0)),
        "posters_defective": int(scans.get("defective", 0)),
        "posters_error": int(scans.get("error", 0)),
        "defects_by_kind": {k: int(v) for k, v in kinds.items()},
        "repairs_verified": int(verdicts.get("verified", 0)),
        "repairs_failed": int(verdicts.get("failed", 0)),
        "pending_review": int(pending_review or 0),
        "defects_still_pending": int(queued or 0),
        "defects_unlocalised": int(unlocalised or 0),
        "posters_unread": int(unread or 0),
    }


def close_run(engine: Any, *, run_id: int, status: str = "completed",
              error: str | None = None) -> dict[str, Any]:
    """Store the run's counts and final status; returns ``{"run_id", "status", counts}``."""
    with session_scope(engine) as session:
        counts = run_counts(session, run_id)
        run = q.finish_run(session, run_id=run_id, status=status, counts=counts, error=error)
        q.add_audit_event(session, actor=_actor(run_id), entity="run", entity_id=run_id,
                          action=status, detail=counts)
        return {"run_id": run_id, "kind": run.kind, "prefix": run.prefix, "status": status,
                **counts}


def db_error_line(engine: Any, exc: BaseException) -> str | None:
    """One line for a database error (``cannot write to database URL: reason``), or
    None when ``exc`` is not one."""
    if not isinstance(exc, SQLAlchemyError):
        return None
    reason = " ".join(str(getattr(exc, "orig", None) or exc).split()) or type(exc).__name__
    return f"cannot write to database {_db_name(engine)}: {reason}"


def _db_name(engine: Any) -> str:
    return str(engine.url.render_as_string(hide_password=True))


def _notes_dir(state_dir: str | Path) -> Path:
    return Path(state_dir) / UNCLOSED_RUNS_DIR


def close_run_or_note(engine: Any, state_dir: str | Path, *, run_id: int, error: str) -> bool:
    """Close a run ``failed`` with ``error``; never raises.

    The close is tried again after :data:`CLOSE_RETRY_DELAYS` (a locked database frees
    up). When the database still cannot be written, the cause goes to a note
    ``<state_dir>/unclosed-runs/run-<id>.json`` and the next run opened with this state
    folder closes the run with it (:func:`close_noted_runs`), instead of later
    calling it killed. Returns whether the run row was closed now.
    """
    for delay in (0.0, *CLOSE_RETRY_DELAYS):
        time.sleep(delay)
        try:
            close_run(engine, run_id=run_id, status="failed", error=error)
            return True
        except Exception as exc:  # the database is what failed: note it below
            last = db_error_line(engine, exc) or f"{type(exc).__name__}: {exc}"
    note = _notes_dir(state_dir) / f"run-{run_id}.json"
    try:
        note.parent.mkdir(parents=True, exist_ok=True)
        tmp = note.with_name(f".{note.name}.tmp")
        tmp.write_text(json.dumps({"run_id": run_id, "db": _db_name(engine), "error": error,
                                   "process": _process(), "close_failed": last}))
        tmp.replace(note)
        log.info("run %d could not be closed (%s); its cause is noted in %s",
                 run_id, last, note)
    except OSError as exc:
        log.error("run %d could not be closed (%s) nor its cause noted in %s: %s",
                  run_id, last, note, exc)
    return False


def close_noted_runs(engine: Any, state_dir: str | Path) -> int:
    """Close ``failed``, with the noted cause, the runs that :func:`close_run_or_note`
    could not close; returns how many. Notes of another database are left alone."""
    folder = _notes_dir(state_dir)
    if not folder.is_dir():
        return 0
    closed = 0
    for path in sorted(folder.glob("run-*.json")):
        try:
            note = json.loads(path.read_text())
            run_id = int(note["run_id"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable run note %s: %s", path, exc)
            continue
        if note.get("db") != _db_name(engine):
            continue
        with session_scope(engine) as session:
            run = session.get(Run, run_id)
            if run is not None and run.status == "running":
                q.finish_run(session, run_id=run_id, status="failed",
                             counts=run_counts(session, run_id), error=str(note.get("error")))
                q.add_audit_event(session, actor=ACTOR, entity="run", entity_id=run_id,
                                  action="failed", detail={
                                      "reason": "closed from the note its process left",
                                      "process": note.get("process"),
                                      "close_failed": note.get("close_failed")})
                closed += 1
        path.unlink(missing_ok=True)
    return closed


def load_run(engine: Any, run_id: int) -> dict[str, Any]:
    with session_scope(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise InputError(f"run {run_id} does not exist")
        return {"run_id": run.id, "kind": run.kind, "status": run.status, **(run.counts or {})}


# --------------------------------------------------------------------------- listing


def scanned_etags(engine: Any, *, bucket: str, prefix: str) -> dict[str, str]:
    """``key -> etag`` of posters under ``prefix`` already scanned by this pipeline version."""
    stmt = (
        select(Asset.key, Scan.etag)
        .join(Scan, Scan.asset_id == Asset.id)
        .where(Asset.bucket == bucket, Asset.key.startswith(prefix, autoescape=True),
               Scan.pipeline_version == posterqa.PIPELINE_VERSION, Scan.etag == Asset.etag)
    )
    with session_scope(engine) as session:
        return {key: etag for key, etag in session.execute(stmt).all()}


def list_new_posters(store: Any, engine: Any, settings: Any, *, prefix: str,
                     limit: int | None) -> list[PosterRef]:
    """Posters under ``prefix`` whose (ETag, pipeline version) has no scan yet."""
    known = scanned_etags(engine, bucket=settings.bucket, prefix=prefix)
    refs: list[PosterRef] = []
    for info in store.list(prefix, known_etags=known):
        if not is_poster_key(info.key):
            continue
        if known.get(info.key) == info.etag.strip('"'):
            continue
        refs.append(PosterRef(key=info.key, etag=info.etag.strip('"'), size=int(info.size)))
        if limit is not None and len(refs) >= limit:
            break
    return refs


def current_etag(store: Any, key: str) -> str:
    """The ETag of one object (raises :class:`ObjectNotFoundError`)."""
    return str(store.head(key)["etag"]).strip('"')


# --------------------------------------------------------------------------- detection


def record_detection(engine: Any, settings: Any, *, run_id: int, detection: Detection,
                     force: bool = False) -> dict[str, Any]:
    """Asset + scan + pending defects + audit events for one poster, in one transaction.

    A poster that could not be checked gets ``status="failed"`` and ``last_error``;
    a poster without manifest has ``has_manifest=False`` (reference-free mode).
    """
    d = detection
    outcome = "error" if d.error else ("defective" if d.defects else "clean")
    status = {"error": "failed", "defective": "defective", "clean": "clean"}[outcome]
    with session_scope(engine) as session:
        asset = q.upsert_asset(
            session, bucket=settings.bucket, key=d.key, etag=d.etag, sha256=d.sha256,
            brand=d.brand_id, has_manifest=None if d.mode == MODE_UNKNOWN else
            d.mode == "manifest", status=status,
            pipeline_version=posterqa.PIPELINE_VERSION, run_id=run_id, last_error=d.error,
        )
        if d.retry_later:
            # not marked scanned: the next sweep lists this poster again
            q.add_audit_event(session, actor=_actor(run_id), entity="asset",
                              entity_id=asset.id, action="unread",
                              detail={"key": d.key, "etag": d.etag, "error": d.error})
            return {"asset_id": asset.id, "defect_ids": [], "status": "retry-later"}
        if not force and q.already_scanned(session, asset_id=asset.id, etag=d.etag,
                                           pipeline_version=posterqa.PIPELINE_VERSION):
            # another worker recorded this version meanwhile: keep its rows
            return {"asset_id": asset.id, "defect_ids": [], "status": "already-scanned"}
        rows = q.record_defects(session, asset_id=asset.id, etag=d.etag,
                                pipeline_version=posterqa.PIPELINE_VERSION,
                                defects=d.defects, run_id=run_id)
        q.mark_scanned(session, asset_id=asset.id, etag=d.etag,
                       pipeline_version=posterqa.PIPELINE_VERSION, run_id=run_id,
                       outcome=outcome, n_defects=len(rows))
        actor = _actor(run_id)
        q.add_audit_event(session, actor=actor, entity="asset", entity_id=asset.id,
                          action="scanned", detail={
                              "key": d.key, "etag": d.etag, "mode": d.mode, "outcome": outcome,
                              "n_defects": len(rows), "error": d.error,
                              "detector_seconds": round(d.seconds, 3)})
        for row in rows:
            q.add_audit_event(session, actor=actor, entity="defect", entity_id=row.id,
                              action="detected", detail={
                                  "asset_id": asset.id, "kind": row.kind,
                                  "category": row.category, "status": row.status})
        return {"asset_id": asset.id, "defect_ids": [r.id for r in rows if r.status == "pending"],
                "status": status}


def record_manual_defects(engine: Any, settings: Any, *, run_id: int, key: str, etag: str,
                          boxes: list[list[int]], prompt: str | None) -> dict[str, Any]:
    """Pending defects for hand-drawn boxes (manual trigger / dashboard re-run)."""
    from detectors.types import Box
    from refiner.core import parse_prompt, prompt_for

    kind, expected = parse_prompt(prompt or "")
    items = []
    for raw in boxes:
        box = Box(*(int(v) for v in raw))
        if box.area == 0:
            raise InputError(f"box {list(raw)} is empty")
        items.append({
            "kind": kind, "category": "collapsed" if kind == "text" else "deformed",
            "bbox": box.as_list(), "quad": [list(p) for p in box.as_quad()],
            "repair_quad": [list(p) for p in box.as_quad()], "expected": expected,
            "observed": None, "score": 1.0, "reasons": ["manual"],
            "details": {"prompt": prompt or prompt_for(kind, expected), "run_id": run_id},
        })
    with session_scope(engine) as session:
        asset = q.get_asset_by_key(session, bucket=settings.bucket, key=key)
        if asset is None:
            asset = q.upsert_asset(session, bucket=settings.bucket, key=key, etag=etag,
                                   pipeline_version=None, run_id=run_id)
        # the manual request is its own version of the defects: fingerprint by run
        for item in items:
            item["fingerprint"] = q.defect_fingerprint(
                {**item, "expected": f"{item['expected']}|manual-run-{run_id}"})
        rows = q.record_defects(session, asset_id=asset.id, etag=etag,
                                pipeline_version=posterqa.PIPELINE_VERSION,
                                defects=items, run_id=run_id)
        for row in rows:
            q.add_audit_event(session, actor=_actor(run_id), entity="defect", entity_id=row.id,
                              action="requested", detail={"asset_id": asset.id,
                                                          "bbox": row.bbox, "prompt": prompt})
        return {"asset_id": asset.id, "defect_ids": [r.id for r in rows], "status": "manual"}


# --------------------------------------------------------------------------- claims


def release_stale_claims(engine: Any, *, worker: str) -> int:
    """Return to pending: claims older than an hour, and claims of dead local processes.

    Workers are named ``host:pid``; a claim by a process of this host that no longer
    runs (killed mid-repair) is released at once.
    """
    host = socket.gethostname()
    released = 0
    with session_scope(engine) as session:
        released += q.release_stale_claims(session, older_than=STALE_CLAIM_AGE)
        rows = session.scalars(select(Defect).where(Defect.status == "claimed",
                                                    Defect.claimed_by.startswith(f"{host}:")))
        for row in list(rows):
            pid_text = (row.claimed_by or "").rpartition(":")[2]
            if row.claimed_by == worker or not pid_text.isdigit() or pid_alive(int(pid_text)):
                continue
            dead = row.claimed_by
            q.set_defect_status(session, defect_id=row.id, status="pending")
            q.add_audit_event(session, actor=worker, entity="defect", entity_id=row.id,
                              action="claim_released", detail={"claimed_by": dead})
            released += 1
    if released:
        log.info("released %d stale claim(s)", released)
    return released


def claim_groups(engine: Any, *, worker: str, limit: int,
                 defect_ids: list[int] | None = None) -> list[ClaimGroup]:
    """Claim up to ``limit`` pending defects (only ``defect_ids`` when given), by poster."""
    with session_scope(engine) as session:
        if defect_ids is not None:
            rows = _claim_exactly(session, worker=worker, defect_ids=defect_ids, limit=limit)
        else:
            rows = q.claim_pending_defects(session, worker=worker, limit=limit)
        by_asset: dict[int, list[Defect]] = {}
        for row in rows:
            by_asset.setdefault(row.asset_id, []).append(row)
            q.add_audit_event(session, actor=worker, entity="defect", entity_id=row.id,
                              action="claimed", detail={"attempts": row.attempts})
        groups = []
        for asset_id, defects in by_asset.items():
            asset = session.get(Asset, asset_id)
            earlier = session.scalar(
                select(func.count()).select_from(Repair).join(Defect)
                .where(Defect.asset_id == asset_id, Defect.etag == asset.etag,
                       Repair.verdict == "verified", Repair.repaired_key.is_not(None))
            )
            jobs = []
            for row in defects:
                last = session.scalar(select(func.max(Repair.attempt))
                                      .where(Repair.defect_id == row.id))
                jobs.append(DefectJob(id=row.id, attempt=int(last or 0) + 1,
                                      defect=_defect_json(row),
                                      prompt=(row.details or {}).get("prompt")))
            groups.append(ClaimGroup(asset_id=asset_id, asset_key=asset.key, etag=asset.etag,
                                     brand_id=asset.brand, jobs=tuple(jobs),
                                     start_from_repaired=bool(earlier)))
        return groups


def _claim_exactly(session: Any, *, worker: str, defect_ids: list[int],
                   limit: int) -> list[Defect]:
    """Claim up to ``limit`` of these defects (those still pending), e.g. a manual
    request's; never any other."""
    now = utcnow()
    claimed: list[int] = []
    for defect_id in defect_ids:
        if len(claimed) >= limit:
            break
        result = session.execute(
            update(Defect).where(Defect.id == defect_id, Defect.status == "pending")
            .values(status="claimed", claimed_by=worker, claimed_at=now,
                    attempts=Defect.attempts + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            claimed.append(defect_id)
    if not claimed:
        return []
    return list(session.scalars(select(Defect).where(Defect.id.in_(claimed)).order_by(Defect.id)
                                .execution_options(populate_existing=True)).unique())


def _defect_json(row: Defect) -> dict[str, Any]:
    numeric = {k: v for k, v in (row.details or {}).items() if isinstance(v, int | float)}
    return {"kind": row.kind, "category": row.category, "bbox": row.bbox,
            "quad": row.quad or [[row.bbox[0], row.bbox[1]], [row.bbox[2], row.bbox[1]],
                                 [row.bbox[2], row.bbox[3]], [row.bbox[0], row.bbox[3]]],
            "repair_quad": row.repair_quad, "expected": row.expected,
            "observed": row.observed, "score": row.score, "reasons": row.reasons or [],
            "details": numeric}


# --------------------------------------------------------------------------- repairs


def record_repairs(engine: Any, *, run_id: int, group: ClaimGroup,
                   outcomes: list[RefineOutcome], artifacts: dict[int, dict[str, str]],
                   repaired_key: str | None) -> list[int]:
    """Repair rows, defect statuses, asset status and audit events, one transaction."""
    ids: list[int] = []
    with session_scope(engine) as session:
        for out in outcomes:
            verified = out.verdict == "verified"
            reason = out.error or (", ".join(out.reasons) if out.reasons else None)
            repair = q.record_repair(
                session, defect_id=out.defect_id, backend=out.backend, verdict=out.verdict,
                prompt=out.prompt, seed=out.seed, reason=reason, metrics=out.metrics,
                repaired_key=repaired_key if verified else None,
                artifacts=artifacts.get(out.defect_id, {}), seconds=out.seconds,
                run_id=run_id, attempt=out.attempt,
            )
            ids.append(repair.id)
            actor = _actor(run_id)
            q.add_audit_event(session, actor=actor, entity="repair", entity_id=repair.id,
                              action="recorded", detail={
                                  "defect_id": out.defect_id, "attempt": out.attempt,
                                  "verdict": out.verdict, "reason": reason,
                                  "repaired_key": repair.repaired_key})
            q.add_audit_event(session, actor=actor, entity="defect", entity_id=out.defect_id,
                              action="repaired" if verified else "failed",
                              detail={"repair_id": repair.id})
        asset = session.get(Asset, group.asset_id)
        left = session.scalar(
            select(func.count()).select_from(Defect).where(
                Defect.asset_id == group.asset_id, Defect.etag == asset.etag,
                Defect.status.in_(("pending", "claimed", "failed")))
        )
        new_status = "repaired" if not left else asset.status
        if new_status != asset.status:
            asset.status = new_status
            q.add_audit_event(session, actor=_actor(run_id), entity="asset",
                              entity_id=asset.id, action="repaired",
                              detail={"repaired_key": repaired_key})
    return ids


def hand_off_repairs(logger: Any) -> str | None:
    """Start the ``repair-pending`` deployment (needs a Prefect server); returns its id."""
    from prefect.deployments import run_deployment

    if not os.environ.get("PREFECT_API_URL"):
        logger.warning("repair=handoff needs a Prefect server (PREFECT_API_URL); "
                       "defects stay pending for `posterqa sweep` or repair-pending")
        return None
    run = run_deployment("repair-pending/repair-pending", timeout=0)
    logger.info("handed repairs off to repair-pending (flow run %s)", run.id)
    return str(run.id)
