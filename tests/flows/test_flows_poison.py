"""One bad poster must never stop a sweep: poison posters (a manifest naming a path as
brand, a Unicode key, a 1x1 image, a 20000x20000 PNG, a crashing detector, a storage
failure) are each recorded with their reason while the good posters are repaired, and
every object a run writes under repaired/ and artifacts/ has its row."""

from __future__ import annotations

import json

import numpy as np
import pytest
from flows_support import big_png, make_catalog, objects_without_rows, seed_bucket
from sqlalchemy import func, select

UNICODE_KEY_NAME = "spaced name ü 海报 #1?.png"


def _assets(runtime):
    from storage.db import session_scope
    from storage.models import Asset, Scan

    with session_scope(runtime.engine) as s:
        scans = dict(s.execute(select(Scan.asset_id, Scan.outcome)).all())
        return {a.key: (a, scans.get(a.id)) for a in s.scalars(select(Asset))}


def _put(runtime, key, data, ctype="image/png"):
    runtime.store.put_bytes(key, data, content_type=ctype)


def _good_poster(runtime, catalog):
    """(key, bytes, manifest) of the catalog's first poster."""
    from catalog.dataset import poster_key

    key = poster_key(catalog.posters[0], runtime.settings.posters_prefix)
    manifest = json.loads(runtime.store.get_bytes(key.removesuffix(".png") + ".json"))
    return key, runtime.store.get_bytes(key), manifest


def test_a_manifest_naming_a_path_as_brand_fails_its_poster_with_the_reason(runtime):
    # brands/../posters/acme/brand.json: SeaweedFS answered InvalidRequest, which
    # escaped fetch_poster and failed the whole sweep
    from flows.detection import PosterRef
    from flows.tasks import detect_defects, fetch_poster, open_run, record_defects
    from posterqa.imaging import encode_png

    _put(runtime, "posters/acme/p.png", encode_png(np.full((64, 64, 3), 200, np.uint8)))
    _put(runtime, "posters/acme/p.json",
         json.dumps({"brand": "../posters/acme", "copy": ["SALE"]}).encode(), "application/json")
    fetched = fetch_poster.fn(PosterRef(key="posters/acme/p.png", etag="e1"))
    assert fetched.error == ("bad manifest: posters/acme/p.json: field 'brand': brand id "
                             "'../posters/acme' is a path, not a name (no '/' or '\\')")
    record_defects.fn(detect_defects.fn(fetched), open_run.fn("sweep", "posters/", {}))
    asset, outcome = _assets(runtime)["posters/acme/p.png"]
    assert (asset.status, outcome, asset.last_error) == ("failed", "error", fetched.error)


@pytest.mark.slow
def test_sweep_with_poison_posters_records_each_reason_and_repairs_the_good_ones(
    prefect_harness, settings, runtime
):
    from catalog.dataset import poster_key
    from flows.sweep import nightly_sweep
    from posterqa.imaging import encode_png
    from storage.db import session_scope
    from storage.models import Defect, Repair

    catalog = make_catalog(5, 2, defect_share=1.0, no_manifest=0)
    seed_bucket(runtime, catalog)
    good = [poster_key(p, settings.posters_prefix) for p in catalog.posters]
    key0, image0, manifest0 = _good_poster(runtime, catalog)
    brand = manifest0["brand"]
    bad = {
        f"posters/{brand}/zz-trav0.png": "brand id '../posters/",
        f"posters/{brand}/zz-trav1.png": "brand id '../posters/",
        f"posters/{brand}/zz-tiny.png": "is 1x1 pixels, too small to check",
        f"posters/{brand}/zz-huge.png": ("is 20000x20000 = 400000000 pixels, over the limit "
                                         "of 80000000 (POSTERQA_MAX_IMAGE_PIXELS)"),
    }
    for i in range(2):
        _put(runtime, f"posters/{brand}/zz-trav{i}.png", image0)
        _put(runtime, f"posters/{brand}/zz-trav{i}.json", json.dumps(
            {**manifest0, "brand": f"../posters/{brand}"}).encode(), "application/json")
    _put(runtime, f"posters/{brand}/zz-tiny.png", encode_png(np.full((1, 1, 3), 9, np.uint8)))
    _put(runtime, f"posters/{brand}/zz-tiny.json", json.dumps(manifest0).encode(),
         "application/json")
    _put(runtime, f"posters/{brand}/zz-huge.png", big_png(20000, 20000))
    unicode_key = f"posters/{brand}/{UNICODE_KEY_NAME}"
    _put(runtime, unicode_key, image0)  # the same defective poster under a Unicode key
    _put(runtime, unicode_key.removesuffix(".png") + ".json", json.dumps(manifest0).encode(),
         "application/json")

    result = nightly_sweep(prefix=settings.posters_prefix, repair="inline")

    assert result["status"] == "completed"
    assert result["posters_scanned"] == len(good) + len(bad) + 1
    assert result["posters_error"] == len(bad)
    assets = _assets(runtime)
    for key, reason in bad.items():
        asset, outcome = assets[key]
        assert (asset.status, outcome) == ("failed", "error"), key
        assert reason in asset.last_error, (key, asset.last_error)
        assert "decompression bomb" not in asset.last_error
    for key in [*good, unicode_key]:
        asset, outcome = assets[key]
        assert (asset.status, outcome, asset.last_error) == ("repaired", "defective", None), key
    # the Unicode key end to end: repaired copy (with its source decoded from the
    # metadata), its artifacts and rows
    repaired_key = f"repaired/{brand}/{UNICODE_KEY_NAME}"
    head = runtime.store.head(repaired_key)
    assert head["metadata"]["source-key"] == unicode_key
    with session_scope(runtime.engine) as s:
        rows = list(s.scalars(select(Repair).join(Defect).where(
            Defect.asset_id == assets[unicode_key][0].id)))
        n_defects = s.scalar(select(func.count()).select_from(Defect))
        n_repairs = s.scalar(select(func.count()).select_from(Repair))
    assert rows and all(r.verdict == "verified" and r.repaired_key == repaired_key
                        for r in rows)
    assert all(runtime.store.exists(k) for r in rows for k in r.artifacts.values())
    assert objects_without_rows(runtime) == (set(), set())

    again = nightly_sweep(prefix=settings.posters_prefix, repair="inline")
    assert (again["status"], again["posters_scanned"]) == ("completed", 0)
    with session_scope(runtime.engine) as s:
        assert s.scalar(select(func.count()).select_from(Defect)) == n_defects
        assert s.scalar(select(func.count()).select_from(Repair)) == n_repairs


@pytest.mark.slow
def test_a_crashing_detector_and_an_unreadable_poster_fail_their_posters_only(
    prefect_harness, settings, runtime, monkeypatch
):
    # fault injection: the detector raises something posterqa never raises on purpose
    # for one poster, and S3 refuses to read another (after the task's retries)
    from flows import tasks
    from flows.sweep import nightly_sweep
    from posterqa.errors import StorageError
    from posterqa.imaging import encode_png

    for name, shade in (("a", 40), ("crash", 120), ("unread", 200)):
        _put(runtime, f"posters/x/{name}.png", encode_png(np.full((48, 64, 3), shade, np.uint8)))
    detector = runtime.text_detector()
    real_detect, real_get = detector.detect, runtime.store.get_bytes

    def detect(image, *args, **kwargs):
        if int(image[0, 0, 0]) == 120:
            raise RuntimeError("simulated detector bug")
        return real_detect(image, *args, **kwargs)

    def get_bytes(key):
        if key == "posters/x/unread.png":
            raise StorageError("S3 endpoint http://127.0.0.1:1 stopped answering during get")
        return real_get(key)

    monkeypatch.setattr(detector, "detect", detect)
    monkeypatch.setattr(runtime.store, "get_bytes", get_bytes)
    monkeypatch.setattr(tasks.fetch_poster, "retries", 0)

    result = nightly_sweep(prefix=settings.posters_prefix, repair="inline")

    assert result["status"] == "completed"
    assert (result["posters_scanned"], result["posters_error"]) == (2, 1)
    assert result["posters_unread"] == 1
    assets = _assets(runtime)
    assert assets["posters/x/a.png"][1] == "clean"
    crash, outcome = assets["posters/x/crash.png"]
    assert (crash.status, outcome) == ("failed", "error")
    assert crash.last_error == "detection failed: RuntimeError: simulated detector bug"
    unread, outcome = assets["posters/x/unread.png"]
    assert (unread.status, outcome) == ("failed", None)  # recorded, not marked scanned
    assert "stopped answering" in unread.last_error

    monkeypatch.setattr(runtime.store, "get_bytes", real_get)
    again = nightly_sweep(prefix=settings.posters_prefix, repair="inline")
    assert (again["posters_scanned"], again["posters_unread"]) == (1, 0)  # retried now
    assert _assets(runtime)["posters/x/unread.png"][1] == "clean"


@pytest.mark.slow
def test_a_failed_save_takes_back_its_objects(prefect_harness, settings, runtime,
                                             monkeypatch):
    # fault injection: S3 refuses the repaired copy after the artifacts went up, then
    # (second poster) the database refuses the repair rows after every upload
    from sqlalchemy.exc import OperationalError

    from flows import records, tasks
    from flows.sweep import nightly_sweep
    from posterqa.errors import StorageError
    from storage.db import session_scope
    from storage.models import Defect, Repair, Run

    catalog = make_catalog(5, 2, defect_share=1.0, no_manifest=0)
    seed_bucket(runtime, catalog)
    real_put = runtime.store.put_bytes

    def put_bytes(key, *args, **kwargs):
        if key.startswith(settings.repaired_prefix):
            raise StorageError(f"S3 put_object on s3://{settings.bucket}/{key} failed: "
                               "SlowDown")
        return real_put(key, *args, **kwargs)

    monkeypatch.setattr(runtime.store, "put_bytes", put_bytes)
    result = nightly_sweep(prefix=settings.posters_prefix, repair="inline", limit=1)
    assert result["status"] == "completed"
    assert result["repairs_verified"] == 0 and result["repairs_failed"] >= 1
    with session_scope(runtime.engine) as s:
        repairs = list(s.scalars(select(Repair)))
    assert repairs and all(r.verdict == "failed" and r.artifacts == {} for r in repairs)
    assert all(r.reason.startswith("saving the repair failed: S3 put_object") for r in repairs)
    assert objects_without_rows(runtime) == (set(), set())
    assert not list(runtime.store.list(settings.artifacts_prefix))

    monkeypatch.setattr(runtime.store, "put_bytes", real_put)

    def refuse(*args, **kwargs):
        raise OperationalError("INSERT INTO repairs", {}, Exception("disk I/O error"))

    monkeypatch.setattr(records, "record_repairs", refuse)
    monkeypatch.setattr(tasks.save_repair, "retries", 0)
    with pytest.raises(StorageError, match="cannot write to database sqlite:.*disk I/O error"):
        nightly_sweep(prefix=settings.posters_prefix, repair="inline")
    assert not list(runtime.store.list(settings.artifacts_prefix))
    assert not list(runtime.store.list(settings.repaired_prefix))
    with session_scope(runtime.engine) as s:
        last = s.scalars(select(Run).order_by(Run.id.desc())).first()
        assert (last.status, last.error) == ("failed", "cannot write to database "
                                             f"{runtime.engine.url}: disk I/O error")
        assert s.scalar(select(func.count()).select_from(Defect)
                        .where(Defect.status == "claimed")) >= 1


@pytest.mark.slow
def test_a_crashing_repair_or_a_poster_gone_since_its_scan_fails_its_defects_only(
    prefect_harness, settings, runtime, monkeypatch
):
    # fault injection: the refiner raises something posterqa never raises on purpose
    from catalog.dataset import poster_key
    from flows import records
    from flows.sweep import nightly_sweep, repair_pending
    from storage.db import session_scope
    from storage.models import Defect, Repair

    catalog = make_catalog(5, 2, defect_share=1.0, no_manifest=0)
    seed_bucket(runtime, catalog)
    gone, crashing = (poster_key(p, settings.posters_prefix) for p in catalog.posters)
    monkeypatch.setattr(records, "hand_off_repairs", lambda logger: None)
    assert nightly_sweep(prefix=settings.posters_prefix, repair="handoff")["status"] == (
        "completed")
    runtime.store.delete(gone)

    class Crashing:
        def repair(self, *args, **kwargs):
            raise RuntimeError("simulated refiner bug")

    monkeypatch.setattr(runtime, "refiner", Crashing)
    result = repair_pending()

    assert result["status"] == "completed" and result["repairs_verified"] == 0
    keys = {a.id: a.key for a, _ in _assets(runtime).values()}
    with session_scope(runtime.engine) as s:
        rows = s.execute(select(Defect.asset_id, Repair.verdict, Repair.reason)
                         .join(Repair, Repair.defect_id == Defect.id)).all()
        assert s.scalar(select(func.count()).select_from(Defect)
                        .where(Defect.status.in_(("pending", "claimed")))) == 0
    assert rows and result["repairs_failed"] == len(rows)
    for asset_id, verdict, reason in rows:
        assert verdict == "failed"
        if keys[asset_id] == gone:
            assert reason == ("reading the poster failed: ObjectNotFoundError: object "
                              f"s3://{settings.bucket}/{gone} does not exist")
        else:
            assert keys[asset_id] == crashing
            assert reason == "repair failed: RuntimeError: simulated refiner bug"
    assert objects_without_rows(runtime) == (set(), set())
