"""Data and helpers shared by the dashboard tests and their conftest: synthetic posters,
a seeder that uploads them to the real store and records repairs through storage.queries.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posterqa.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
REVIEWER = ("rita", "rita-password-1")
READONLY = ("olga", "olga-password-1")
POSTER_W, POSTER_H = 360, 540
FLOW_RUN_ID = "0b5e2c1d-7a7a-4e0f-9d51-000000000001"



# ------------------------------------------------------------------ images


def make_poster(seed: int) -> np.ndarray:
    """A synthetic poster: RGB ``uint8 [540, 360, 3]``, gradient, panels and 'text' bars."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, POSTER_H)[:, None, None]
    x = np.linspace(0, 1, POSTER_W)[None, :, None]
    base = np.array([40 + 20 * (seed % 5), 90, 160], dtype=np.float64)
    img = (base * (0.6 + 0.4 * y) + 60 * x * np.array([1.0, 0.5, 0.2])).clip(0, 255)
    img = img.astype(np.uint8)
    img[40:140, 40:320] = (240, 220, 90)
    for row in range(4):
        y0 = 200 + row * 40
        widths = rng.integers(120, 280)
        img[y0:y0 + 18, 50:50 + widths] = (250, 250, 250)
    img[460:510, 120:240] = (200, 40, 60)  # "logo"
    return img


DEFECT_BOX = (50, 240, 310, 258)  # the second text bar


def damage(img: np.ndarray) -> np.ndarray:
    """The defective poster: the second bar broken into noise."""
    out = img.copy()
    x0, y0, x1, y1 = DEFECT_BOX
    rng = np.random.default_rng(7)
    out[y0:y1, x0:x1] = rng.integers(0, 255, size=(y1 - y0, x1 - x0, 3), dtype=np.uint8)
    return out


def focus_box() -> list[int]:
    x0, y0, x1, y1 = DEFECT_BOX
    return [max(0, x0 - 30), max(0, y0 - 30), min(POSTER_W, x1 + 30), min(POSTER_H, y1 + 30)]


# ------------------------------------------------------------------ seeded environment


@dataclass
class DashEnv:
    settings: Settings
    engine: Any
    store: Any
    repair_ids: list[int] = field(default_factory=list)
    asset_keys: list[str] = field(default_factory=list)


def seed_repairs(env: DashEnv, *, n: int, failed: tuple[int, ...] = ()) -> None:
    """Upload ``n`` posters (original, repaired, artifacts) and record their repairs."""
    from posterqa.imaging import encode_png
    from refiner.asset import write_repaired
    from storage import queries
    from storage.db import session_scope

    fx0, fy0, fx1, fy1 = focus_box()
    x0, y0, x1, y1 = DEFECT_BOX
    with session_scope(env.engine) as session:
        run = queries.start_run(session, kind="sweep", pipeline_version="test",
                                prefix="posters/", flow_run_id=FLOW_RUN_ID)
        for i in range(n):
            brand = ("acme", "globex")[i % 2]
            clean = make_poster(i)
            bad = damage(clean)
            key = f"posters/{brand}/poster-{i:03d}.png"
            repaired_key = f"repaired/{brand}/poster-{i:03d}.png"
            env.store.put_image(key, bad)
            env.store.put_image(repaired_key, clean)
            before = bad[fy0:fy1, fx0:fx1]
            after = clean[fy0:fy1, fx0:fx1]
            mask = np.zeros(before.shape[:2], np.uint8)
            mask[y0 - fy0:y1 - fy0, x0 - fx0:x1 - fx0] = 255
            diff = np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=2)
            heat = np.stack([diff, diff // 3, np.zeros_like(diff)], axis=2).astype(np.uint8)
            artifacts = {}
            for name, arr in (("crop", after), ("mask", mask), ("before", before),
                              ("after", after), ("diff", heat)):
                akey = f"artifacts/{i}/{i}/1/{name}.png"
                env.store.put_image(akey, arr)
                artifacts[name] = akey
            asset = queries.upsert_asset(session, bucket=env.settings.bucket, key=key,
                                         etag=f"etag-{i}", brand=brand, has_manifest=True,
                                         run_id=run.id)
            [defect] = queries.record_defects(
                session, asset_id=asset.id, etag=f"etag-{i}", pipeline_version="test",
                run_id=run.id,
                defects=[{"kind": "text", "category": "mismatch", "bbox": list(DEFECT_BOX),
                          "expected": f"SALE {i} % OFF", "observed": f"SA1E {i} # 0FF",
                          "score": 0.42, "reasons": ["text_mismatch"]}],
            )
            verdict = "failed" if i in failed else "verified"
            reasons = [] if verdict == "verified" else ["residual_ink"]
            metrics = {
                "verdict": verdict, "reasons": reasons,
                "bg_changed_pixels": 0,
                "bg_max_abs_diff": 0, "mse_bg": 0.0, "ssim_bg": 1.0,
                "band_color_shift": 0.812, "band_pixels": 900,
                "region": {"kind": "text", "matches": True, "score": 0.987,
                           "observed": f"SALE {i} % OFF", "expected": f"SALE {i} % OFF",
                           "reasons": []},
                "focus": {"box": focus_box(), "mask_box": list(DEFECT_BOX)},
                "ink": {"old_ink": 2210, "new_ink": 1980, "uncovered": 640,
                        "residual": 0.012 if verdict == "verified" else 0.071,
                        "ghost_px": 35 if verdict == "verified" else 412},
            }
            if verdict == "verified":  # the written file's record, as flows.repairing adds it
                metrics["asset"] = write_repaired(encode_png(bad), clean,
                                                  name=key).fidelity.to_json()
            repair = queries.record_repair(
                session, defect_id=defect.id, backend="compositor", verdict=verdict,
                prompt=f"refine the text 'SALE {i} % OFF'", seed=1234 + i,
                reason=",".join(reasons) or None, metrics=metrics,
                repaired_key=repaired_key if verdict == "verified" else None,
                artifacts=artifacts, seconds=0.5, run_id=run.id,
            )
            env.repair_ids.append(repair.id)
            env.asset_keys.append(key)
        # the shape flows.records.run_counts writes
        queries.finish_run(session, run_id=run.id, counts={
            "posters_scanned": n + 3, "defects_by_kind": {"text": n - 1, "logo": 1},
            "repairs_verified": n - 1, "repairs_failed": 1,
        })


def add_user(engine: Any, username: str, password: str, role: str) -> None:
    from dashboard import crud
    from storage.db import session_scope

    with session_scope(engine) as session:
        crud.create_user(session, username=username, password=password, role=role)


# ------------------------------------------------------------------ serving


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free 127.0.0.1 port; yields its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="dashboard-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sign_in(page: Any, live_url: str, path: str = "/queue") -> None:
    """Open ``path`` signed out, sign in as the reviewer on the login page it redirects
    to, and wait until the browser is back on ``path``."""
    import re

    from playwright.sync_api import expect

    page.goto(live_url + path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("input[name=username]", REVIEWER[0])
    page.fill("input[name=password]", REVIEWER[1])
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
