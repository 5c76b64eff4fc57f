"""Why the logo benchmark misses a poster: one line per poster, PNGs of the failures.

    python benchmarks/logo_diagnose.py --seed 4 [--types warp erasure] [--png DIR]
                                       [--all] [--only 3 17] [--per-type 20]
                                       [--faithful 80]

Walks the very posters of ``bench_logo_detector.py`` (same seed, same plan), keeps those
of the chosen kinds ("faithful" for the faithful logos) and, for each, prints the truth
box, every reported defect (box, IoU with the truth, reasons), the located logos (method,
box, IoU) and where the colour search and the slot finder point. A poster fails when no
defect box has IoU >= 0.5 with the truth (on a faithful logo: when any defect is
reported; with no logo: when no defect of category "missing" is). ``--png DIR`` writes
each failure (``--all``: each poster) as a PNG: the poster with the truth box in green,
defects in red, located logos in blue, the colour search's best in yellow, the slot in
magenta, and the reference in a strip above it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_logo_detector import LOCATED_IOU, poster_plan  # noqa: E402

from catalog import LOGO_DEFECTS, make_poster  # noqa: E402
from detectors.logo import LogoDetector  # noqa: E402
from detectors.logo_locate import colour_candidates, quad_of  # noqa: E402
from detectors.logo_reference import prepare_reference  # noqa: E402
from detectors.logo_slot import find_slot  # noqa: E402
from detectors.types import Box  # noqa: E402
from posterqa.imaging import encode_png  # noqa: E402


def _draw(img: np.ndarray, box: Box, colour: tuple[int, int, int], t: int) -> None:
    cv2.rectangle(img, (box.x0, box.y0), (box.x1 - 1, box.y1 - 1), colour, t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--types", nargs="*", default=list(LOGO_DEFECTS))
    ap.add_argument("--per-type", type=int, default=20)
    ap.add_argument("--faithful", type=int, default=80)
    ap.add_argument("--missing", type=int, default=10)
    ap.add_argument("--brands", type=int, default=8)
    ap.add_argument("--png", type=Path, default=None)
    ap.add_argument("--all", action="store_true", help="a PNG of every poster")
    ap.add_argument("--only", nargs="*", type=int, default=None,
                    help="only these poster numbers (the '#' of the listing)")
    args = ap.parse_args(argv)
    det = LogoDetector()
    if args.png:
        args.png.mkdir(parents=True, exist_ok=True)
    fails: dict[str, int] = {}
    seen: dict[str, int] = {}
    for i, (kind, brand, pseed) in enumerate(poster_plan(
            args.seed, args.per_type, args.faithful, args.missing, args.brands)):
        label = kind or "faithful"
        if label not in args.types or (args.only is not None and i not in args.only):
            continue
        poster = make_poster(brand, pseed, with_logo=kind != "missing",
                             logo_defect=kind if kind != "missing" else None)
        truth = next((t.box for t in poster.truth if t.kind == "logo"), None)
        report = det.analyze(poster.image, brand.logo_rgba, required=True)
        ref = prepare_reference(brand.logo_rgba)
        colour = colour_candidates(poster.image, ref, 2)
        cbox = [Box.from_points(quad_of(c.h_ref_to_img, ref)) for c in colour]
        slot = find_slot(poster.image, ref)

        def iou(b: Box) -> float:
            return b.iou(truth) if truth is not None else -1.0  # noqa: B023

        if kind is None:
            ok = not report.defects
        elif truth is None:  # no logo: only "missing" is right
            ok = any(d.category == "missing" for d in report.defects)
        else:
            ok = any(iou(d.box) >= LOCATED_IOU for d in report.defects)
        seen[label] = seen.get(label, 0) + 1
        fails[label] = fails.get(label, 0) + (not ok)
        print(f"#{i:3d} {label:11s} {'ok  ' if ok else 'FAIL'} {brand.logo_style:8s} "
              f"pseed={pseed} size={poster.image.shape[1]}x{poster.image.shape[0]} "
              f"truth={truth.as_list() if truth else None}")
        for d in report.defects:
            print(f"      defect {d.category:8s} iou={iou(d.box):.2f} {d.box.as_list()} "
                  f"{d.reasons} score={d.score:.2f}")
        for lm, ch in zip(report.matches, report.checks, strict=True):
            figs = {k: round(v, 2) for k, v in ch.details}
            print(f"      match {lm.method:13s} iou={iou(lm.box):.2f} ecc={lm.score:.2f} "
                  f"fid={ch.score:.2f} {ch.reasons} {figs}")
        print("      colour " + " ".join(f"{c.strength:.3f}@iou{iou(b):.2f}"
                                         for c, b in zip(colour, cbox, strict=True))
              + (f"  slot iou={iou(slot[0]):.2f} score={slot[1]:.2f}" if slot else "  no slot"),
              flush=True)
        if args.png and (args.all or not ok):
            img = poster.image.copy()
            t = max(2, img.shape[1] // 400)
            for b in cbox[:1]:
                _draw(img, b, (255, 220, 0), t)
            if slot:
                _draw(img, slot[0], (255, 0, 255), t)
            for lm in report.matches:
                _draw(img, lm.box, (0, 80, 255), t)
            for d in report.defects:
                _draw(img, d.box, (255, 0, 0), t)
            if truth is not None:
                _draw(img, truth, (0, 200, 0), t)
            rgba = brand.logo_rgba.astype(np.float32)
            k = min(1.0, 0.25 * img.shape[1] / rgba.shape[1])
            small = cv2.resize(rgba, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
            a = small[..., 3:] / 255.0
            hh, ww = small.shape[:2]
            # the reference in a grey strip above the poster (drawn over it, it would
            # hide a logo in the top-left corner)
            strip = np.full((hh + 8, img.shape[1], 3), 128, np.uint8)
            strip[4:4 + hh, 4:4 + ww] = (small[..., :3] * a + 128 * (1 - a)).astype(np.uint8)
            img = np.vstack([strip, img])
            scale = min(1.0, 900 / max(img.shape[:2]))
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            (args.png / f"s{args.seed}_{i:03d}_{label}.png").write_bytes(encode_png(img))
    print("failures: " + ", ".join(f"{k} {fails[k]}/{seen[k]}" for k in seen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
