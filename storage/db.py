"""Engines, sessions and migrations.

SQLite (the default, a file under the state folder) and PostgreSQL (``postgresql+psycopg://``)
run the same Alembic migrations, shipped in ``storage/migrations``; :func:`upgrade` runs
them programmatically, no ``alembic.ini`` needed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session

from posterqa.errors import ConfigError, StorageError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling (BEGIN only before DML, none before SAVEPOINT)
    # makes a released SAVEPOINT commit for real; take transactions over (see _sqlite_begin)
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``.

    SQLite: the file's folder is created, foreign keys are enforced, WAL journal and a
    30 s busy timeout let several processes (flows, dashboard) share the file. Every
    transaction is ``BEGIN IMMEDIATE`` (writers queue, SAVEPOINTs nest properly): SQLite
    runs one writer at a time; use PostgreSQL for many concurrent workers.
    PostgreSQL: ``pool_pre_ping`` so a restarted server does not break a long-lived app.
    Raises :class:`ConfigError` for a malformed URL or a missing driver.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL {url!r}: {exc}") from exc
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            folder = Path(database).expanduser().resolve().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create the database folder {folder}: {exc.strerror or exc}"
                ) from exc
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConfigError(f"no driver for database URL {parsed!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE: take the write lock up front, so concurrent sessions queue on the busy
    # timeout instead of failing with SQLITE_BUSY when a reader later tries to write
    conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error.

    Objects stay usable after the block (``expire_on_commit=False``).
    """
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _alembic_config(connection: Any = None, url: str | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(url: str | Engine, revision: str = "head") -> str | None:
    """Run the Alembic migrations on ``url`` (or an engine) up to ``revision``.

    Returns the revision the database is at afterwards. Raises :class:`StorageError`
    with one line when the database cannot be reached.
    """
    from alembic import command

    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), revision)
        return current_revision(engine)
    except OperationalError as exc:
        raise StorageError(_db_error_line(engine, exc)) from exc
    finally:
        if not isinstance(url, Engine):
            engine.dispose()


def current_revision(url: str | Engine) -> str | None:
    """The Alembic revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise StorageError(_db_error_line(engine, exc)) from exc
    finally:
        if not isinstance(url, Engine):
            engine.dispose()


def head_revision() -> str | None:
    """The newest revision shipped in ``storage/migrations``."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _db_error_line(engine: Engine, exc: OperationalError) -> str:
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()
    first = reason[0] if reason else type(exc).__name__
    return f"cannot use database {engine.url.render_as_string(hide_password=True)}: {first}"


def _main(argv: list[str]) -> int:
    """``python -m storage.db revision -m MSG``: autogenerate a revision (from a checkout)."""
    import argparse

    from alembic import command

    parser = argparse.ArgumentParser(prog="python -m storage.db")
    sub = parser.add_subparsers(dest="cmd", required=True)
    rev = sub.add_parser("revision", help="autogenerate a revision against a scratch SQLite DB")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--url", default="sqlite:///./.posterqa/revision-scratch.db")
    args = parser.parse_args(argv)
    upgrade(args.url)
    command.revision(_alembic_config(url=args.url), message=args.message, autogenerate=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
