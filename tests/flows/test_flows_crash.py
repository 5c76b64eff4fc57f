"""Crash safety: SIGKILL a real `posterqa sweep` subprocess mid-detection and again
mid-repair, re-run, and check that nothing is duplicated, nothing lost, every poster
processed once, and no row points at a missing object."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from flows_support import REPO_ROOT, make_catalog, seed_bucket, settings_env
from sqlalchemy import create_engine, func, select, text

pytestmark = pytest.mark.slow

N_POSTERS = 5
POSTERQA = str(Path(sys.executable).parent / "posterqa")


def _count(engine, table: str) -> int:
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)
    except Exception:  # table not created yet, or locked for a moment
        return 0


def _sweep(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([POSTERQA, "sweep"], env=env, cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _kill_when(proc: subprocess.Popen, engine, table: str, n: int, timeout: float) -> int:
    """SIGKILL the sweep's process group once ``table`` has ``n`` rows; returns the count."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise AssertionError(f"sweep ended (rc {proc.returncode}) before the kill:\n{out}")
        count = _count(engine, table)
        if count >= n:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            return count
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"{table} never reached {n} rows in {timeout:.0f} s")


def test_sigkill_mid_sweep_then_rerun_loses_and_duplicates_nothing(settings, runtime):
    from storage.db import session_scope
    from storage.models import Asset, AuditEvent, Defect, Repair, Scan

    catalog = make_catalog(11, N_POSTERS, defect_share=0.8, no_manifest=0)
    seed_bucket(runtime, catalog)
    env = settings_env(settings)
    watch = create_engine(settings.resolved_db_url)

    # 1. killed during detection, after two defects were recorded
    _kill_when(_sweep(env), watch, "defects", 2, timeout=240)
    scanned_first = _count(watch, "scans")
    assert scanned_first < N_POSTERS
    # 2. killed during repair, after the first repair row
    _kill_when(_sweep(env), watch, "repairs", 1, timeout=300)
    # 3. runs to the end
    done = subprocess.run([POSTERQA, "sweep"], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    watch.dispose()

    with session_scope(runtime.engine) as s:
        assets = list(s.scalars(select(Asset)))
        scans = Counter(s.scalars(select(Scan.asset_id)))
        defects = list(s.scalars(select(Defect)))
        repairs = list(s.scalars(select(Repair)))
        scanned_events = Counter(e.entity_id for e in s.scalars(
            select(AuditEvent).where(AuditEvent.action == "scanned")))
        n_runs = s.scalar(text("SELECT count(*) FROM runs"))
        statuses = sorted(s.scalars(text("SELECT status FROM runs")))
    # every poster processed exactly once
    assert len(assets) == N_POSTERS
    assert sorted(scans.values()) == [1] * N_POSTERS
    assert sorted(scanned_events.values()) == [1] * N_POSTERS
    # no duplicate defects, none lost: every one settled, one repair each
    fps = Counter((d.asset_id, d.fingerprint) for d in defects)
    assert max(fps.values()) == 1
    assert defects and all(d.status in ("repaired", "failed") for d in defects)
    assert Counter(r.defect_id for r in repairs) == Counter({d.id: 1 for d in defects})
    # no row points at a missing object
    for r in repairs:
        for key in [*r.artifacts.values(), *([r.repaired_key] if r.repaired_key else [])]:
            assert runtime.store.exists(key), f"repair {r.id} points at missing {key}"
    # the two killed runs were closed as failed by the next start, the last completed
    assert n_runs == 3 and statuses == ["completed", "failed", "failed"]
    with session_scope(runtime.engine) as s:
        assert s.scalar(select(func.count()).select_from(Defect)
                        .where(Defect.status.in_(("pending", "claimed")))) == 0
