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
    assert repaired_key_for(s, "posters/acme/p1.JPG") == "repaired/acme/p1.png"
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
