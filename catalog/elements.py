"""Pieces of a generated poster shared by :mod:`catalog.posters` and :mod:`catalog.realism`:
the layer being placed (:class:`Element`), its halo, and the classic defects' masks and
substitutions. A leaf module, so that both import it at load time (realism used to reach
into posters' private names from inside its functions to dodge the import cycle)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from catalog import texts
from catalog.graphics import RGB, ink_box
from detectors.types import Quad
from posterqa.fonts import covers_char, has_cjk


@dataclass
class Element:
    """One layer being placed: alpha ``[h, w]`` 0..1 (text) or premultiplied RGBA (logo)."""

    kind: str
    alpha: np.ndarray
    pad: int
    text: str = ""
    font_path: str | None = None
    size: int = 0
    angle: float = 0.0
    quad: Quad | None = None  # in layer coordinates
    color: RGB = (0, 0, 0)
    rgb: np.ndarray | None = None  # logo: premultiplied RGB [h, w, 3] float32
    x: int = 0
    y: int = 0
    line_index: int | None = None
    real: Any = None  # catalog.realism.RealLine: how a realistic line is drawn

    @property
    def h(self) -> int:
        return int(self.alpha.shape[0])

    @property
    def w(self) -> int:
        return int(self.alpha.shape[1])


def halo(size: int) -> int:
    return int(math.ceil(min(0.3 * size, 30))) + 3


def fade_window(h: int, w: int, pad: int) -> np.ndarray:
    """1 inside, ramping to 0 over the outer ``pad // 2`` px of a layer (keeps a defect's
    spread from ending in a hard edge at the layer border)."""
    ramp = max(1, pad // 2)
    wy = np.clip(np.minimum(np.arange(h), np.arange(h)[::-1]) / ramp, 0, 1)
    wx = np.clip(np.minimum(np.arange(w), np.arange(w)[::-1]) / ramp, 0, 1)
    return (wy[:, None] * wx[None, :]).astype(np.float32)


def substitute(rng: np.random.Generator, text: str, font_path: str) -> str:
    """Replace 1–3 characters with look-alikes (or random ones) the font can draw."""
    idx = [i for i, c in enumerate(text) if not c.isspace()]
    n = min(len(idx), int(rng.integers(1, 4)))
    chosen = sorted(rng.choice(idx, n, replace=False).tolist())
    chars = list(text)
    for i in chosen:
        orig = chars[i]
        options = [c for c in texts.SIMILAR.get(orig, "") if c != orig]
        pool = texts.RANDOM_CJK if has_cjk(orig) else texts.RANDOM_LATIN
        options += [c for c in pool if c != orig]
        options = [c for c in options if covers_char(font_path, c)][:12]
        # look-alikes first, a random one sometimes
        k = 0 if rng.random() < 0.7 or len(options) == 1 else int(rng.integers(len(options)))
        chars[i] = options[k]
    return "".join(chars)


def erase_mask(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """1 where glyphs are erased: a vertical band (25–50 % of the ink width) or the
    upper/lower part of the line over 40–80 % of its width."""
    box = ink_box(alpha > 0)
    assert box is not None
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    mask = np.zeros_like(alpha)
    if rng.random() < 0.5:
        bw = max(2, int(w * rng.uniform(0.25, 0.5)))
        bx = x0 + int(rng.integers(0, max(1, w - bw)))
        mask[:, bx:bx + bw] = 1.0
    else:
        bw = max(2, int(w * rng.uniform(0.4, 0.8)))
        bx = x0 + int(rng.integers(0, max(1, w - bw)))
        bh = max(2, int(h * rng.uniform(0.35, 0.55)))
        if rng.random() < 0.5:
            mask[:y0 + bh, bx:bx + bw] = 1.0
        else:
            mask[y1 - bh:, bx:bx + bw] = 1.0
    return mask


def stroke_cuts(rng: np.random.Generator, alpha: np.ndarray, size: int, n_chars: int
                 ) -> np.ndarray:
    """1 along short cuts across the strokes (gaps of 8–12 % of the text size, centred on
    ink), added until at least 15 % of the ink is cut."""
    ys, xs = np.nonzero(alpha > 0.5)
    box = ink_box(alpha > 0)
    assert box is not None and xs.size
    half = (box[3] - box[1]) * 0.3
    thick = max(2, round(size * rng.uniform(0.08, 0.12)))
    cuts = np.zeros(alpha.shape, np.uint8)
    total = float(alpha.sum())
    n = int(np.clip(round(n_chars * rng.uniform(1.2, 2.0)), 4, 40))
    for k in range(4 * n):
        i = int(rng.integers(xs.size))
        cx, cy = float(xs[i]), float(ys[i])
        ang = rng.uniform(-0.6, 0.6) + (0.0 if rng.random() < 0.6 else np.pi / 2)
        dx, dy = half * math.sin(ang), half * math.cos(ang)
        cv2.line(cuts, (round(cx - dx), round(cy - dy)), (round(cx + dx), round(cy + dy)), 1,
                 thick)
        if k + 1 >= n and float((alpha * cuts).sum()) >= 0.15 * total:
            break
    return cuts.astype(np.float32)
