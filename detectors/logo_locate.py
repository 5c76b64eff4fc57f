"""Localisation of a reference logo on a poster at unknown scale.

Two searches, both on a working copy of the poster whose long side is at most
:data:`WORK_LONG_SIDE` pixels:

1. **features** (textured logos): SIFT keypoints of the reference (composited over white
   and over black, so that the outline's gradient exists whatever the poster's
   background) are matched poster -> reference with Lowe's ratio test, then a RANSAC
   homography is fitted. Found instances are removed and the fit repeated, so two copies
   of the logo are both found.
2. **template** (flat logos, small logos): normalised cross-correlation of colour
   gradient-magnitude maps over a geometric ladder of scales (logo width
   :data:`MIN_WIDTH_FRAC` .. :data:`MAX_WIDTH_FRAC` of the poster width), peaks kept
   with non-maximum suppression.

Every candidate is then refined with ECC (homography) against the reference composited
over the poster's local background, which gives sub-pixel corners under small rotation
and mild perspective. All coordinates returned are full-resolution poster pixels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from detectors.logo_reference import LogoReference, composite

log = logging.getLogger(__name__)

WORK_LONG_SIDE = 1024
TEMPLATE_WORK_WIDTH = 512
MIN_WIDTH_FRAC = 0.045
MAX_WIDTH_FRAC = 0.5
SCALE_STEP = 1.07
RATIO_TEST = 0.8
MIN_INLIERS = 12
MIN_INLIER_SPREAD = 0.25
FEATURE_REF_LONG_SIDE = 480


@dataclass(frozen=True, eq=False)
class Candidate:
    """A possible logo instance: ``h_ref_to_img`` maps reference pixels to poster pixels."""

    h_ref_to_img: np.ndarray
    method: str
    strength: float  # feature: inlier count; template: NCC peak


def quad_of(h: np.ndarray, ref: LogoReference) -> np.ndarray:
    pts = cv2.perspectiveTransform(ref.corners.reshape(-1, 1, 2), h).reshape(4, 2)
    return pts


def plausible_quad(quad: np.ndarray, ref: LogoReference, image_hw: tuple[int, int]) -> bool:
    """Convex, near-rectangular, aspect close to the reference, inside-ish the poster."""
    if not np.all(np.isfinite(quad)):
        return False
    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return False
    # clockwise in image coordinates (y down): positive signed area with this formula
    x, y = quad[:, 0], quad[:, 1]
    area = 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    if area <= 0:
        return False
    sides = np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1)
    if sides.min() < 4:
        return False
    top, right, bottom, left = sides
    if not (0.6 < top / bottom < 1.67 and 0.6 < left / right < 1.67):
        return False
    aspect = ((top + bottom) / 2) / ((left + right) / 2)
    ref_aspect = ref.width / ref.height
    if not 0.7 < aspect / ref_aspect < 1.43:
        return False
    for i in range(4):
        a = quad[i - 1] - quad[i]
        b = quad[(i + 1) % 4] - quad[i]
        cos = float(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9)
        if abs(cos) > 0.45:  # corner angle outside ~63..117 degrees
            return False
    h, w = image_hw
    cx, cy = quad.mean(axis=0)
    if not (0 <= cx < w and 0 <= cy < h):
        return False
    width = (top + bottom) / 2
    return MIN_WIDTH_FRAC * 0.7 * w <= width <= 1.05 * w


def _scale_h(h: np.ndarray, ref_scale: float, img_scale: float) -> np.ndarray:
    """Turn a homography between scaled copies into one between the originals."""
    s_ref = np.diag([ref_scale, ref_scale, 1.0])
    s_img_inv = np.diag([1.0 / img_scale, 1.0 / img_scale, 1.0])
    return s_img_inv @ h @ s_ref


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


class FeatureMatcher:
    """SIFT matching; the poster's keypoints are computed once per image."""

    def __init__(self, image: np.ndarray, work_scale: float) -> None:
        self.scale = work_scale
        gray = _gray(image)
        if work_scale != 1.0:
            gray = cv2.resize(gray, None, fx=work_scale, fy=work_scale,
                              interpolation=cv2.INTER_AREA)
        self.sift = cv2.SIFT_create(nfeatures=8000, contrastThreshold=0.02)
        kps, desc = self.sift.detectAndCompute(gray, None)
        self.pts = np.array([k.pt for k in kps], np.float32).reshape(-1, 2)
        self.desc = desc

    def find(self, ref: LogoReference, image_hw: tuple[int, int], max_count: int
             ) -> list[Candidate]:
        if self.desc is None or len(self.pts) < MIN_INLIERS:
            return []
        long_side = max(ref.width, ref.height)
        rs = min(1.0, FEATURE_REF_LONG_SIDE / long_side)
        if long_side * rs < 96:  # upsample tiny references a little
            rs = 96 / long_side
        small = ref.resized(round(ref.width * rs), round(ref.height * rs))
        rs_x = small.width / ref.width
        feat_mask = cv2.dilate(small.mask, np.ones((5, 5), np.uint8))
        ref_pts_list, poster_idx_list = [], []
        matcher = cv2.BFMatcher(cv2.NORM_L2)
        for bg in (255.0, 0.0):
            gray = _gray(composite(small, bg))
            kps, desc = self.sift.detectAndCompute(gray, feat_mask)
            if desc is None or len(kps) < 2:
                continue
            kp_pts = np.array([k.pt for k in kps], np.float32)
            for pair in matcher.knnMatch(self.desc, desc, k=2):
                if len(pair) == 2 and pair[0].distance < RATIO_TEST * pair[1].distance:
                    ref_pts_list.append(kp_pts[pair[0].trainIdx])
                    poster_idx_list.append(pair[0].queryIdx)
        if len(ref_pts_list) < MIN_INLIERS:
            return []
        ref_pts = np.array(ref_pts_list, np.float32)
        idx = np.array(poster_idx_list)
        img_pts = self.pts[idx]
        found: list[Candidate] = []
        alive = np.ones(len(ref_pts), bool)
        for _ in range(max_count):
            if alive.sum() < MIN_INLIERS:
                break
            src, dst = ref_pts[alive], img_pts[alive]
            h, inl = cv2.findHomography(src, dst, cv2.RANSAC, 4.0, maxIters=3000,
                                        confidence=0.995)
            if h is None or inl is None:
                break
            n_in = int(inl.sum())
            if n_in < MIN_INLIERS:
                break
            # inliers bunched in one corner (or on a periodic texture) give a homography
            # that is right there and wrong elsewhere: ask for a spread of inliers
            in_pts = src[inl.ravel() > 0]
            spread = float(np.ptp(in_pts[:, 0]) * np.ptp(in_pts[:, 1])) / float(
                small.width * small.height)
            if spread < MIN_INLIER_SPREAD:
                alive[np.nonzero(alive)[0][inl.ravel() > 0]] = False
                continue
            h_full = _scale_h(h, 1.0 / rs_x, self.scale)
            quad = quad_of(h_full, ref)
            alive_idx = np.nonzero(alive)[0]
            if plausible_quad(quad, ref, image_hw):
                found.append(Candidate(h_full, "features", float(n_in)))
                # drop every match that lands inside this instance
                poly = (quad * self.scale).astype(np.float32).reshape(-1, 1, 2)
                for j in alive_idx:
                    x, y = img_pts[j]
                    if cv2.pointPolygonTest(poly, (float(x), float(y)), True) > -4:
                        alive[j] = False
            alive[alive_idx[inl.ravel() > 0]] = False
        return found


def _grad_map(rgb: np.ndarray, blur: float) -> np.ndarray:
    """Colour gradient magnitude (Lab channels), lightly blurred, float32."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    lab[..., 0] *= 2.0  # weigh lightness edges a little higher than chroma edges
    gx = cv2.Sobel(lab, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(lab, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.sqrt((gx * gx + gy * gy).sum(axis=2))
    if blur > 0:
        mag = cv2.GaussianBlur(mag, (0, 0), blur)
    return mag


def template_candidates(image: np.ndarray, ref: LogoReference, max_count: int,
                        roi: tuple[int, int, int, int] | None = None, *,
                        soft: float = 0.0, work_width: int = TEMPLATE_WORK_WIDTH,
                        width_range: tuple[float, float] | None = None) -> list[Candidate]:
    """Multi-scale gradient NCC; returns up to ``max_count`` peaks (best first).

    ``soft`` > 0 blurs both gradient maps by ``soft`` x the template width, which keeps
    a blurred or warped logo findable (at the cost of precision: ECC refines after).
    """
    h_img, w_img = image.shape[:2]
    if roi is not None:
        x0, y0, x1, y1 = roi
        sub = image[y0:y1, x0:x1]
    else:
        x0, y0 = 0, 0
        sub = image
    s = min(1.0, work_width / sub.shape[1])
    small = cv2.resize(sub, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s != 1.0 else sub
    g_img0 = _grad_map(small, 1.0)
    g_img = g_img0
    lum = float(_gray(ref.rgb)[ref.mask > 0].mean())
    ref_comp = composite(ref, 255.0 if lum < 128 else 0.0)
    aspect = ref.height / ref.width
    peaks: list[Peak] = []  # score, x, y, width (work px)
    lo, hi = width_range if width_range is not None else (MIN_WIDTH_FRAC * w_img,
                                                          MAX_WIDTH_FRAC * w_img)
    w_min = max(12.0, lo * s)
    w_max = min(hi * s, g_img.shape[1] - 2, (g_img.shape[0] - 2) / aspect)
    if w_max < w_min:
        return []
    n = int(np.floor(np.log(w_max / w_min) / np.log(SCALE_STEP))) + 1
    for tw in w_min * SCALE_STEP ** np.arange(n):
        tw_i = int(round(tw))
        th_i = max(int(round(tw * aspect)), 6)
        pad = 2
        tpl_rgb = cv2.resize(ref_comp, (tw_i, th_i), interpolation=cv2.INTER_AREA)
        tpl_rgb = cv2.copyMakeBorder(tpl_rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        tpl = _grad_map(tpl_rgb, 1.0)
        if soft > 0:
            sigma = max(1.0, soft * tw_i)
            tpl = cv2.GaussianBlur(tpl, (0, 0), sigma)
            g_img = cv2.GaussianBlur(g_img0, (0, 0), sigma)
        if tpl.shape[0] >= g_img.shape[0] or tpl.shape[1] >= g_img.shape[1]:
            continue
        if float(tpl.std()) < 1e-6:
            continue
        res = cv2.matchTemplate(g_img, tpl, cv2.TM_CCOEFF_NORMED)
        # windows of (almost) constant gradient give unstable NCC: blank them
        win_mean = cv2.boxFilter(g_img, -1, (tpl.shape[1], tpl.shape[0]), normalize=True,
                                 anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
        win_sq = cv2.boxFilter(g_img * g_img, -1, (tpl.shape[1], tpl.shape[0]),
                               normalize=True, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
        win_std = np.sqrt(np.maximum(win_sq - win_mean * win_mean, 0))
        weak = win_std[:res.shape[0], :res.shape[1]] < 0.25 * float(tpl.std())
        res = np.nan_to_num(res, nan=-1.0, posinf=-1.0, neginf=-1.0)
        res[weak] = -1.0
        res = np.clip(res, -1.0, 1.0)
        peaks += _take_peaks(res, max_count, tw_i, th_i, offset=pad)
    chosen = _distinct_peaks(peaks, aspect, max_count)
    out = []
    for score, x, y, tw in chosen:
        k = tw / ref.width / s
        h = np.array([[k, 0, x / s + x0], [0, k, y / s + y0], [0, 0, 1]], np.float64)
        out.append(Candidate(h, "template" if soft <= 0 else "soft-template", score))
    return out


Peak = tuple[float, float, float, float]  # (score, x, y, template width)


def _take_peaks(res: np.ndarray, max_count: int, tw: int, th: int, *, offset: int) -> list[Peak]:
    """Up to ``max_count`` positive maxima of a match map, half a template apart.

    ``res`` is consumed (each taken peak's neighbourhood is set to -1).
    """
    out: list[Peak] = []
    rx, ry = max(int(tw * 0.5), 1), max(int(th * 0.5), 1)
    for _ in range(max_count):
        _, val, _, loc = cv2.minMaxLoc(res)
        if val <= 0:
            break
        out.append((float(val), loc[0] + offset, loc[1] + offset, float(tw)))
        res[max(loc[1] - ry, 0):loc[1] + ry + 1, max(loc[0] - rx, 0):loc[0] + rx + 1] = -1
    return out


def _distinct_peaks(peaks: list[Peak], aspect: float, max_count: int) -> list[Peak]:
    """The best peaks whose centres are not within half a logo of a better one."""
    chosen: list[Peak] = []
    for p in sorted(peaks, reverse=True):
        cx, cy = p[1] + p[3] / 2, p[2] + p[3] * aspect / 2
        if any(abs(cx - (q[1] + q[3] / 2)) < (p[3] + q[3]) / 4
               and abs(cy - (q[2] + q[3] * aspect / 2)) < (p[3] + q[3]) * aspect / 4
               for q in chosen):
            continue
        chosen.append(p)
        if len(chosen) >= max_count:
            break
    return chosen


def local_background(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Median colour of a ring just outside the quad (the poster's local background)."""
    h, w = image.shape[:2]
    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
    m = max(int(0.08 * max(x1 - x0, y1 - y0)), 3)
    bx0, by0, bx1, by1 = max(x0 - m, 0), max(y0 - m, 0), min(x1 + m, w), min(y1 + m, h)
    if bx1 <= bx0 or by1 <= by0:
        return np.array([255.0, 255.0, 255.0], np.float32)
    ring = np.ones((by1 - by0, bx1 - bx0), np.uint8)
    inner = (quad - [bx0, by0]).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(ring, [inner], 0)
    pix = image[by0:by1, bx0:bx1][ring > 0]
    if len(pix) == 0:
        return np.array([255.0, 255.0, 255.0], np.float32)
    return np.median(pix, axis=0).astype(np.float32)


def canonical_size(ref: LogoReference, quad: np.ndarray, cap: int = 256) -> tuple[int, int]:
    """Size at which to compare: about the logo's size on the poster, capped."""
    sides = np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1)
    width = max((sides[0] + sides[2]) / 2, 8.0)
    k = min(width, float(cap) * ref.width / max(ref.width, ref.height)) / ref.width
    return max(int(round(ref.width * k)), 8), max(int(round(ref.height * k)), 8)


def _warp_gray(image: np.ndarray, h_out_to_img: np.ndarray, size: tuple[int, int]
               ) -> np.ndarray:
    """Grey poster pixels seen through ``h_out_to_img`` (output px -> poster px) as a
    float32 ``size`` image; only the part of the poster under it is converted."""
    w, h = size
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64).reshape(-1, 1, 2)
    pts = cv2.perspectiveTransform(corners, h_out_to_img).reshape(4, 2)
    ih, iw = image.shape[:2]
    x0, y0 = np.clip(np.floor(pts.min(axis=0)).astype(int) - 2, 0, [iw - 1, ih - 1])
    x1, y1 = np.clip(np.ceil(pts.max(axis=0)).astype(int) + 3, [x0 + 1, y0 + 1], [iw, ih])
    crop = _gray(image[y0:y1, x0:x1])
    to_crop = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ h_out_to_img
    return cv2.warpPerspective(crop, to_crop, (w, h),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE).astype(np.float32)


@dataclass(frozen=True, eq=False)
class _EccFrame:
    """What ECC compares for a candidate: the reference composited over the local
    background in a padded canonical frame (``tpl``), the poster around the candidate in
    that frame with a margin of ``big`` px (``region``), the mask of the logo and a thin
    ring around it (``mask``, template coordinates) and the maps back to the poster."""

    tpl: np.ndarray
    region: np.ndarray
    mask: np.ndarray
    big: int
    h_frame: np.ndarray  # padded canonical px -> poster px
    to_ref: np.ndarray  # padded canonical px -> reference px


def _ecc_frame(image: np.ndarray, cand_h: np.ndarray, ref: LogoReference) -> _EccFrame | None:
    """The ECC frame of candidate ``cand_h`` (reference px -> poster px); None when the
    template is flat (nothing to correlate)."""
    quad = quad_of(cand_h, ref)
    size = canonical_size(ref, quad, cap=192)
    cw, ch = size
    # pad the canonical frame so the outline (logo vs background) is inside it
    pad = max(int(0.1 * max(cw, ch)), 4)
    small = ref.resized(cw, ch)
    bg = local_background(image, quad)
    tpl_rgb = composite(small, bg)
    tpl_rgb = cv2.copyMakeBorder(tpl_rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT,
                                 value=[float(v) for v in bg])
    tpl = _gray(tpl_rgb).astype(np.float32)
    # frame: canonical padded pixel -> reference pixel
    to_ref = np.array([[ref.width / cw, 0, -pad * ref.width / cw],
                       [0, ref.height / ch, -pad * ref.height / ch],
                       [0, 0, 1]], np.float64)
    h_frame = cand_h @ to_ref  # padded canonical -> poster
    mask = cv2.dilate(np.pad(small.mask, pad), np.ones((2 * pad + 1, 2 * pad + 1), np.uint8))
    if float(tpl[mask > 0].std()) < 1.0:
        return None
    tw, th = tpl.shape[1], tpl.shape[0]
    # a larger search: the poster region around the candidate, so W can translate
    big = 3 * pad
    shift = np.array([[1, 0, -big], [0, 1, -big], [0, 0, 1]], np.float64)
    region = _warp_gray(image, h_frame @ shift, (tw + 2 * big, th + 2 * big))
    return _EccFrame(tpl, region, mask, big, h_frame, to_ref)


def ecc_at(image: np.ndarray, cand_h: np.ndarray, ref: LogoReference) -> float:
    """The ECC correlation of the reference with the poster exactly at ``cand_h``, no
    refinement (-1 when the template is flat)."""
    fr = _ecc_frame(image, cand_h, ref)
    if fr is None:
        return -1.0
    th, tw = fr.tpl.shape
    crop = fr.region[fr.big:fr.big + th, fr.big:fr.big + tw]
    try:
        return float(cv2.computeECC(fr.tpl, np.ascontiguousarray(crop), fr.mask))
    except cv2.error:
        return -1.0


def refine_ecc(image: np.ndarray, cand_h: np.ndarray, ref: LogoReference,
               iterations: int = 60) -> tuple[np.ndarray, float]:
    """ECC refinement (affine, then homography when clearly better) of a candidate
    ``cand_h`` (reference px -> poster px); returns ``(h_ref_to_img, ecc)``, ecc -1 when
    it failed (then ``cand_h`` is returned unchanged)."""
    fr = _ecc_frame(image, cand_h, ref)
    if fr is None:
        return cand_h, -1.0
    # ECC warps the input into the template frame: input(W x) ~ template(x); we give it
    # the poster in the canonical frame (via h_frame) and estimate the residual W.
    tpl, region, big = fr.tpl, fr.region, fr.big
    tw, th = tpl.shape[1], tpl.shape[0]
    shift = np.array([[1, 0, -big], [0, 1, -big], [0, 0, 1]], np.float64)
    w0 = np.array([[1, 0, big], [0, 1, big], [0, 0, 1]], np.float32)
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-5)
    # only the logo and a thin ring around it take part (input-image coordinates)
    in_mask = np.zeros(region.shape, np.uint8)
    in_mask[big:big + th, big:big + tw] = fr.mask
    try:
        ecc, w_aff = cv2.findTransformECC(tpl, region, w0[:2].copy(), cv2.MOTION_AFFINE, crit,
                                          in_mask, 3)
    except cv2.error:
        return cand_h, -1.0
    w = np.vstack([w_aff, [0, 0, 1]]).astype(np.float32)
    # a homography only where it explains the pixels clearly better (mild perspective);
    # on a flat logo its extra freedom mostly fits noise
    try:
        ecc_h, w_h = cv2.findTransformECC(tpl, region, w.copy(), cv2.MOTION_HOMOGRAPHY, crit,
                                          in_mask, 3)
        if ecc_h > ecc + 0.03:
            ecc, w = ecc_h, w_h
    except cv2.error:
        pass
    # poster(p) ~ region(W x) with region(q) = poster(h_frame shift q)
    h_new = fr.h_frame @ shift @ w.astype(np.float64) @ np.linalg.inv(fr.to_ref)
    return h_new, float(ecc)


COLOUR_WORK_WIDTH = 256
COLOUR_SCALE_STEP = 1.1
COLOUR_SIGMAS = (0.0, 0.035)  # template blur pyramid, fraction of the template width
COLOUR_PALETTE = 4  # logo colours (k-means clusters of its CIELAB pixels)
COLOUR_NEAR_DE = 14.0  # scale of "looks like a logo colour" (ΔE)
COLOUR_BG_SHARE = 0.3  # a logo colour covering more of the poster is its background
COLOUR_CHROMA = 12.0  # logo colours below this CIELAB chroma are left out when others exist


def logo_palette(ref: LogoReference, k: int = COLOUR_PALETTE) -> np.ndarray:
    """The logo's main colours, CIELAB ``[n, 3]`` float32: k-means over its opaque pixels
    (deterministic farthest-point start), clusters under 3% of the pixels dropped."""
    lab = cv2.cvtColor(ref.rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    pix = lab[ref.alpha > 0.9].reshape(-1, 3).astype(np.float32)
    if len(pix) < 4 * k:
        return pix.mean(axis=0, keepdims=True) if len(pix) else np.zeros((0, 3), np.float32)
    if len(pix) > 8000:
        pix = pix[np.linspace(0, len(pix) - 1, 8000).astype(int)]
    centres = [np.median(pix, axis=0)]
    for _ in range(k - 1):
        d = np.min([((pix - c) ** 2).sum(axis=1) for c in centres], axis=0)
        centres.append(pix[int(np.argmax(d))])
    c = np.asarray(centres, np.float32)
    for _ in range(10):
        labels = np.argmin(((pix[:, None, :] - c[None]) ** 2).sum(axis=2), axis=1)
        c = np.asarray([pix[labels == j].mean(axis=0) if (labels == j).any() else c[j]
                        for j in range(k)], np.float32)
    share = np.bincount(labels, minlength=k) / float(len(pix))
    return c[share >= 0.03]


def logo_like(lab: np.ndarray, palette: np.ndarray) -> np.ndarray | None:
    """How much each poster pixel (CIELAB ``[H, W, 3]``) looks like the logo: float32
    ``[H, W]`` in [0, 1], ``exp(-d² / 2 NEAR²)`` of the distance ``d`` to the nearest logo
    colour (``palette``, CIELAB ``[n, 3]``; only its chromatic colours, chroma >=
    :data:`COLOUR_CHROMA`, when it has any; NEAR = :data:`COLOUR_NEAR_DE`), leaving out
    colours that are the poster's background (more than :data:`COLOUR_BG_SHARE` of its
    pixels within NEAR). Soft, so a blurred logo's faded parts still count a little.
    None when every logo colour is background."""
    near = np.zeros(lab.shape[:2], bool)
    chroma = np.hypot(palette[:, 1], palette[:, 2]) if len(palette) else np.zeros(0)
    if (chroma >= COLOUR_CHROMA).any():
        # white, black and greys are everywhere on a poster (copy, panels): a logo's
        # coloured parts say more about where it is
        palette = palette[chroma >= COLOUR_CHROMA]
    soft = np.zeros(lab.shape[:2], np.float32)
    for c in palette:
        d = np.sqrt(((lab - c) ** 2).sum(axis=2))
        m = d < COLOUR_NEAR_DE
        if m.mean() <= COLOUR_BG_SHARE:
            near |= m
            soft = np.maximum(soft, np.exp(-0.5 * (d / COLOUR_NEAR_DE) ** 2))
    return soft if near.any() else None


def colour_candidates(image: np.ndarray, ref: LogoReference, max_count: int, *,
                      work_width: int = COLOUR_WORK_WIDTH) -> list[Candidate]:
    """Blur/warp/erasure-tolerant search on colour, not gradients.

    On a coarse copy of the poster (width ``work_width``: a 5-8% displacement of the
    logo becomes a pixel or two) the reference's own colours (CIELAB, inside its alpha,
    also blurred by a small pyramid of sigmas) are compared with the poster at every
    place and scale of the width ladder; the strength of a place is ``1 - rms ΔE / 50``
    (RMS over the logo's pixels, so a partly erased logo still ranks high). Sums are
    correlations (FFT), so the search costs a few tens of milliseconds per scale.
    """
    h_img, w_img = image.shape[:2]
    s = min(1.0, work_width / w_img)
    small = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s != 1.0 \
        else image
    small = cv2.GaussianBlur(small, (0, 0), 0.7)
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    lab_sq = lab * lab
    aspect = ref.height / ref.width
    w_min = max(8.0, MIN_WIDTH_FRAC * w_img * s)
    w_max = min(MAX_WIDTH_FRAC * w_img * s, lab.shape[1] - 2, (lab.shape[0] - 2) / aspect)
    if w_max < w_min:
        return []
    n = int(np.floor(np.log(w_max / w_min) / np.log(COLOUR_SCALE_STEP))) + 1
    premult = ref.rgb.astype(np.float32) * ref.alpha[..., None]
    peaks: list[Peak] = []
    for tw in w_min * COLOUR_SCALE_STEP ** np.arange(n):
        tw_i = int(round(tw))
        th_i = max(int(round(tw * aspect)), 4)
        if th_i >= lab.shape[0] or tw_i >= lab.shape[1]:
            continue
        pm = cv2.resize(premult, (tw_i, th_i), interpolation=cv2.INTER_AREA)
        al = cv2.resize(ref.alpha, (tw_i, th_i), interpolation=cv2.INTER_AREA)
        best = None
        for frac in COLOUR_SIGMAS:
            sigma = frac * tw_i
            if sigma >= 0.5:
                pm_b = cv2.GaussianBlur(pm, (0, 0), sigma)
                al_b = cv2.GaussianBlur(al, (0, 0), sigma)
            else:
                pm_b, al_b = pm, al
            m = (al_b > 0.9).astype(np.float32)
            if m.sum() < 6:
                m = (al_b > 0.6).astype(np.float32)
            cnt = float(m.sum())
            if cnt < 6:
                continue
            rgb = np.clip(pm_b / np.maximum(al_b[..., None], 1e-3), 0, 255)
            t_lab = cv2.cvtColor(rgb / 255.0, cv2.COLOR_RGB2Lab) * m[..., None]
            m3 = np.repeat(m[..., None], 3, axis=2)
            # a window flatter than the logo (a plain area of one of its colours) is no
            # logo: its missing colour variance counts as distance
            t_mean = t_lab.sum(axis=(0, 1)) / cnt
            t_var = float((t_lab * t_lab).sum()) / cnt - float((t_mean * t_mean).sum())
            sq_sum = cv2.matchTemplate(lab_sq, m3, cv2.TM_CCORR)
            mean_sq = sum(cv2.matchTemplate(np.ascontiguousarray(lab[..., c]), m,
                                            cv2.TM_CCORR) ** 2 for c in range(3)) / cnt ** 2
            p_var = np.maximum(sq_sum / cnt - mean_sq, 0)
            ssd = sq_sum - 2 * cv2.matchTemplate(lab, t_lab, cv2.TM_CCORR) \
                + float((t_lab * t_lab).sum())
            rms = np.sqrt(np.maximum(ssd, 0) / cnt)
            lack = np.sqrt(np.maximum(0.5 * t_var - p_var, 0))
            rms = rms + lack
            best = rms if best is None else np.minimum(best, rms)
        if best is None:
            continue
        res = 1.0 - best / 50.0
        peaks += _take_peaks(res, max_count, tw_i, th_i, offset=0)
    return _scaled_candidates(_distinct_peaks(peaks, aspect, max_count), ref.width, s,
                              "colour")


def _scaled_candidates(chosen, ref_width: int, s: float, method: str) -> list[Candidate]:
    """Candidates of peaks ``(score, x, y, template width)`` found on a copy of the
    poster scaled by ``s``: the reference scaled to the template width, moved to x, y."""
    out = []
    for score, x, y, tw in chosen:
        k = tw / ref_width / s
        h = np.array([[k, 0, x / s], [0, k, y / s], [0, 0, 1]], np.float64)
        out.append(Candidate(h, method, score))
    return out


SHAPE_RING = 0.15  # ring of "not logo" around the alpha template, fraction of its width
SHAPE_SIGMA = 0.06  # blur of both maps, fraction of the template width (warp tolerance)


def shape_candidates(image: np.ndarray, ref: LogoReference, max_count: int, *,
                     work_width: int = COLOUR_WORK_WIDTH) -> list[Candidate]:
    """Warp/blur-tolerant search on the logo's *silhouette in its colours*.

    On a coarse copy of the poster (width ``work_width``) the map of how much pixels look
    like the logo (:func:`logo_like`) is correlated (zero-mean NCC) with the reference's alpha
    surrounded by a ring of :data:`SHAPE_RING` of "not logo", both blurred by
    :data:`SHAPE_SIGMA` of the template width, over the width ladder. Unlike the colour
    RMS of :func:`colour_candidates`, a window filled with the logo's colour scores low
    (no silhouette), so a small template inside a large emblem does not win; a warped or
    blurred silhouette still correlates. A recoloured logo is not found here.
    """
    h_img, w_img = image.shape[:2]
    s = min(1.0, work_width / w_img)
    small = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s != 1.0 \
        else image
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    like0 = logo_like(lab, logo_palette(ref))
    if like0 is None:
        return []
    aspect = ref.height / ref.width
    w_min = max(8.0, MIN_WIDTH_FRAC * w_img * s)
    w_max = min(MAX_WIDTH_FRAC * w_img * s, lab.shape[1] - 2, (lab.shape[0] - 2) / aspect)
    if w_max < w_min:
        return []
    big = int(np.ceil(SHAPE_RING * w_max)) + 1
    like = cv2.copyMakeBorder(like0, big, big, big, big, cv2.BORDER_CONSTANT, value=0.0)
    n = int(np.floor(np.log(w_max / w_min) / np.log(COLOUR_SCALE_STEP))) + 1
    peaks: list[Peak] = []
    for tw in w_min * COLOUR_SCALE_STEP ** np.arange(n):
        tw_i = int(round(tw))
        th_i = max(int(round(tw * aspect)), 4)
        r = int(np.ceil(SHAPE_RING * tw_i))
        al = np.pad(cv2.resize(ref.alpha, (tw_i, th_i), interpolation=cv2.INTER_AREA), r)
        sigma = max(0.8, SHAPE_SIGMA * tw_i)
        tpl = cv2.GaussianBlur(al, (0, 0), sigma)
        if tpl.shape[0] >= like.shape[0] or tpl.shape[1] >= like.shape[1]:
            continue
        like_b = cv2.GaussianBlur(like, (0, 0), sigma)
        res = cv2.matchTemplate(like_b, tpl, cv2.TM_CCOEFF_NORMED)
        res = np.nan_to_num(res, nan=-1.0, posinf=-1.0, neginf=-1.0)
        # (almost) uniform windows give meaningless NCC: blank them
        win = (tpl.shape[1], tpl.shape[0])
        mean = cv2.boxFilter(like_b, -1, win, normalize=True, anchor=(0, 0),
                             borderType=cv2.BORDER_CONSTANT)
        sq = cv2.boxFilter(like_b * like_b, -1, win, normalize=True, anchor=(0, 0),
                           borderType=cv2.BORDER_CONSTANT)
        std = np.sqrt(np.maximum(sq - mean * mean, 0))[:res.shape[0], :res.shape[1]]
        res[std < 0.25 * float(tpl.std())] = -1.0
        peaks += [(v, x + r - big, y + r - big, w)
                  for v, x, y, w in _take_peaks(res, max_count, tw_i, th_i, offset=0)]
    return _scaled_candidates(_distinct_peaks(peaks, aspect, max_count), ref.width, s,
                              "shape")
