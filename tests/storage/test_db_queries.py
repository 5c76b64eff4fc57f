"""Core queries: idempotent re-runs, claiming defects, repairs, append-only audit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import Engine, select, update

from posterqa.errors import InputError, StorageError
from storage import db
from storage import queries as q
from storage.models import AuditEvent, Base, Defect


@pytest.fixture(scope="module")
def pg_module_engine(pg_server_url: str) -> Iterator[Engine]:
    """One migrated PostgreSQL database for this module (emptied before each test)."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"t_queries_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    db.upgrade(url)
    eng = db.make_engine(url)
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated, empty database: a fresh SQLite file, or the module's PostgreSQL one."""
    if request.param == "postgresql":
        eng = request.getfixturevalue("pg_module_engine")
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with eng.begin() as conn:  # TRUNCATE does not fire the audit row triggers
            conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        yield eng
        return
    url = request.getfixturevalue("sqlite_url")
    db.upgrade(url)
    eng = db.make_engine(url)
    yield eng
    eng.dispose()


def _defect(i: int, **extra: object) -> dict[str, object]:
    return {
        "kind": "text",
        "category": "wrong_chars",
        "bbox": [10 * i, 0, 10 * i + 8, 8],
        "quad": [[10 * i, 0], [10 * i + 8, 0], [10 * i + 8, 8], [10 * i, 8]],
        "expected": f"line {i}",
        "observed": f"lime {i}",
        "score": np.float32(0.75),
        "reasons": ("ocr_mismatch",),
        **extra,
    }


def _asset_with_defects(engine: Engine, n: int) -> tuple[int, list[int]]:
    with db.session_scope(engine) as s:
        asset = q.upsert_asset(s, bucket="b", key="posters/a.png", etag='"e1"', size=5)
        rows = q.record_defects(
            s,
            asset_id=asset.id,
            etag="e1",
            pipeline_version="v1",
            defects=[_defect(i) for i in range(n)],
        )
        return asset.id, [r.id for r in rows]


def test_upsert_asset_keeps_one_row_per_key_and_updates_it(engine: Engine) -> None:
    with db.session_scope(engine) as s:
        first = q.upsert_asset(s, bucket="b", key="k.png", etag='"e1"', size=1, brand="acme")
        assert first.status == "new" and first.etag == "e1"
    with db.session_scope(engine) as s:
        again = q.upsert_asset(s, bucket="b", key="k.png", etag="e2", size=2, status="clean")
    assert again.id == first.id and again.etag == "e2" and again.brand == "acme"
    with db.session_scope(engine) as s:
        got = q.get_asset_by_key(s, bucket="b", key="k.png")
        assert got is not None and (got.size, got.status) == (2, "clean")
        assert q.get_asset_by_key(s, bucket="b", key="other.png") is None
    with db.session_scope(engine) as s:  # what the caller does not pass is kept
        kept = q.upsert_asset(s, bucket="b", key="k.png", etag="e3")
        assert (kept.etag, kept.size, kept.status, kept.brand) == ("e3", 2, "clean", "acme")


def test_a_failed_transaction_leaves_no_rows_even_after_savepoints(engine: Engine) -> None:
    # upsert_asset and record_defects use SAVEPOINTs; releasing one must not commit
    with pytest.raises(RuntimeError), db.session_scope(engine) as s:
        asset = q.upsert_asset(s, bucket="b", key="half.png", etag="e1")
        q.record_defects(
            s, asset_id=asset.id, etag="e1", pipeline_version="v1", defects=[_defect(0)]
        )
        raise RuntimeError("crash after the savepoints were released")
    with db.session_scope(engine) as s:
        assert q.get_asset_by_key(s, bucket="b", key="half.png") is None
        assert s.scalars(select(Defect)).all() == []


def test_scans_mark_each_etag_and_pipeline_version_once(engine: Engine) -> None:
    with db.session_scope(engine) as s:
        asset = q.upsert_asset(s, bucket="b", key="k.png", etag="e1")
        assert not q.already_scanned(s, asset_id=asset.id, etag="e1", pipeline_version="v1")
        one = q.mark_scanned(s, asset_id=asset.id, etag="e1", pipeline_version="v1", n_defects=2)
        two = q.mark_scanned(s, asset_id=asset.id, etag='"e1"', pipeline_version="v1")
        assert one.id == two.id and two.n_defects == 2
        assert q.already_scanned(s, asset_id=asset.id, etag="e1", pipeline_version="v1")
        assert not q.already_scanned(s, asset_id=asset.id, etag="e2", pipeline_version="v1")
        assert not q.already_scanned(s, asset_id=asset.id, etag="e1", pipeline_version="v2")


def test_record_defects_is_idempotent_by_fingerprint(engine: Engine) -> None:
    asset_id, first_ids = _asset_with_defects(engine, 3)
    with db.session_scope(engine) as s:
        s.execute(update(Defect).where(Defect.id == first_ids[0]).values(status="repaired"))
    with db.session_scope(engine) as s:
        again = q.record_defects(
            s,
            asset_id=asset_id,
            etag="e1",
            pipeline_version="v1",
            defects=[_defect(i) for i in range(4)],  # 3 known + 1 new
        )
        assert [r.id for r in again[:3]] == first_ids
        assert again[0].status == "repaired"  # a re-run does not reset its state
        assert again[3].id not in first_ids
        # the same region on a new version of the poster is a new defect
        newer = q.record_defects(
            s, asset_id=asset_id, etag="e2", pipeline_version="v1", defects=[_defect(0)]
        )
        assert newer[0].id not in first_ids
    with db.session_scope(engine) as s:
        assert len(s.scalars(select(Defect)).all()) == 5
        d = s.get(Defect, first_ids[1])
        assert d.score == pytest.approx(0.75) and d.reasons == ["ocr_mismatch"]


def test_record_defects_absorbs_a_concurrent_recorder_of_the_same_defects(
    engine: Engine,
) -> None:
    with db.session_scope(engine) as s:
        asset_id = q.upsert_asset(s, bucket="b", key="k.png", etag="e1").id
    defects = [_defect(i) for i in range(3)]
    result: dict[str, object] = {}

    def second_worker() -> None:
        try:
            with db.session_scope(engine) as s:
                rows = q.record_defects(
                    s,
                    asset_id=asset_id,
                    etag="e1",
                    pipeline_version="v1",
                    defects=defects + [_defect(9)],
                )
                result["ids"] = [r.id for r in rows]
        except BaseException as exc:
            result["error"] = exc

    with db.session_scope(engine) as s:
        first = [
            r.id
            for r in q.record_defects(
                s, asset_id=asset_id, etag="e1", pipeline_version="v1", defects=defects
            )
        ]
        worker = threading.Thread(target=second_worker)
        worker.start()  # its insert waits for this uncommitted transaction
        worker.join(timeout=0.8)
    worker.join(timeout=30)
    assert "error" not in result, result.get("error")
    ids = result["ids"]
    assert ids[:3] == first and ids[3] not in first
    with db.session_scope(engine) as s:
        assert len(s.scalars(select(Defect)).all()) == 4


def test_record_defects_rejects_incomplete_defects(engine: Engine) -> None:
    with db.session_scope(engine) as s:
        asset = q.upsert_asset(s, bucket="b", key="k.png", etag="e1")
        with pytest.raises(InputError, match="kind, category and bbox"):
            q.record_defects(
                s, asset_id=asset.id, etag="e1", pipeline_version="v1", defects=[{"kind": "text"}]
            )


def test_claims_hand_out_each_pending_defect_once(engine: Engine) -> None:
    _, ids = _asset_with_defects(engine, 5)
    with db.session_scope(engine) as s:
        a = q.claim_pending_defects(s, worker="w1", limit=3)
    with db.session_scope(engine) as s:
        b = q.claim_pending_defects(s, worker="w2", limit=3)
    with db.session_scope(engine) as s:
        c = q.claim_pending_defects(s, worker="w3", limit=3)
    assert [d.id for d in a] == ids[:3] and [d.id for d in b] == ids[3:] and c == []
    assert {d.claimed_by for d in a} == {"w1"} and all(d.attempts == 1 for d in a + b)
    assert all(d.status == "claimed" and d.claimed_at is not None for d in a + b)


def test_stale_claims_return_to_pending(engine: Engine) -> None:
    _, ids = _asset_with_defects(engine, 2)
    with db.session_scope(engine) as s:
        q.claim_pending_defects(s, worker="dead", limit=2)
    with db.session_scope(engine) as s:
        assert q.release_stale_claims(s, older_than=timedelta(hours=1)) == 0
        assert q.release_stale_claims(s, older_than=timedelta(0)) == 2
    with db.session_scope(engine) as s:
        again = q.claim_pending_defects(s, worker="w2", limit=5, max_attempts=2)
        assert [d.id for d in again] == ids and all(d.attempts == 2 for d in again)
    with db.session_scope(engine) as s:
        q.release_stale_claims(s, older_than=timedelta(0))
        assert q.claim_pending_defects(s, worker="w3", limit=5, max_attempts=2) == []


def _race_claims(engine: Engine, expected: list[int], n_threads: int = 4) -> None:
    """Threads claim 3 at a time until none is left: each defect goes to exactly one."""
    claimed: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n_threads)

    def worker(name: str) -> None:
        try:
            barrier.wait()
            while True:
                with db.session_scope(engine) as s:
                    got = q.claim_pending_defects(s, worker=name, limit=3)
                if not got:
                    return
                with lock:
                    claimed.extend((name, d.id) for d in got)
        except BaseException as exc:  # reported below, with the thread's name
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(i for _, i in claimed) == sorted(expected)  # no duplicates, none missed
    with db.session_scope(engine) as s:
        owners = dict(s.execute(select(Defect.id, Defect.claimed_by)).all())
    assert all(owners[i] == name for name, i in claimed)


def test_threads_racing_for_claims_never_share_a_defect(engine: Engine) -> None:
    _, ids = _asset_with_defects(engine, 30)
    _race_claims(engine, ids)


@pytest.mark.postgres
def test_concurrent_postgres_sessions_never_claim_the_same_row(pg_url: str) -> None:
    db.upgrade(pg_url)
    engine = db.make_engine(pg_url)
    try:
        _, ids = _asset_with_defects(engine, 6)
        # A claims and holds its row locks (no commit yet); B must skip them, not wait
        with db.session_scope(engine) as a_session:
            a = q.claim_pending_defects(a_session, worker="A", limit=3)
            with db.session_scope(engine) as b_session:
                b_session.connection().exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                b = q.claim_pending_defects(b_session, worker="B", limit=3)
                assert len(b) == 3
        assert {d.id for d in a}.isdisjoint({d.id for d in b})
        assert sorted(d.id for d in a + b) == ids
    finally:
        engine.dispose()


def test_record_repair_numbers_attempts_and_settles_the_defect(engine: Engine) -> None:
    _, ids = _asset_with_defects(engine, 1)
    with db.session_scope(engine) as s:
        q.claim_pending_defects(s, worker="w", limit=1)
        failed = q.record_repair(
            s,
            defect_id=ids[0],
            backend="compositor",
            verdict="failed",
            reason="background changed",
            metrics={"bg_max": np.int64(9)},
        )
        assert failed.attempt == 1 and s.get(Defect, ids[0]).status == "failed"
        ok = q.record_repair(
            s,
            defect_id=ids[0],
            backend="compositor",
            verdict="verified",
            seed=3,
            repaired_key="repaired/a.png",
            artifacts={"diff": "artifacts/a/diff.png"},
            metrics={"ssim_bg": float("nan")},
        )
        assert ok.attempt == 2 and ok.metrics == {"ssim_bg": None}
        d = s.get(Defect, ids[0])
        assert d.status == "repaired" and d.claimed_by is None
        with pytest.raises(StorageError, match="attempt 2 of defect"):
            q.record_repair(s, defect_id=ids[0], backend="x", verdict="verified", attempt=2)
        with pytest.raises(InputError, match="verdict 'great'"):
            q.record_repair(s, defect_id=ids[0], backend="x", verdict="great")
    with db.session_scope(engine) as s:
        assert s.get(Defect, ids[0]).status == "repaired"  # the refused calls changed nothing


def test_runs_start_and_finish(engine: Engine) -> None:
    with db.session_scope(engine) as s:
        run = q.start_run(s, kind="sweep", pipeline_version="v1", prefix="posters/")
    with db.session_scope(engine) as s:
        done = q.finish_run(s, run_id=run.id, counts={"scanned": np.int32(3)})
    assert done.status == "completed" and done.counts == {"scanned": 3}
    assert done.finished_at is not None and done.finished_at >= done.started_at


def test_audit_events_are_append_only_through_the_orm(engine: Engine) -> None:
    with db.session_scope(engine) as s:
        ev = q.add_audit_event(
            s,
            actor="rita",
            entity="repair",
            entity_id=7,
            action="approve",
            detail={"boxes": ((1, 2, 3, 4),)},
        )
    assert ev.entity_id == "7" and ev.detail == {"boxes": [[1, 2, 3, 4]]}
    with pytest.raises(StorageError, match="append-only"), db.session_scope(engine) as s:
        s.get(AuditEvent, ev.id).action = "reject"
    with pytest.raises(StorageError, match="append-only"), db.session_scope(engine) as s:
        s.delete(s.get(AuditEvent, ev.id))
    with pytest.raises(StorageError, match="append-only"), db.session_scope(engine) as s:
        s.execute(update(AuditEvent).values(action="x"))
    with db.session_scope(engine) as s:
        assert s.get(AuditEvent, ev.id).action == "approve"


def test_jsonable_names_what_cannot_be_stored() -> None:
    with pytest.raises(InputError, match="object is not JSON-able"):
        q.jsonable({"x": object()})


def test_unlocalised_defect_is_recorded_skipped_and_never_claimed(engine: Engine) -> None:
    from detectors.types import Box
    from detectors.types import Defect as FoundDefect

    whole = Box(0, 0, 800, 1200)
    unplaced = FoundDefect(kind="text", category="missing", box=whole, quad=whole.as_quad(),
                           expected="SALE", observed=None, score=1.0,
                           reasons=("missing_text", "not_localised"))
    placed = FoundDefect(kind="text", category="mismatch", box=Box(10, 10, 90, 40),
                         quad=Box(10, 10, 90, 40).as_quad(), expected="SALE",
                         observed="SA1E", score=0.9, reasons=("ocr_mismatch",))
    assert not unplaced.repairable and placed.repairable
    with db.session_scope(engine) as s:
        asset = q.upsert_asset(s, bucket="b", key="k.png", etag="e1")
        rows = q.record_defects(s, asset_id=asset.id, etag="e1", pipeline_version="v1",
                                defects=[unplaced, placed])
        assert [r.status for r in rows] == ["skipped", "pending"]
    with db.session_scope(engine) as s:
        claimed = q.claim_pending_defects(s, worker="w", limit=10)
        assert [d.category for d in claimed] == ["mismatch"]
