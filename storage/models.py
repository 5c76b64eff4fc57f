"""SQLAlchemy 2 models: runs, assets, scans, defects, repairs, reviews, audit events, users,
dashboard sessions and failed sign-ins.

Conventions:

- every timestamp is stored and returned as an aware UTC ``datetime`` (:class:`UTCDateTime`),
  also on SQLite, which has no time zones;
- JSON columns hold plain JSON values only (lists, dicts, str, int, float, bool, None);
  :func:`storage.queries.jsonable` converts numpy scalars, tuples and datetimes first;
- statuses are short strings guarded by CHECK constraints (no native enums, so the same
  migrations run on SQLite and PostgreSQL);
- the unique constraints make a re-run idempotent: one asset row per ``(bucket, key)``,
  one scan per ``(asset, etag, pipeline_version)``, one defect per
  ``(asset, etag, pipeline_version, fingerprint)``, one repair per ``(defect, attempt)``.

The schema is created by the Alembic migrations in ``storage/migrations`` (see
:func:`storage.db.upgrade`), never by ``metadata.create_all`` in production code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    relationship,
)
from sqlalchemy.types import TypeDecorator

from posterqa.errors import StorageError

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUN_STATUSES = ("running", "completed", "failed", "cancelled")
DEFECT_STATUSES = ("pending", "claimed", "repaired", "failed", "skipped")
REPAIR_VERDICTS = ("verified", "failed")
REVIEW_STATUSES = ("pending", "approved", "rejected", "published")
REVIEW_DECISIONS = ("approve", "reject", "rerun")
USER_ROLES = ("reviewer", "readonly")
#: Suggested values of ``Asset.status`` (not enforced: flows may add their own).
ASSET_STATUSES = ("new", "clean", "defective", "repaired", "failed", "skipped")


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always returned as an aware UTC ``datetime``.

    Naive datetimes passed in are taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":  # SQLite stores no zone: store naive UTC
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (needed by Alembic batch mode)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}

    def as_dict(self) -> dict[str, Any]:
        """The row's columns as a JSON-able dict (timestamps as ISO 8601 strings)."""
        out: dict[str, Any] = {}
        for attr in inspect(self).mapper.column_attrs:
            value = getattr(self, attr.key)
            out[attr.key] = value.isoformat() if isinstance(value, datetime) else value
        return out


class Run(Base):
    """One flow run (a sweep, a repair batch, a manual trigger)."""

    __tablename__ = "runs"
    __table_args__ = (CheckConstraint(_in("status", RUN_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    prefix: Mapped[str | None] = mapped_column(String(1024))
    flow_run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pipeline_version: Mapped[str] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)


class Asset(Base):
    """One poster in a bucket, with what the last scan found."""

    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("bucket", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(1024))
    etag: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    brand: Mapped[str | None] = mapped_column(String(128), index=True)
    has_manifest: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(32), default="new", index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    pipeline_version: Mapped[str | None] = mapped_column(String(64))
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    defects: Mapped[list[Defect]] = relationship(back_populates="asset")


class Scan(Base):
    """Marks ``(asset, etag, pipeline_version)`` as processed, so a re-run skips it."""

    __tablename__ = "scans"
    __table_args__ = (UniqueConstraint("asset_id", "etag", "pipeline_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    etag: Mapped[str] = mapped_column(String(128))
    pipeline_version: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    outcome: Mapped[str] = mapped_column(String(32), default="clean")
    n_defects: Mapped[int] = mapped_column(Integer, default=0)
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow)


class Defect(Base):
    """One defective region found on one version (etag) of an asset.

    ``bbox`` is ``[x0, y0, x1, y1]``, ``quad`` / ``repair_quad`` are ``[[x, y] * 4]`` in
    poster pixels, as in :meth:`detectors.types.Defect.to_json`. ``fingerprint`` identifies
    the defect within ``(asset, etag, pipeline_version)`` (see
    :func:`storage.queries.defect_fingerprint`).
    """

    __tablename__ = "defects"
    __table_args__ = (
        UniqueConstraint("asset_id", "etag", "pipeline_version", "fingerprint"),
        CheckConstraint(_in("status", DEFECT_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    etag: Mapped[str] = mapped_column(String(128))
    pipeline_version: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    bbox: Mapped[list[Any]]
    quad: Mapped[list[Any] | None]
    repair_quad: Mapped[list[Any] | None]
    expected: Mapped[str | None] = mapped_column(Text)
    observed: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    asset: Mapped[Asset] = relationship(back_populates="defects", lazy="joined", innerjoin=True)


class Repair(Base):
    """One repair attempt of one defect, with its verification and review state.

    ``metrics`` holds the verification figures; ``artifacts`` maps an artifact name
    (``crop``, ``mask``, ``before``, ``after``, ``diff``) to its S3 key.
    """

    __tablename__ = "repairs"
    __table_args__ = (
        UniqueConstraint("defect_id", "attempt"),
        CheckConstraint(_in("verdict", REPAIR_VERDICTS), name="verdict"),
        CheckConstraint(_in("review_status", REVIEW_STATUSES), name="review_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    defect_id: Mapped[int] = mapped_column(ForeignKey("defects.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    backend: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int | None] = mapped_column(BigInteger)
    prompt: Mapped[str] = mapped_column(Text, default="")
    verdict: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    repaired_key: Mapped[str | None] = mapped_column(String(1024))
    artifacts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seconds: Mapped[float | None] = mapped_column(Float)
    review_status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    defect: Mapped[Defect] = relationship(lazy="joined", innerjoin=True)


class User(Base):
    """A dashboard user. ``password_hash`` is whatever the dashboard's hasher produced.

    A user with ``disabled_at`` set cannot sign in and none of their sessions is accepted.
    ``password_changed_at`` is when ``posterqa users passwd`` last set the password.
    """

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", USER_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="reviewer")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]


class UserSession(Base):
    """A signed-in dashboard session, held server-side so that it can be revoked.

    The browser's signed cookie carries a random token; only its SHA-256 (``token_hash``)
    is stored. A session counts while ``revoked_at`` is unset, ``expires_at`` is in the
    future, its user is not disabled and the user's password hash still matches
    ``password_stamp`` (a digest of the hash at sign-in: a password change ends it).
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    password_stamp: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class LoginFailure(Base):
    """One failed dashboard sign-in, counted for throttling; ``pending`` while its
    password is still being checked (a right one deletes the row).

    Rows older than the throttling window are deleted as new ones arrive; the user
    name is the one typed (it need not exist), ``address`` the client's address.
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_at", "username", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    username: Mapped[str] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(String(64))
    pending: Mapped[bool] = mapped_column(Boolean, default=False)


class Review(Base):
    """A reviewer's decision on a repair."""

    __tablename__ = "reviews"
    __table_args__ = (CheckConstraint(_in("decision", REVIEW_DECISIONS), name="decision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repair_id: Mapped[int] = mapped_column(ForeignKey("repairs.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewer: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """An append-only audit record: who did what to which entity, when.

    Rows are never changed or removed. The ORM refuses it: flushing a modified or
    deleted ``AuditEvent``, or running an ORM-enabled ``update()`` / ``delete()`` on this
    table, raises :class:`posterqa.errors.StorageError`. The migration also installs
    database triggers that reject ``UPDATE`` and ``DELETE`` on ``audit_events`` from raw
    SQL, on SQLite and PostgreSQL alike.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(1024))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEvent) and (
            obj in session.deleted or session.is_modified(obj, include_collections=False)
        ):
            raise StorageError(
                f"audit_events is append-only: refusing to change or delete audit event {obj.id}"
            )


@event.listens_for(Session, "do_orm_execute")
def _refuse_audit_bulk(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and any(
        m.class_ is AuditEvent for m in state.all_mappers
    ):
        raise StorageError("audit_events is append-only: refusing a bulk UPDATE/DELETE")
