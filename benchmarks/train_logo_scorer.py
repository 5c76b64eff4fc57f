"""Fit the logo check's calibrated decision: faithful shape or deformed (one command).

    python benchmarks/train_logo_scorer.py [--seeds 3 7 8 11] [--per-type 10]
                                           [--out detectors/params/logo_scorer.json]

Generated posters (:mod:`catalog`, brands of the given seeds, flat and textured logos):
``--per-type`` posters per rendering - the plain logo, every faithful restyle of
:data:`catalog.logo_styles.LOGO_RESTYLES` and a hue-shifted logo (its shape is faithful:
colour is judged on its own, :mod:`detectors.logo_shape`) are label 0; blur, warp,
erasure, another logo and the real-style deformations of
:data:`catalog.logo_styles.REAL_LOGO_DEFECTS` (half of them on a restyled logo) are
label 1. On each poster the locator runs as the detector does
(``LogoDetector._locate``) and the instance overlapping the true logo most (IoU >= 0.3)
is measured: the pixel measures of :mod:`detectors.logo_compare`, the shape measures of
:mod:`detectors.logo_shape`, the match's ECC and template peak (:data:`FEATURES`).
An L2-regularised logistic regression (numpy, Newton steps, deterministic) is fitted on
standardised features; the operating threshold is the smallest probability at which at
most :data:`FP_TARGET` of the label-0 training instances are called deformed. Written:
weights, means, scales, threshold, the features' names, the training rows' sha256 and
the Brier score and accuracy of a fit without the last seed's rows, on them. The feature
rows are cached in ``--cache`` so a refit does not regenerate posters.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog import make_brand, make_poster  # noqa: E402
from catalog.logo_styles import LOGO_RESTYLES, REAL_LOGO_DEFECTS  # noqa: E402
from detectors.logo import MAX_INSTANCES, LogoDetector  # noqa: E402
from detectors.logo_scorer import FEATURES, feature_vector  # noqa: E402
from detectors.logo_shape import shape_measures  # noqa: E402

FP_TARGET = 0.01
L2 = 1.0
FAITHFUL_KINDS = ("plain", *LOGO_RESTYLES, "color_shift")
DEFORMED_KINDS = ("blur", "warp", "erasure", "wrong_logo", *REAL_LOGO_DEFECTS)


def plan(seeds: list[int], per_type: int, only: tuple[str, ...] = ()
         ) -> list[tuple[str, int, int, str | None]]:
    """``(kind, seed, poster seed, restyle or None)`` for every training poster (of the
    kinds in ``only``, when given)."""
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(seed * 7919)
        for k, kind in enumerate((*FAITHFUL_KINDS, *DEFORMED_KINDS)):
            if only and kind not in only:
                continue
            # deformed kinds twice as many: each is one kind of many ways to fail
            for j in range(per_type * (2 if kind in DEFORMED_KINDS else 1)):
                restyle = None
                if kind in LOGO_RESTYLES:
                    restyle = kind
                elif kind in REAL_LOGO_DEFECTS and rng.random() < 0.5:
                    restyle = str(rng.choice(LOGO_RESTYLES))
                rows.append((kind, seed, seed * 100_000 + 5000 + k * 100 + j, restyle))
    return rows


def collect(seeds: list[int], per_type: int, only: tuple[str, ...] = ()
            ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    det = LogoDetector(read_copy=False)
    brands = {s: [make_brand(f"brand{s}x{i}", s * 1000 + i,
                             logo_style=("flat", "textured")[i % 2]) for i in range(6)]
              for s in seeds}
    xs, ys, kinds = [], [], []
    for n, (kind, seed, pseed, restyle) in enumerate(plan(seeds, per_type, only)):
        brand = brands[seed][n % len(brands[seed])]
        defect = None if kind in ("plain", *LOGO_RESTYLES) else kind
        poster = make_poster(brand, pseed, logo_defect=defect, logo_restyle=restyle)
        truth = next(t for t in poster.truth if t.kind == "logo")
        image, ref = det._inputs(poster.image, brand.logo_rgba)
        best = None
        for lm, _, check in det._locate(image, ref, MAX_INSTANCES):
            iou = lm.box.iou(truth.box)
            if iou >= 0.3 and (best is None or iou > best[0]):
                best = (iou, lm, check)
        if best is None:
            continue
        _, lm, check = best
        sm = shape_measures(image, ref, np.asarray(lm.homography, np.float64))
        xs.append(feature_vector(dict(check.details), sm, lm))
        ys.append(0 if kind in FAITHFUL_KINDS else 1)
        kinds.append(f"{kind}@{seed}")
        print(f"{n:4d} {kind:12s} {restyle or '-':11s} p-in {np.round(xs[-1], 2).tolist()}",
              flush=True)
    return np.asarray(xs, np.float64), np.asarray(ys, np.float64), kinds


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2) -> np.ndarray:
    """Logistic regression weights (bias last) by Newton's method; deterministic."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = np.full(xb.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(xb @ w)))
        g = xb.T @ (p - y) + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def prob(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(np.hstack([x, np.ones((len(x), 1))]) @ w)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[3, 7, 8, 11])
    ap.add_argument("--per-type", type=int, default=10)
    ap.add_argument("--cache", type=Path, nargs="+", default=[Path("/tmp/logo_scorer_rows.npz")],
                    help="feature rows: read when every file exists (rows concatenated), "
                         "else collected for --seeds and written to the first")
    ap.add_argument("--collect-only", action="store_true")
    ap.add_argument("--only", nargs="*", default=(),
                    help="collect these kinds only (rows for renderings added later)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1]
                    / "detectors" / "params" / "logo_scorer.json")
    args = ap.parse_args(argv)
    if all(c.exists() for c in args.cache):
        parts = [np.load(c, allow_pickle=False) for c in args.cache]
        x = np.concatenate([d["x"] for d in parts])
        y = np.concatenate([d["y"] for d in parts])
        kinds = [str(k) for d in parts for k in d["kinds"]]
        args.seeds = sorted({int(k.split("@")[1]) for k in kinds})
    else:
        x, y, kinds = collect(args.seeds, args.per_type, tuple(args.only))
        np.savez(args.cache[0], x=x, y=y, kinds=np.asarray(kinds))
        if args.collect_only:
            return 0
    sha = hashlib.sha256(np.ascontiguousarray(x).tobytes()
                         + np.ascontiguousarray(y).tobytes()).hexdigest()
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    held = np.asarray([k.endswith(f"@{args.seeds[-1]}") for k in kinds]) \
        if len(args.seeds) > 1 else np.arange(len(y)) % 5 == 4
    kinds = [k.split("@")[0] for k in kinds]
    w_tr = fit(z[~held], y[~held])
    p_held = prob(z[held], w_tr)
    brier = float(np.mean((p_held - y[held]) ** 2))
    w = fit(z, y)
    p = prob(z, w)
    neg = np.sort(p[y == 0])
    threshold = float(max(0.5, neg[int(np.floor((1 - FP_TARGET) * (len(neg) - 1)))] + 1e-6))
    acc_held = float(np.mean((p_held >= threshold) == (y[held] == 1)))
    print(f"rows {len(y)} (deformed {int(y.sum())}); held-out Brier {brier:.4f}, "
          f"accuracy {acc_held:.3f} at threshold {threshold:.3f}")
    for kind in dict.fromkeys(kinds):
        sel = np.asarray([k == kind for k in kinds])
        print(f"  {kind:12s} n={sel.sum():3d} called deformed {np.mean(p[sel] >= threshold):.2f}")
    for name, wi in sorted(zip(FEATURES, w[:-1], strict=True), key=lambda t: -abs(t[1])):
        print(f"  weight {name:18s} {wi:+.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "features": list(FEATURES), "mean": mean.round(6).tolist(),
        "scale": scale.round(6).tolist(), "weights": w[:-1].round(6).tolist(),
        "bias": round(float(w[-1]), 6), "threshold": round(threshold, 6),
        "training": {"seeds": args.seeds, "per_type": args.per_type, "rows": len(y),
                     "sha256": sha, "held_out_brier": round(brier, 4),
                     "held_out_accuracy": round(acc_held, 4),
                     "command": "python benchmarks/train_logo_scorer.py"},
    }, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
