"""Fidelity measures between a reference logo and the poster pixels under a quad.

The poster region is resampled into the reference's frame at about its on-poster size
(capped at :data:`COMPARE_CAP` px on the long side); the reference, shrunk to the same
size, is composited over those very poster pixels with its alpha, which is what a
faithful logo would look like on this poster. Everything is then compared inside the
logo's alpha (dilated for structure and edges, eroded for colour). The measures and the
thresholds that turn them into reasons are listed in :mod:`detectors.logo`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from detectors.logo_locate import canonical_size
from detectors.logo_reference import LogoReference

COMPARE_CAP = 256
# the rigid comparison looks like another logo below both (see :func:`detectors.logo.judge`);
# only then is the dense (dewarped) comparison worth its cost
WRONG_GRAD_CORR = 0.35
WRONG_SSIM = 0.45
DEWARP_MAX_SHIFT = 0.1  # largest local displacement allowed, fraction of the compare size
# warp_px is re-read where it lies this close to the shape_warp threshold (3 px,
# :data:`detectors.logo.THRESHOLDS`), on frames nudged by half a pixel (see :func:`measure`)
WARP_RECHECK = (1.5, 4.5)
WARP_NUDGES = ((0.5, 0.0), (-0.5, 0.0), (0.0, 0.5), (0.0, -0.5))
FIT_KEEP_DE = 5.0  # a pixel this close to the colour fit is explained (see _residual_fraction)
DIS_MIN_SIDE = 16  # OpenCV's DIS flow crashes the process on smaller frames (see _dewarp)


@dataclass(frozen=True)
class Measures:
    """Raw figures of one comparison (see :mod:`detectors.logo` for their meaning)."""

    ssim: float
    grad_corr: float
    edge_f1: float
    delta_e: float
    sharpness: float
    residual: float
    edge_shift: float
    warp_px: float
    tile_match: float
    compare_width: int
    residual_id: float = 0.0
    dewarp_corr: float = 0.0
    dewarp_de: float = 0.0

    def as_pairs(self) -> tuple[tuple[str, float], ...]:
        names = ("ssim", "grad_corr", "edge_f1", "delta_e", "sharpness", "residual",
                 "edge_shift", "warp_px", "tile_match", "compare_width", "residual_id",
                 "dewarp_corr", "dewarp_de")
        return tuple((k, float(getattr(self, k))) for k in names)


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def _masked_ssim(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    """Mean SSIM (Gaussian window, sigma 1.5) over ``region``; ``a``/``b`` float32 0..255."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (0, 0), 1.5)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2))
    return float(ssim[region].mean())


def _grad(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    return gx, gy, np.sqrt(gx * gx + gy * gy)


def _edge_f1(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    """F1 of Canny edges of ``a`` vs ``b`` with a 1-pixel tolerance, inside ``region``."""
    a8 = np.clip(a, 0, 255).astype(np.uint8)
    b8 = np.clip(b, 0, 255).astype(np.uint8)
    ea = (cv2.Canny(a8, 40, 100) > 0) & region
    eb = (cv2.Canny(b8, 40, 100) > 0) & region
    if ea.sum() == 0:
        return 1.0 if eb.sum() == 0 else 0.0
    if eb.sum() == 0:
        return 0.0
    k = np.ones((3, 3), np.uint8)
    da = cv2.dilate(ea.astype(np.uint8), k) > 0
    db = cv2.dilate(eb.astype(np.uint8), k) > 0
    precision = float((eb & da).sum()) / float(eb.sum())
    recall = float((ea & db).sum()) / float(ea.sum())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _largest_group(bad: np.ndarray, area_mask: np.ndarray) -> float:
    """Largest group of ``bad`` pixels (opened 3x3, then grouped: nearby residual - the
    strokes of erased letters - is one region), as a fraction of ``area_mask``'s area."""
    bad = cv2.morphologyEx(bad.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    if not bad.any():
        return 0.0
    k = max(3, int(round(0.06 * max(bad.shape))) | 1)
    grouped = cv2.dilate(bad, np.ones((k, k), np.uint8))
    n, labels = cv2.connectedComponents(grouped, connectivity=8)
    per = np.bincount(labels[bad > 0], minlength=n)[1:]
    return float(per.max()) / float(max(area_mask.sum(), 1))


def _residual_fraction(ref_lab: np.ndarray, img_lab: np.ndarray, inner: np.ndarray,
                       area_mask: np.ndarray) -> tuple[float, float]:
    """Largest group of colour residual (ΔE > 22 under both the identity and a robust
    affine colour fit), as a fraction of the logo area; and the same under the identity
    alone (``residual_id``)."""
    x = ref_lab[inner].astype(np.float64)
    y = img_lab[inner].astype(np.float64)
    if len(x) < 12:
        return 0.0, 0.0
    xa = np.hstack([x, np.ones((len(x), 1))])
    keep = np.ones(len(x), bool)
    coef = np.zeros((4, 3))
    for _ in range(3):
        # least squares, then again on the pixels it explains: within 3x the median
        # error (at least the best half; and every pixel within FIT_KEEP_DE). Dropping
        # a fixed worst 10% left a wordmark erased over more than 10% of the logo's
        # pixels in the fit, which then mapped its colour half-way to the background
        # and explained the erasure away (the test logo as OpenCV 4.14 draws it,
        # bolder: residual 0.0; as 5.x draws it: 0.08)
        coef, *_ = np.linalg.lstsq(xa[keep], y[keep], rcond=None)
        err = np.linalg.norm(xa @ coef - y, axis=1)
        keep = err <= max(3.0 * float(np.median(err)), FIT_KEEP_DE)
    full = np.concatenate([ref_lab, np.ones(ref_lab.shape[:2] + (1,), np.float32)], axis=2)
    pred = full.reshape(-1, 4) @ coef
    res_fit = np.linalg.norm(pred.reshape(img_lab.shape) - img_lab, axis=2)
    # a pixel is residual only when neither the identity (faithful colours) nor the
    # global colour map (a recoloured logo) explains it: a fit pulled off by a few
    # colours must not invent residual where the colours simply match
    res_id = np.linalg.norm(ref_lab - img_lab, axis=2)
    res = np.minimum(res_fit, res_id)
    return (_largest_group((res > 22.0) & area_mask, area_mask),
            _largest_group((res_id > 22.0) & area_mask, area_mask))


def _edge_shift(ref_gray: np.ndarray, img_gray: np.ndarray, region: np.ndarray,
                tol: float) -> float:
    """Fraction of the poster's edge pixels (in ``region``) lying further than ``tol`` px
    from every reference edge: edges that moved, i.e. a deformed shape."""
    ea = (cv2.Canny(np.clip(ref_gray, 0, 255).astype(np.uint8), 40, 100) > 0) & region
    eb = (cv2.Canny(np.clip(img_gray, 0, 255).astype(np.uint8), 40, 100) > 0) & region
    if eb.sum() < 10 or ea.sum() < 10:
        return 0.0
    dist = cv2.distanceTransform((~ea).astype(np.uint8), cv2.DIST_L2, 3)
    return float((dist[eb] > tol).mean())


def _tile_warp(ref_g: np.ndarray, img_g: np.ndarray, region: np.ndarray
               ) -> tuple[float, float]:
    """Local displacement (px of the compare frame) between reference and poster: the
    logo is cut into tiles, each tile's shift is found by phase correlation of the
    gradient maps, and the spread of the shifts around their median is returned (a
    faithful or globally misplaced logo has equal shifts; a warped one does not).

    Returns ``(warp_px, tile_match)``: ``tile_match`` is the median phase-correlation
    peak over the tiles, high when each tile matches after its own shift (a deformed
    logo) and low when it does not (another logo)."""
    h, w = ref_g.shape
    ny = 3 if h >= 48 else 2
    nx = int(np.clip(round(ny * w / max(h, 1)), 2, 8))
    th, tw = h // ny, w // nx
    if th < 12 or tw < 12:
        return 0.0, 1.0
    shifts = []
    responses = []
    win = cv2.createHanningWindow((tw, th), cv2.CV_32F)
    for iy in range(ny):
        for ix in range(nx):
            sl = (slice(iy * th, (iy + 1) * th), slice(ix * tw, (ix + 1) * tw))
            if region[sl].mean() < 0.3:
                continue
            a, b = ref_g[sl], img_g[sl]
            if float(a.std()) < 4.0 or float(b.std()) < 4.0:
                continue
            (dx, dy), resp = cv2.phaseCorrelate(a, b, win)
            responses.append(resp)
            if resp > 0.1:
                shifts.append((dx, dy))
    tile_match = float(np.median(responses)) if responses else 1.0
    if len(shifts) < 3:
        return 0.0, tile_match
    arr = np.asarray(shifts)
    dev = np.linalg.norm(arr - np.median(arr, axis=0), axis=1)
    # the second largest: one odd tile is not a warp
    return float(np.sort(dev)[-2]), tile_match


def _corr(g_a: np.ndarray, g_b: np.ndarray, region: np.ndarray) -> float:
    """Pearson correlation of two maps (gradient magnitudes) inside ``region``."""
    gr, gi = g_a[region], g_b[region]
    denom = float(np.sqrt(((gr - gr.mean()) ** 2).sum() * ((gi - gi.mean()) ** 2).sum()))
    return float(((gr - gr.mean()) * (gi - gi.mean())).sum()) / denom if denom > 0 else 0.0


def _dewarp(ref_gray: np.ndarray, img_gray: np.ndarray, img_rgb: np.ndarray,
            g_ref: np.ndarray, ref_lab: np.ndarray, region: np.ndarray, inner: np.ndarray
            ) -> tuple[float, float]:
    """Gradient correlation and median CIELAB ΔE (inside ``inner``) after a dense local
    alignment of the poster onto the reference.

    DIS optical flow (reference -> poster, grey), each vector capped at
    :data:`DEWARP_MAX_SHIFT` of the frame's long side, pulls every poster pixel back to
    where the reference has it; gradients and colours are then compared again. An
    elastically warped logo - its strokes displaced by 5-8% of its size, so that the rigid
    correlation and the per-tile phase correlation both look like another logo - is its
    own reference again, in its own colours; another logo, copy or a decoration has no
    such flow (a small frame lets the flow fit some of copy's strokes, not its colours:
    seed 2, a 60 px text match, 0.20 -> 0.33 but ΔE 67 -> 67; warped logos 54/30/19 ->
    20/16/15)."""
    a = np.clip(ref_gray + 0.5, 0, 255).astype(np.uint8)
    b = np.clip(img_gray + 0.5, 0, 255).astype(np.uint8)
    h, w = a.shape
    # OpenCV 4.x's DIS segfaults on frames under 16 px high (from 40 px wide) or small
    # squares (8x8, 10x10): a wide logo compared at 64 x 8 px took the process down.
    # Such a frame is flowed at DIS_MIN_SIDE and the flow brought back to its size.
    k = max(1.0, DIS_MIN_SIDE / min(h, w))
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    if k > 1.0:
        size = (int(np.ceil(w * k)), int(np.ceil(h * k)))
        big = dis.calc(cv2.resize(a, size, interpolation=cv2.INTER_LINEAR),
                       cv2.resize(b, size, interpolation=cv2.INTER_LINEAR), None)
        flow = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA) / np.float32(k)
    else:
        flow = dis.calc(a, b, None)
    limit = DEWARP_MAX_SHIFT * max(a.shape)
    mag = np.sqrt((flow * flow).sum(axis=2))
    flow = flow * np.minimum(1.0, limit / np.maximum(mag, 1e-6))[..., None]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    back = cv2.remap(img_rgb, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)
    back_gray = cv2.cvtColor(back, cv2.COLOR_RGB2GRAY).astype(np.float32)
    de = np.linalg.norm(ref_lab - _lab(back), axis=2)
    return _corr(g_ref, _grad(back_gray)[2], region), float(np.median(de[inner]))


def _framed(image: np.ndarray, h_frame: np.ndarray, size: tuple[int, int],
            ref_rgb: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The poster seen through ``h_frame`` (frame px -> poster px) as an RGB uint8 image
    of ``size`` (w, h), and the reference (``ref_rgb``, ``alpha`` ``[h, w, 1]`` in
    [0, 1], both in the frame) composited over those very pixels."""
    img_c = cv2.warpPerspective(image, h_frame, size,
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)
    ref_c = ref_rgb.astype(np.float32) * alpha + img_c.astype(np.float32) * (1 - alpha)
    return img_c, np.clip(ref_c + 0.5, 0, 255).astype(np.uint8)


def measure(image: np.ndarray, ref: LogoReference, h_ref_to_img: np.ndarray) -> Measures:
    """Compare the poster under ``h_ref_to_img`` (reference px -> poster px) with ``ref``.

    ``image``: RGB uint8 ``[H, W, 3]``.
    """
    from detectors.logo_locate import quad_of

    quad = quad_of(h_ref_to_img, ref)
    cw, ch = canonical_size(ref, quad, cap=COMPARE_CAP)
    pad = max(int(0.06 * max(cw, ch)), 3)
    # frame with a margin so the outline and its neighbourhood are compared too
    s = np.array([[ref.width / cw, 0, -pad * ref.width / cw],
                  [0, ref.height / ch, -pad * ref.height / ch], [0, 0, 1]], np.float64)
    h_frame = h_ref_to_img @ s
    fw, fh = cw + 2 * pad, ch + 2 * pad
    small = ref.resized(cw, ch)
    alpha = np.pad(small.alpha, pad)[..., None]
    ref_rgb = np.pad(small.rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    img_c, ref_c8 = _framed(image, h_frame, (fw, fh), ref_rgb, alpha)
    mask = np.pad(small.mask, pad)
    k = max(3, int(round(0.02 * max(cw, ch))) | 1)
    region = cv2.dilate(mask, np.ones((k, k), np.uint8)) > 0
    inner = cv2.erode(mask, np.ones((3, 3), np.uint8)) > 0
    if inner.sum() < 12:
        inner = mask > 0

    ref_gray = cv2.cvtColor(ref_c8, cv2.COLOR_RGB2GRAY).astype(np.float32)
    img_gray = cv2.cvtColor(img_c, cv2.COLOR_RGB2GRAY).astype(np.float32)
    ssim = _masked_ssim(ref_gray, img_gray, region)
    _, _, g_ref = _grad(ref_gray)
    _, _, g_img = _grad(img_gray)
    grad_corr = _corr(g_ref, g_img, region)
    edge_f1 = _edge_f1(ref_gray, img_gray, region)
    ref_lab, img_lab = _lab(ref_c8), _lab(img_c)
    de = np.linalg.norm(ref_lab - img_lab, axis=2)
    delta_e = float(np.median(de[inner]))
    # sharpness: high-frequency energy (Laplacian) inside the region, poster / reference
    lap_ref = cv2.Laplacian(ref_gray, cv2.CV_32F, ksize=3)
    lap_img = cv2.Laplacian(img_gray, cv2.CV_32F, ksize=3)
    e_ref = float(np.abs(lap_ref[region]).mean())
    e_img = float(np.abs(lap_img[region]).mean())
    sharpness = e_img / e_ref if e_ref > 1e-3 else 1.0
    residual, residual_id = _residual_fraction(ref_lab, img_lab, inner, mask > 0)
    edge_shift = _edge_shift(ref_gray, img_gray, region, max(2.0, 0.02 * max(cw, ch)))
    warp_px, tile_match = _tile_warp(g_ref, g_img, region)
    if WARP_RECHECK[0] <= warp_px <= WARP_RECHECK[1]:
        # one reading near the threshold is noise-bound: a tile whose strokes moved
        # unevenly flips between two near-equal phase-correlation peaks with the frame's
        # last sub-pixel (a flat logo warped by 3% of its width: 2.3-4.6 px over
        # half-pixel nudges of its quad; OpenCV 4.14's ECC refinement and 5.1's put it on
        # either side of 3 px). The median over the frame and four half-pixel nudges of
        # it is a stable figure.
        reads = [warp_px]
        for ox, oy in WARP_NUDGES:
            nudge = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]], np.float64)
            img_n, ref_n = _framed(image, h_frame @ nudge, (fw, fh), ref_rgb, alpha)
            reads.append(_tile_warp(
                _grad(cv2.cvtColor(ref_n, cv2.COLOR_RGB2GRAY).astype(np.float32))[2],
                _grad(cv2.cvtColor(img_n, cv2.COLOR_RGB2GRAY).astype(np.float32))[2],
                region)[0])
        warp_px = float(np.median(reads))
    # the dense comparison only where the rigid one looks like another logo (it costs a
    # few ms); elsewhere it is reported as the rigid correlation
    dewarp_corr, dewarp_de = _dewarp(ref_gray, img_gray, img_c, g_ref, ref_lab, region,
                                     inner) \
        if grad_corr < WRONG_GRAD_CORR and ssim < WRONG_SSIM else (grad_corr, delta_e)
    return Measures(ssim=ssim, grad_corr=grad_corr, edge_f1=edge_f1, delta_e=delta_e,
                    sharpness=sharpness, residual=residual, edge_shift=edge_shift,
                    warp_px=warp_px, tile_match=tile_match,
                    compare_width=cw, residual_id=residual_id, dewarp_corr=dewarp_corr,
                    dewarp_de=dewarp_de)


INK_MISSING_DE = 22.0  # ΔE76 from the reference above which a pixel of its ink is not there


def ink_missing(image: np.ndarray, ref: LogoReference, h_ref_to_img: np.ndarray,
                keep: tuple[int, int, int, int]) -> float:
    """Share of the reference's ink outside ``keep`` (a box ``(x0, y0, x1, y1)`` in
    reference pixels: the part found intact) that the poster under ``h_ref_to_img``
    (reference px -> poster px) does not show: pixels inside the eroded alpha whose
    CIELAB colour is further than :data:`INK_MISSING_DE` from the reference composited
    over the poster. 0 when that ink is too small to say (< 12 px in the compare frame).

    ``image``: RGB uint8 ``[H, W, 3]``. Unlike the whole logo's residual (its largest
    group as a share of the *whole* logo), this is a share of the rest alone: a wordmark
    erased next to its emblem reads about 0.9, a faithful one about 0, not a few
    hundredths either side of a threshold."""
    from detectors.logo_locate import quad_of

    cw, ch = canonical_size(ref, quad_of(h_ref_to_img, ref), cap=COMPARE_CAP)
    s = np.diag([ref.width / cw, ref.height / ch, 1.0])
    small = ref.resized(cw, ch)
    img_c, ref_c8 = _framed(image, h_ref_to_img @ s, (cw, ch), small.rgb,
                            small.alpha[..., None])
    rest = cv2.erode(small.mask, np.ones((3, 3), np.uint8)) > 0
    x0, y0, x1, y1 = keep
    kx, ky = cw / ref.width, ch / ref.height
    rest[int(np.floor(y0 * ky)):int(np.ceil(y1 * ky)),
         int(np.floor(x0 * kx)):int(np.ceil(x1 * kx))] = False
    if rest.sum() < 12:
        return 0.0
    de = np.linalg.norm(_lab(ref_c8) - _lab(img_c), axis=2)
    return float((de[rest] > INK_MISSING_DE).mean())


WORDMARK_MIN_OVERLAP = 0.5
"""Similarity (difflib ratio) below which a read is other text, not the wordmark."""


def wordmark_edits(word: str, read: str) -> int:
    """Characters of ``read`` (both as :func:`detectors.logo_reference.wordmark_text`)
    that differ from the wordmark ``word``: substituted letters anywhere, letters
    inserted or dropped between the first and last matching ones. Letters only missing
    or only added at either end are not counted (a read cut short by the crop, an emblem
    read as a letter)."""
    import difflib

    ops = difflib.SequenceMatcher(None, word, read, autojunk=False).get_opcodes()
    equal = [i for i, op in enumerate(ops) if op[0] == "equal"]
    if not equal:
        return max(len(word), len(read))
    edits = 0
    for k, (tag, i1, i2, j1, j2) in enumerate(ops):
        inside = equal[0] < k < equal[-1]
        if tag == "replace" or (tag != "equal" and inside):
            edits += max(i2 - i1, j2 - j1)
    return edits


def wordmark_mismatch(word: str, reads: list[str]) -> tuple[bool, float]:
    """Does the poster misspell the wordmark? ``reads``: the confident lines read in the
    logo's quad (as :func:`detectors.logo_reference.wordmark_text`), plus their
    concatenation. The read most like ``word`` is taken; it must overlap the wordmark
    (difflib ratio >= :data:`WORDMARK_MIN_OVERLAP`: else it is other text, or none was
    read, and nothing is said) and differ *inside* it (:func:`wordmark_edits` > 0).
    Returns ``(mismatch, ratio of the best read)``."""
    import difflib

    cands = list(reads) + ([''.join(reads)] if len(reads) > 1 else [])
    if not cands:
        return False, 0.0
    ratio, best = max((difflib.SequenceMatcher(None, word, r, autojunk=False).ratio(), r)
                      for r in cands)
    if ratio < WORDMARK_MIN_OVERLAP:
        return False, float(ratio)
    return wordmark_edits(word, best) > 0, float(ratio)
