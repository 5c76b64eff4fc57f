"""Sweep throughput: N generated posters, compositor backend, Prefect ephemeral mode.

    python benchmarks/bench_sweep.py [--posters 200] [--out bench-out/sweep]

Seeds a fresh embedded SeaweedFS bucket + SQLite DB, then times the two stages as the
nightly sweep runs them: detection (``nightly_sweep(repair="handoff")`` without a
server leaves the defects pending) and repair (``repair_pending``). The detectors' and
the refiner's own times come from the audit trail / repair rows; the overhead is what
orchestration (Prefect task runs, state changes, the ephemeral API server), S3 and DB
I/O, decoding and artifact writing add on top (target: <= 15 %).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posters", type=int, default=200)
    parser.add_argument("--seed", type=int, default=424242)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "sweep")
    args = parser.parse_args(argv)

    from posterqa.settings import Settings

    shutil.rmtree(args.out, ignore_errors=True)
    settings = Settings(state_dir=args.out, refiner_backend="compositor")
    from flows.prefect_env import configure_prefect

    configure_prefect(settings)
    from sqlalchemy import select

    from catalog import generate_catalog, upload_catalog
    from flows.runtime import open_runtime
    from flows.sweep import nightly_sweep, repair_pending
    from storage.db import session_scope
    from storage.models import AuditEvent, Repair

    with open_runtime(settings) as rt:
        t0 = time.perf_counter()
        catalog = generate_catalog(args.seed, args.posters, n_brands=2, defect_share=0.5,
                                   no_manifest=1)
        upload_catalog(catalog, rt.store, settings)
        seed_s = time.perf_counter() - t0
        # warm up: the ephemeral Prefect server and the OCR engine start once per
        # process; both sides of the ratio exclude these one-time costs
        nightly_sweep(prefix="warm-up/", dry_run=True)
        rt.text_detector().engine  # noqa: B018

        t0 = time.perf_counter()
        detected = nightly_sweep(prefix=settings.posters_prefix, repair="handoff")
        detect_wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        repaired = repair_pending()
        repair_wall = time.perf_counter() - t0

        with session_scope(rt.engine) as s:
            det = [float(e.detail.get("detector_seconds") or 0.0) for e in s.scalars(
                select(AuditEvent).where(AuditEvent.action == "scanned"))]
            rep = [float(r.seconds or 0.0) for r in s.scalars(select(Repair))]

    n = detected["posters_scanned"]
    det_sum, rep_sum = sum(det), sum(rep)
    total_wall = detect_wall + repair_wall
    rows = [
        ("posters", f"{n}"),
        ("defects found", f"{sum(detected['defects_by_kind'].values())} "
                          f"{detected['defects_by_kind']}"),
        ("repairs verified / failed", f"{repaired['repairs_verified']} / "
                                      f"{repaired['repairs_failed']}"),
        ("seeding (generate + upload)", f"{seed_s:.1f} s"),
        ("detection stage wall", f"{detect_wall:.1f} s"),
        ("  sum of detector time", f"{det_sum:.1f} s (median {statistics.median(det):.2f} s"
                                   f"/poster)" if det else "0"),
        ("  overhead (wall / detector - 1)", f"{(detect_wall / det_sum - 1) * 100:+.1f} %"
         if det_sum else "n/a"),
        ("repair stage wall", f"{repair_wall:.1f} s"),
        ("  sum of refiner time", f"{rep_sum:.1f} s ({len(rep)} repairs, median "
                                  f"{statistics.median(rep) if rep else 0:.2f} s)"),
        ("  overhead (wall / refiner - 1)", f"{(repair_wall / rep_sum - 1) * 100:+.1f} %"
         if rep_sum else "n/a"),
        ("sweep wall (both stages)", f"{total_wall:.1f} s"),
        ("  overhead vs detector + refiner",
         f"{(total_wall / (det_sum + rep_sum) - 1) * 100:+.1f} %" if det_sum + rep_sum
         else "n/a"),
        ("throughput", f"{n / total_wall * 60:.1f} posters/min "
                       f"(detection alone {n / detect_wall * 60:.1f}/min)"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"bench_sweep: {args.posters} posters, compositor, Prefect ephemeral, "
          f"embedded SeaweedFS + SQLite")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
