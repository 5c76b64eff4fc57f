"""Shape and colour fidelity of a located logo that survive restyling.

A generator that embosses a logo, prints it on fabric, makes it glow, casts it in metal or
shows it on a can changes every pixel of it, not its shape. The measures of
:mod:`detectors.logo_compare` (SSIM, gradient correlation, ΔE, residuals) compare pixels
and fail on such logos; the measures here compare *where the edges are*, after the
homography the locator found, whatever their contrast, polarity or colour:

- the reference's **shape edges**: the outline of its alpha and the boundaries between its
  colours inside it (Canny of the alpha and of the reference's CIELAB lightness and
  chroma);
- the poster's edges under the quad at three blurs (:data:`EDGE_SIGMAS`; a glow, a paper
  bleed or a small logo's softness shows at one of them), Canny with thresholds set from
  the gradient's own distribution inside the logo (so a faint emboss and a vivid print
  give edges alike);
- ``recall``: the share of shape-edge pixels with a poster edge within
  :data:`EDGE_TOL` of the logo's diagonal (best blur); ``precision``: the share of poster
  edges inside the logo's region that lie near a shape edge (texture and relief lower it);
  ``cell_recall``: the worst recall over a 4 x 4 grid of the logo (a garbled word, a side
  fused into a product or erased, while the rest is intact); ``cell_f1``: the worst F1
  of recall and precision per cell (letters swapped or doubled keep their edges near
  some shape edge, not near their cell's); ``cell_corr``: the worst correlation per cell
  of the two edge maps softened by half a tolerance; ``chamfer``: mean distance
  from shape edges to poster edges in tolerances (capped at 3); ``orient``: agreement of
  edge directions at matched shape edges (|cos|: polarity-free, an emboss or an inverted
  logo agree).
- **colour**: ``hue_shift``, the median hue difference (degrees) between reference and
  poster where both are chromatic (CIELAB chroma > :data:`CHROMA_MIN`) and the poster is
  not the local background's colour (a tone-on-tone emboss takes the background's);
  ``chroma_share`` the share of the logo where that could be read. Mono, silver, inverted
  and tone-on-tone renderings have no chromatic pixels to compare: nothing to object to.

:func:`shape_measures` is cheap (a few ms at :data:`SHAPE_CAP` px): it is read for every
instance the locator keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from detectors.logo_locate import canonical_size, quad_of
from detectors.logo_reference import LogoReference

SHAPE_CAP = 160  # long side of the frame the shape is compared in
EDGE_SIGMAS = (0.0, 1.2, 2.5)  # poster blurs (frame px) before edge detection
EDGE_TOL = 0.03  # a poster edge this close (share of the logo's diagonal) matches
GRID = 4
CHROMA_MIN = 15.0  # CIELAB chroma below which a colour has no hue worth comparing
BG_DE = 12.0  # a poster pixel this close to the ring's median colour is background-toned


@dataclass(frozen=True)
class ShapeMeasures:
    recall: float
    precision: float
    cell_recall: float
    chamfer: float
    orient: float
    cell_f1: float
    cell_corr: float
    hue_shift: float
    chroma_share: float

    def as_pairs(self) -> tuple[tuple[str, float], ...]:
        return tuple((f"shape_{k}", float(getattr(self, k))) for k in
                     ("recall", "precision", "cell_recall", "chamfer", "orient",
                      "cell_f1", "cell_corr", "hue_shift", "chroma_share"))


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def _auto_canny(gray: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Canny with thresholds from the gradient magnitude's distribution in ``region``."""
    g8 = np.clip(gray, 0, 255).astype(np.uint8)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy)
    vals = mag[region]
    if vals.size == 0:
        return np.zeros_like(g8, bool)
    hi = max(float(np.percentile(vals, 85)), 8.0)
    return cv2.Canny(g8, 0.4 * hi, hi, L2gradient=True) > 0


def _shape_edges(alpha: np.ndarray, lab: np.ndarray) -> np.ndarray:
    a8 = np.clip(alpha * 255, 0, 255).astype(np.uint8)
    out = cv2.Canny(a8, 60, 128) > 0
    inside = cv2.erode((alpha > 0.5).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    for ch in (lab[..., 0] * 2.55, np.hypot(lab[..., 1], lab[..., 2]) * 2.0):
        e = cv2.Canny(np.clip(ch, 0, 255).astype(np.uint8), 40, 90) > 0
        out |= e & inside
    return out


def _hue(lab: np.ndarray) -> np.ndarray:
    return np.degrees(np.arctan2(lab[..., 2], lab[..., 1]))


def shape_measures(image: np.ndarray, ref: LogoReference, h_ref_to_img: np.ndarray
                   ) -> ShapeMeasures:
    """Measures of the poster under ``h_ref_to_img`` against ``ref`` (RGB uint8 image)."""
    quad = quad_of(h_ref_to_img, ref)
    cw, ch = canonical_size(ref, quad, cap=SHAPE_CAP)
    pad = max(int(0.08 * max(cw, ch)), 3)
    s = np.array([[ref.width / cw, 0, -pad * ref.width / cw],
                  [0, ref.height / ch, -pad * ref.height / ch], [0, 0, 1]], np.float64)
    fw, fh = cw + 2 * pad, ch + 2 * pad
    img = cv2.warpPerspective(image, h_ref_to_img @ s, (fw, fh),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
    small = ref.resized(cw, ch)
    alpha = np.pad(small.alpha, pad)
    ref_lab = np.pad(_lab(small.rgb), ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    shape = _shape_edges(alpha, ref_lab)
    diag = float(np.hypot(cw, ch))
    tol = max(1.5, EDGE_TOL * diag)
    k = max(3, int(round(0.04 * max(cw, ch))) | 1)
    region = cv2.dilate((alpha > 0.5).astype(np.uint8), np.ones((k, k), np.uint8)) > 0
    img_lab = _lab(img)
    if not shape.any():
        return ShapeMeasures(0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    d_shape = cv2.distanceTransform((~shape).astype(np.uint8), cv2.DIST_L2, 3)
    best = None
    channels = (img_lab[..., 0] * 2.55, np.hypot(img_lab[..., 1], img_lab[..., 2]) * 2.0)
    for sigma in EDGE_SIGMAS:
        edges = np.zeros(shape.shape, bool)
        for chan in channels:
            c = cv2.GaussianBlur(chan, (0, 0), sigma) if sigma > 0 else chan
            edges |= _auto_canny(c, region)
        if not edges.any():
            continue
        d_img = cv2.distanceTransform((~edges).astype(np.uint8), cv2.DIST_L2, 3)
        near = d_img[shape] <= tol
        recall = float(near.mean())
        inside = edges & region
        precision = float((d_shape[inside] <= tol).mean()) if inside.any() else 0.0
        if best is None or recall > best[0]:
            best = (recall, precision, d_img, edges, sigma)
    if best is None:
        return ShapeMeasures(0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    recall, precision, d_img, edges, sigma = best
    ys, xs = np.nonzero(shape)
    gx = np.minimum(((xs - pad) * GRID // max(cw, 1)).clip(0, GRID - 1), GRID - 1)
    gy = np.minimum(((ys - pad) * GRID // max(ch, 1)).clip(0, GRID - 1), GRID - 1)
    cell = gy * GRID + gx
    near = d_img[ys, xs] <= tol
    counts = np.bincount(cell, minlength=GRID * GRID)
    hits = np.bincount(cell, weights=near.astype(np.float64), minlength=GRID * GRID)
    big = counts >= max(8, 0.03 * len(xs))
    cell_recall = float((hits[big] / counts[big]).min()) if big.any() else recall
    chamfer = float(np.minimum(d_img[ys, xs] / tol, 3.0).mean())
    # per cell, recall and precision together: letters swapped or doubled keep most of
    # a word's edges near some shape edge, not the cell's own
    py, px = np.nonzero(edges & region)
    pcell = np.minimum(((py - pad) * GRID // max(ch, 1)).clip(0, GRID - 1), GRID - 1) * GRID \
        + np.minimum(((px - pad) * GRID // max(cw, 1)).clip(0, GRID - 1), GRID - 1)
    pnear = d_shape[py, px] <= tol
    pcounts = np.bincount(pcell, minlength=GRID * GRID)
    phits = np.bincount(pcell, weights=pnear.astype(np.float64), minlength=GRID * GRID)
    f1s = []
    for c in np.nonzero(big)[0]:
        r = hits[c] / counts[c]
        p = phits[c] / pcounts[c] if pcounts[c] else 0.0
        f1s.append(2 * r * p / max(r + p, 1e-9))
    cell_f1 = float(min(f1s)) if f1s else 0.0
    # per cell, the correlation of the two edge maps softened by half a tolerance: where
    # letters moved the edges are elsewhere in the cell, whatever their colour
    soft_ref = cv2.GaussianBlur(shape.astype(np.float32), (0, 0), tol / 2)
    soft_img = cv2.GaussianBlur((edges & region).astype(np.float32), (0, 0), tol / 2)
    corrs = []
    for c in np.nonzero(big)[0]:
        cy, cx = divmod(int(c), GRID)
        sl = (slice(pad + cy * ch // GRID, pad + (cy + 1) * ch // GRID),
              slice(pad + cx * cw // GRID, pad + (cx + 1) * cw // GRID))
        a_, b_ = soft_ref[sl].ravel(), soft_img[sl].ravel()
        if a_.std() > 1e-6 and b_.std() > 1e-6:
            corrs.append(float(np.corrcoef(a_, b_)[0, 1]))
        else:
            corrs.append(0.0)
    cell_corr = float(min(corrs)) if corrs else 0.0
    # edge directions at matched shape edges: shape's from the composited reference
    ref_l = alpha * (ref_lab[..., 0] + 30.0)
    lum = img_lab[..., 0]
    if sigma > 0:
        lum = cv2.GaussianBlur(lum, (0, 0), sigma)
    rgx, rgy = cv2.Sobel(ref_l, cv2.CV_32F, 1, 0), cv2.Sobel(ref_l, cv2.CV_32F, 0, 1)
    igx, igy = cv2.Sobel(lum, cv2.CV_32F, 1, 0), cv2.Sobel(lum, cv2.CV_32F, 0, 1)
    sel = near
    if sel.sum() >= 8:
        a1 = np.arctan2(rgy[ys[sel], xs[sel]], rgx[ys[sel], xs[sel]])
        a2 = np.arctan2(igy[ys[sel], xs[sel]], igx[ys[sel], xs[sel]])
        orient = float(np.abs(np.cos(a1 - a2)).mean())
    else:
        orient = 0.0
    # colour: hue where both are chromatic and the poster is not background-toned
    inner = cv2.erode((alpha > 0.5).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    ring = cv2.dilate((alpha > 0.05).astype(np.uint8), np.ones((k, k), np.uint8)) == 0
    hue_shift, chroma_share = 0.0, 0.0
    if inner.sum() >= 12:
        bg = np.median(img_lab[ring], axis=0) if ring.sum() >= 12 else None
        c_ref = np.hypot(ref_lab[..., 1], ref_lab[..., 2])
        c_img = np.hypot(img_lab[..., 1], img_lab[..., 2])
        ok = inner & (c_ref > CHROMA_MIN) & (c_img > CHROMA_MIN)
        if bg is not None:
            ok &= np.linalg.norm(img_lab - bg, axis=2) > BG_DE
        chroma_share = float(ok.sum() / inner.sum())
        if ok.sum() >= 12:
            dh = np.abs(_hue(ref_lab)[ok] - _hue(img_lab)[ok]) % 360.0
            hue_shift = float(np.median(np.minimum(dh, 360.0 - dh)))
    return ShapeMeasures(recall=recall, precision=precision, cell_recall=cell_recall,
                         chamfer=chamfer, orient=orient, cell_f1=cell_f1,
                         cell_corr=cell_corr, hue_shift=hue_shift, chroma_share=chroma_share)

