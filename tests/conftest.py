"""Shared session fixtures: the real SeaweedFS server, stores, databases, no-network guard.

Fixtures (any test folder may use them):

- ``s3_server`` (session): one :class:`storage.seaweed.EmbeddedS3` for the whole session,
  state under a tmp folder, keys ``S3_TEST_ACCESS_KEY`` / ``S3_TEST_SECRET_KEY``.
- ``store`` (function): an :class:`storage.store.AssetStore` on a fresh, empty bucket.
- ``posterqa_settings`` (function): :class:`posterqa.settings.Settings` pointing at
  ``s3_server`` with the ``store`` bucket, a tmp state folder and a SQLite file URL, so
  ``storage.runtime.open_store(settings)`` connects instead of starting a server.
- ``pg_server_url`` (session): a PostgreSQL server URL: ``$POSTERQA_TEST_PG_URL`` when set
  (CI), else a cluster started with ``scripts/postgres.sh`` when PostgreSQL 15 binaries
  exist, else the test is skipped with the reason.
- ``pg_url`` (function): a fresh, empty database on that server, dropped afterwards.
- ``sqlite_url`` (function): ``sqlite:///<tmp>/test.db`` (file not created yet).
- ``no_network`` (function): refuses every non-loopback connection and DNS lookup in this
  process (raises ``NetworkBlockedError``); Unix sockets and 127.0.0.0/8, ::1 stay allowed.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_TESTS = Path(__file__).resolve().parent

# pytest put tests/ on sys.path to import this file. Left there, tests/posterqa,
# tests/catalog, ... (folders without __init__.py) would be imported as namespace
# packages in place of the real posterqa, catalog, ... packages. Take it off again.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _TESTS]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
S3_TEST_ACCESS_KEY = "posterqa-test"
S3_TEST_SECRET_KEY = "posterqa-test-secret-key"


# --------------------------------------------------------------------------- S3


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The real SeaweedFS S3 server (``weed mini``), one for the session."""
    from storage.seaweed import EmbeddedS3

    server = EmbeddedS3(
        tmp_path_factory.mktemp("s3state"),
        access_key=S3_TEST_ACCESS_KEY,
        secret_key=S3_TEST_SECRET_KEY,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _new_store(server: object, bucket: str | None = None) -> object:
    from storage.store import AssetStore

    store = AssetStore.connect(
        endpoint=server.endpoint,  # type: ignore[attr-defined]
        bucket=bucket or f"t-{uuid.uuid4().hex[:16]}",
        access_key=S3_TEST_ACCESS_KEY,
        secret_key=S3_TEST_SECRET_KEY,
    )
    store.ensure_bucket()
    return store


@pytest.fixture
def store(s3_server: object) -> object:
    """An :class:`AssetStore` on a fresh, empty bucket of the session's SeaweedFS."""
    return _new_store(s3_server)


@pytest.fixture
def posterqa_settings(s3_server: object, store: object, tmp_path: Path) -> object:
    """Settings for the session's S3 server (bucket of ``store``), tmp state, SQLite DB."""
    from posterqa.settings import Settings

    state = tmp_path / "state"
    return Settings(
        state_dir=state,
        s3_endpoint=s3_server.endpoint,  # type: ignore[attr-defined]
        s3_access_key=S3_TEST_ACCESS_KEY,
        s3_secret_key=S3_TEST_SECRET_KEY,
        bucket=store.bucket,  # type: ignore[attr-defined]
        db_url=f"sqlite:///{state / 'posterqa.db'}",
    )


# --------------------------------------------------------------------------- databases


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file URL in the test's tmp folder (the file does not exist yet)."""
    return f"sqlite:///{tmp_path / 'test.db'}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A PostgreSQL server: ``$POSTERQA_TEST_PG_URL``, or a throw-away local cluster."""
    env_url = os.environ.get("POSTERQA_TEST_PG_URL")
    if env_url:
        yield env_url
        return
    if not (PG_BIN / "pg_ctl").exists():
        pytest.skip(f"no PostgreSQL: set POSTERQA_TEST_PG_URL or install binaries in {PG_BIN}")
    # not under pytest's tmp folder: its parents are 0700 and postgres must reach the data
    pg_dir = Path(tempfile.mkdtemp(prefix="posterqa-test-pg-", dir="/tmp"))
    script = ROOT / "scripts" / "postgres.sh"
    proc = subprocess.run(
        ["bash", str(script), "start", str(pg_dir), str(_free_port())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        shutil.rmtree(pg_dir, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL: {proc.stderr.strip()[-300:]}")
    try:
        yield proc.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(script), "stop", str(pg_dir)], capture_output=True, timeout=60)
        shutil.rmtree(pg_dir, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty database on the test PostgreSQL server (dropped after the test)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# --------------------------------------------------------------------------- network


class NetworkBlockedError(OSError):
    """A test tried to reach a host that is not the loopback interface."""


def _is_loopback(host: object) -> bool:
    if host is None:
        return True  # getaddrinfo(None, port): the local wildcard
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host)
    if host in ("localhost", "localhost.localdomain", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse non-loopback connects and DNS lookups in this process.

    Yields the list of refused targets (so a test can assert nothing was attempted).
    """
    refused: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else address
            if not _is_loopback(host):
                refused.append(str(address))
                raise NetworkBlockedError(f"network disabled in this test: connect to {address}")

    def guarded_connect(self: socket.socket, address: object) -> None:
        check(self, address)
        return real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: object) -> int:
        check(self, address)
        return real_connect_ex(self, address)

    def guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if not _is_loopback(host):
            refused.append(f"getaddrinfo {host}")
            raise NetworkBlockedError(f"network disabled in this test: DNS lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield refused


# --------------------------------------------------------------------------- CI: no silent skips

NO_SKIP_ENV = "POSTERQA_TEST_NO_SKIP"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With ``POSTERQA_TEST_NO_SKIP=1`` (set by ``.ci/run``) a skipped test fails the run.

    CI installs and starts everything the tests need (PostgreSQL, Chromium, the netns
    tools), so a skip there means a missing install step that a green run would hide.
    Only tests marked ``gpu`` may skip.
    """
    if not os.environ.get(NO_SKIP_ENV):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = [
        report for report in reporter.stats.get("skipped", [])
        if "gpu" not in getattr(report, "keywords", {})
    ]
    if skipped:
        reporter.write_line("")
        for report in skipped:
            where = getattr(report, "nodeid", "?")
            reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
            reporter.write_line(f"{NO_SKIP_ENV}: skipped in CI: {where}: {reason}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
