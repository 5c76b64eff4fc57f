"""Bad input: each broken poster is recorded with a clear reason and the rest goes on;
an unreachable database stops the run with one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from flows_support import REPO_ROOT, make_catalog, seed_bucket, settings_env
from sqlalchemy import select


def _asset(runtime, key):
    from storage.db import session_scope
    from storage.models import Asset, Scan

    with session_scope(runtime.engine) as s:
        asset = s.scalars(select(Asset).where(Asset.key == key)).one()
        outcome = s.scalars(select(Scan.outcome).where(Scan.asset_id == asset.id)).one()
        return asset, outcome


def _put(runtime, key, data, ctype="image/png"):
    runtime.store.put_bytes(key, data, content_type=ctype)


def _run_one(runtime, key, etag="e1"):
    """fetch -> detect -> record for one key, through the tasks' own functions."""
    from flows.detection import PosterRef
    from flows.tasks import detect_defects, fetch_poster, open_run, record_defects

    run_id = open_run.fn("sweep", "posters/", {})
    found = detect_defects.fn(fetch_poster.fn(PosterRef(key=key, etag=etag)))
    record_defects.fn(found, run_id)
    return found


def test_corrupt_poster_is_recorded_as_failed_with_the_decoder_reason(runtime):
    key = "posters/acme/corrupt.png"
    _put(runtime, key, b"\x89PNG\r\n\x1a\n this is not a png")
    found = _run_one(runtime, key)
    assert found.error and found.error.startswith("corrupt poster: cannot decode image")
    asset, outcome = _asset(runtime, key)
    assert (asset.status, outcome) == ("failed", "error")
    assert asset.last_error == found.error


def test_manifest_naming_an_unknown_brand_is_recorded_with_the_brand(runtime):
    from posterqa.imaging import encode_png

    key = "posters/ghost/p1.png"
    _put(runtime, key, encode_png(__import__("numpy").full((64, 64, 3), 200, "uint8")))
    _put(runtime, "posters/ghost/p1.json",
         json.dumps({"brand": "ghost", "copy": ["SALE"]}).encode(), "application/json")
    found = _run_one(runtime, key)
    assert found.error == ("manifest names unknown brand 'ghost': "
                           "brands/ghost/brand.json does not exist")
    asset, _ = _asset(runtime, key)
    assert asset.status == "failed" and "ghost" in asset.last_error


def test_object_deleted_between_listing_and_reading_is_recorded(runtime):
    from flows import records

    _put(runtime, "posters/acme/gone.png", b"x")
    refs = records.list_new_posters(runtime.store, runtime.engine, runtime.settings,
                                    prefix="posters/", limit=None)
    assert [r.key for r in refs] == ["posters/acme/gone.png"]
    runtime.store.delete("posters/acme/gone.png")  # deleted after listing
    found = _run_one(runtime, refs[0].key, refs[0].etag)
    assert found.error == "poster posters/acme/gone.png was deleted between listing and reading"
    asset, outcome = _asset(runtime, "posters/acme/gone.png")
    assert asset.status == "failed" and outcome == "error"


@pytest.mark.slow
def test_sweep_goes_on_past_bad_posters_and_scans_one_without_manifest(
    prefect_harness, settings, runtime
):
    from catalog.dataset import poster_key
    from flows.sweep import nightly_sweep

    catalog = make_catalog(5, 2, defect_share=0.0, no_manifest=1)
    seed_bucket(runtime, catalog)
    _put(runtime, "posters/acme/zz-corrupt.png", b"GIF89a-broken")
    _put(runtime, "posters/acme/zz-ghost.png", runtime.store.get_bytes(
        poster_key(catalog.posters[0], settings.posters_prefix)))
    _put(runtime, "posters/acme/zz-ghost.json", b'{"brand": "ghost", "copy": ["x"]}',
         "application/json")

    result = nightly_sweep(prefix=settings.posters_prefix, repair="inline")

    assert result["posters_scanned"] == 4 and result["posters_error"] == 2
    no_manifest = poster_key(catalog.posters[1], settings.posters_prefix)
    asset, outcome = _asset(runtime, no_manifest)
    assert asset.has_manifest is False and outcome in ("clean", "defective")
    good, _ = _asset(runtime, poster_key(catalog.posters[0], settings.posters_prefix))
    assert good.has_manifest and good.last_error is None


def test_unreachable_database_stops_the_sweep_with_one_line(settings):
    env = settings_env(settings)
    env["POSTERQA_DB_URL"] = "postgresql+psycopg://posterqa:pw@127.0.0.1:9/posterqa"
    out = subprocess.run([str(Path(sys.executable).parent / "posterqa"), "sweep"], env=env,
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("posterqa: error: cannot use database postgresql+psycopg://")
    assert "pw" not in lines[0]


def test_a_poster_is_fetched_with_all_its_brand_fonts(runtime):
    # a kit names a Latin and a CJK font: the text detector fits each line with the one
    # that draws it (with the first alone, Chinese copy had no rendering to compare)
    from catalog.dataset import poster_key
    from flows.detection import PosterRef
    from flows.tasks import fetch_poster
    from posterqa.fonts import covers_char

    catalog = make_catalog(7, 2)
    seed_bucket(runtime, catalog)
    key = poster_key(catalog.posters[0], runtime.settings.posters_prefix)
    fetched = fetch_poster.fn(PosterRef(key=key, etag="e1"))
    assert fetched.error is None
    assert len(fetched.font_paths) == 2 and fetched.font_path == fetched.font_paths[0]
    assert all(Path(p).is_file() for p in fetched.font_paths)
    assert not covers_char(fetched.font_paths[0], "开")
    assert covers_char(fetched.font_paths[1], "开")
