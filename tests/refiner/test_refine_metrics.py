"""RefineEval metric definitions."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from detectors.types import Box
from refiner.metrics import mse, refine_eval, region_metrics


def test_mse_is_on_unit_scale_and_masked() -> None:
    a = np.zeros((2, 2, 3), np.uint8)
    b = a.copy()
    b[0, 0] = 255
    assert mse(a, b) == pytest.approx(0.25)
    where = np.array([[False, True], [True, True]])
    assert mse(a, b, where) == 0.0


def test_refine_eval_region_against_truth_and_background_against_input(caplog) -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    original = truth.copy()
    original[10:20, 10:30] = 0  # the defect
    repaired = original.copy()
    repaired[10:20, 10:30] = truth[10:20, 10:30]  # a perfect repair
    mask = np.zeros((40, 50), np.uint8)
    mask[10:20, 10:30] = 255
    with caplog.at_level(logging.INFO, logger="refiner.metrics"):
        ev = refine_eval(original, repaired, mask, truth=truth)
    assert ev.region_mse == 0.0 and ev.region_ssim == pytest.approx(1.0)
    assert ev.mse_bg == 0.0 and ev.ssim_bg < 1.0  # windows at the mask edge see the change
    assert ev.lpips is None and ev.dino is None and ev.clip is None
    assert region_metrics(original, truth, Box(10, 10, 30, 20))[0] > 0.1
