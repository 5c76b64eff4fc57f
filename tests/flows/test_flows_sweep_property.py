"""Property: whatever the manifest says and whatever the key is, a sweep on the real
SeaweedFS completes; each poster is recorded once (scanned, with a reason when it could
not be checked); store and database agree (no object under repaired/ or artifacts/
without its row, no row naming a missing object); a second sweep finds nothing new.

Hypothesis draws the examples (a bounded, derandomised number, so CI sees the same
ones every time); each example gets its own prefix in one bucket and database."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from flows_support import make_catalog, objects_without_rows, seed_bucket
from hypothesis import HealthCheck, Phase, example, given, reject, settings
from hypothesis import strategies as st
from sqlalchemy import select

pytestmark = pytest.mark.slow

N_EXAMPLES = 12
_prefixes = itertools.count(1)

SCALARS = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=12)
BRANDS = (st.sampled_from(["GOOD", "GOOD", "../posters/acme", "acme/../x", "..", ".", "",
                           "a\\b", " x", "ghost", "海报"])
          | st.text(st.characters(codec="utf-8"), max_size=20) | SCALARS)
COPY = (st.lists(st.text(st.characters(codec="utf-8"), max_size=24), max_size=3)
        | st.text(max_size=24) | SCALARS)
HINT = st.fixed_dictionaries({"kind": st.sampled_from(["text", "logo", "?"]),
                              "bbox": st.lists(st.integers(-50, 3000), max_size=5)})
MANIFEST = st.fixed_dictionaries(
    {"brand": BRANDS},
    optional={"copy": COPY, "logo_required": st.booleans() | SCALARS,
              "hints": st.lists(HINT, max_size=2)},
)
MANIFEST_BYTES = st.one_of(
    st.none(),  # no manifest: reference-free mode
    st.just("GOOD"), st.just("GOOD"),  # the catalog's own manifest (defects to repair)
    MANIFEST.map(lambda m: json.dumps(m).encode()),
    st.binary(max_size=40), st.just(b"[1]"),
)
NAMES = st.text(st.characters(codec="utf-8"), min_size=1, max_size=30)
IMAGES = st.sampled_from(["poster", "poster", "small", "garbage"])  # mostly real posters


@pytest.fixture
def seeded(runtime):
    catalog = make_catalog(7, 1, defect_share=1.0, no_manifest=0)
    seed_bucket(runtime, catalog)
    from catalog.dataset import poster_key

    key = poster_key(catalog.posters[0], runtime.settings.posters_prefix)
    manifest = json.loads(runtime.store.get_bytes(key.removesuffix(".png") + ".json"))
    return runtime, runtime.store.get_bytes(key), manifest


def _image(kind: str, poster: bytes) -> bytes:
    from posterqa.imaging import encode_png

    if kind == "poster":
        return poster
    if kind == "small":
        return encode_png(np.full((40, 56, 3), 180, np.uint8))
    return b"\x89PNG\r\n\x1a\n-not-really"


def _manifest(raw, good: dict) -> bytes | None:
    if raw == "GOOD":
        return json.dumps(good).encode()
    if isinstance(raw, bytes) and raw.startswith(b"{"):
        data = json.loads(raw)
        if data.get("brand") == "GOOD":
            data["brand"] = good["brand"]
        return json.dumps(data).encode()
    return raw


@settings(max_examples=N_EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=NAMES, image=IMAGES, manifest=MANIFEST_BYTES, ext=st.sampled_from(
    [".png", ".PNG", ".jpg", ".webp"]))
@example(name="spaced name ü 海报 #1?", image="poster", manifest="GOOD", ext=".png")
@example(name="trav", image="poster",
         manifest=json.dumps({"brand": "../posters/acme", "copy": ["x"]}).encode(), ext=".png")
def test_any_manifest_and_key_sweep_to_a_consistent_store_and_db(
    prefect_harness, seeded, name, image, manifest, ext
):
    from flows.sweep import nightly_sweep
    from posterqa.errors import StorageError
    from posterqa.manifest import is_poster_key, manifest_key_for
    from storage.db import session_scope
    from storage.models import Asset, Scan

    runtime, poster, good = seeded
    prefix = f"{runtime.settings.posters_prefix}h{next(_prefixes)}/"
    key = f"{prefix}{name}{ext}"
    try:
        runtime.store.put_bytes(key, _image(image, poster), content_type="image/png")
        body = _manifest(manifest, good)
        if body is not None:
            runtime.store.put_bytes(manifest_key_for(key), body,
                                    content_type="application/json")
    except StorageError:
        reject()  # a key the server itself refuses (a "." or ".." segment, too long)
    listed = [i.key for i in runtime.store.list(prefix) if is_poster_key(i.key)]

    result = nightly_sweep(prefix=prefix, repair="inline")

    assert result["status"] == "completed"
    assert result["posters_scanned"] == len(listed)
    with session_scope(runtime.engine) as s:
        for k in listed:
            asset = s.scalars(select(Asset).where(Asset.key == k)).one()
            outcomes = list(s.scalars(select(Scan.outcome).where(Scan.asset_id == asset.id)))
            assert len(outcomes) == 1, k
            if outcomes[0] == "error":
                assert asset.status == "failed" and asset.last_error, k
            else:
                assert asset.last_error is None, (k, asset.last_error)
    assert objects_without_rows(runtime) == (set(), set())
    assert nightly_sweep(prefix=prefix, repair="inline")["posters_scanned"] == 0
