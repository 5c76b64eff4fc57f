"""The CPU compositor backend (``"compositor"``): deterministic repairs of flat designs.

- **text**: the defective strokes inside the mask are removed (the background is
  estimated by inpainting the mask from its surroundings; pixels that differ from it
  are the strokes and are replaced), then the expected string is typeset in the brand
  font, fitted to the text quad (size and rotation) and aligned to what is left of the
  original strokes, in the colour of those strokes. When the line reads right but for
  a span of replaced characters (hints ``observed`` and ``span``, set by the refiner
  from the defect, :mod:`refiner.spans`), only that span's columns are repainted,
  between the kept characters' ink; every other pixel stays the input's own.
- **logo**: the old logo is removed the same way and the reference RGBA is warped onto
  the quad (or fitted into the mask's box) with its alpha.

It works at the crop's own resolution (``wants_resize = False``), so glyphs are drawn
at their final size. Hints (crop pixels): ``expected`` (else parsed from the prompt),
``quad``, ``font_path``, ``color`` (``(r, g, b)`` or ``"#rrggbb"``), ``size_px``,
``kind`` (``"text"``/``"logo"``, else from the prompt), ``observed`` and ``span``.
Where the design is not flat, the verification, not this backend, says whether the
repair worked.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw

from detectors.types import Box, Quad, normalize_quad
from posterqa.errors import BackendError, ConfigError, PosterQAError
from posterqa.fonts import covers_char, find_font, load_font
from refiner.backends.base import RefinerBackend, register
from refiner.paste import dilate

log = logging.getLogger(__name__)

_RENDER_PAD = 8
# A span is repainted alone only where the observed line fits the old strokes this well
# (best_shift's normalised cross-correlation, plus the fit's small bonus): below it the
# layout that says where the kept characters are is a guess. Provisional, not fitted:
# see benchmarks/bench_compositor.py's span figures.
SPAN_FIT_MIN = 0.6


# ------------------------------------------------------------------------- fonts
@lru_cache(maxsize=1)
def fallback_font() -> str:
    """Path of an installed CJK-capable font (Noto Sans SC, else WenQuanYi Micro Hei)."""
    for name in ("noto-sans-sc", "wqy-microhei"):
        try:
            return str(find_font(name))
        except ConfigError:
            continue
    raise ConfigError("no CJK font installed: pip install pylopdf-fonts-zh-cn")


def font_for(text: str, preferred: str | None) -> str:
    """``preferred`` when it covers every character of ``text``, else the CJK fallback."""
    if preferred:
        if not Path(preferred).is_file():
            log.warning("font %s not found; using the fallback font", preferred)
        elif all(covers_char(str(preferred), c) for c in text):
            return str(preferred)
        else:
            log.info("font %s lacks glyphs of %r; using the fallback font", preferred, text)
    return fallback_font()


def render_text_alpha(text: str, font_path: str, size: int) -> np.ndarray:
    """``uint8 [h, w]`` coverage of ``text`` at ``size`` px, cropped to its ink box."""
    return render_text_alpha_at(text, font_path, size)[0]


def render_text_alpha_at(text: str, font_path: str, size: int
                         ) -> tuple[np.ndarray, tuple[int, int]]:
    """``(alpha, (bx, by))``: :func:`render_text_alpha` and where the text's baseline
    origin (Pillow's ``"ls"`` anchor) lies in the cropped alpha's pixels."""
    font = load_font(font_path, size)
    x0, y0, x1, y1 = font.getbbox(text, anchor="ls")
    w, h = x1 - x0 + 2 * _RENDER_PAD, y1 - y0 + 2 * _RENDER_PAD
    canvas = Image.new("L", (max(1, w), max(1, h)), 0)
    ImageDraw.Draw(canvas).text((_RENDER_PAD - x0, _RENDER_PAD - y0), text, font=font,
                                fill=255, anchor="ls")
    arr = np.asarray(canvas)
    rows, cols = np.flatnonzero(arr.any(axis=1)), np.flatnonzero(arr.any(axis=0))
    if rows.size == 0:
        return np.zeros((1, 1), np.uint8), (_RENDER_PAD - x0, _RENDER_PAD - y0)
    return (np.ascontiguousarray(arr[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]),
            (_RENDER_PAD - x0 - int(cols[0]), _RENDER_PAD - y0 - int(rows[0])))


def _span_hint(hints: Mapping[str, Any]) -> tuple[int, int] | None:
    """``(i0, i1)`` from a ``span`` hint (a pair, a dict with start/end, a WrongSpan)."""
    value = hints.get("span")
    if value is None:
        return None
    if isinstance(value, Mapping):
        value = (value.get("start"), value.get("end"))
    elif hasattr(value, "start") and hasattr(value, "end"):
        value = (value.start, value.end)
    try:
        i0, i1 = (int(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (i0, i1) if 0 <= i0 < i1 else None


def _palette_hint(hints: Mapping[str, Any]) -> np.ndarray | None:
    """The ``brand_colors`` hint with black and white (``float32 [k, 3]``), or None."""
    from refiner.verify import brand_palette

    try:
        pal = brand_palette(hints.get("brand_colors"))
    except PosterQAError as exc:
        log.warning("brand colours hint ignored: %s", exc)
        return None
    return np.asarray(pal, np.float32) if pal else None


# A stroke colour is snapped to a palette colour when it lies within PALETTE_SNAP_RGB
# (RGB distance) of the segment from the background to that colour, at least
# PALETTE_SNAP_MIN_T of the way to it: blurred or thin strokes read as a blend of the
# copy's colour and the background. Checked on the generated posters of
# benchmarks/bench_compositor.py (the ΔE of the drawn colour to the line's true colour).
PALETTE_SNAP_RGB = 24.0
PALETTE_SNAP_MIN_T = 0.35


def palette_color(color: tuple[int, int, int], clean: np.ndarray, strokes: np.ndarray,
                  palette: np.ndarray | None) -> tuple[int, int, int]:
    """``color`` (read from the strokes), or the palette colour it is a faded blend of
    over the background under the strokes (``clean`` there); unchanged without a
    palette, when it is within the verification's tolerance of black or white (the
    kit colour itself when within it of one) or when no palette colour explains it."""
    if palette is None or not len(palette) or not (strokes > 0).any():
        return color
    from refiner.metrics import nearest_color
    from refiner.verify import BRAND_COLOR_TOLERANCE, NEUTRALS

    near, de = nearest_color(color, palette)
    if de <= BRAND_COLOR_TOLERANCE:
        # a kit colour is an exact design value (what reads a little off is the strokes'
        # anti-aliasing); black and white are set in many shades: keep the poster's own
        return color if near in NEUTRALS else near
    b = np.median(clean[strokes > 0].reshape(-1, 3), axis=0).astype(np.float32)
    m = np.asarray(color, np.float32)
    best: tuple[float, np.ndarray] | None = None
    for c in np.asarray(palette, np.float32):
        d = c - b
        den = float((d * d).sum())
        if den < 1.0:
            continue
        t = float(np.clip(((m - b) * d).sum() / den, 0.0, 1.0))
        if t < PALETTE_SNAP_MIN_T:
            continue
        err = float(np.linalg.norm(m - (b + t * d)))
        if err <= PALETTE_SNAP_RGB and (best is None or err < best[0]):
            best = (err, c)
    if best is None:
        return color
    c = best[1]
    return (int(round(c[0])), int(round(c[1])), int(round(c[2])))


# ---------------------------------------------------------------- pure helpers
def parse_color(value: Any) -> tuple[int, int, int] | None:
    """``(r, g, b)`` from a tuple/list or ``"#rrggbb"``; None when absent or unusable."""
    if value is None:
        return None
    if isinstance(value, str):
        s = value.strip().lstrip("#")
        if len(s) == 6:
            try:
                return (int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16))
            except ValueError:
                return None
        return None
    try:
        r, g, b = (int(v) for v in list(value)[:3])
    except (TypeError, ValueError):
        return None
    return (r, g, b)


def quad_geometry(quad: Quad) -> tuple[tuple[float, float], float, float, float]:
    """``(centre, width, height, angle_deg)`` of a quad (clockwise from its top-left)."""
    pts = np.asarray(quad, dtype=np.float64)
    centre = pts.mean(axis=0)
    top, bottom = pts[1] - pts[0], pts[2] - pts[3]
    left, right = pts[3] - pts[0], pts[2] - pts[1]
    width = (np.linalg.norm(top) + np.linalg.norm(bottom)) / 2.0
    height = (np.linalg.norm(left) + np.linalg.norm(right)) / 2.0
    angle = math.degrees(math.atan2(top[1] + bottom[1], top[0] + bottom[0]))
    return (float(centre[0]), float(centre[1])), float(width), float(height), angle


def texture_offset(crop: np.ndarray, hole: np.ndarray, *, ring: int = 12,
                   reach: int = 40, max_samples: int = 2500) -> tuple[int, int] | None:
    """A translation under which the background around ``hole`` repeats, or None.

    Compares the known pixels in a ``ring`` px band around the hole with the pixels
    shifted by every offset within ``reach``. Returns the best offset when the
    background has fine texture (stripes, dots) and the offset reproduces it well;
    None for flat or smooth backgrounds (inpainting is better there).
    """
    h, w = hole.shape
    known = hole == 0
    band = (dilate(hole, ring) > 0) & known
    ys, xs = np.nonzero(band)
    if ys.size < 64:
        return None
    if ys.size > max_samples:
        step = int(math.ceil(ys.size / max_samples))
        ys, xs = ys[::step], xs[::step]
    img = crop.astype(np.float32)
    high = np.abs(img - cv2.GaussianBlur(img, (0, 0), 3)).mean(axis=2)
    if float(high[ys, xs].mean()) < 1.5:
        return None  # smooth background
    vals = img[ys, xs]
    best: tuple[float, int, int] | None = None
    errs = []
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            if max(abs(dx), abs(dy)) < 2:
                continue
            ty, tx = ys + dy, xs + dx
            ok = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
            if ok.sum() < 0.4 * ys.size:
                continue
            ok[ok] = known[ty[ok], tx[ok]]
            if ok.sum() < 0.4 * ys.size:
                continue
            err = float(np.abs(vals[ok] - img[ty[ok], tx[ok]]).mean())
            errs.append(err)
            key = err + 0.01 * math.hypot(dx, dy)  # prefer short offsets on ties
            if best is None or key < best[0]:
                best = (key, dx, dy)
    if best is None or not errs:
        return None
    if best[0] > 0.5 * float(np.median(errs)):
        return None  # nothing repeats
    return best[1], best[2]


def periodic_fill(crop: np.ndarray, hole: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """Fill ``hole`` by copying along ``±offset`` from the nearest known pixel."""
    h, w = hole.shape
    out = crop.copy()
    ys, xs = np.nonzero(hole)
    dx, dy = offset
    todo = np.ones(ys.size, bool)
    known = hole == 0
    kmax = int(math.ceil(max(h, w) / max(abs(dx), abs(dy), 1))) + 1
    for k in range(1, kmax + 1):
        if not todo.any():
            break
        for sign in (1, -1):
            idx = np.flatnonzero(todo)
            ty, tx = ys[idx] + sign * k * dy, xs[idx] + sign * k * dx
            ok = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
            ok[ok] = known[ty[ok], tx[ok]]
            sel = idx[ok]
            out[ys[sel], xs[sel]] = crop[ty[ok], tx[ok]]
            todo[sel] = False
    if todo.any():  # unreachable pixels: inpaint them
        rest = np.zeros_like(hole)
        rest[ys[todo], xs[todo]] = 255
        out = cv2.inpaint(out, rest, 5, cv2.INPAINT_TELEA)
    return out


def estimate_background(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The crop with the (slightly grown) mask filled from its surroundings.

    Fine repeating textures (stripes, dot grids) are continued by copying along their
    period; smooth backgrounds are inpainted (Telea).
    """
    grown = dilate(mask, 2)
    if grown.all():  # nothing around to inpaint from: use the median colour
        return np.broadcast_to(np.median(crop.reshape(-1, 3), axis=0).astype(np.uint8),
                               crop.shape).copy()
    offset = texture_offset(crop, grown)
    if offset is not None:
        return periodic_fill(crop, grown, offset)
    return cv2.inpaint(crop, grown, 5, cv2.INPAINT_TELEA)


def stroke_mask(crop: np.ndarray, background: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``uint8`` 255/0 mask of pixels inside ``mask`` that differ from the background."""
    diff = np.abs(crop.astype(np.int16) - background.astype(np.int16)).max(axis=2)
    inside = mask > 0
    vals = diff[inside]
    if vals.size == 0 or int(vals.max()) < 12:
        return np.zeros(mask.shape, np.uint8)
    otsu, _ = cv2.threshold(vals.astype(np.uint8).reshape(-1, 1), 0, 255,
                            cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    thr = float(np.clip(otsu * 0.5, 10, 60))
    return np.where(inside & (diff > thr), 255, 0).astype(np.uint8)


def quad_mask_of(quad: Quad, hw: tuple[int, int]) -> np.ndarray:
    """``uint8`` 255/0 mask of a quad (crop pixels) on a ``hw`` canvas."""
    out = np.zeros(hw, np.uint8)
    pts = np.round(np.asarray(quad, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(out, [pts], 255)
    return out


def plate_color(crop: np.ndarray, mask: np.ndarray, *, share: float = 0.3,
                distance: float = 30.0) -> np.ndarray | None:
    """The colour of a backing plate under the mask, or None.

    A plate colour covers at least ``share`` of the mask's pixels and is farther than
    ``distance`` from every frequent colour of the ring around the mask.
    """
    inside = mask > 0
    ring = (dilate(mask, 6) > 0) & ~inside
    if not ring.any() or not inside.any():
        return None
    px = crop[inside].astype(np.float32)
    cand = dominant_colors(px, max_colors=1)
    if cand.size == 0:
        return None
    color = cand[0]
    if float((np.linalg.norm(px - color, axis=1) <= 20.0).mean()) < share:
        return None
    if _distance_to_colors(color[None, :], dominant_colors(crop[ring]))[0] <= distance:
        return None
    return color


def remove_strokes(crop: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """``(clean, strokes, diff)``: the crop without the content inside ``mask``.

    ``strokes`` is the detected content (uint8 255/0), ``diff`` its per-pixel distance
    from the background estimate (``int16``).
    """
    plate = plate_color(crop, mask)
    if plate is not None:
        # a backing plate fills most of the mask: the content is what is neither plate
        # nor poster; fill it from the plate around it
        ring = (dilate(mask, 6) > 0) & (mask == 0)
        palette = np.concatenate([dominant_colors(crop[ring]), plate[None, :]])
        hy, hx = np.nonzero(mask > 0)
        far = _distance_to_colors(crop[hy, hx].astype(np.float32), palette) > 30.0
        content = np.zeros(mask.shape, np.uint8)
        content[hy[far], hx[far]] = 255
        background = cv2.inpaint(crop, dilate(content, 2), 5, cv2.INPAINT_TELEA)
    else:
        background = estimate_background(crop, mask)
    strokes = stroke_mask(crop, background, mask)
    clean = crop.copy()
    # replace the strokes and their anti-aliased edge, inside the mask only
    edge = (dilate(strokes, 2) > 0) & (mask > 0)
    clean[edge] = background[edge]
    diff = np.abs(crop.astype(np.int16) - background.astype(np.int16)).max(axis=2)
    return clean, strokes, diff


def dominant_colors(pixels: np.ndarray, max_colors: int = 12, step: int = 24) -> np.ndarray:
    """Up to ``max_colors`` frequent colours (``float32 [k, 3]``) of ``[N, 3]`` pixels.

    Colours are binned in ``step``-wide cubes; each bin's mean colour is returned, the
    most populated first. Deterministic.
    """
    px = np.asarray(pixels, dtype=np.float32).reshape(-1, 3)
    if px.size == 0:
        return np.zeros((0, 3), np.float32)
    keys = (px // step).astype(np.int32)
    codes = keys[:, 0] * 4096 + keys[:, 1] * 64 + keys[:, 2]
    uniq, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:max_colors]
    sums = np.zeros((uniq.size, 3), np.float64)
    np.add.at(sums, inverse, px)
    means = sums / counts[:, None]
    return means[order].astype(np.float32)


def _distance_to_colors(pix: np.ndarray, colors: np.ndarray) -> np.ndarray:
    if colors.size == 0:
        return np.full(pix.shape[0], np.inf, np.float32)
    d = np.sqrt(((pix[:, None, :] - colors[None, :, :]) ** 2).sum(axis=2))
    return d.min(axis=1)


def _distance_to_blends(pix: np.ndarray, a: np.ndarray, b: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Distance of each pixel to the nearest segment between a colour of ``a`` and one
    of ``b``, and the index into ``b`` of that segment's end."""
    best = np.full(pix.shape[0], np.inf, np.float32)
    which = np.zeros(pix.shape[0], np.int64)
    for ca in a:
        for j, cb in enumerate(b):
            seg = cb - ca
            den = float(seg @ seg) or 1.0
            t = np.clip(((pix - ca) @ seg) / den, 0.0, 1.0)
            d = np.linalg.norm(pix - (ca + t[:, None] * seg), axis=1)
            closer = d < best
            best = np.where(closer, d, best)
            which = np.where(closer, j, which)
    return best, which


def remove_residue(crop: np.ndarray, hole: np.ndarray, cover: np.ndarray,
                   logo_colors: np.ndarray | None = None, *, bg_tolerance: float = 12.0,
                   blend_tolerance: float = 30.0) -> np.ndarray:
    """Remove what is left of an old logo inside ``hole`` (uint8 mask).

    Background colours are the frequent colours of a ring around the hole. A hole pixel
    farther than ``bg_tolerance`` from all of them is old content: residue when it lies
    near a blend of a logo colour (``logo_colors``) with a background colour (a blurred
    or displaced piece of the logo), or when it belongs to a blob that does not wrap
    around ``cover`` (another logo); a blob that surrounds ``cover`` is a backing plate
    and stays. Residue and the pixels under ``cover`` (bool, what will be drawn over)
    are inpainted from the rest.
    """
    inside = hole > 0
    cover = np.asarray(cover, bool)
    ring = (dilate(hole, 6) > 0) & ~inside
    if not ring.any():
        return crop.copy()
    bg_colors = dominant_colors(crop[ring])
    hy, hx = np.nonzero(inside)
    pix = crop[hy, hx].astype(np.float32)
    out = crop.copy()
    residue = np.zeros(hole.shape, np.uint8)
    edge = (dilate(cover, 3) > 0) & ~cover
    edge_total = max(int(edge.sum()), 1)
    todo = np.ones(pix.shape[0], bool)
    for _ in range(2):  # second pass: with the colours of a plate found in the first
        other = todo & (_distance_to_colors(pix, bg_colors) > bg_tolerance)
        if logo_colors is not None and len(logo_colors):
            # logo blended into the background: un-blend, i.e. restore that colour
            sel = np.flatnonzero(other)
            dist, which = _distance_to_blends(pix[sel], np.asarray(logo_colors, np.float32),
                                              bg_colors)
            blend = dist <= blend_tolerance
            idx = sel[blend]
            out[hy[idx], hx[idx]] = np.clip(np.rint(bg_colors[which[blend]]), 0,
                                            255).astype(np.uint8)
            other[idx] = False
            todo[idx] = False
        # the rest of the old content: blobs; a blob around the new logo is a plate
        blobs = np.zeros(hole.shape, np.uint8)
        blobs[hy[other], hx[other]] = 255
        blobs[cover] = 0
        plates: list[np.ndarray] = []
        if blobs.any():
            n, labels = cv2.connectedComponents(blobs, connectivity=8)
            for k in range(1, n):
                blob = labels == k
                if (blob & edge).sum() < 0.5 * edge_total:
                    residue[blob] = 255
                else:
                    plates.append(blob)
        done = residue[hy, hx] > 0
        todo &= ~done
        if not plates:
            break
        plate_px = crop[np.logical_or.reduce(plates)]
        bg_colors = np.concatenate([bg_colors, dominant_colors(plate_px, max_colors=1)])
    residue[cover & inside] = 255
    if not residue.any():
        return out
    return cv2.inpaint(out, dilate(residue, 1), 5, cv2.INPAINT_TELEA)


def stroke_color(crop: np.ndarray, strokes: np.ndarray, diff: np.ndarray
                 ) -> tuple[int, int, int] | None:
    """Median colour of the stroke cores (the pixels most unlike the background)."""
    sel = strokes > 0
    if sel.sum() < 4:
        return None
    d = diff[sel]
    core = sel & (diff >= np.percentile(d, 70))
    med = np.median(crop[core].reshape(-1, 3), axis=0)
    return (int(med[0]), int(med[1]), int(med[2]))


def contrasting_color(background: np.ndarray) -> tuple[int, int, int]:
    lum = float(np.mean(background.reshape(-1, 3) @ np.array([0.299, 0.587, 0.114])))
    return (20, 20, 20) if lum > 128 else (245, 245, 245)


def place_alpha(alpha: np.ndarray, canvas_hw: tuple[int, int], centre: tuple[float, float],
                angle_deg: float, scale: float = 1.0) -> np.ndarray:
    """Warp a patch (``[h, w]`` or ``[h, w, c]``) onto a zero canvas ``canvas_hw``.

    The patch centre lands on ``centre`` (continuous image coordinates), rotated by
    ``angle_deg`` counter-clockwise and scaled by ``scale``.
    """
    h, w = alpha.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), -angle_deg, scale)
    # continuous coordinate c is pixel index c - 0.5
    m[0, 2] += centre[0] - 0.5 - (w - 1) / 2.0
    m[1, 2] += centre[1] - 0.5 - (h - 1) / 2.0
    return cv2.warpAffine(alpha, m, (canvas_hw[1], canvas_hw[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def best_shift(alpha: np.ndarray, target: np.ndarray, radius: int,
               margin: float = 0.0) -> tuple[int, int, float]:
    """``(dx, dy, score)``: shift of ``alpha`` that best overlaps ``target`` (both [h, w]).

    Normalised cross-correlation over shifts within ``radius``; a shift is only taken
    when it beats no shift by more than ``margin``. (0, 0, 0) when either is empty.
    """
    if radius <= 0 or not alpha.any() or not target.any():
        return 0, 0, 0.0
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    patch = alpha[y0:y1, x0:x1].astype(np.float32)
    padded = cv2.copyMakeBorder(target.astype(np.float32), radius, radius, radius, radius,
                                cv2.BORDER_CONSTANT, value=0)
    window = padded[y0:y1 + 2 * radius, x0:x1 + 2 * radius]
    res = cv2.matchTemplate(window, patch, cv2.TM_CCORR_NORMED)
    _, score, _, loc = cv2.minMaxLoc(res)
    still = float(res[radius, radius])
    if score <= still + margin:
        return 0, 0, still
    return int(loc[0] - radius), int(loc[1] - radius), float(score)


def composite(base: np.ndarray, color: np.ndarray | tuple[int, int, int],
              alpha: np.ndarray) -> np.ndarray:
    """``base`` (RGB uint8) with ``color`` (RGB or ``[h, w, 3]``) over it at ``alpha``."""
    a = alpha.astype(np.float32)[..., None] / 255.0
    col = np.asarray(color, dtype=np.float32)
    out = base.astype(np.float32) * (1.0 - a) + col * a
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------- backend
@register("compositor")
class CompositorBackend(RefinerBackend):
    """CPU, deterministic: re-typesets expected copy, places the reference logo."""

    size_multiple = 1
    wants_resize = False
    deterministic = True

    def refine(
        self,
        crop: np.ndarray,
        crop_mask: np.ndarray,
        prompt: str,
        reference: np.ndarray | None = None,
        *,
        seed: int | None = None,
        hints: Mapping[str, Any] | None = None,
    ) -> np.ndarray:
        from refiner.core import parse_prompt

        hints = dict(hints or {})
        kind_p, expected_p = parse_prompt(prompt)
        kind = hints.get("kind") or kind_p
        if kind == "text" and kind_p == "logo":
            kind = "logo"
        quad = normalize_quad(hints["quad"]) if hints.get("quad") is not None else None
        if kind == "logo":
            if reference is None:
                raise BackendError("compositor: a logo repair needs the reference logo")
            return self.refine_logo(crop, crop_mask, reference, quad)
        expected = hints.get("expected") or expected_p
        if not expected:
            raise BackendError(
                f"compositor: no expected text in hints or prompt {prompt!r}; it re-typesets "
                "the expected copy and cannot guess it"
            )
        return self.refine_text(crop, crop_mask, str(expected), quad=quad,
                                font_path=hints.get("font_path"),
                                color=parse_color(hints.get("color")),
                                size_px=hints.get("size_px"),
                                observed=hints.get("observed"), span=_span_hint(hints),
                                palette=_palette_hint(hints))

    # ---------------------------------------------------------------- text
    def refine_text(
        self,
        crop: np.ndarray,
        mask: np.ndarray,
        expected: str,
        *,
        quad: Quad | None = None,
        font_path: str | None = None,
        color: tuple[int, int, int] | None = None,
        size_px: float | None = None,
        observed: str | None = None,
        span: tuple[int, int] | None = None,
        palette: np.ndarray | None = None,
    ) -> np.ndarray:
        """Remove the strokes inside ``mask`` and typeset ``expected`` over the quad.

        With ``observed`` (what the line reads) and ``span`` (``expected[i0:i1]``
        replaces ``observed[i0:i1]``, :func:`refiner.spans.wrong_span`) on an upright
        line, only the span's columns are repainted (:meth:`_repaint_span`); the
        whole line is re-typeset when that cannot be done. With a ``palette`` (the
        brand's colours, ``float32 [k, 3]``) and no ``color``, the colour read from the
        old strokes is snapped to the palette colour it is a faded blend of
        (:func:`palette_color`).
        """
        clean, strokes, diff = remove_strokes(crop, mask)
        if quad is None:
            quad = Box.from_mask(mask).as_quad()
        angle = quad_geometry(quad)[3]
        path = font_for(expected, font_path)
        target = np.where(strokes > 0, diff, 0).astype(np.float32)
        if span is not None and observed and abs(angle) < 0.5:
            out = self._repaint_span(crop, mask, clean, strokes, diff, target, expected,
                                     observed, span, path, quad, color, size_px, palette)
            if out is not None:
                return out
            log.info("span %s of %r cannot be repainted alone: whole line re-typeset",
                     span, expected)
        if color is None:
            color = stroke_color(crop, strokes, diff) or contrasting_color(clean[mask > 0])
            color = palette_color(color, clean, strokes, palette)
        canvas = self._fit_line(expected, path, crop.shape[:2], quad, strokes, target,
                                size_px)[1]
        return composite(clean, color, canvas)

    def _fit_line(self, text: str, path: str, canvas_hw: tuple[int, int], quad: Quad,
                  strokes: np.ndarray, target: np.ndarray, size_px: float | None
                  ) -> tuple[float, np.ndarray, int, tuple[float, float], float]:
        """``(score, canvas, size, centre, angle)``: ``text`` typeset over ``quad``,
        refined in size, angle and position against the old strokes (``target``)."""
        centre, qw, qh, angle = quad_geometry(quad)
        if abs(angle) < 0.5:
            angle = 0.0
        size = self._fit_size(text, path, qw, qh, size_px)
        # refine size, angle and position against what is left of the original strokes
        # (wrong characters, erasure and blur keep most of them in place); a loose quad
        # (an OCR box) is also tried against the box of the old strokes themselves
        radius = int(max(2, min(qh * 0.35, 24)))
        cands: list[tuple[int, float, tuple[float, float], float]] = []
        if size_px:
            cands.append((size, angle, centre, 0.01))
        else:
            cands += [(max(4, int(round(size * f))), angle, centre, 0.03 if f == 1.0 else 0.0)
                      for f in np.linspace(0.88, 1.08, 11)]
            inner = (strokes > 0) & (quad_mask_of(quad, strokes.shape) > 0)
            if inner.sum() >= 16 and abs(angle) < 3.0:
                sb = Box.from_mask(inner)
                s_size = self._fit_size(text, path, sb.width, sb.height, None)
                cands += [(max(4, int(round(s_size * f))), a, sb.center, 0.0)
                          for f in np.linspace(0.94, 1.06, 5) for a in {0.0, angle}]
        best: tuple[float, np.ndarray, int, tuple[float, float], float] | None = None
        seen: set[tuple[int, float, tuple[float, float]]] = set()
        for s, a, c, bonus in cands:
            if (s, a, c) in seen:
                continue
            seen.add((s, a, c))
            alpha = render_text_alpha(text, path, s)
            canvas = self._place_text(alpha, canvas_hw, c, a)
            dx, dy, score = best_shift(canvas, target, radius, margin=0.05)
            if score <= 0.3:
                dx = dy = 0
            if dx or dy:
                c = (c[0] + dx, c[1] + dy)
                canvas = self._place_text(alpha, canvas_hw, c, a)
            score += bonus  # prefer the quad's own fit unless another is clearly better
            if best is None or score > best[0]:
                best = (score, canvas, s, c, a)
        assert best is not None
        return best

    def _repaint_span(self, crop: np.ndarray, mask: np.ndarray, clean: np.ndarray,
                      strokes: np.ndarray, diff: np.ndarray, target: np.ndarray,
                      expected: str, observed: str, span: tuple[int, int], path: str,
                      quad: Quad, color: tuple[int, int, int] | None,
                      size_px: float | None, palette: np.ndarray | None = None
                      ) -> np.ndarray | None:
        """Repaint only ``expected[span]`` of an upright line; every other pixel is the
        crop's own. None when the span cannot be repainted alone.

        The OBSERVED line (what the pixels show) is fitted to the old strokes: its
        layout says where the kept characters' ink ends and begins. The columns between
        the ink of the characters before the span and of those after it are repainted:
        the old wrong glyphs removed, the expected ones typeset there on the line's
        baseline, centred in the gap. None when the observed line does not fit the old
        strokes (``SPAN_FIT_MIN``), when the new glyphs do not fit in the gap, or when
        the fonts cannot draw the observed characters.
        """
        i0, i1 = span
        if not (0 <= i0 < i1 <= min(len(expected), len(observed))):
            return None
        if not all(covers_char(path, ch) for ch in observed):
            return None
        score, _, size, centre, _ = self._fit_line(observed, path, crop.shape[:2], quad,
                                                   strokes, target, size_px)
        if score < SPAN_FIT_MIN:
            return None
        font = load_font(path, size)
        alpha, (bx, by) = render_text_alpha_at(observed, path, size)
        h, w = alpha.shape
        ox = int(round(centre[0] - w / 2.0)) + bx  # baseline origin of the old line
        oy = int(round(centre[1] - h / 2.0)) + by
        height, width = crop.shape[:2]
        # where the kept characters' ink ends (before the span) and begins (after it);
        # spaces next to the span hold no ink
        before = observed[:i0].rstrip()
        j = i1 + len(observed[i1:]) - len(observed[i1:].lstrip())
        # (each neighbour glyph fitted on its own: kerning and spacing differ between
        # the poster's typesetter and ours by a pixel or two along a line)
        left, right = 0, width
        shifts = []
        radius = max(2, int(round(0.12 * size)))
        if before:
            g_alpha, (gbx, gby) = render_text_alpha_at(before[-1], path, size)
            gx = ox + int(round(font.getlength(before[:-1]))) - gbx
            dx = self._glyph_shift(g_alpha, (height, width), gx, oy - gby, target, radius)
            left = gx + dx + g_alpha.shape[1]
            shifts.append(dx)
        if j < len(observed):
            g_alpha, (gbx, gby) = render_text_alpha_at(observed[j], path, size)
            gx = ox + int(round(font.getlength(observed[:j]))) - gbx
            dx = self._glyph_shift(g_alpha, (height, width), gx, oy - gby, target, radius)
            right = gx + dx
            shifts.append(dx)
        new = expected[i0:i1]
        new_alpha, (nbx, nby) = render_text_alpha_at(new, path, size)
        # the new glyphs' origin: their advance cell centred on the old one's
        nx = ox + int(round(font.getlength(observed[:i0]) + (
            font.getlength(observed[i0:i1]) - font.getlength(new)) / 2.0
            + (sum(shifts) / len(shifts) if shifts else 0.0)))
        if nx - nbx < left or nx - nbx + new_alpha.shape[1] > right or right - left < 2:
            return None
        c0, c1 = left, right
        canvas = paste_patch((height, width), new_alpha, nx - nbx, oy - nby)
        paint = np.zeros((height, width), bool)
        paint[:, max(0, c0):max(0, min(width, c1))] = True
        paint &= mask > 0
        if not paint.any():
            return None
        if color is None:  # the kept characters' colour
            kept = np.where(paint, 0, strokes).astype(np.uint8)
            color = (stroke_color(crop, kept, diff) or stroke_color(crop, strokes, diff)
                     or contrasting_color(clean[mask > 0]))
            color = palette_color(color, clean, strokes, palette)
        out = crop.copy()
        out[paint] = composite(clean, color, canvas)[paint]
        return out

    @staticmethod
    def _glyph_shift(alpha: np.ndarray, canvas_hw: tuple[int, int], x: int, y: int,
                     target: np.ndarray, radius: int) -> int:
        """Horizontal shift that puts one glyph (its alpha pasted at ``x, y``) on the old
        strokes (``target``); 0 when nothing there matches it clearly."""
        canvas = paste_patch(canvas_hw, alpha, x, y)
        dx, _, score = best_shift(canvas, target, radius)
        return dx if score > 0.5 else 0

    @staticmethod
    def _place_text(alpha: np.ndarray, canvas_hw: tuple[int, int],
                    centre: tuple[float, float], angle: float) -> np.ndarray:
        """Upright text lands on whole pixels (crisp glyphs); rotated text is warped."""
        if angle == 0.0:
            h, w = alpha.shape
            return paste_patch(canvas_hw, alpha, int(round(centre[0] - w / 2.0)),
                               int(round(centre[1] - h / 2.0)))
        return place_alpha(alpha, canvas_hw, centre, angle)

    def _fit_size(self, text: str, path: str, qw: float, qh: float,
                  size_px: float | None) -> int:
        """Font size whose ink box fits the quad (or the ``size_px`` hint)."""
        if size_px:
            return max(1, int(round(float(size_px))))
        probe = 64
        a = render_text_alpha(text, path, probe)
        ih, iw = a.shape
        size = max(4, int(round(probe * min(qw / max(iw, 1), qh / max(ih, 1)))))
        # the ink box does not scale exactly linearly with the size
        for _ in range(3):
            ih, iw = render_text_alpha(text, path, size).shape
            fit = min(qw / max(iw, 1), qh / max(ih, 1))
            if abs(fit - 1.0) < 0.02:
                break
            size = max(4, int(round(size * fit)))
        return size

    # ---------------------------------------------------------------- logo
    def refine_logo(self, crop: np.ndarray, mask: np.ndarray, reference: np.ndarray,
                    quad: Quad | None) -> np.ndarray:
        """Remove the old logo inside ``mask`` and warp ``reference`` (RGBA) onto ``quad``."""
        ref = np.asarray(reference)
        if ref.ndim != 3 or ref.shape[2] not in (3, 4):
            raise BackendError(f"compositor: reference must be RGB/RGBA, got {ref.shape}")
        if ref.shape[2] == 3:
            ref = np.concatenate([ref, np.full(ref.shape[:2] + (1,), 255, np.uint8)], axis=2)
        # the quad locates the logo's ink: trim the transparent margin of the reference
        ys, xs = np.nonzero(ref[..., 3] > 0)
        if ys.size == 0:
            raise BackendError("compositor: the reference logo is fully transparent")
        ref = ref[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        rh, rw = ref.shape[:2]
        alpha = ref[..., 3:4].astype(np.float32) / 255.0
        premul = np.concatenate([ref[..., :3].astype(np.float32) * alpha, alpha * 255.0], axis=2)
        hw = crop.shape[:2]
        if quad is not None and not _is_upright_rect(quad):
            # a perspective quad (from a detector's homography): warp onto it as it is
            src = np.array([[0, 0], [rw, 0], [rw, rh], [0, rh]], dtype=np.float32) - 0.5
            dst = np.asarray(quad, dtype=np.float32) - 0.5
            m = cv2.getPerspectiveTransform(src, dst)
            warped = cv2.warpPerspective(premul, m, (hw[1], hw[0]), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        elif quad is not None:
            # an upright box: the logo's ink goes exactly there
            # (one area-filtered resize and a whole-pixel paste keep the edges crisp)
            centre, qw, qh, _ = quad_geometry(quad)
            scale = min(qw / rw, qh / rh)
            patch = _resize_patch(premul, rw * scale, rh * scale)
            warped = paste_patch(hw, patch, int(round(centre[0] - patch.shape[1] / 2.0)),
                                 int(round(centre[1] - patch.shape[0] / 2.0)))
        else:
            # only the mask: keep the logo's aspect, fit its size and position inside
            # the mask's box to the old logo's colours (the box may hold a spread)
            box = Box.from_mask(mask)
            s0 = min(box.width / rw, box.height / rh)
            radius = int(max(2, min(0.15 * min(box.width, box.height), 32)))
            f, x, y = self._fit_logo(ref, crop, box.center, s0, radius)
            warped = paste_patch(hw, _resize_patch(premul, rw * s0 * f, rh * s0 * f), x, y)
        # remove the old logo right around the new one, judged against the background
        # next to it (a backing plate inside the mask is background, not logo)
        drawn = warped[..., 3] > 0
        fb = Box.from_mask(drawn) if drawn.any() else Box.from_mask(mask)
        grow = int(max(3, 0.15 * max(fb.width, fb.height) + 2))
        hole = np.where((dilate(drawn, grow) > 0) & (mask > 0), 255, 0).astype(np.uint8)
        colors = dominant_colors(ref[..., :3][ref[..., 3] > 128], max_colors=8)
        clean = remove_residue(crop, hole, drawn, colors) if hole.any() else crop.copy()
        a = np.clip(warped[..., 3:4] / 255.0, 0.0, 1.0)
        out = clean.astype(np.float32) * (1.0 - a) + np.clip(warped[..., :3], 0.0, 255.0)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)


    @staticmethod
    def _fit_logo(ref: np.ndarray, crop: np.ndarray, centre: tuple[float, float], s0: float,
                  radius: int) -> tuple[float, int, int]:
        """``(f, x, y)``: size factor (of ``s0``) and top-left of the logo in the crop.

        Minimises the mean squared colour difference between the reference and the
        crop over the logo's opaque pixels (masked template matching) across sizes and
        shifts; keeps the plain box fit unless another placement is clearly better
        (a wrong or recoloured logo matches nowhere).
        """
        rh, rw = ref.shape[:2]
        img = crop.astype(np.float32)
        ch, cw = img.shape[:2]
        rgb = ref[..., :3].astype(np.float32)
        alpha = ref[..., 3].astype(np.float32) / 255.0
        base: tuple[float, float, int, int] | None = None
        best: tuple[float, float, int, int] | None = None
        for f in [1.0, *np.linspace(0.5, 1.0, 26)]:
            pw, ph = max(1, int(round(rw * s0 * f))), max(1, int(round(rh * s0 * f)))
            x0 = int(round(centre[0] - pw / 2.0))
            y0 = int(round(centre[1] - ph / 2.0))
            prgb = _resize_patch(rgb, pw, ph)
            pa = np.clip(_resize_patch(alpha, pw, ph), 0.0, 1.0)
            weight = np.where(pa > 0.5, 1.0, 0.0).astype(np.float32)
            if weight.sum() < 16:
                continue
            window = cv2.copyMakeBorder(img, radius, radius, radius, radius,
                                        cv2.BORDER_REPLICATE)
            wy0, wx0 = y0, x0  # window origin in padded coordinates = y0 - radius + radius
            if wy0 < 0 or wx0 < 0 or wy0 + ph + 2 * radius > ch + 2 * radius \
                    or wx0 + pw + 2 * radius > cw + 2 * radius:
                continue
            win = window[wy0:wy0 + ph + 2 * radius, wx0:wx0 + pw + 2 * radius]
            res = cv2.matchTemplate(win, prgb, cv2.TM_SQDIFF,
                                    mask=np.repeat(weight[..., None], 3, axis=2))
            res = res / float(weight.sum())
            if f == 1.0 and base is None:
                base = (float(res[radius, radius]), 1.0, x0, y0)
                continue
            min_val, _, min_loc, _ = cv2.minMaxLoc(res)
            cand = (float(min_val), float(f), x0 + min_loc[0] - radius, y0 + min_loc[1] - radius)
            if best is None or cand[0] < best[0]:
                best = cand
        if base is None:
            return 1.0, int(round(centre[0] - rw * s0 / 2)), int(round(centre[1] - rh * s0 / 2))
        if best is not None and best[0] < 0.7 * base[0]:
            return best[1], best[2], best[3]
        return base[1], base[2], base[3]


def scale_patch(patch: np.ndarray, scale: float, centre: tuple[float, float],
                canvas_hw: tuple[int, int]) -> np.ndarray:
    """A zero canvas with ``patch`` scaled uniformly and centred (sub-pixel) at ``centre``.

    Shrinking goes through an area-filtered resize first, so fine detail does not alias.
    """
    src = patch
    if scale < 1.0:
        w = max(1, int(round(patch.shape[1] * scale)))
        h = max(1, int(round(patch.shape[0] * scale)))
        src = cv2.resize(patch, (w, h), interpolation=cv2.INTER_AREA)
    sx = patch.shape[1] * scale / src.shape[1]
    sy = patch.shape[0] * scale / src.shape[0]
    h, w = src.shape[:2]
    # continuous: x = cx + sx * (u - w / 2); index = continuous - 0.5
    m = np.array([[sx, 0.0, centre[0] + sx * (0.5 - w / 2.0) - 0.5],
                  [0.0, sy, centre[1] + sy * (0.5 - h / 2.0) - 0.5]], dtype=np.float64)
    return cv2.warpAffine(src, m, (canvas_hw[1], canvas_hw[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def paste_patch(canvas_hw: tuple[int, int], patch: np.ndarray, x: int, y: int) -> np.ndarray:
    """A zero canvas with ``patch`` at top-left ``(x, y)``, clipped to the canvas."""
    h, w = canvas_hw
    out = np.zeros((h, w) + patch.shape[2:], dtype=patch.dtype)
    ph, pw = patch.shape[:2]
    cx0, cy0 = max(x, 0), max(y, 0)
    cx1, cy1 = min(x + pw, w), min(y + ph, h)
    if cx1 > cx0 and cy1 > cy0:
        out[cy0:cy1, cx0:cx1] = patch[cy0 - y:cy1 - y, cx0 - x:cx1 - x]
    return out


def _resize_patch(patch: np.ndarray, width: float, height: float) -> np.ndarray:
    w, h = max(1, int(round(width))), max(1, int(round(height)))
    shrink = w * h < patch.shape[0] * patch.shape[1]
    return cv2.resize(patch, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def _is_upright_rect(quad: Quad, tol: float = 0.5) -> bool:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad
    return (abs(y0 - y1) <= tol and abs(y2 - y3) <= tol and abs(x0 - x3) <= tol
            and abs(x1 - x2) <= tol)
