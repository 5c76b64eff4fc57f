"""The deployments for real: `prefect server`, a process work pool and a worker.

Deploys prefect.yaml with `prefect --no-prompt deploy --all`, starts `repair-asset`
with `prefect deployment run ... --watch`, and checks the repair in posterqa's DB.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from flows_support import REPO_ROOT, free_port, settings_env

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def _prefect() -> str:
    exe = BIN / "prefect"
    return str(exe) if exe.exists() else shutil.which("prefect") or "prefect"


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"prefect server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"prefect server at {url} not healthy after {timeout:.0f} s")


def _stop(proc: subprocess.Popen, *, signals: int = 1, wait: float = 15.0) -> None:
    """Stop a process group: SIGTERM (twice for a worker), then SIGKILL."""
    if proc.poll() is not None:
        return
    for _ in range(signals):
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=wait / signals)
            return
        except subprocess.TimeoutExpired:
            continue
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_repair_asset_deployment_runs_on_a_process_worker(settings, runtime, tmp_path):
    from sqlalchemy import select

    from catalog import make_brand, make_poster
    from storage.db import session_scope
    from storage.models import Asset, Defect, Repair, Run

    # one poster with one wrong text line, uploaded with its manifest and brand kit
    brand = make_brand("acme", 3)
    poster = make_poster(brand, 11, text_defects={0: "wrong_chars"}, logo_defect=None)
    from catalog import Catalog, upload_catalog

    upload_catalog(Catalog(brands=(brand,), posters=(poster,)), runtime.store, settings)
    key = f"{settings.posters_prefix}{poster.brand_id}/{poster.poster_id}.png"
    item = next(t for t in poster.truth if t.defect is not None)
    box = item.box.pad(6).as_list()
    prompt = f"refine the text '{item.expected}'"

    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = settings_env(settings)
    env.update({
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_WORKER_PREFETCH_SECONDS": "2",
        "PREFECT_LOGGING_LEVEL": "INFO",
    })
    server_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    server = subprocess.Popen(
        [_prefect(), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    worker = None
    try:
        _wait_healthy(api, server)
        for pool in ("posterqa-cpu", "posterqa-gpu"):
            out = _run([_prefect(), "work-pool", "create", pool, "--type", "process"], env, 60)
            assert out.returncode == 0, out.stdout + out.stderr
        out = _run([_prefect(), "--no-prompt", "deploy", "--all"], env, 120)
        assert out.returncode == 0, out.stdout + out.stderr
        for name in ("nightly-sweep", "repair-pending", "repair-asset"):
            assert name in out.stdout
        # the 02:00 schedule is deployed paused: a deploy alone never starts sweeping
        url = f"{api}/deployments/name/nightly-sweep/nightly-sweep"
        with urllib.request.urlopen(url, timeout=10) as resp:
            schedules = json.load(resp)["schedules"]
        assert [(s["schedule"]["cron"], s["active"]) for s in schedules] == [("0 2 * * *", False)]
        worker_log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115
        worker = subprocess.Popen(
            [_prefect(), "worker", "start", "--pool", "posterqa-gpu", "--type", "process"],
            env=env, cwd=REPO_ROOT, stdout=worker_log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        params = json.dumps({"key": key, "boxes": [box], "prompt": prompt})
        out = _run([_prefect(), "deployment", "run", "repair-asset/repair-asset",
                    "--params", params, "--watch"], env, 240)
        log_tail = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
        assert out.returncode == 0, out.stdout + out.stderr + log_tail
        assert "Completed" in out.stdout, out.stdout + log_tail
    finally:
        if worker is not None:
            _stop(worker, signals=2, wait=20)
        _stop(server, signals=1, wait=20)

    with session_scope(runtime.engine) as session:
        run = session.scalars(select(Run).where(Run.kind == "manual")).one()
        assert run.status == "completed" and run.flow_run_id
        asset = session.scalars(select(Asset).where(Asset.key == key)).one()
        defects = session.scalars(select(Defect).where(Defect.asset_id == asset.id)).all()
        assert [d.bbox for d in defects] == [box]
        repair = session.scalars(select(Repair).where(Repair.defect_id == defects[0].id)).one()
        assert repair.prompt == prompt and repair.backend == "compositor"
        assert repair.artifacts and all(runtime.store.exists(k) for k in repair.artifacts.values())
        if repair.verdict == "verified":
            assert runtime.store.exists(repair.repaired_key)
