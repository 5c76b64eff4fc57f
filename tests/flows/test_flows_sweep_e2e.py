"""End to end: a seeded bucket -> nightly_sweep -> DB rows and repaired objects, checked
against the catalog generator's ground truth; then a second sweep finds nothing new."""

from __future__ import annotations

import pytest
from flows_support import make_catalog, seed_bucket
from sqlalchemy import func, select

pytestmark = pytest.mark.slow

N_POSTERS = 8


def _overlaps(bbox: list[int], box) -> bool:
    from detectors.types import Box

    return Box(*bbox).intersection(box) > 0


def test_sweep_matches_ground_truth_and_second_sweep_is_a_no_op(
    prefect_harness, settings, runtime
):
    from catalog.dataset import poster_key
    from flows.sweep import nightly_sweep
    from posterqa.imaging import load_image
    from storage.db import session_scope
    from storage.models import Asset, AuditEvent, Defect, Repair, Scan

    catalog = make_catalog(7, N_POSTERS, defect_share=0.5, no_manifest=1)
    seed_bucket(runtime, catalog)
    posters = {poster_key(p, settings.posters_prefix): p for p in catalog.posters}
    etags_before = {i.key: i.etag for i in runtime.store.list(settings.posters_prefix)}

    result = nightly_sweep(prefix=settings.posters_prefix, repair="inline")
    reader = runtime.text_detector()

    assert result["status"] == "completed"
    assert result["posters_scanned"] == N_POSTERS and result["posters_error"] == 0
    with session_scope(runtime.engine) as s:
        assets = {a.key: a for a in s.scalars(select(Asset))}
        defects = list(s.scalars(select(Defect)))
        repairs = list(s.scalars(select(Repair)))
        scans = s.scalar(select(func.count()).select_from(Scan))
        events = [(e.entity, e.entity_id, e.action) for e in s.scalars(select(AuditEvent))]
    assert set(assets) == set(posters) and scans == N_POSTERS

    logo_truth = logo_found = 0
    by_asset: dict[str, list] = {k: [] for k in posters}
    for d in defects:
        by_asset[next(k for k, a in assets.items() if a.id == d.asset_id)].append(d)
    for key, poster in posters.items():
        asset = assets[key]
        assert asset.has_manifest == (poster.manifest is not None), key
        if poster.manifest is None:
            continue  # reference-free: only unreadable text is reported
        for item in poster.defects:
            hits = [d for d in by_asset[key] if d.kind == item.kind
                    and _overlaps(d.bbox, item.box)]
            if item.kind == "logo":  # the logo detector's recall is its own benchmark
                logo_truth += 1
                logo_found += bool(hits)
                continue
            assert hits, f"{key}: truth {item.kind}/{item.defect} at {item.box} not recorded"
            # the text repair was verified, and the repaired poster reads as the
            # generator's truth in the truth box, while the original does not
            verified = [r for r in repairs if r.defect_id in {d.id for d in hits}
                        and r.verdict == "verified"]
            assert verified, f"{key}: text defect at {item.box} not repaired + verified"
            repaired = load_image(runtime.store.get_bytes(verified[0].repaired_key))
            assert reader.reread(repaired, item.box, item.expected).matches, key
            if item.defect == "wrong_chars":
                assert not reader.reread(poster.image, item.box, item.expected).matches, key

    assert logo_truth == 0 or logo_found >= 1, "no logo defect recorded: logo stage not wired"

    # no row points at a missing object; nothing written under the originals' prefix
    for r in repairs:
        keys = list(r.artifacts.values()) + ([r.repaired_key] if r.repaired_key else [])
        assert r.verdict == "failed" or set(r.artifacts) == {"crop", "mask", "before",
                                                            "after", "diff"}
        for k in keys:
            assert not k.startswith(settings.posters_prefix)
            assert runtime.store.exists(k), f"repair {r.id} points at missing {k}"
    etags_after = {i.key: i.etag for i in runtime.store.list(settings.posters_prefix)}
    assert etags_after == etags_before

    # every state change has its audit event
    for d in defects:
        assert ("defect", str(d.id), "detected") in events
        assert ("defect", str(d.id), "claimed") in events
        settled = {a for e, i, a in events if e == "defect" and i == str(d.id)}
        assert settled & {"repaired", "failed"}, f"defect {d.id} has no outcome event"
    assert sum(1 for e in events if e[2] == "scanned") == N_POSTERS
    assert len({r.defect_id for r in repairs}) == len(repairs) == len(defects)

    # a second sweep finds nothing new and writes no defect or repair rows
    again = nightly_sweep(prefix=settings.posters_prefix, repair="inline")
    assert again["posters_scanned"] == 0
    with session_scope(runtime.engine) as s:
        assert s.scalar(select(func.count()).select_from(Defect)) == len(defects)
        assert s.scalar(select(func.count()).select_from(Repair)) == len(repairs)
