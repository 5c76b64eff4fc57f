"""Fixtures of the flow tests: one embedded SeaweedFS and one Prefect test harness per
session, a fresh bucket + SQLite database per test, and small generated catalogs.

Prefect reads its settings on import, so its environment (PREFECT_HOME in a temporary
folder, no analytics, a generous ephemeral-server start timeout) is set here, before
any test module imports prefect.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flows_support import ACCESS_KEY, SECRET_KEY

from flows.prefect_env import configure_prefect
from posterqa.settings import Settings

_PREFECT_STATE = Path(tempfile.mkdtemp(prefix="posterqa-test-prefect-"))
atexit.register(shutil.rmtree, _PREFECT_STATE, ignore_errors=True)
os.environ.pop("PREFECT_API_URL", None)  # never talk to a developer's real server
configure_prefect(Settings(state_dir=_PREFECT_STATE), force=True)

_bucket_ids = itertools.count(1)


@pytest.fixture(scope="session")
def s3_endpoint(s3_server) -> str:
    """The session's real SeaweedFS server (tests/conftest.py's ``s3_server``)."""
    assert (s3_server.access_key, s3_server.secret_key) == (ACCESS_KEY, SECRET_KEY)
    return s3_server.endpoint


@pytest.fixture
def settings(tmp_path: Path, s3_endpoint: str) -> Settings:
    """Settings of one test: its own bucket and SQLite file, the shared S3 server."""
    return Settings(
        state_dir=tmp_path / "state",
        s3_endpoint=s3_endpoint,
        s3_access_key=ACCESS_KEY,
        s3_secret_key=SECRET_KEY,
        bucket=f"flows-{os.getpid()}-{next(_bucket_ids)}",
        db_url=f"sqlite:///{tmp_path / 'posterqa.db'}",
        refiner_backend="compositor",
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Any]:
    """The flows' runtime (store, engine, caches) opened on the test's settings."""
    from flows.runtime import open_runtime

    with open_runtime(settings) as rt:
        yield rt


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test harness (temporary API server) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield
