"""The SQLite file made unwritable in the middle of a real `posterqa sweep`: one line and a
non-zero exit; the run is closed `failed` with the real cause (by the next run, from the
note the failed process left, when the database could not take it then), never called
"killed"; and no object under repaired/ or artifacts/ is left without its row."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flows_support import (
    REPO_ROOT,
    make_catalog,
    objects_without_rows,
    seed_bucket,
    settings_env,
)
from sqlalchemy import select

pytestmark = pytest.mark.slow

POSTERQA = str(Path(sys.executable).parent / "posterqa")


def _chattr_works(folder: Path) -> bool:
    """``chattr +i`` (immutable: even root cannot write) is what makes a file unwritable
    for a root test process; it needs root and a file system that supports it."""
    probe = folder / "chattr-probe"
    probe.write_text("x")
    if shutil.which("chattr") is None:
        return False
    ok = subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode == 0
    subprocess.run(["chattr", "-i", str(probe)], capture_output=True)
    probe.unlink()
    return ok


def _scans(db: Path) -> int:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return int(conn.execute("select count(*) from scans").fetchone()[0])
    except sqlite3.Error:  # not created yet, or busy for a moment
        return 0


def test_sqlite_unwritable_mid_sweep_gives_one_line_and_the_run_fails_with_the_cause(
    settings, runtime, tmp_path
):
    from flows import records
    from storage.db import session_scope
    from storage.models import AuditEvent, Run

    if not _chattr_works(tmp_path):
        pytest.skip("needs root and chattr on a tmp folder that supports it (ext4, xfs)")
    seed_bucket(runtime, make_catalog(11, 3, defect_share=1.0, no_manifest=0))
    db = Path(settings.resolved_db_url.removeprefix("sqlite:///"))
    frozen = [db, db.with_name(db.name + "-wal")]  # not -shm: SQLite maps it (SIGBUS)
    proc = subprocess.Popen([POSTERQA, "sweep"], env=settings_env(settings), cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while _scans(db) < 1 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None, "the sweep ended before the database was frozen"
        subprocess.run(["chattr", "+i", *map(str, frozen)], check=True)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run(["chattr", "-i", *map(str, frozen)], capture_output=True)

    assert proc.returncode == 2, stdout + stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    prefix = f"posterqa: error: cannot write to database {settings.resolved_db_url}: "
    assert lines[0].startswith(prefix), lines[0]
    cause = lines[0].removeprefix("posterqa: error: ")

    # the run could not be closed then: its cause waits in the state folder
    with session_scope(runtime.engine) as s:
        run = s.scalars(select(Run)).one()
        assert run.status == "running"
    note = json.loads((Path(settings.state_dir) / "unclosed-runs" / f"run-{run.id}.json")
                      .read_text())
    assert note["error"] == cause

    # the next run (any process opening one with this state folder) closes it with it
    records.open_run(runtime.engine, kind="sweep", prefix=None, params={},
                     state_dir=settings.state_dir)
    with session_scope(runtime.engine) as s:
        first = s.get(Run, run.id)
        assert (first.status, first.error) == ("failed", cause)
        assert "killed" not in first.error
        event = s.scalars(select(AuditEvent).where(
            AuditEvent.entity == "run", AuditEvent.entity_id == str(run.id),
            AuditEvent.action == "failed")).one()
        assert event.detail["reason"] == "closed from the note its process left"
    assert not list((Path(settings.state_dir) / "unclosed-runs").iterdir())
    assert objects_without_rows(runtime) == (set(), set())
