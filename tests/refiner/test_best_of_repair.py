"""Best-of-N: every try verified by the refiner core, the best verified one kept."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from detectors.types import Box
from posterqa.errors import BackendError, InputError
from refiner.backends.base import RefinerBackend, register
from refiner.best_of import BestOfResult, choose_best, repair_best_of, seeds_for
from refiner.core import Refiner

TARGET = np.array([250, 250, 250])


@register("test-seed-colour")
class SeedColourBackend(RefinerBackend):
    """Paints the mask a grey level chosen by the seed; seed 13 fails like an OOM."""

    size_multiple = 32
    deterministic = False
    levels = {1: 40, 2: 245, 3: 120, 4: 250, 5: 230}

    def refine(self, crop, crop_mask, prompt, reference=None, *, seed=None, hints=None):
        if seed == 13:
            raise BackendError("refineanything ran out of GPU memory on a 64x64 crop")
        out = crop.copy()
        out[crop_mask > 0] = self.levels.get(seed, 0)
        return out


@register("test-constant")
class ConstantBackend(RefinerBackend):
    """A deterministic backend: the seed changes nothing."""

    size_multiple = 32
    calls = 0

    def refine(self, crop, crop_mask, prompt, reference=None, *, seed=None, hints=None):
        ConstantBackend.calls += 1
        out = crop.copy()
        out[crop_mask > 0] = 250
        return out


def brightness_checker(image: np.ndarray, box: Box, expected: str) -> tuple[bool, str, float]:
    """Scores how close the region's core is to the target colour; matches above 0.9.

    The core leaves out the outer 6 px, where the published paste-back's blend weight is
    below 1 and the old pixels show through.
    """
    core = Box(box.x0 + 6, box.y0 + 6, box.x1 - 6, box.y1 - 6)
    region = image[core.slice()].reshape(-1, 3).astype(float)
    score = 1.0 - float(np.abs(region.mean(axis=0) - TARGET).mean()) / 255.0
    return (score >= 0.9, expected if score >= 0.9 else "?", score)


def _poster() -> np.ndarray:
    """A gradient with old "glyphs" (dark strokes) 6 px inside the repaired box."""
    yy, xx = np.mgrid[0:120, 0:160]
    img = np.stack([xx, yy, np.full_like(xx, 60)], axis=2).astype(np.uint8)
    for x in range(56, 104, 5):
        img[46:64, x:x + 2] = 10
    return img


def _refiner(backend: str) -> Refiner:
    from refiner.backends import get_backend

    return Refiner(get_backend(backend, pixel_budget=64 * 64), pixel_budget=64 * 64, margin=8,
                   text_checker=brightness_checker)


def test_keeps_the_best_verified_try_and_records_every_try() -> None:
    poster = _poster()
    before = poster.copy()
    result = repair_best_of(_refiner("test-seed-colour"), poster, Box(50, 40, 110, 70),
                            "refine the text 'SALE'", seeds=[1, 2, 3, 4, 5])
    assert isinstance(result, BestOfResult) and result.ok
    assert result.seeds == (1, 2, 3, 4, 5)
    assert [t.verified for t in result.tries] == [False, True, False, True, True]
    assert result.best_seed == 4 and result.best is result.tries[3].result
    assert result.best.seed == 4 and result.verified_count == 3
    assert result.best.verification.region.score == max(t.score for t in result.tries)
    assert np.array_equal(poster, before)
    record = result.to_json()
    assert record["best_seed"] == 4 and len(record["tries"]) == 5
    assert record["tries"][0]["verdict"] == "failed"
    assert "text_mismatch" in record["tries"][0]["reasons"]


def test_no_verified_try_means_no_best_but_all_tries_kept() -> None:
    result = repair_best_of(_refiner("test-seed-colour"), _poster(), Box(50, 40, 110, 70),
                            "refine the text 'SALE'", seeds=[1, 3])
    assert not result.ok and result.best is None and result.best_index is None
    assert len(result.tries) == 2 and all(t.result is not None for t in result.tries)


def test_a_failing_try_is_recorded_and_the_next_seed_runs() -> None:
    result = repair_best_of(_refiner("test-seed-colour"), _poster(), Box(50, 40, 110, 70),
                            "refine the text 'SALE'", seeds=[13, 2])
    first, second = result.tries
    assert first.result is None and "out of GPU memory" in first.error
    assert first.reasons == ("backend_error",) and first.to_json()["verdict"] == "error"
    assert result.best_seed == 2


def test_stop_at_score_ends_early() -> None:
    result = repair_best_of(_refiner("test-seed-colour"), _poster(), Box(50, 40, 110, 70),
                            "refine the text 'SALE'", seeds=[1, 2, 4, 5], stop_at_score=0.95)
    assert result.seeds == (1, 2) and result.best_seed == 2


def test_deterministic_backend_runs_once() -> None:
    ConstantBackend.calls = 0
    result = repair_best_of(_refiner("test-constant"), _poster(), Box(50, 40, 110, 70),
                            "refine the text 'SALE'", seeds=seeds_for(4))
    assert ConstantBackend.calls == 1 and result.seeds == (0,) and result.ok


def test_ties_go_to_lower_band_shift_then_the_earlier_try() -> None:
    poster = _poster()
    refiner = _refiner("test-seed-colour")
    a = repair_best_of(refiner, poster, Box(50, 40, 110, 70), "refine the text 'SALE'",
                       seeds=[4]).tries[0]
    b = repair_best_of(refiner, poster, Box(50, 40, 110, 70), "refine the text 'SALE'",
                       seeds=[4]).tries[0]
    from dataclasses import replace

    assert choose_best([a, replace(b, index=1)]) == 0
    assert choose_best([replace(a, result=None, error="x"), replace(b, index=1)]) == 1


@pytest.mark.parametrize("seeds", [[], [1, 1], list(range(65))])
def test_bad_seed_lists_are_input_errors(seeds: list[int]) -> None:
    with pytest.raises(InputError):
        repair_best_of(_refiner("test-seed-colour"), _poster(), Box(50, 40, 110, 70), "x",
                       seeds=seeds)
    with pytest.raises(InputError):
        seeds_for(0)


def test_best_of_through_the_tiny_refineanything_backend() -> None:
    pytest.importorskip("diffusers")
    torch = pytest.importorskip("torch")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from posterqa.settings import Settings
    from refiner.backends.qwen_parts import build_components
    from refiner.backends.refineanything import RefineAnythingBackend

    backend = RefineAnythingBackend(
        Settings(refineanything_allow_cpu=True, refineanything_steps=2),
        components=build_components("tiny"), pixel_budget=64 * 64,
        condition_image_size=56 * 56)
    seen: list[Any] = []

    def checker(image: np.ndarray, box: Box, expected: str) -> tuple[bool, str, float]:
        # a real, pixel-based score: the seed with the brighter region wins
        score = float(image[box.slice()].mean()) / 255.0
        seen.append(score)
        return (True, expected, score)

    # random weights paint grey: the band colour check would fail every try, so it is
    # lifted here to let the selection between two real model outputs show
    refiner = Refiner(backend, pixel_budget=64 * 64, margin=8, text_checker=checker,
                      band_tolerance=1000.0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model: threads only cost on a busy 2-core box
    try:
        result = repair_best_of(refiner, _poster(), Box(50, 40, 110, 70),
                                "refine the text 'A'", seeds=[21, 22])
    finally:
        torch.set_num_threads(threads)
    assert [c.seed for c in backend.calls] == [21, 22]
    assert len(result.tries) == 2 and result.ok and len(set(seen)) == 2
    assert result.best_seed == (21, 22)[int(np.argmax(seen))]
    assert not np.array_equal(result.tries[0].result.image, result.tries[1].result.image)
