"""Small pure pieces of the flows: keys, the write guard, heat map, summary, trigger."""

from __future__ import annotations

import os

import numpy as np
import pytest

from posterqa.errors import InputError, StorageError
from posterqa.settings import Settings


def test_repaired_key_keeps_the_relative_key_under_the_repaired_prefix():
    from flows.repairing import artifact_key, repaired_key_for

    s = Settings()
    assert repaired_key_for(s, "posters/acme/p1.png") == "repaired/acme/p1.png"
    # the repaired poster keeps the original's format, so its extension too
    assert repaired_key_for(s, "posters/acme/p1.JPG") == "repaired/acme/p1.JPG"
    assert artifact_key(s, 3, 17, 2, "diff") == "artifacts/3/17/2/diff.png"


def test_guard_refuses_any_write_under_the_posters_prefix():
    from flows.repairing import guard_write

    s = Settings()
    assert guard_write(s, "repaired/acme/p1.png") == "repaired/acme/p1.png"
    with pytest.raises(StorageError, match="refusing to write posters/acme/p1.png"):
        guard_write(s, "posters/acme/p1.png")


def test_heat_map_is_black_where_nothing_changed():
    from flows.repairing import heat_map

    before = np.zeros((4, 5, 3), np.uint8)
    after = before.copy()
    after[1, 2] = (10, 0, 0)
    out = heat_map(before, after)
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8
    assert out[1, 2].any()
    out[1, 2] = 0
    assert not out.any()


def test_working_images_round_trip_bit_exactly(tmp_path):
    from flows.repairing import load_working, save_working

    img = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    sha = save_working(tmp_path / "w.npy", img)
    assert np.array_equal(load_working(tmp_path / "w.npy"), img) and len(sha) == 64


def test_summary_rows_list_defects_by_kind():
    from flows.summary import summary_rows

    rows = dict(summary_rows({"posters_scanned": 3, "defects_by_kind": {"text": 2, "logo": 1},
                              "repairs_verified": 2}))
    assert rows["posters scanned"] == "3" and rows["defects found"] == "3"
    assert rows["  text"] == "2" and rows["  logo"] == "1" and rows["repairs verified"] == "2"


def test_trigger_box_parsing_rejects_bad_boxes():
    from detectors.types import Box
    from flows.trigger import _box_list

    assert _box_list([Box(1, 2, 3, 4), "5,6,7,8", [9, 10, 11, 12]]) == [
        [1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
    with pytest.raises(InputError, match="must be"):
        _box_list([[1, 2, 3]])


def test_configure_prefect_keeps_values_already_set(tmp_path, monkeypatch):
    from flows.prefect_env import configure_prefect

    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "true")
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    applied = configure_prefect(Settings(state_dir=tmp_path))
    assert os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "true"
    assert applied["PREFECT_HOME"] == str((tmp_path / "prefect").resolve())
    assert (tmp_path / "prefect").is_dir()


class _DictStore:
    def __init__(self):
        self.objects: dict[str, tuple[bytes, str]] = {}

    def put_bytes(self, key, data, content_type="", metadata=None):
        self.objects[key] = (data, content_type)

    def exists(self, key):
        return key in self.objects

    def delete(self, key):
        self.objects.pop(key, None)


def _writes_for(tmp_path, source: bytes, key: str, repaired: np.ndarray):
    from flows.repairing import (
        ClaimGroup,
        DefectJob,
        RefineOutcome,
        WorkingImage,
        _Writes,
        save_working,
    )

    original = tmp_path / "orig.bin"
    original.write_bytes(source)
    start = WorkingImage(path=str(original), sha256="x", source_key=key)
    sha = save_working(tmp_path / "final.npy", repaired)
    final = WorkingImage(path=str(tmp_path / "final.npy"), sha256=sha, source_key=key)
    group = ClaimGroup(asset_id=1, asset_key=key, etag='"e"', brand_id=None,
                       jobs=(DefectJob(id=5, attempt=1, defect={}),))
    outcome = RefineOutcome(defect_id=5, attempt=1, kind="text", prompt="p", backend="b",
                            seed=0, before=start, after=final, verdict="verified")
    store = _DictStore()
    return _Writes(store, Settings(), group, [outcome]), final, store, outcome


def test_repaired_poster_is_the_original_jpeg_with_its_profile(tmp_path):
    """The save writes the original file repaired (format, ICC kept), not an sRGB PNG."""
    import io

    from PIL import Image

    from flows.repairing import _with_fidelity
    from posterqa.imaging import load_image

    yy, xx = np.mgrid[0:96, 0:128]
    poster = np.stack([xx * 2, yy * 2, 0 * xx + 120], axis=2).astype(np.uint8)
    buf = io.BytesIO()
    from PIL import ImageCms

    # an embedded profile (LittleCMS's sRGB), as phones and generators write one
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(poster).save(buf, "JPEG", quality=75, subsampling=0, icc_profile=icc)
    source = buf.getvalue()
    repaired = load_image(source).copy()
    repaired[40:56, 32:96] = (250, 250, 250)
    writes, final, store, outcome = _writes_for(tmp_path, source, "posters/a/p1.jpg", repaired)
    uploaded, key = writes.upload(final)
    assert key == "repaired/a/p1.jpg"
    data, ctype = store.objects[key]
    got = Image.open(io.BytesIO(data))
    assert ctype == "image/jpeg" and got.format == "JPEG" and got.info["icc_profile"] == icc
    [recorded] = _with_fidelity([outcome], writes)
    assert recorded.verdict == "verified"
    assert recorded.metrics["asset"]["format"] == "JPEG"
    assert recorded.metrics["asset"]["meets_bar"] is True


def test_repaired_png_keeps_every_pixel_outside_the_repair(tmp_path):
    import io

    from PIL import Image

    from flows.repairing import _with_fidelity
    from posterqa.imaging import load_image

    rng = np.random.default_rng(3)
    poster = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(poster).quantize(32).save(buf, "PNG")  # a palette PNG
    source = buf.getvalue()
    repaired = load_image(source).copy()
    repaired[10:20, 10:30] = 0
    writes, final, store, outcome = _writes_for(tmp_path, source, "posters/a/p2.png", repaired)
    _, key = writes.upload(final)
    got = Image.open(io.BytesIO(store.objects[key][0]))
    before = np.asarray(Image.open(io.BytesIO(source)))
    after = np.asarray(got)
    assert got.mode == "P"
    outside = np.ones(before.shape, bool)
    outside[10:20, 10:30] = False
    assert np.array_equal(after[outside], before[outside])
    [recorded] = _with_fidelity([outcome], writes)
    assert recorded.metrics["asset"]["outside_changed"] == 0
