"""Helpers shared by the flow tests (fixtures are in conftest.py)."""

from __future__ import annotations

import functools
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


def objects_without_rows(runtime: Any) -> tuple[set[str], set[str]]:
    """``(objects under repaired/ and artifacts/ that no repair row names, keys that
    repair rows name but the bucket lacks)``: both empty when store and DB agree."""
    from sqlalchemy import select

    from storage.db import session_scope
    from storage.models import Repair

    named: set[str] = set()
    with session_scope(runtime.engine) as s:
        for r in s.scalars(select(Repair)):
            named |= set((r.artifacts or {}).values())
            if r.repaired_key:
                named.add(r.repaired_key)
    settings = runtime.settings
    objects = {i.key for prefix in (settings.repaired_prefix, settings.artifacts_prefix)
               for i in runtime.store.list(prefix)}
    return objects - named, named - objects


@functools.cache
def big_png(width: int, height: int) -> bytes:
    """A valid greyscale PNG of ``width`` x ``height`` black pixels, built row by row
    (a 20000 x 20000 one is ~400 kB: what a decompression bomb looks like)."""
    import struct
    import zlib

    comp = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body)
            + chunk(b"IEND", b""))
