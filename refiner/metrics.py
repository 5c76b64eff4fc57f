"""RefineEval-style metrics for region repairs.

Definitions (images RGB ``uint8 [H, W, 3]``, scaled to ``[0, 1]`` for MSE):

- **region MSE / SSIM**: the repaired poster against a ground truth (the clean poster)
  inside the edit region's box;
- **MSE_bg / SSIM_bg**: the repaired poster against the *input* poster over the
  background, i.e. every pixel outside the edit mask. SSIM is the mean of the SSIM map
  (7x7 window, per channel) over background pixels. Windows that see no changed pixel
  have SSIM exactly 1, so only the neighbourhood of the changed box is computed.
- **LPIPS / DINO / CLIP**: only when their weights are on disk (see
  :func:`perceptual_metrics`); never downloaded, skipped with a logged notice otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.types import Box
from posterqa.errors import InputError

log = logging.getLogger(__name__)

SSIM_WIN = 7


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise InputError(f"images differ in shape: {a.shape} vs {b.shape}")


def changed_box(a: np.ndarray, b: np.ndarray) -> Box | None:
    """Tight box of the pixels where two same-shape images differ (None if identical)."""
    _check_pair(a, b)
    diff = a != b
    if diff.ndim == 3:
        diff = diff.any(axis=2)
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff.any(axis=0))
    return Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def mse(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    """Mean squared error on ``[0, 1]`` values, optionally over pixels where ``where``."""
    _check_pair(a, b)
    d = (a.astype(np.float64) - b.astype(np.float64)) / 255.0
    sq = d * d
    if where is not None:
        sel = np.asarray(where, dtype=bool)
        if not sel.any():
            return 0.0
        return float(sq[sel].mean())
    return float(sq.mean())


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM (mean over channels), ``float64 [H, W]``; 7x7 window, range 255."""
    from skimage.metrics import structural_similarity

    _check_pair(a, b)
    if min(a.shape[:2]) < SSIM_WIN:
        same = np.all(a == b, axis=2) if a.ndim == 3 else a == b
        return same.astype(np.float64)
    _, full = structural_similarity(
        a, b, win_size=SSIM_WIN, channel_axis=2 if a.ndim == 3 else None,
        data_range=255, full=True,
    )
    return full.mean(axis=2) if full.ndim == 3 else full


def ssim(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    """Mean SSIM, optionally over the pixels where ``where`` is set."""
    smap = ssim_map(a, b)
    if where is None:
        return float(smap.mean())
    sel = np.asarray(where, dtype=bool)
    return float(smap[sel].mean()) if sel.any() else 1.0


def _edit_region(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if mask is None:
        return np.zeros(shape[:2], dtype=bool)
    m = np.asarray(mask)
    if m.shape[:2] != tuple(shape[:2]):
        raise InputError(f"mask is {m.shape[:2]} but the image is {shape[:2]}")
    return m > 0 if m.ndim == 2 else (m > 0).any(axis=2)


def mse_bg(original: np.ndarray, repaired: np.ndarray, mask: np.ndarray | None) -> float:
    """MSE_bg: MSE over the pixels outside the edit mask (all pixels if mask is None)."""
    return mse(original, repaired, ~_edit_region(mask, original.shape))


def ssim_bg(original: np.ndarray, repaired: np.ndarray, mask: np.ndarray | None) -> float:
    """SSIM_bg: mean SSIM over the pixels outside the edit mask, whole poster.

    Computed exactly but only around the changed pixels: elsewhere every window sees
    identical pixels and SSIM is exactly 1.
    """
    bg = ~_edit_region(mask, original.shape)
    n_bg = int(bg.sum())
    if n_bg == 0:
        return 1.0
    box = changed_box(original, repaired)
    if box is None:
        return 1.0
    h, w = original.shape[:2]
    pad = SSIM_WIN  # more than the window radius
    win = box.pad(pad).clamp(w, h)
    # enlarge tiny windows so the SSIM window fits
    if win.width < SSIM_WIN or win.height < SSIM_WIN:
        win = win.pad(SSIM_WIN).clamp(w, h)
    smap = ssim_map(original[win.slice()], repaired[win.slice()])
    inner = Box(box.x0 - win.x0, box.y0 - win.y0, box.x1 - win.x0, box.y1 - win.y0)
    # only pixels within radius of the changed box can differ from 1
    reach = inner.pad(SSIM_WIN // 2 + 1).clamp(win.width, win.height)
    local = np.ones_like(smap)
    local[reach.slice()] = smap[reach.slice()]
    bg_win = bg[win.slice()]
    total = float(local[bg_win].sum()) + float(n_bg - int(bg_win.sum()))
    return total / n_bg


def region_metrics(repaired: np.ndarray, truth: np.ndarray, box: Box) -> tuple[float, float]:
    """``(MSE, SSIM)`` of the repaired poster against the ground truth inside ``box``."""
    _check_pair(repaired, truth)
    b = box.clamp(repaired.shape[1], repaired.shape[0])
    if b.area == 0:
        raise InputError(f"region box {box.as_list()} is outside the image")
    a, t = repaired[b.slice()], truth[b.slice()]
    return mse(a, t), ssim(a, t)


@dataclass(frozen=True)
class RefineEval:
    """RefineEval figures of one repair (perceptual ones None when not computed)."""

    region_mse: float | None
    region_ssim: float | None
    mse_bg: float
    ssim_bg: float
    lpips: float | None = None
    dino: float | None = None
    clip: float | None = None

    def to_json(self) -> dict[str, float | None]:
        return {k: (None if v is None else round(float(v), 6)) for k, v in self.__dict__.items()}


def refine_eval(
    original: np.ndarray,
    repaired: np.ndarray,
    mask: np.ndarray,
    *,
    truth: np.ndarray | None = None,
    region: Box | None = None,
    weights_dir: Path | None = None,
) -> RefineEval:
    """All RefineEval figures for one repair.

    ``original``/``repaired``/``truth``: RGB ``uint8 [H, W, 3]``; ``mask``: ``uint8 [H, W]``
    edit mask; ``region``: box for the region metrics (default: the mask's tight box).
    """
    region_mse = region_ssim = None
    if truth is not None:
        box = region if region is not None else Box.from_mask(mask)
        region_mse, region_ssim = region_metrics(repaired, truth, box)
    extra = perceptual_metrics(repaired, truth, weights_dir) if truth is not None else {}
    return RefineEval(
        region_mse=region_mse, region_ssim=region_ssim,
        mse_bg=mse_bg(original, repaired, mask), ssim_bg=ssim_bg(original, repaired, mask),
        lpips=extra.get("lpips"), dino=extra.get("dino"), clip=extra.get("clip"),
    )


_NOTICED: set[str] = set()


def perceptual_metrics(
    repaired: np.ndarray, truth: np.ndarray | None, weights_dir: Path | None
) -> Mapping[str, float]:
    """LPIPS / DINO / CLIP similarity when their weights are on disk, else ``{}``.

    Looks for ``weights_dir/{lpips,dino,clip}``; nothing is ever downloaded. Each
    missing metric is reported once per process with a logged notice.
    """
    found: dict[str, float] = {}
    for name in ("lpips", "dino", "clip"):
        path = None if weights_dir is None else Path(weights_dir) / name
        if path is None or not path.exists():
            if name not in _NOTICED:
                _NOTICED.add(name)
                log.info("%s skipped: no local weights (looked in %s); nothing is downloaded",
                         name.upper(), path or "<no weights dir>")
            continue
        # Local perceptual models are a production option; no weights ship with posterqa.
        if name not in _NOTICED:
            _NOTICED.add(name)
            log.info("%s weights found at %s but no loader is configured; skipped",
                     name.upper(), path)
    return found


# ------------------------------------------------------------------ old ink in the region
# Thresholds of the ink measure (RGB Euclidean distance to the background estimate):
# a pixel is ink when it stands INK_CONTRAST from the inpainted background; a pixel of
# old ink that no new ink covers is a ghost when more than GHOST_SHARE of its old
# contrast is left (and less than FULL_INK_SHARE). Chosen on the generated posters of
# benchmarks/bench_compositor.py (see RESIDUAL_INK_MAX in refiner.verify for the
# decision and its figures).
INK_CONTRAST = 40.0
GHOST_SHARE = 0.08
# a remnant fainter than this (RGB distance to the background estimate) is not counted:
# the estimate itself is off by up to ~25 levels next to blurred copy on gradients
# (at 10 or 20 the clean poster itself scored up to 0.09 / 0.05 on the blur defect)
GHOST_FLOOR = 30.0
# old ink kept at this share of its contrast or more is ink on purpose (a glyph kept or
# redrawn in place), not a ghost; below it, it is faded old ink
FULL_INK_SHARE = 0.7
_NEW_INK_SLACK_PX = 2  # anti-aliased edges of the new glyphs are not old ink


@dataclass(frozen=True)
class InkResidue:
    """What is left of the region's old ink after a repair.

    ``old_ink``: pixels of the edit mask that were ink in the input; ``new_ink``: ink
    pixels of the repaired mask; ``uncovered``: old-ink pixels no full-strength ink of
    the repair covers (2 px slack for anti-aliasing); ``ghost_px``: uncovered old-ink
    pixels left FADED (between ``GHOST_SHARE`` and ``FULL_INK_SHARE`` of their old
    contrast, and visible: ``GHOST_FLOOR``); ``residual``: their remaining contrast
    share summed and divided by ``old_ink`` (0: no ghost). Old ink left at full
    strength is not a ghost: whether the copy reads right is the re-read's question.
    """

    old_ink: int
    new_ink: int
    uncovered: int
    residual: float
    ghost_px: int

    def to_json(self) -> dict[str, float | int]:
        return {"old_ink": self.old_ink, "new_ink": self.new_ink, "uncovered": self.uncovered,
                "residual": round(self.residual, 4), "ghost_px": self.ghost_px}


def ink_residue(original: np.ndarray, repaired: np.ndarray, mask: np.ndarray) -> InkResidue:
    """Measure the old ink left inside ``mask`` (``uint8 [H, W]``, 255 = edit).

    The background is estimated from the input around the mask (Telea inpainting of
    the mask grown by 2 px), the same for the input and the repair, so the measure
    does not depend on the backend.
    """
    import cv2

    _check_pair(original, repaired)
    m = np.asarray(mask) > 0
    if m.shape != original.shape[:2]:
        raise InputError(f"mask {m.shape} does not match the image {original.shape[:2]}")
    if not m.any():
        return InkResidue(0, 0, 0, 0.0, 0)
    box = Box.from_mask(m.astype(np.uint8)).pad(8).clamp(original.shape[1], original.shape[0])
    sl = box.slice()
    orig = original[sl].astype(np.float32)
    rep = repaired[sl].astype(np.float32)
    mk = m[sl]
    hole = cv2.dilate(mk.astype(np.uint8) * 255, np.ones((5, 5), np.uint8))
    if hole.all():
        bg = np.broadcast_to(np.median(orig.reshape(-1, 3), axis=0), orig.shape)
    else:
        bg = cv2.inpaint(original[sl], hole, 5, cv2.INPAINT_TELEA).astype(np.float32)
    d_old = orig - bg
    d_new = rep - bg
    c_old = np.sqrt((d_old ** 2).sum(axis=2))
    c_new = np.sqrt((d_new ** 2).sum(axis=2))
    old = mk & (c_old > INK_CONTRAST)
    new = mk & (c_new > INK_CONTRAST)
    # strength of what is left of each old-ink pixel, along the old ink's colour
    strength = np.zeros(mk.shape, np.float32)
    if old.any():
        proj = (d_new[old] * d_old[old]).sum(axis=1) / np.maximum(
            (d_old[old] ** 2).sum(axis=1), 1e-6)
        strength[old] = np.clip(proj, 0.0, 1.0)
    # full-strength ink of the repair (new glyphs, or old glyphs kept on purpose) and
    # its anti-aliased edges (2 px) are not ghosts; faded old ink elsewhere is
    solid = new & ~(old & (strength < FULL_INK_SHARE))
    k = 2 * _NEW_INK_SLACK_PX + 1
    covered = cv2.dilate(solid.astype(np.uint8), np.ones((k, k), np.uint8)) > 0
    unc = old & ~covered
    faded = unc & (strength > GHOST_SHARE) & (c_new >= GHOST_FLOOR)
    share = np.where(faded, strength, 0.0)
    n_old = int(old.sum())
    return InkResidue(old_ink=n_old, new_ink=int(new.sum()), uncovered=int(unc.sum()),
                      residual=float(share.sum()) / max(1, n_old),
                      ghost_px=int(faded.sum()))
