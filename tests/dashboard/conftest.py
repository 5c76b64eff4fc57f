"""Fixtures of the dashboard tests: a real SQLite DB (Alembic head) and a bucket on the
session's real SeaweedFS (``s3_server`` from tests/conftest.py, opened through
``storage.runtime.open_store``), seeded with a few repairs whose images are
made with numpy; the app in-process (TestClient) and on a free 127.0.0.1 port (uvicorn
in a thread) for the browser tests, which drive Debian's Chromium.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dash_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    READONLY,
    REVIEWER,
    DashEnv,
    add_user,
    seed_repairs,
    serve,
)

from posterqa.settings import Settings


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    """pytest-playwright: Debian's Chromium, headless, no network but 127.0.0.1."""
    return {"executable_path": str(CHROMIUM), "headless": True, "args": CHROMIUM_ARGS}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install -y chromium")
    here = Path(__file__).resolve().parent
    for item in items:
        if "browser" in item.keywords and here in Path(item.path).resolve().parents:
            item.add_marker(skip)


# ------------------------------------------------------------------ environment


@pytest.fixture(scope="session")
def dash_env(tmp_path_factory: pytest.TempPathFactory, s3_server: Any) -> Iterator[DashEnv]:
    """SQLite at Alembic head + a fresh bucket on the session's SeaweedFS, seeded."""
    from storage.db import make_engine, upgrade
    from storage.runtime import open_store

    root = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{root / 'posterqa.db'}"
    settings = Settings(state_dir=root / "state", db_url=url,
                        s3_endpoint=s3_server.endpoint, s3_access_key=s3_server.access_key,
                        s3_secret_key=s3_server.secret_key,
                        bucket=f"dashboard-{uuid.uuid4().hex[:12]}",
                        dashboard_secret_key=secrets.token_hex(32))
    upgrade(url)
    engine = make_engine(url)
    with open_store(settings) as store:
        env = DashEnv(settings=settings, engine=engine, store=store)
        seed_repairs(env, n=8, failed=(5,))
        add_user(engine, *REVIEWER, "reviewer")
        add_user(engine, *READONLY, "readonly")
        yield env
    engine.dispose()


@pytest.fixture(scope="session")
def dash_app(dash_env: DashEnv) -> Any:
    from dashboard.app import create_app

    return create_app(dash_env.settings, engine=dash_env.engine, store=dash_env.store)


@pytest.fixture(scope="session")
def live_url(dash_app: Any) -> Iterator[str]:
    """The app served by uvicorn in a thread on a free 127.0.0.1 port."""
    with serve(dash_app) as url:
        yield url


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parents[2] / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
