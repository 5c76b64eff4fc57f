"""Helpers shared by the flow tests (fixtures are in conftest.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from posterqa.settings import Settings

ACCESS_KEY = "posterqa-test"
SECRET_KEY = "posterqa-test-secret-key"  # as tests/conftest.py's s3_server
REPO_ROOT = Path(__file__).resolve().parents[2]


def settings_env(settings: Settings) -> dict[str, str]:
    """The POSTERQA_* environment that reproduces ``settings`` in a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTERQA_")}
    env.update({
        "POSTERQA_STATE_DIR": str(settings.state_dir),
        "POSTERQA_S3_ENDPOINT": str(settings.s3_endpoint),
        "POSTERQA_S3_ACCESS_KEY": settings.s3_access_key,
        "POSTERQA_S3_SECRET_KEY": settings.s3_secret_key,
        "POSTERQA_BUCKET": settings.bucket,
        "POSTERQA_DB_URL": settings.resolved_db_url,
        "POSTERQA_REFINER_BACKEND": settings.refiner_backend,
    })
    # each subprocess gets its own Prefect home under its state folder
    env["PREFECT_HOME"] = str(Path(settings.state_dir) / "prefect")
    return env


# Reliable defect types for assertions against ground truth: the detectors find these
# nearly always (blur and warp are deliberately left to the detector's own benchmark).
TEXT_TYPES = ("wrong_chars", "erasure")
LOGO_TYPES = ("wrong_logo", "erasure")


def make_catalog(seed: int, n_posters: int, **kwargs: Any) -> Any:
    from catalog import generate_catalog

    kwargs.setdefault("text_defect_types", TEXT_TYPES)
    kwargs.setdefault("logo_defect_types", LOGO_TYPES)
    return generate_catalog(seed, n_posters, n_brands=2, **kwargs)


def seed_bucket(runtime: Any, catalog: Any) -> None:
    from catalog import upload_catalog

    upload_catalog(catalog, runtime.store, runtime.settings)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
