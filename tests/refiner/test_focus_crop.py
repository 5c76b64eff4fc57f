"""Focus crop: tight box, margin in budget pixels, clamping, resize round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.types import Box
from posterqa.errors import InputError
from refiner.focus import budget_size, focus_crop, mask_bbox, poster_margin, resize_mask


def test_mask_bbox_is_tight_and_half_open() -> None:
    mask = np.zeros((5, 6), np.uint8)
    mask[1, 2] = 255
    mask[3, 4] = 255
    assert mask_bbox(mask) == Box(2, 1, 5, 4)
    assert mask_bbox(np.zeros((3, 3), np.uint8)) is None


def test_poster_margin_is_margin_at_the_whole_poster_budget_scale() -> None:
    m = poster_margin(4000, 3000, pixel_budget=1024 * 1024, margin=64)
    scale = math.sqrt(1024 * 1024 / (4000 * 3000))
    assert m * scale == pytest.approx(64.0, rel=1e-9)
    assert poster_margin(1024, 1024, pixel_budget=1024 * 1024, margin=64) == pytest.approx(64.0)
    assert poster_margin(10, 10, pixel_budget=100, margin=0) == 0.0


def test_budget_size_keeps_aspect_and_multiple() -> None:
    w, h = budget_size(400, 100, pixel_budget=1024 * 1024, multiple=32)
    assert w % 32 == 0 and h % 32 == 0
    assert w / h == pytest.approx(4.0, rel=0.05)
    assert abs(w * h - 1024 * 1024) / (1024 * 1024) < 0.05
    assert budget_size(3, 3, pixel_budget=9, multiple=1) == (3, 3)


def test_focus_crop_text_line_margin_is_64_px_of_the_poster_at_budget_scale() -> None:
    f = focus_crop((1536, 1024), Box(100, 300, 700, 360))
    assert f.mask_box == Box(100, 300, 700, 360)
    s = math.sqrt(1024 * 1024 / (1536 * 1024))
    assert (f.mask_box.x0 - f.box.x0) * s == pytest.approx(64, abs=s)
    assert f.margin_px == pytest.approx(64 / s)
    assert abs(f.target[0] * f.target[1] - 1024 * 1024) < 0.02 * 1024 * 1024


def test_focus_crop_near_edge_is_clamped() -> None:
    f = focus_crop((200, 300), Box(0, 190, 20, 200))
    assert f.box.x0 == 0 and f.box.y1 == 200
    assert f.box.inside(300, 200)


def test_focus_crop_tiny_region_keeps_min_margin() -> None:
    f = focus_crop((300, 300), Box(150, 150, 158, 158))  # 64 / s = 18.75 px < 20
    assert f.box == Box(130, 130, 178, 178)
    assert f.target == (1024, 1024)


def test_focus_crop_whole_poster_is_downscaled() -> None:
    f = focus_crop((1536, 1024), Box(0, 0, 1024, 1536), multiple=32)
    assert f.box == Box(0, 0, 1024, 1536)
    assert f.target[0] < 1024 and f.target[0] % 32 == 0 and f.target[1] % 32 == 0


def test_focus_crop_without_resize_keeps_crop_size() -> None:
    f = focus_crop((100, 100), Box(40, 40, 60, 60), resize=False)
    assert f.target == f.crop_size and not f.resized


def test_focus_crop_rejects_bad_masks() -> None:
    with pytest.raises(InputError, match="empty"):
        focus_crop((10, 10), np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError, match="12x10"):
        focus_crop((10, 10), np.full((10, 12), 255, np.uint8))
    with pytest.raises(InputError, match="outside"):
        focus_crop((10, 10), Box(20, 20, 30, 30))


def test_crop_and_back_round_trip_shapes() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    mask = np.zeros((120, 160), np.uint8)
    mask[50:60, 70:90] = 255
    f = focus_crop(image.shape[:2], mask, pixel_budget=256 * 256, multiple=16)
    crop, cmask = f.crop_image(image), f.crop_mask(mask)
    assert crop.shape == (f.target[1], f.target[0], 3)
    assert set(np.unique(cmask)) <= {0, 255} and cmask.any()
    back = f.to_crop_size(crop)
    assert back.shape == (f.box.height, f.box.width, 3)
    x, y = f.point_to_target(75.0, 55.0)
    assert f.point_to_image(x, y) == pytest.approx((75.0, 55.0))


def test_resize_mask_never_loses_thin_strokes_when_shrinking() -> None:
    mask = np.zeros((100, 100), np.uint8)
    mask[:, 50] = 255
    small = resize_mask(mask, (10, 10))
    assert small[:, 5].all() and small.sum() == 10 * 255
