"""Load benchmark: 50 concurrent reviewers loading the repair queue of a 10,000-repair DB.

    python benchmarks/bench_dashboard_load.py [--repairs 10000] [--reviewers 50] \
        [--requests-per-reviewer 20]

Builds a SQLite DB at Alembic head in a temporary folder with ``--repairs`` generated
repairs (each with its asset and defect; 20 brands, both defect kinds, both verdicts,
all review states), creates one account per reviewer, serves the dashboard with uvicorn
in a separate process on 127.0.0.1 (one worker, as ``posterqa dashboard`` does), signs
every reviewer in, then has all of them load queue pages at the same time, each waiting
for its page before asking for the next (a bounded number of requests per reviewer).

Prints one row per scenario, first with one reviewer alone (the baseline on this machine
at this moment), then with all reviewers at once: requests, median / p95 / max latency
and pages per second. The machine's load average is printed too: other work on the same
cores moves these figures.
No object store is needed: the queue page reads only the DB.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import re
import secrets
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SCENARIOS = (
    ("queue, first page", "/queue"),
    ("queue, filtered (brand+status+kind)",
     "/queue?brand=brand-07&status=pending&kind=text"),
    ("queue, page 100 (oldest first)", "/queue?sort=oldest&page=100"),
)
PASSWORD = "bench-password-1"


def build_db(url: str, n_repairs: int, n_reviewers: int) -> None:
    """Generated rows, inserted in bulk (Core ``insert`` with executemany)."""
    from sqlalchemy import insert

    from dashboard.auth import hash_password
    from storage.db import make_engine, upgrade
    from storage.models import Asset, Defect, Repair, Run, User

    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    statuses = ("pending", "pending", "pending", "approved", "rejected", "published")
    with engine.begin() as conn:
        conn.execute(insert(Run), [{"id": 1, "kind": "sweep", "status": "completed",
                                    "started_at": now, "counts": {}, "pipeline_version": "b"}])
        assets, defects, repairs = [], [], []
        for i in range(1, n_repairs + 1):
            brand = f"brand-{i % 20:02d}"
            at = now - timedelta(seconds=n_repairs - i)
            kind = "text" if i % 3 else "logo"
            assets.append({"id": i, "bucket": "posterqa", "key": f"posters/{brand}/p{i:06d}.png",
                           "etag": f"e{i}", "size": 1000, "brand": brand, "has_manifest": True,
                           "status": "repaired", "created_at": at, "updated_at": at})
            defects.append({"id": i, "asset_id": i, "run_id": 1, "etag": f"e{i}",
                            "pipeline_version": "b", "kind": kind,
                            "category": "mismatch" if kind == "text" else "deformed",
                            "bbox": [10, 20, 200, 60], "expected": f"SALE {i}",
                            "observed": f"SA1E {i}", "score": 0.5, "reasons": ["x"],
                            "details": {}, "fingerprint": f"f{i}", "status": "repaired",
                            "attempts": 1, "created_at": at, "updated_at": at})
            repairs.append({"id": i, "defect_id": i, "run_id": 1, "attempt": 1,
                            "backend": "compositor", "seed": i, "prompt": f"refine {i}",
                            "verdict": "verified" if i % 7 else "failed",
                            "metrics": {"ssim_bg": 1.0, "bg_changed_pixels": 0},
                            "repaired_key": f"repaired/{brand}/p{i:06d}.png",
                            "artifacts": {}, "seconds": 0.4,
                            "review_status": statuses[i % len(statuses)], "created_at": at})
        conn.execute(insert(Asset), assets)
        conn.execute(insert(Defect), defects)
        conn.execute(insert(Repair), repairs)
        hashed = hash_password(PASSWORD)  # one hash: 50 scrypt runs would only cost setup time
        conn.execute(insert(User), [{"username": f"reviewer{k:02d}", "password_hash": hashed,
                                     "role": "reviewer", "created_at": now}
                                    for k in range(n_reviewers)])
    engine.dispose()


def serve(url: str, state_dir: str, port: int) -> None:
    """Child process: the dashboard on 127.0.0.1:port (no object store)."""
    import logging

    import uvicorn

    from dashboard.app import create_app
    from posterqa.settings import Settings
    from storage.db import make_engine

    logging.basicConfig(level=logging.WARNING)
    settings = Settings(state_dir=Path(state_dir), db_url=url,
                        dashboard_secret_key=secrets.token_hex(32))
    app = create_app(settings, engine=make_engine(url), store=None)
    # keep-alive longer than the slowest page: a reviewer that finished its pages early
    # waits for the others, and uvicorn's 5 s default would close its idle connection
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                timeout_keep_alive=300)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_up(base: str, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(base + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dashboard did not answer on {base} within {timeout} s")
            await asyncio.sleep(0.2)


async def sign_in(client: Any, name: str) -> None:
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    resp = await client.post("/login", data={"username": name, "password": PASSWORD,
                                             "csrf_token": token, "next": "/queue"})
    if resp.status_code != 303:
        raise RuntimeError(f"login of {name} failed: HTTP {resp.status_code}")


async def reviewer_loop(client: Any, path: str, n: int, start: asyncio.Event,
                        out: list[float]) -> None:
    await start.wait()
    for _ in range(n):
        t0 = time.perf_counter()
        resp = await client.get(path)
        out.append(time.perf_counter() - t0)
        if resp.status_code != 200 or 'class="row"' not in resp.text:
            raise RuntimeError(f"GET {path}: HTTP {resp.status_code}")


async def run_load(base: str, n_reviewers: int, per_reviewer: int) -> list[tuple[str, ...]]:
    import httpx

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(base_url=base, limits=limits, timeout=120.0,
                                 follow_redirects=False) for _ in range(n_reviewers)]
    try:
        await asyncio.gather(*(sign_in(c, f"reviewer{k:02d}") for k, c in enumerate(clients)))
        for c in clients:  # warm: templates compiled, connections open
            await c.get("/queue")
        rows = []
        plan = [(f"{label}, 1 reviewer alone", path, clients[:1]) for label, path in SCENARIOS]
        plan += [(f"{label}, {n_reviewers} at once", path, clients) for label, path in SCENARIOS]
        for label, path, group in plan:
            start = asyncio.Event()
            lat: list[float] = []
            tasks = [asyncio.create_task(reviewer_loop(c, path, per_reviewer, start, lat))
                     for c in group]
            await asyncio.sleep(0.05)
            t0 = time.perf_counter()
            start.set()
            await asyncio.gather(*tasks)
            wall = time.perf_counter() - t0
            ms = sorted(x * 1000 for x in lat)
            p95 = ms[min(len(ms) - 1, int(round(0.95 * len(ms))) - 1)]
            rows.append((label, str(len(ms)), f"{statistics.median(ms):.0f}", f"{p95:.0f}",
                         f"{ms[-1]:.0f}", f"{len(ms) / wall:.1f}"))
        return rows
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repairs", type=int, default=10_000)
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--requests-per-reviewer", type=int, default=20)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="posterqa-bench-dash-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        build_db(url, args.repairs, args.reviewers)
        print(f"DB: {args.repairs} repairs, {args.reviewers} reviewer accounts, SQLite "
              f"(built in {time.perf_counter() - t0:.1f} s)")
        port = free_port()
        proc = mp.get_context("spawn").Process(target=serve, args=(url, tmp, port), daemon=True)
        proc.start()
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(wait_up(base))
            rows = asyncio.run(run_load(base, args.reviewers, args.requests_per_reviewer))
        finally:
            proc.terminate()
            proc.join(10)
    print(f"{args.reviewers} signed-in reviewers, {args.requests_per_reviewer} page loads "
          "each (one at a time per reviewer), uvicorn 1 worker on 127.0.0.1; "
          f"{mp.cpu_count()} CPU cores shared by server and clients; load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    header = ("scenario", "requests", "median ms", "p95 ms", "max ms", "pages/s")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
