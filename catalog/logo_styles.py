"""Logo renderings as real image generators make them: faithful restyles and deformations.

A real generator rarely pastes a brand's logo flat. It embosses it, prints it on a
t-shirt or a paper label, makes it glow, extrudes it, casts it in metal or clay, lights it
from one side, shows it in perspective or wrapped round a can. Those logos are
**faithful**: their shape is the brand's. It also deforms logos in ways our older defect
types (blur, warp, hue shift, erasure, another logo) do not cover: the lettering inside the
logo garbled, the logo fused with the product it sits on, the logo bent along a surface.

Every function here works on one logo *layer* of :mod:`catalog.posters`: premultiplied
RGB ``float32 [h, w, 3]`` (0..255) and alpha ``float32 [h, w]`` (0..1) with ``pad``
transparent pixels round the logo, plus the background under the layer (``float32
[h, w, 3]``, needed by tone-on-tone styles), and returns a new ``(rgb, alpha)`` of the same
shape. All randomness comes from the ``rng`` passed in.

- :data:`LOGO_RESTYLES` (faithful): ``emboss`` (tone-on-tone relief in the background's
  colour), ``fabric`` (printed on a woven texture), ``paper`` (printed on grainy paper,
  ink bleed), ``neon`` (glowing tube: whitened core, coloured halo), ``extrude`` (3D
  extrusion: a darker side under the face), ``metallic`` (chrome of the logo's own hue, or
  silver, with a specular band and bevel), ``clay`` (pastel, soft rounded shading, grain),
  ``lighting`` (a strong light gradient and a spot), ``perspective`` (a tilted plane),
  ``curved`` (wrapped round a cylinder: a can, a cup), ``print`` (a screen print on a
  t-shirt: the darkest or lightest of the logo's colours inverted to the shirt's
  contrast, woven texture), ``voxel`` (built from blocks: pixelated, every block
  bevelled).
- :data:`REAL_LOGO_DEFECTS` (deformed): ``garbled`` (two letter groups of the wordmark
  swapped / one duplicated, or the emblem's motif turned), ``fused`` (one side of the logo
  melts into a product shape drawn over it), ``bent`` (an S-shaped bend of the whole logo,
  which no plane or cylinder makes).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from posterqa.errors import InputError

LOGO_RESTYLES = ("emboss", "fabric", "paper", "neon", "extrude", "metallic", "clay",
                 "lighting", "perspective", "curved", "print", "voxel")
REAL_LOGO_DEFECTS = ("garbled", "fused", "bent")


def _straight(rgb: np.ndarray, a: np.ndarray) -> np.ndarray:
    return np.where(a[..., None] > 1e-3, rgb / np.maximum(a[..., None], 1e-3), 0.0)


def _prem(col: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.clip(a, 0.0, 1.0).astype(np.float32)
    return (np.clip(col, 0.0, 255.0) * a[..., None]).astype(np.float32), a


def _inner(a: np.ndarray) -> int:
    ys, xs = np.nonzero(a > 0.5)
    if xs.size == 0:
        raise InputError("logo layer has no ink")
    return int(max(xs.max() - xs.min(), ys.max() - ys.min()) + 1)


def _lum(col: np.ndarray) -> np.ndarray:
    return (0.299 * col[..., 0] + 0.587 * col[..., 1] + 0.114 * col[..., 2]) / 255.0


def _warp(rgb: np.ndarray, a: np.ndarray, map_x: np.ndarray, map_y: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    stack = cv2.remap(np.dstack([rgb, a]).astype(np.float32), map_x.astype(np.float32),
                      map_y.astype(np.float32), cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return stack[..., :3], stack[..., 3]


# --------------------------------------------------------------------------- restyles


def _emboss(rng, rgb, a, bg):
    inner = _inner(a)
    col = _straight(rgb, a)
    height = a * (0.6 + 0.4 * _lum(col))
    sigma = max(1.0, inner * rng.uniform(0.01, 0.02))
    hb = cv2.GaussianBlur(height, (0, 0), sigma)
    ang = rng.uniform(0, 2 * math.pi)
    gx = cv2.Sobel(hb, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(hb, cv2.CV_32F, 0, 1, ksize=3)
    shade = -(gx * math.cos(ang) + gy * math.sin(ang))
    shade = shade / max(float(np.abs(shade).max()), 1e-6)
    lift = rng.uniform(0.04, 0.12) * (1 if rng.random() < 0.5 else -1)
    amp = rng.uniform(70, 110)
    out = np.clip(bg * (1 + lift * hb[..., None]) + amp * shade[..., None], 0, 255)
    cover = np.clip(cv2.dilate(a, np.ones((3, 3), np.uint8)) + np.abs(shade) * 2, 0, 1)
    return _prem(out, cover)


def _fabric(rng, rgb, a, bg):
    h, w = a.shape
    col = _straight(rgb, a)
    period = rng.uniform(3.0, 6.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    weave = 1 + 0.10 * np.sin(2 * np.pi * xx / period) * np.sign(np.sin(2 * np.pi * yy / period))
    weave += rng.normal(0, 0.05, (h, w)).astype(np.float32)
    grey = _lum(col)[..., None] * 255
    col = (0.8 * col + 0.2 * grey) * weave[..., None]
    a2 = cv2.GaussianBlur(a, (0, 0), 0.7) * rng.uniform(0.85, 0.95)
    return _prem(col, a2 * np.clip(weave, 0.8, 1.0))


def _paper(rng, rgb, a, bg):
    h, w = a.shape
    col = _straight(rgb, a)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.2)
    grain = grain / max(float(grain.std()), 1e-6)
    col = col * (0.9 + 0.05 * grain[..., None]) * rng.uniform(0.85, 1.0)
    a2 = cv2.GaussianBlur(a, (0, 0), rng.uniform(0.6, 1.0))
    a2 = a2 * np.clip(0.92 + 0.06 * grain, 0.75, 1.0)
    return _prem(col, a2)


def _neon(rng, rgb, a, bg):
    inner = _inner(a)
    col = _straight(rgb, a)
    core = 0.45 * col + 0.55 * 255.0
    sigma = max(1.5, inner * rng.uniform(0.02, 0.035))
    glow_a = cv2.GaussianBlur(a, (0, 0), sigma) * rng.uniform(0.7, 0.95)
    glow_c = cv2.GaussianBlur(rgb, (0, 0), sigma) / np.maximum(
        cv2.GaussianBlur(a, (0, 0), sigma)[..., None], 1e-3)
    glow_c = np.clip(glow_c * 1.2, 0, 255)
    out_a = np.maximum(a, glow_a)
    prem = core * a[..., None] + glow_c * (glow_a * (1 - a))[..., None]
    return prem.astype(np.float32), np.clip(out_a, 0, 1).astype(np.float32)


def _extrude(rng, rgb, a, bg):
    inner = _inner(a)
    col = _straight(rgb, a)
    depth = max(2, int(round(inner * rng.uniform(0.025, 0.045))))
    ang = rng.uniform(0, 2 * math.pi)
    dx, dy = math.cos(ang), math.sin(ang)
    side = 0.45 * col + 10
    out = np.zeros_like(rgb)
    out_a = np.zeros_like(a)
    for k in range(depth, 0, -1):
        m = np.float32([[1, 0, dx * k], [0, 1, dy * k]])
        ak = cv2.warpAffine(a, m, (a.shape[1], a.shape[0]))
        ck = cv2.warpAffine(side * (0.8 + 0.2 * k / depth), m, (a.shape[1], a.shape[0]))
        out = ck * ak[..., None] + out * (1 - ak[..., None])
        out_a = ak + out_a * (1 - ak)
    out = col * a[..., None] + out * (1 - a[..., None])
    out_a = a + out_a * (1 - a)
    return _prem(out / np.maximum(out_a[..., None], 1e-3), out_a)


def _metallic(rng, rgb, a, bg):
    h, w = a.shape
    inner = _inner(a)
    col = _straight(rgb, a)
    lum = _lum(col)
    if rng.random() < 0.5:
        tint = np.array([200.0, 202.0, 208.0])  # silver / chrome
        tone = tint * (0.45 + 0.6 * lum[..., None])
    else:  # the logo's own colours, polished
        tone = col * (0.55 + 0.35 * lum[..., None]) + 30
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0.3, 1.2)
    t = (xx * math.cos(ang) + yy * math.sin(ang)) / max(h, w)
    band = np.exp(-((t - rng.uniform(0.3, 0.7)) / 0.08) ** 2)
    hb = cv2.GaussianBlur(a, (0, 0), max(1.0, inner * 0.015))
    bevel = cv2.Sobel(hb, cv2.CV_32F, 0, 1, ksize=3) + cv2.Sobel(hb, cv2.CV_32F, 1, 0, ksize=3)
    bevel = bevel / max(float(np.abs(bevel).max()), 1e-6)
    out = tone * (0.8 + 0.35 * np.sin(6 * t)[..., None]) + 90 * band[..., None] \
        - 50 * bevel[..., None]
    return _prem(out, a)


def _clay(rng, rgb, a, bg):
    h, w = a.shape
    inner = _inner(a)
    col = _straight(rgb, a)
    mean = col[a > 0.5].mean(axis=0) if (a > 0.5).any() else col.reshape(-1, 3).mean(0)
    pastel = 0.7 * col + 0.15 * mean + 0.15 * 235.0
    dt = cv2.distanceTransform((a > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
    r = max(2.0, inner * 0.04)
    shade = 0.72 + 0.33 * np.clip(dt / r, 0, 1)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 2.0)
    noise = noise / max(float(noise.std()), 1e-6)
    out = pastel * (shade + 0.03 * noise)[..., None]
    return _prem(out, cv2.GaussianBlur(a, (0, 0), 0.8))


def _lighting(rng, rgb, a, bg):
    h, w = a.shape
    col = _straight(rgb, a)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    t = ((xx - w / 2) * math.cos(ang) + (yy - h / 2) * math.sin(ang)) / max(h, w) + 0.5
    lo, hi = rng.uniform(0.45, 0.65), rng.uniform(1.1, 1.3)
    gain = lo + (hi - lo) * np.clip(t, 0, 1)
    sx, sy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    spot = np.exp(-(((xx - sx) ** 2 + (yy - sy) ** 2) / (2 * (0.25 * max(h, w)) ** 2)))
    out = col * gain[..., None] + 60 * spot[..., None]
    return _prem(out, a)


def _perspective(rng, rgb, a, bg):
    h, w = a.shape
    ys, xs = np.nonzero(a > 0.05)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    bw, bh = x1 - x0, y1 - y0
    src = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    k = rng.uniform(0.1, 0.2)
    dst = src.copy()
    if rng.random() < 0.5:  # one side further away: shorter
        side = [1, 2] if rng.random() < 0.5 else [0, 3]
        dst[side[0], 1] += k * bh / 2
        dst[side[1], 1] -= k * bh / 2
        dst[side, 0] += (-1 if side == [1, 2] else 1) * k * bw * 0.4
    else:  # the top or bottom further away: narrower
        side = [0, 1] if rng.random() < 0.5 else [3, 2]
        dst[side[0], 0] += k * bw / 2
        dst[side[1], 0] -= k * bw / 2
        dst[side, 1] += (1 if side == [0, 1] else -1) * k * bh * 0.3
    m = cv2.getPerspectiveTransform(src, dst)
    stack = cv2.warpPerspective(np.dstack([rgb, a]).astype(np.float32), m, (w, h),
                                flags=cv2.INTER_LINEAR, borderValue=0)
    return stack[..., :3], np.clip(stack[..., 3], 0, 1)


def _curved(rng, rgb, a, bg):
    h, w = a.shape
    ys, xs = np.nonzero(a > 0.05)
    cx = (xs.min() + xs.max() + 1) / 2
    half = (xs.max() + 1 - xs.min()) / 2
    phi = math.radians(rng.uniform(30, 50))
    radius = half / math.sin(phi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # a point at angle p round the cylinder shows at cx + R sin p; its flat position is
    # cx + R p scaled so the logo keeps its width on the poster
    u = np.clip((xx - cx) / radius, -0.999, 0.999)
    p = np.arcsin(u)
    map_x = cx + p * half / phi
    arc = rng.uniform(0.02, 0.05) * h * (1 if rng.random() < 0.5 else -1)
    map_y = yy - arc * (1 - np.cos(p)) / (1 - math.cos(phi))
    out_rgb, out_a = _warp(rgb, a, map_x, map_y)
    out_a = out_a * (np.abs((xx - cx) / radius) < 0.999)
    shade = (0.65 + 0.35 * np.cos(p)) + 0.25 * np.exp(-((p - rng.uniform(-0.4, 0.4)) / 0.15) ** 2)
    col = _straight(out_rgb, out_a) * shade[..., None]
    return _prem(col, out_a)


def _print(rng, rgb, a, bg):
    col = _straight(rgb, a)
    lum = _lum(col)
    inside = a > 0.5
    if inside.any():
        cut = float(np.median(lum[inside]))
        dark = lum < cut - 0.1 if rng.random() < 0.5 else lum > cut + 0.1
        shirt = np.median(bg.reshape(-1, 3), axis=0)
        target = np.full(3, 245.0) if float(_lum(shirt[None, None])[0, 0]) < 0.5 \
            else np.full(3, 20.0)
        col = np.where((dark & inside)[..., None], target, col)
    return _fabric(rng, col * a[..., None], a, bg)


def _voxel(rng, rgb, a, bg):
    h, w = a.shape
    inner = _inner(a)
    block = max(3, int(round(inner * rng.uniform(0.03, 0.05))))
    sw, sh = max(1, w // block), max(1, h // block)
    small_rgb = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA)
    small_a = cv2.resize(a, (sw, sh), interpolation=cv2.INTER_AREA)
    big_rgb = cv2.resize(small_rgb, (w, h), interpolation=cv2.INTER_NEAREST)
    big_a = (cv2.resize(small_a, (w, h), interpolation=cv2.INTER_NEAREST) > 0.5)
    yy, xx = np.mgrid[0:h, 0:w]
    u, v = (xx % block) / block, (yy % block) / block
    bevel = 1.0 + 0.25 * ((u < 0.15) | (v < 0.15)) - 0.3 * ((u > 0.85) | (v > 0.85))
    col = _straight(big_rgb, big_a.astype(np.float32)) * bevel[..., None]
    return _prem(col, big_a.astype(np.float32))


_RESTYLE_FN = {"emboss": _emboss, "fabric": _fabric, "paper": _paper, "neon": _neon,
               "extrude": _extrude, "metallic": _metallic, "clay": _clay,
               "lighting": _lighting, "perspective": _perspective, "curved": _curved,
               "print": _print, "voxel": _voxel}


def restyle_logo(rng: np.random.Generator, style: str, rgb: np.ndarray, alpha: np.ndarray,
                 background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The logo layer rendered faithfully in ``style`` (one of :data:`LOGO_RESTYLES`)."""
    fn = _RESTYLE_FN.get(style)
    if fn is None:
        raise InputError(f"logo restyle {style!r} is not one of {LOGO_RESTYLES}")
    return _layer(fn, rng, rgb, alpha, background)


# --------------------------------------------------------------------------- deformations


def _runs(profile: np.ndarray) -> list[tuple[int, int]]:
    on = np.concatenate([[False], profile, [False]])
    d = np.diff(on.astype(np.int8))
    return list(zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0], strict=True))


def _garbled(rng, rgb, a, bg):
    cols = _runs((a > 0.3).any(axis=0))
    out_rgb, out_a = rgb.copy(), a.copy()
    if len(cols) >= 3:  # emblem + >= 2 letter groups: rearrange the wordmark's letters
        letters = cols[1:]
        i = int(rng.integers(0, len(letters) - 1))
        (s0, e0), (s1, e1) = letters[i], letters[i + 1]
        if rng.random() < 0.5 or (e0 - s0) == (e1 - s1):  # doubled letter (ECCHOES)
            out_rgb[:, s1:e1] = 0
            out_a[:, s1:e1] = 0
            wd = min(e0 - s0, a.shape[1] - s1)
            out_rgb[:, s1:s1 + wd] = rgb[:, s0:s0 + wd]
            out_a[:, s1:s1 + wd] = a[:, s0:s0 + wd]
        else:  # swapped letters (PEACEUFL)
            seg = [(rgb[:, s1:e1], a[:, s1:e1]), (rgb[:, e0:s1], a[:, e0:s1]),
                   (rgb[:, s0:e0], a[:, s0:e0])]
            x = s0
            out_rgb[:, s0:e1] = 0
            out_a[:, s0:e1] = 0
            for r, al in seg:
                out_rgb[:, x:x + r.shape[1]] = r
                out_a[:, x:x + r.shape[1]] = al
                x += r.shape[1]
        if np.abs(out_a - a).sum() > 0.03 * a.sum():
            return out_rgb, out_a
    # emblem only, or a wordmark in one piece: the motif inside the emblem turned
    ys, xs = np.nonzero(a > 0.5)
    x0, x1 = xs.min(), xs.max() + 1
    if len(cols) >= 2:
        x0, x1 = cols[0]
    y0, y1 = ys.min(), ys.max() + 1
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    r = int(0.3 * min(x1 - x0, y1 - y0))
    sl = (slice(int(cy) - r, int(cy) + r), slice(int(cx) - r, int(cx) + r))
    k = int(rng.choice([1, 3]))
    patch_rgb, patch_a = np.rot90(rgb[sl], k), np.rot90(a[sl], k)
    if np.abs(patch_a - a[sl]).sum() + np.abs(patch_rgb - rgb[sl]).sum() / 255 \
            < 0.05 * max(float(a[sl].sum()), 1.0):
        patch_rgb, patch_a = np.roll(rgb[sl], r // 2, axis=1), np.roll(a[sl], r // 2, axis=1)
    out_rgb[sl], out_a[sl] = patch_rgb, patch_a
    return out_rgb, out_a


def _fused(rng, rgb, a, bg):
    h, w = a.shape
    ys, xs = np.nonzero(a > 0.5)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    bw, bh = x1 - x0, y1 - y0
    share = rng.uniform(0.3, 0.45)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.random() < 0.5:  # the product comes in from the right
        t = (xx - (x1 - share * bw)) / max(share * bw, 1)
    else:  # from the bottom
        t = (yy - (y1 - share * bh)) / max(share * bh, 1)
    melt = np.clip(t * 2.5, 0, 1)  # 0 = logo intact, 1 = logo gone into the product
    wobble = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 0.06 * bw)
    wobble = wobble / max(float(np.abs(wobble).max()), 1e-6)
    body = ((t + 0.15 * wobble) > 0.05) & (xx >= x0 - 0.05 * bw) & (xx < x1 + 0.05 * bw) \
        & (yy >= y0 - 0.05 * bh) & (yy < y1 + 0.05 * bh)
    prod_col = np.array([rng.uniform(60, 220) for _ in range(3)], np.float32)
    shade = 0.75 + 0.35 * np.clip((xx - x0) / max(bw, 1), 0, 1)
    prod = prod_col * shade[..., None]
    body_a = cv2.GaussianBlur(body.astype(np.float32), (0, 0), 1.5)
    col = _straight(rgb, a)
    logo_a = a * (1 - melt)
    out_col = (col * logo_a[..., None] + prod * (body_a * (1 - logo_a))[..., None])
    out_a = np.clip(logo_a + body_a * (1 - logo_a), 0, 1)
    return out_col.astype(np.float32), out_a.astype(np.float32)


def _bent(rng, rgb, a, bg):
    h, w = a.shape
    ys, xs = np.nonzero(a > 0.5)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    bw, bh = x1 - x0, y1 - y0
    amp = rng.uniform(0.12, 0.18) * bh
    phase = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u = (xx - x0) / max(bw, 1)
    map_y = yy + amp * np.sin(2 * math.pi * u + phase)
    map_x = xx + 0.04 * bw * np.sin(2 * math.pi * (yy - y0) / max(bh, 1))
    return _warp(rgb, a, map_x, map_y)


_DEFECT_FN = {"garbled": _garbled, "fused": _fused, "bent": _bent}


def deform_logo(rng: np.random.Generator, defect: str, rgb: np.ndarray, alpha: np.ndarray,
                background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The logo layer deformed as real generators do (one of :data:`REAL_LOGO_DEFECTS`)."""
    fn = _DEFECT_FN.get(defect)
    if fn is None:
        raise InputError(f"logo deformation {defect!r} is not one of {REAL_LOGO_DEFECTS}")
    return _layer(fn, rng, rgb, alpha, background)


def _layer(fn, rng: np.random.Generator, rgb: np.ndarray, alpha: np.ndarray,
           background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``fn``'s layer as float32, alpha in 0..1 and the premultiplied RGB within it."""
    out_rgb, out_a = fn(rng, rgb.astype(np.float32), alpha.astype(np.float32),
                        background.astype(np.float32))
    out_a = np.clip(out_a, 0.0, 1.0).astype(np.float32)
    out_rgb = np.minimum(np.clip(out_rgb, 0.0, None), out_a[..., None] * 255.0)
    return out_rgb.astype(np.float32), out_a
