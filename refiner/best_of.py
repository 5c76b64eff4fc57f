"""Best-of-N: repair one region with several seeds and keep the best verified try.

::

    result = repair_best_of(refiner, poster, defect, prompt, seeds=seeds_for(4, base=0))
    if result.ok:
        save(result.best.image)
    audit(result.tries)  # every try: seed, verdict, reasons, score, seconds, error

Every try goes through :meth:`refiner.core.Refiner.repair`, so each one is cropped,
refined, pasted back and verified exactly like a single repair; best-of only chooses.

**Criterion** (:func:`rank_key`). Only *verified* tries can be chosen; among them the
best is the one with

1. the highest region score (the text re-read's score, or the logo comparison's score;
   a try whose region was not re-checked counts as score 0),
2. then the smallest colour shift in the blend band (mean ΔE),
3. then the smallest background MSE,
4. then the earliest try (the order of ``seeds``).

When no try is verified, :attr:`BestOfResult.best` is None and the region counts as
failed; the tries are still all recorded (with their reasons) for the audit trail.

A try whose backend fails (:class:`~posterqa.errors.BackendError`, e.g. out of GPU
memory after the backend's own retry) is recorded with its error and the next seed is
tried. Bad input (:class:`~posterqa.errors.InputError`) and a changed background
(:class:`~posterqa.errors.BackgroundChangedError`, a bug) are raised at once: another
seed would not help.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from posterqa.errors import BackendError, InputError
from refiner.core import Refiner, RepairResult

log = logging.getLogger(__name__)

MAX_TRIES = 64


@dataclass(frozen=True)
class Try:
    """One seed's attempt: its result (None when the backend failed) or its error."""

    index: int
    seed: int
    result: RepairResult | None
    error: str | None
    seconds: float

    @property
    def verified(self) -> bool:
        return self.result is not None and self.result.verification.ok

    @property
    def score(self) -> float:
        """The region check's score (0 when the region was not re-checked or it failed)."""
        if self.result is None or self.result.verification.region is None:
            return 0.0
        return float(self.result.verification.region.score)

    @property
    def reasons(self) -> tuple[str, ...]:
        if self.result is None:
            return ("backend_error",)
        return self.result.verification.reasons

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready record of this try (for audit rows)."""
        v = self.result.verification if self.result is not None else None
        return {
            "index": self.index,
            "seed": self.seed,
            "verdict": v.verdict if v is not None else "error",
            "reasons": list(self.reasons),
            "score": round(self.score, 4),
            "band_color_shift": None if v is None else round(float(v.band_color_shift), 4),
            "mse_bg": None if v is None else float(v.mse_bg),
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


@dataclass(frozen=True)
class BestOfResult:
    """All tries of one region and the chosen one.

    ``best``: the chosen verified :class:`RepairResult`, or None when no try verified;
    ``best_index``: its position in ``tries`` (None likewise); ``tries``: every try in
    seed order.
    """

    best: RepairResult | None
    best_index: int | None
    tries: tuple[Try, ...]
    criterion: str = "verified; max region score; min band colour shift; min mse_bg; first"

    @property
    def ok(self) -> bool:
        return self.best is not None

    @property
    def best_seed(self) -> int | None:
        return None if self.best_index is None else self.tries[self.best_index].seed

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(t.seed for t in self.tries)

    @property
    def verified_count(self) -> int:
        return sum(t.verified for t in self.tries)

    def to_json(self) -> dict[str, Any]:
        return {
            "best_index": self.best_index,
            "best_seed": self.best_seed,
            "criterion": self.criterion,
            "tries": [t.to_json() for t in self.tries],
        }


def seeds_for(n: int, base: int = 0) -> tuple[int, ...]:
    """``n`` consecutive seeds starting at ``base`` (the default seed schedule)."""
    if n < 1 or n > MAX_TRIES:
        raise InputError(f"best-of needs 1..{MAX_TRIES} tries, got {n}")
    return tuple(base + i for i in range(n))


def rank_key(attempt: Try) -> tuple[float, float, float, int]:
    """Sort key of a *verified* try: smaller is better (see the module docstring)."""
    assert attempt.result is not None
    v = attempt.result.verification
    return (-attempt.score, float(v.band_color_shift), float(v.mse_bg), attempt.index)


def choose_best(tries: Sequence[Try]) -> int | None:
    """Index of the best verified try in ``tries``, or None when none is verified."""
    verified = [t for t in tries if t.verified]
    if not verified:
        return None
    return min(verified, key=rank_key).index


def repair_best_of(
    refiner: Refiner,
    image: np.ndarray,
    mask: Any,
    prompt: str,
    *,
    seeds: Sequence[int],
    reference: Any = None,
    hints: Mapping[str, Any] | None = None,
    expected: str | None = None,
    kind: str = "text",
    stop_at_score: float | None = None,
) -> BestOfResult:
    """Repair the region ``mask`` of ``image`` once per seed; keep the best verified try.

    ``image``: RGB ``uint8 [H, W, 3]`` (never modified); ``mask``: ``uint8 [H, W]`` (255
    = edit), a Box or a Defect, as :meth:`Refiner.repair` takes; ``seeds``: distinct
    ints, tried in order. ``stop_at_score``: stop early once a verified try reaches this
    region score (None: try every seed). Returns a :class:`BestOfResult` holding every
    try. A backend whose ``deterministic`` flag is True (the compositor) gives the same
    result for every seed, so only the first seed is tried.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise InputError("best-of needs at least one seed")
    if len(seeds) > MAX_TRIES:
        raise InputError(f"best-of takes at most {MAX_TRIES} seeds, got {len(seeds)}")
    if len(set(seeds)) != len(seeds):
        raise InputError(f"best-of seeds must be distinct, got {seeds}")
    if getattr(refiner.backend, "deterministic", False):
        seeds = seeds[:1]  # the seed does not change a deterministic backend's output

    tries: list[Try] = []
    for index, seed in enumerate(seeds):
        start = time.perf_counter()
        try:
            result = refiner.repair(image, mask, prompt, reference=reference, hints=hints,
                                    seed=seed, expected=expected, kind=kind)
        except BackendError as exc:
            log.warning("best-of try %d (seed %d) failed: %s", index, seed, exc)
            tries.append(Try(index, seed, None, str(exc), time.perf_counter() - start))
            continue
        attempt = Try(index, seed, result, None, time.perf_counter() - start)
        tries.append(attempt)
        log.info("best-of try %d (seed %d): %s score %.3f %s", index, seed,
                 result.verification.verdict, attempt.score, ",".join(attempt.reasons))
        if stop_at_score is not None and attempt.verified and attempt.score >= stop_at_score:
            break

    best_index = choose_best(tries)
    best = tries[best_index].result if best_index is not None else None
    return BestOfResult(best=best, best_index=best_index, tries=tuple(tries))
