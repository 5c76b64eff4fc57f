"""The dashboard's re-run trigger without a Prefect server: a background repair_asset run."""

from __future__ import annotations

import time

import pytest
from flows_support import make_catalog, seed_bucket
from sqlalchemy import select


@pytest.mark.slow
def test_request_rerun_without_server_repairs_the_box_in_a_background_run(
    prefect_harness, settings, runtime
):
    from catalog.dataset import poster_key
    from flows.trigger import request_rerun, rerun_status
    from storage.db import session_scope
    from storage.models import Defect, Repair, Run

    catalog = make_catalog(3, 1, defect_share=1.0, no_manifest=0, logo_defect_types=())
    seed_bucket(runtime, catalog)
    poster = catalog.posters[0]
    item = next(t for t in poster.truth if t.defect is not None and t.kind == "text")
    key = poster_key(poster, settings.posters_prefix)
    box = item.box.pad(6)

    run_id = request_rerun(settings, asset_key=key, boxes=[box],
                           prompt=f"refine the text '{item.expected}'")
    assert run_id.startswith("local-")
    deadline = time.monotonic() + 120
    while rerun_status(run_id)["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    status = rerun_status(run_id)
    assert status["state"] == "completed", status
    with session_scope(runtime.engine) as s:
        run = s.scalars(select(Run).where(Run.id == status["result"]["run_id"])).one()
        assert (run.kind, run.prefix, run.status) == ("manual", key, "completed")
        defect = s.scalars(select(Defect).where(Defect.run_id == run.id)).one()
        assert defect.bbox == box.as_list() and defect.expected == item.expected
        repair = s.scalars(select(Repair).where(Repair.defect_id == defect.id)).one()
    assert repair.verdict == "verified", repair.reason
    assert runtime.store.exists(repair.repaired_key)
