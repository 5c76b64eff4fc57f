"""Small image helpers for the generator: colours, gradients, noise, warps, compositing.

Images are RGB ``float32`` ``[H, W, 3]`` in 0..255 while a poster is being built and
RGB ``uint8`` once finished; layers are alpha masks ``float32`` ``[h, w]`` in 0..1.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

RGB = tuple[int, int, int]


def hex_color(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def hsv_color(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return (round(r * 255), round(g * 255), round(b * 255))


def luminance(rgb: np.ndarray | RGB) -> np.ndarray:
    """WCAG relative luminance of sRGB colours (any leading shape, last axis = RGB)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin[..., 0] * 0.2126 + lin[..., 1] * 0.7152 + lin[..., 2] * 0.0722


def contrast(a: np.ndarray | RGB, b: np.ndarray | RGB) -> np.ndarray:
    """WCAG contrast ratio (1..21) between colours ``a`` and ``b``."""
    la, lb = luminance(a), luminance(b)
    return (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)


def smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Value noise in -1..1, ``float32 [height, width]``, about ``cells`` blobs across."""
    gh = max(2, round(cells * height / max(height, width)) + 2)
    gw = max(2, round(cells * width / max(height, width)) + 2)
    grid = rng.uniform(-1.0, 1.0, (gh, gw)).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Pixel-centre coordinates on a grid 4x coarser than the image (gradients are smooth,
    so they are computed there and resized up)."""
    gh, gw = max(2, -(-height // 4)), max(2, -(-width // 4))
    ys = (np.arange(gh, dtype=np.float32)[:, None] + 0.5) * np.float32(height / gh)
    xs = (np.arange(gw, dtype=np.float32)[None, :] + 0.5) * np.float32(width / gw)
    return ys, xs, gh, gw


def linear_gradient(height: int, width: int, colors: list[RGB], angle: float) -> np.ndarray:
    """``float32 [H, W, 3]`` gradient through ``colors`` along direction ``angle`` (rad)."""
    ys, xs, _gh, _gw = _grid(height, width)
    t = xs * np.float32(np.cos(angle)) + ys * np.float32(np.sin(angle))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return _ramp(t, colors, height, width)


def radial_gradient(height: int, width: int, colors: list[RGB], cx: float, cy: float
                    ) -> np.ndarray:
    ys, xs, _gh, _gw = _grid(height, width)
    ys = ys - np.float32(cy * height)
    xs = xs - np.float32(cx * width)
    t = np.sqrt(xs * xs + ys * ys)
    t = t / max(float(t.max()), 1e-6)
    return _ramp(t, colors, height, width)


def _ramp(t: np.ndarray, colors: list[RGB], height: int, width: int) -> np.ndarray:
    stops = np.linspace(0.0, 1.0, len(colors), dtype=np.float32)
    table = np.asarray(colors, dtype=np.float32)
    small = np.stack([np.interp(t, stops, table[:, c]) for c in range(3)], axis=2)
    return cv2.resize(small.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def composite(canvas: np.ndarray, alpha: np.ndarray, color: np.ndarray | RGB, x: int, y: int
              ) -> None:
    """Blend ``color`` (RGB or an ``[h, w, 3]`` array) into ``canvas`` (float32, in place)
    through ``alpha`` (``[h, w]`` 0..1) placed with its top-left corner at ``(x, y)``."""
    h, w = alpha.shape
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, canvas.shape[1]), min(y + h, canvas.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0 - y:y1 - y, x0 - x:x1 - x, None]
    col = np.asarray(color, dtype=np.float32)
    if col.ndim == 3:
        col = col[y0 - y:y1 - y, x0 - x:x1 - x]
    region = canvas[y0:y1, x0:x1]
    canvas[y0:y1, x0:x1] = region + (col - region) * a


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def elastic_maps(rng: np.random.Generator, height: int, width: int, amplitude: float,
                 wavelength: float) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps for a smooth random displacement of about ``amplitude`` px whose
    features are about ``wavelength`` px apart (plus a sine wave along x)."""
    cells = max(2, round(max(height, width) / max(wavelength, 2.0)))
    dx = smooth_noise(rng, height, width, cells) * np.float32(amplitude)
    dy = smooth_noise(rng, height, width, cells) * np.float32(amplitude)
    phase = float(rng.uniform(0, 2 * np.pi))
    xs = np.arange(width, dtype=np.float32)[None, :]
    ys = np.arange(height, dtype=np.float32)[:, None]
    dy = dy + np.float32(0.6 * amplitude) * np.sin(xs * np.float32(2 * np.pi / wavelength)
                                                   + np.float32(phase))
    map_x = (xs + dx).astype(np.float32)
    map_y = (ys + dy).astype(np.float32)
    return np.broadcast_to(map_x, (height, width)).copy(), map_y


def rotate_hue(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate the hue of an RGB ``uint8`` array by ``degrees``."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL)
    shift = round(degrees / 360.0 * 256.0)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + shift) % 256).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)


def ink_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Tight half-open box ``(x0, y0, x1, y1)`` of the non-zero pixels, or None."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
