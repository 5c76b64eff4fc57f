"""Start a ``repair-asset`` run for the dashboard's re-run button (or any caller).

With a Prefect server (``PREFECT_API_URL`` set) the deployment ``repair-asset`` is
started through the API and a GPU worker picks it up; the returned id is the Prefect
flow run id. Without one, the flow runs in a background thread of this process
(ephemeral Prefect) and the returned id is a local id; :func:`rerun_status` tells how
it went.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Sequence
from typing import Any

from posterqa.errors import InputError
from posterqa.settings import Settings

log = logging.getLogger(__name__)

DEPLOYMENT = "repair-asset/repair-asset"

_local_runs: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()
# local re-runs share one runtime (store, DB engine, refiner): run them one at a time
_run_lock = threading.Lock()


def _box_list(boxes: Sequence[Any]) -> list[list[int]]:
    from detectors.types import Box

    out = []
    for box in boxes or ():
        if isinstance(box, Box):
            out.append(box.as_list())
        elif isinstance(box, str):
            out.append(Box.parse(box).as_list())
        else:
            values = [int(v) for v in box]
            if len(values) != 4:
                raise InputError(f"box {list(box)!r} must be [x0, y0, x1, y1]")
            out.append(Box(*values).as_list())
    return out


def request_rerun(settings: Settings, *, asset_key: str, boxes: Sequence[Any] = (),
                  prompt: str | None = None) -> str:
    """Start ``repair-asset`` for ``asset_key``; returns the run's id."""
    if not asset_key:
        raise InputError("asset_key is empty")
    params = {"key": asset_key, "boxes": _box_list(boxes), "prompt": prompt}
    from flows.prefect_env import configure_prefect

    configure_prefect(settings)
    if os.environ.get("PREFECT_API_URL"):
        from prefect.deployments import run_deployment

        run = run_deployment(DEPLOYMENT, parameters=params, timeout=0)
        log.info("started %s for %s: flow run %s", DEPLOYMENT, asset_key, run.id)
        return str(run.id)
    run_id = f"local-{uuid.uuid4().hex[:12]}"
    with _lock:
        _local_runs[run_id] = {"state": "running", "result": None, "error": None}
    thread = threading.Thread(target=_run_local, args=(settings, run_id, params),
                              name=f"posterqa-rerun-{run_id}", daemon=True)
    thread.start()
    return run_id


def _run_local(settings: Settings, run_id: str, params: dict[str, Any]) -> None:
    from flows.runtime import use_runtime
    from flows.sweep import repair_asset

    try:
        with _run_lock, use_runtime(settings):
            result = repair_asset(**params)
        update = {"state": "completed", "result": result}
    except Exception as exc:  # reported through rerun_status, never lost
        log.exception("local re-run %s of %s failed", run_id, params["key"])
        update = {"state": "failed", "error": str(exc)}
    with _lock:
        _local_runs[run_id].update(update)


def rerun_status(run_id: str) -> dict[str, Any]:
    """``{"state": running|completed|failed, "result", "error"}`` of a local re-run."""
    with _lock:
        if run_id not in _local_runs:
            raise InputError(f"unknown local re-run id {run_id!r}")
        return dict(_local_runs[run_id])
