"""Migrations from empty and a model round trip, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from posterqa.errors import ConfigError, StorageError
from storage import db
from storage.models import (
    Asset,
    AuditEvent,
    Base,
    Defect,
    Repair,
    Review,
    Run,
    Scan,
    User,
    UserSession,
)

TABLES = {
    "runs",
    "assets",
    "scans",
    "defects",
    "repairs",
    "reviews",
    "audit_events",
    "users",
    "user_sessions",
    "login_failures",
    "alembic_version",
}
HEAD = "0002_dashboard_sessions"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


def test_upgrade_from_empty_reaches_head_and_matches_the_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    assert db.current_revision(db_url) is None
    assert db.upgrade(db_url) == db.head_revision() == HEAD
    assert db.upgrade(db_url) == HEAD  # a second upgrade is a no-op

    engine = db.make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) == TABLES
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_every_table(db_url: str) -> None:
    from alembic import command

    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    try:
        with engine.begin() as conn:
            command.downgrade(db._alembic_config(conn), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_every_model_round_trips(db_url: str) -> None:
    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    when = datetime(2026, 11, 26, 12, 30, 5, tzinfo=UTC)
    try:
        with db.session_scope(engine) as s:
            run = Run(kind="sweep", prefix="posters/", pipeline_version="v1", counts={"n": 2})
            s.add(run)
            s.flush()
            asset = Asset(
                bucket="b",
                key="posters/acme/p1.png",
                etag="e1",
                size=10,
                sha256="0" * 64,
                brand="acme",
                has_manifest=True,
                last_run_id=run.id,
            )
            s.add(asset)
            s.flush()
            s.add(
                Scan(
                    asset_id=asset.id,
                    etag="e1",
                    pipeline_version="v1",
                    run_id=run.id,
                    outcome="defective",
                    n_defects=1,
                )
            )
            defect = Defect(
                asset_id=asset.id,
                run_id=run.id,
                etag="e1",
                pipeline_version="v1",
                kind="text",
                category="wrong_chars",
                bbox=[1, 2, 30, 40],
                quad=[[1, 2], [30, 2], [30, 40], [1, 40]],
                repair_quad=None,
                expected="鼎好商城",
                observed="鼎好啇城",
                score=0.9,
                reasons=["ocr_mismatch"],
                details={"cer": 0.25},
                fingerprint="f" * 32,
                claimed_at=when,
            )
            s.add(defect)
            s.flush()
            repair = Repair(
                defect_id=defect.id,
                run_id=run.id,
                attempt=1,
                backend="compositor",
                seed=2**40,
                prompt="refine the text '鼎好商城'",
                verdict="verified",
                metrics={"ssim_bg": 1.0},
                repaired_key="repaired/p1.png",
                artifacts={"diff": "artifacts/p1/diff.png"},
            )
            user = User(username="rita", password_hash="x", role="reviewer")
            s.add_all([repair, user])
            s.flush()
            s.add(
                Review(
                    repair_id=repair.id,
                    user_id=user.id,
                    reviewer="rita",
                    decision="approve",
                    comment="ok",
                )
            )
            s.add(
                AuditEvent(
                    actor="rita",
                    entity="repair",
                    entity_id=str(repair.id),
                    action="approve",
                    detail={"from": "pending"},
                )
            )
        with db.session_scope(engine) as s:
            d = s.query(Defect).one()
            assert d.expected == "鼎好商城" and d.bbox == [1, 2, 30, 40]
            assert d.details == {"cer": 0.25} and d.reasons == ["ocr_mismatch"]
            assert d.claimed_at == when and d.claimed_at.tzinfo is not None
            assert d.asset.key == "posters/acme/p1.png" and d.status == "pending"
            r = s.query(Repair).one()
            assert r.seed == 2**40 and r.review_status == "pending"
            assert r.defect.asset.brand == "acme"
            assert s.query(Review).one().decision == "approve"
            assert s.query(Run).one().counts == {"n": 2}
            event = s.query(AuditEvent).one()
            assert event.at.tzinfo is not None and event.detail == {"from": "pending"}
            assert s.query(Asset).one().as_dict()["updated_at"].endswith("+00:00")
    finally:
        engine.dispose()


def test_upgrade_from_0001_keeps_users_and_adds_sessions(db_url: str) -> None:
    """A database made by 0001 (users, reviews, audit rows) upgrades to head in place."""
    from alembic import command

    assert db.upgrade(db_url, "0001_initial") == "0001_initial"
    engine = db.make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO users (username, password_hash, role, created_at) "
                "VALUES ('rita', 'scrypt$x', 'reviewer', :t)"), {"t": datetime.now(UTC)})
            conn.execute(text(
                "INSERT INTO audit_events (at, actor, entity, entity_id, action, detail) "
                "VALUES (:t, 'cli', 'user', '1', 'create_user', '{}')"), {"t": datetime.now(UTC)})
        assert db.upgrade(db_url) == HEAD
        assert {"user_sessions", "login_failures"} <= set(inspect(engine).get_table_names())
        when = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
        with db.session_scope(engine) as s:
            user = s.query(User).one()
            assert (user.username, user.password_hash, user.role) == ("rita", "scrypt$x",
                                                                       "reviewer")
            assert user.disabled_at is None and user.password_changed_at is None
            s.add(UserSession(token_hash="a" * 64, user_id=user.id, password_stamp="p",
                              created_at=when, last_seen_at=when, expires_at=when))
        with db.session_scope(engine) as s:
            assert s.query(UserSession).one().expires_at == when
            assert s.query(AuditEvent).one().action == "create_user"
        with pytest.raises(IntegrityError), db.session_scope(engine) as s:
            s.add(UserSession(token_hash="a" * 64, user_id=1, password_stamp="p",
                              expires_at=when))
        # and back: the user survives a downgrade to 0001 (sessions are dropped)
        s_count = "SELECT count(*) FROM users"
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM user_sessions"))
            command.downgrade(db._alembic_config(conn), "0001_initial")
        assert db.current_revision(engine) == "0001_initial"
        assert "user_sessions" not in inspect(engine).get_table_names()
        with engine.connect() as conn:
            assert conn.execute(text(s_count)).scalar() == 1
    finally:
        engine.dispose()


def test_unique_and_check_constraints_hold(db_url: str) -> None:
    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    try:
        with db.session_scope(engine) as s:
            s.add(Asset(bucket="b", key="k", etag="e"))
        with pytest.raises(IntegrityError), db.session_scope(engine) as s:
            s.add(Asset(bucket="b", key="k", etag="other"))
        with pytest.raises(IntegrityError), db.session_scope(engine) as s:
            s.add(User(username="u", password_hash="x", role="admin"))
        with pytest.raises(IntegrityError), db.session_scope(engine) as s:
            s.add(Scan(asset_id=999, etag="e", pipeline_version="v"))  # foreign key
    finally:
        engine.dispose()


def test_audit_events_refuse_raw_sql_update_and_delete(db_url: str) -> None:
    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    try:
        with db.session_scope(engine) as s:
            s.add(AuditEvent(actor="a", entity="asset", entity_id="1", action="scan"))
        for sql in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
            with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
                conn.execute(text(sql))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT action FROM audit_events")).scalars().all() == ["scan"]
    finally:
        engine.dispose()


def test_bad_database_urls_are_one_line_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="invalid database URL 'nonsense'"):
        db.make_engine("nonsense")
    with pytest.raises(StorageError) as err:
        db.upgrade("postgresql+psycopg://postgres@127.0.0.1:1/postgres")
    assert str(err.value).startswith("cannot use database postgresql+psycopg://postgres@127.0")
    assert "\n" not in str(err.value)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot create the database folder"):
        db.make_engine(f"sqlite:///{blocker}/sub/x.db")
