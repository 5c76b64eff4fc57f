"""Benchmark of the logo detector on generated posters (one command).

    python benchmarks/bench_logo_detector.py [--seed 15] [--per-type 20] [--faithful 80]
                                            [--missing 10] [--brands 8] [--wordmark-ocr]

Posters come from :mod:`catalog` (brands with flat and textured logos; logo width 5%-40%
of the poster width). For each logo defect type ``--per-type`` posters carry that
defect, ``--faithful`` posters carry a faithful logo and ``--missing`` posters have no
logo although the manifest requires one. Printed: recall per defect type (a poster
counts as "located" when the detector reports a logo defect whose box has IoU >= 0.5 with
the true logo box - the headline; a poster without a logo only when a defect of category
"missing" is reported; also shown: "flagged", any logo defect anywhere, and "covers30",
a defect box covering >= 30% of the true box), the false-positive rate on
faithful logos (any logo defect reported), the localisation IoU of found logos (the best
match, unless the detector judged it another logo) against the clean logo's box, and
the median time of one ``LogoDetector.analyze`` call (locate + compare + defects).
Seeds (each has its own brands, ``brand<seed>x<i>``): the thresholds were tuned on
seed 1. Seed 2 was a first report run; its failures (35% false positives on faithful
logos of brands unlike seed 1's) led to fixes, so it is no longer held out; seed 4 was
the next report seed. The localisation work (colour search, logo slot, defects moved to
the slot) was tuned on seeds 1 and 2 with seed 4's table known; seed 5 was then the
held-out report seed. The shape search, the preferred-cluster rules and the plate-aware
slot were tuned on the failures of seeds 2 and 4 (``benchmarks/logo_diagnose.py``); seeds
1 and 5 were checks whose blur/warp failures were also looked at (they led to the soft
logo-colour map and the nested shape/colour rule), so they are not held out either.
Seeds 6 and 9 were then report seeds; the next round (slot finder's logo-likeness, strict
"missing", erased logos, stray matches) was tuned on the failures of seeds 1, 2, 4, 5, 6
and 9, so none of them is held out any more. Seeds 10 and 12 are the held-out report
seeds of that round, run once at the end on the final code and on the code before it.
The next round (identity residual for logos keeping their colours, readings that
recognise the reference preferred over "another logo", defect boxes clipped to the
poster, opt-in wordmark OCR) was tuned on the failures of seeds 1, 2, 4, 5, 6, 9, 10 and
12 (``benchmarks/logo_diagnose.py`` and per-poster probes); seeds 13 and 14 were its
held-out report seeds, run once at the end on the final code and on the code before it
(13 is the default and the README's), so they are studied now too: the next report
needs fresh seeds (15 and up). One rule of that final code (another logo reported at a
slot overlapping the match) cost three posters of seeds 13/14 and fixed one; it was
reverted and both seeds run again, so they were not clean held-out seeds for that one
decision. The next round (warped logos recovered by a dense alignment - ``dewarp_corr``
and ``dewarp_de`` - instead of being judged another logo and dropped as missing; another
logo that ECC does not register reported at a slot overlapping the match; a failing match
that is a fragment of the slot reported at the slot) was tuned on the failures of
seeds 1, 2, 4, 5, 6, 9, 10, 12, 13 and 14, all studied now; seeds 15 and 16 are its
held-out report seeds, run once at the end on the final code and on the code before it
(15 is the default and the README's); the next report needs fresh seeds (17 and up).
The next round (copy panels are not logo slots; a decisive silhouette in the logo's
colours instead of "missing" when nothing looks like a logo; a match elsewhere in other
colours that nothing vouches for moved to the slot) was tuned on seeds 1-16, all studied
(missing / warp / wrong_logo posters of all sixteen, per poster; faithful, blur,
color_shift and erasure posters of 2, 4, 10, 12, 13, 14, 15 and 16); seeds 17 and 18 are
its held-out report seeds, run once at the end on the final code and on the code before
it; the next report needs fresh seeds (19 and up).
The next round (a plate where one ink part dwarfs the rest is the logo's, not a copy
panel; a clean logo's sharp template peak with the reference's edges is our logo however
poorly ECC registers it - recoloured logos of several colours) was tuned on seeds 17 and
18 (their color_shift and erasure failures, per poster) with every poster of seeds 1-18
compared before / after (7 fixed, none lost), so 1-18 are all studied; seeds 19 and 20
are its held-out report seeds, run once at the end on the final code and on d558e1e
(19: the same table; 20: erasure 0.70 -> 0.75, the rest the same); the next report needs
fresh seeds (21 and up).
The next round (an ECC refinement that drifts off its candidate judged by the reference's
correlation at the place as found - template peaks kept, feature homographies it cannot
confirm dropped; the colour winner inside a strong silhouette yields to it; a silhouette
nothing registers on inside the slot goes to the slot; a match the colour search and ECC
vouch for is not moved as copy) was tuned on seeds 19 and 20 (every failure, per poster)
and failures of 1, 17 and 18, with every poster of seeds 1-20 compared before / after (18
fixed, 1 lost: failing posters 197 -> 180 of 3800; a fifth rule, a decisive silhouette
with the colour search on it overruling a template match in other colours, fixed 1 and
lost 3 recoloured logos and was dropped), so 1-20 are all studied; seeds 21 and 22 are
its held-out report seeds, run once at the end on the final code and on 140b196 (21:
erasure 0.75 -> 0.90, the rest the same - missing 0.80, wrong_logo 0.85, 2 of 80
faithful flagged; 22: the same table, every target met by both; mean IoU 0.935 -> 0.940
and 0.933 both); the next report needs fresh seeds (23 and up).
The next round (another logo judged at a silhouette on brand-coloured copy apart from the
slot goes to the slot; a plate within 0.6 of the reference's aspect is not widened;
logo-like objects that read as copy - OCR - are no slot, and with copy read the slot bar
falls from 0.35 to 0.25, a faint slot moving no match; a failing match laid on a glyph of
a line of copy is no candidate) was tuned on seeds 1-20, every rule checked on every
poster of 1-20 it can change (failing posters 180 -> 146 of 3800: 35 fixed, 1 lost), and on the
failures of seeds 23 and 25, which an intermediate code (3e478ea) was run on (24 too), so
23-25 are studied now. Seeds 26, 27 and 28 are its held-out report seeds, run once at the
end on the final code and on 9df41d8 (final / base, located recall: missing 1.00 / 0.90,
0.90 / 0.80, 1.00 / 0.80; wrong_logo 0.95 / 0.90, 0.90 / 0.90, 0.75 / 0.70; erasure
0.75 / 0.75, 0.90 / 0.90, 0.95 / 0.95; 27 meets every target, 26 and 28 do not - the base
met none); seed 29 with ``--per-type 100 --faithful 400 --missing 50`` (950 posters) was
a fourth held-out run, once on each: every target met by the final code (missing 0.92,
erasure 0.91, wrong_logo 0.94, the rest >= 0.95, no false positive, mean IoU 0.941), not
by the base (missing 0.86); pooled over 26-29 erasure is 0.894 (143/160), wrong_logo 0.913,
missing 0.938.
The next round (what a cut left of a logo - its emblem, its wordmark, a half - matched
alone when no logo is found: ``detectors/logo_parts.py``) was tuned on seeds 1-20 (every
one of the 508 posters where no logo is found compared: 11 erasures and a faithful logo
fixed, none lost). Seed 30 with ``--per-type 100 --faithful 400 --missing 50`` is its
held-out report seed, run once on the final code and on e0d8eb9: every target met by
both with the same located recall (missing 0.94, erasure 0.96, wrong_logo 0.92, the rest
>= 0.98, no false positive); three erasures found at a slot are boxed tighter (IoU
0.56-0.67 -> 0.94-0.99). On the posters of 26-29 where no logo is found (the only ones the
rule can change; the rule was not tuned on them): 3 erasures fixed, none lost. Pooled over
26-30 the final code's located recall is erasure 0.931 (242/260), wrong_logo 0.915,
missing 0.938 (122/130). The next report needs fresh seeds (31 and up).
Seed 31 (190 posters) was run across OpenCV releases (opencv-python-headless 5.1.0.95,
5.0.0.93, 4.14.0.94; issue 20): a333fb2 and the code that took the logo decisions off
their knife edges (c1fd03c) print the same headline table on all three (missing 0.70,
blur 0.85, the rest >= 0.95, 1 of 80 faithful flagged). Per poster (``--verbose``), the
defects' reasons differed between 5.1 and 5.0 / 4.14 on 4 / 9 posters before (two of
them "another logo" against an erased logo), on 1 / 5 after (4 of those 5 are posters
the catalog draws differently under 4.14; no located outcome differs anywhere). The
last fix (a blurred logo's tile shifts are no warp) was made on seed 31's per-poster
differences, so 31 is studied; the next report needs fresh seeds (32 and up).
Issue 26 (restyled logos, ``--restyled`` / ``--real-per-type`` / ``--restyle-rules``): the
scorer (``benchmarks/train_logo_scorer.py``) was fitted on seeds 3, 7 and 8; seed 40 was
a small development check; seed 41 (``--per-type 10 --faithful 40 --missing 10
--restyled 4 --real-per-type 10``, 178 posters) was run once on e3b3e59 and once on
ea4dac5 (the scorer on by default then, as ``--restyle-rules`` now), concurrently on the
loaded 2-core machine: faithful logos flagged, plain 0 / 40 -> 1 / 40, restyled
31 / 48 -> 6 / 48; located recall missing 0.70 -> 0.40, blur 0.90 -> 0.90, warp 0.80 ->
0.80, wrong_logo 0.90 -> 0.80, garbled 0.60 -> 0.10, fused 0.90 -> 0.90, bent 0.90 ->
0.90, colour and erasure 1.00 both; median analyze 3.38 s -> 3.02 s. Seed 41 is studied
now; the next report needs fresh seeds (42 and up).
Seed 42 (same options, 178 posters, default rules), run once on 04939cf (every part of
the brand rules off) and once with the default switching on "small instances not judged
for shape" (``DEFAULT_RULES``): the same table both times, faithful logos flagged plain
0 of 40, restyled 32 of 48; located recall missing 0.80, blur 1.00, warp 0.80, colour
1.00, erasure 0.70, wrong_logo 0.90, garbled 0.50, fused 1.00, bent 0.70 (no generated
logo is under 32 px: the part is for real renderings' small second instances); median
analyze 3.87 s -> 2.69 s (load on the shared machine, not the change). Seed 42 is
studied now; the next report needs fresh seeds (43 and up).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog import LOGO_DEFECTS, make_brand, make_poster  # noqa: E402
from catalog.brands import GeneratedBrand  # noqa: E402
from catalog.logo_styles import LOGO_RESTYLES, REAL_LOGO_DEFECTS  # noqa: E402
from detectors.logo import LogoDetector  # noqa: E402
from detectors.logo_scorer import DEFAULT_RULES, RESTYLE_RULES  # noqa: E402
from detectors.types import Box  # noqa: E402


def clean_logo_box(poster, truth_box: Box) -> Box:
    """Tight box of the faithful logo: where the clean poster differs from its background
    inside the (possibly larger) truth box."""
    sl = truth_box.slice()
    diff = np.abs(poster.clean[sl].astype(int) - poster.background[sl].astype(int)).max(axis=2)
    ys, xs = np.nonzero(diff > 10)
    if xs.size == 0:
        return truth_box
    return Box(truth_box.x0 + int(xs.min()), truth_box.y0 + int(ys.min()),
               truth_box.x0 + int(xs.max()) + 1, truth_box.y0 + int(ys.max()) + 1)


def covers(defect_box: Box, truth: Box) -> bool:
    return defect_box.intersection(truth) >= 0.3 * truth.area


def at_truth(defect_box: Box, truth: Box) -> bool:
    """The defect is reported where the logo is: IoU >= 0.5 with the truth box."""
    return defect_box.iou(truth) >= LOCATED_IOU


LOCATED_IOU = 0.5


def poster_plan(seed: int, per_type: int, faithful: int, missing: int, n_brands: int,
                restyled: int = 0, real_per_type: int = 0
                ) -> list[tuple[str | None, GeneratedBrand, int]]:
    """The benchmark's posters in run order: ``(defect kind or None, brand, poster seed)``;
    kind ``"missing"`` means no logo although one is required, ``"faithful-<restyle>"`` a
    faithful logo in one of :data:`LOGO_RESTYLES` (``restyled`` posters each), and the
    :data:`REAL_LOGO_DEFECTS` come ``real_per_type`` posters each."""
    styles = ("flat", "textured")
    brands = [make_brand(f"brand{seed}x{i}", seed * 1000 + i, logo_style=styles[i % 2])
              for i in range(n_brands)]
    kinds: list[str | None] = [None] * faithful + ["missing"] * missing
    for kind in LOGO_DEFECTS:
        kinds += [kind] * per_type
    for style in LOGO_RESTYLES:
        kinds += [f"faithful-{style}"] * restyled
    for kind in REAL_LOGO_DEFECTS:
        kinds += [kind] * real_per_type
    order = np.random.default_rng(seed).permutation(len(kinds))
    return [(kinds[idx], brands[n % len(brands)], seed * 100_000 + int(idx))
            for n, idx in enumerate(order)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--per-type", type=int, default=20)
    ap.add_argument("--faithful", type=int, default=80)
    ap.add_argument("--missing", type=int, default=10)
    ap.add_argument("--brands", type=int, default=8)
    ap.add_argument("--restyled", type=int, default=0,
                    help="faithful posters per restyle of catalog.logo_styles")
    ap.add_argument("--real-per-type", type=int, default=0,
                    help="posters per real-style deformation (garbled, fused, bent); every "
                         "other one on a restyled logo")
    ap.add_argument("--restyle-rules", action="store_true",
                    help="judge instances by the brand rules and the calibrated scorer "
                         "(LogoDetector(rules=RESTYLE_RULES), opt-in)")
    ap.add_argument("--verbose", action="store_true", help="one line per poster")
    ap.add_argument("--wordmark-ocr", action="store_true",
                    help="also read the wordmark of faithful-looking logos (OCR)")
    args = ap.parse_args(argv)

    plan = poster_plan(args.seed, args.per_type, args.faithful, args.missing, args.brands,
                       args.restyled, args.real_per_type)
    det = LogoDetector(wordmark_ocr=args.wordmark_ocr,
                       rules=RESTYLE_RULES if args.restyle_rules else DEFAULT_RULES)
    flagged: dict[str, int] = defaultdict(int)
    located: dict[str, int] = defaultdict(int)
    covered: dict[str, int] = defaultdict(int)
    said_missing: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    ious: list[float] = []
    ious_faithful: list[float] = []
    times: list[float] = []
    for kind, brand, pseed in plan:
        restyle = None
        if kind is not None and kind.startswith("faithful-"):
            restyle, kind = kind.split("-", 1)[1], None
        elif kind in REAL_LOGO_DEFECTS and pseed % 2:
            restyle = LOGO_RESTYLES[(pseed // 2) % len(LOGO_RESTYLES)]
        poster = make_poster(brand, pseed, with_logo=kind != "missing",
                             logo_defect=kind if kind != "missing" else None,
                             logo_restyle=restyle)
        truth = next((t for t in poster.truth if t.kind == "logo"), None)
        t0 = time.perf_counter()
        report = det.analyze(poster.image, brand.logo_rgba, required=True,
                             brand_name=brand.kit.display_name)
        times.append(time.perf_counter() - t0)
        defects = report.defects
        # a found logo: the best match, unless the detector itself judged it another logo
        found = None
        if report.matches and kind not in ("wrong_logo", "missing") \
                and "wrong_logo" not in report.checks[0].reasons:
            found = report.matches[0]
        label = kind or (f"ok-{restyle}" if restyle else "faithful")
        if kind in REAL_LOGO_DEFECTS and restyle:
            label = f"{kind}+style"
        total[label] += 1
        if defects:
            flagged[label] += 1
            if any(d.category == "missing" for d in defects):
                said_missing[label] += 1
            # no logo on the poster: only a "missing" report is right (a wrong_logo
            # defect at some object would send the refiner to paint over it)
            if truth is None:
                if any(d.category == "missing" for d in defects):
                    located[label] += 1
                    covered[label] += 1
            else:
                located[label] += any(at_truth(d.box, truth.box) for d in defects)
                covered[label] += any(covers(d.box, truth.box) for d in defects)
        iou = None
        if truth is not None and found is not None:
            iou = found.box.iou(clean_logo_box(poster, truth.box))
            ious.append(iou)
            if label == "faithful":
                ious_faithful.append(iou)
        if args.verbose:
            figures = {k: round(v, 2) for k, v in report.checks[0].details} \
                if report.checks else ""
            d_iou = max((d.box.iou(truth.box) for d in defects), default=-1) if truth else -1
            print(f"{label:12s} {brand.logo_style:8s} logo_w={truth.box.width if truth else 0:4d} "
                  f"iou={iou if iou is not None else -1:.2f} "
                  f"defect_iou={d_iou:.2f} "
                  f"{[(d.category, d.reasons, round(d.score, 2)) for d in defects]} "
                  f"{report.matches[0].method if report.matches else '-'} {figures}",
                  flush=True)

    print(f"logo detector benchmark: seed {args.seed}, {len(plan)} posters, "
          f"{args.brands} brands (flat + textured logos)"
          + (", wordmark OCR on" if args.wordmark_ocr else ""))
    print(f"{'set':14s} {'n':>4s} {'located':>8s} {'flagged':>8s} {'covers30':>8s} "
          f"{'as missing':>10s}")
    labels = ("faithful", *(f"ok-{s}" for s in LOGO_RESTYLES), "missing", *LOGO_DEFECTS,
              *(k for r in REAL_LOGO_DEFECTS for k in (r, f"{r}+style")))
    for label in labels:
        if total[label]:
            n = total[label]
            print(f"{label:14s} {n:4d} {located[label] / n:8.3f} {flagged[label] / n:8.3f} "
                  f"{covered[label] / n:8.3f} {said_missing[label]:10d}")
    print("(located = recall counting only defects reported at the logo: defect box IoU >= "
          f"{LOCATED_IOU} with the true logo box - the headline, since a defect elsewhere "
          "sends the refiner to the wrong region; on 'missing' a report of category "
          "'missing'; flagged = any logo defect reported "
          "(false-positive rate on 'faithful'); covers30 = a defect box covers >= 30% of "
          "the true box; as missing = reported category 'missing')")
    defect_sets = {"missing": ["missing"], **{k: [k] for k in LOGO_DEFECTS},
                   **{k: [k, f"{k}+style"] for k in REAL_LOGO_DEFECTS}}
    recall_ok = True
    for k, members in defect_sets.items():
        n_k = sum(total[m] for m in members)
        if n_k:
            rec = sum(located[m] for m in members) / n_k
            recall_ok &= rec >= 0.90
            if k in REAL_LOGO_DEFECTS:
                print(f"  {k} (plain + restyled): located {rec:.3f} over {n_k}")
    faithful_sets = [k for k in total if k == "faithful" or k.startswith("ok-")]
    n_faithful = sum(total[k] for k in faithful_sets)
    fp = sum(flagged[k] for k in faithful_sets) / max(n_faithful, 1)
    if n_faithful != total["faithful"]:
        print(f"  faithful logos flagged: plain {flagged['faithful']} of {total['faithful']}, "
              f"restyled {fp * n_faithful - flagged['faithful']:.0f} of "
              f"{n_faithful - total['faithful']}")
    mean_iou = float(np.mean(ious)) if ious else float("nan")
    print(f"located recall per defect type (missing included) >= 0.90: "
          f"{'met' if recall_ok else 'NOT met'}")
    print(f"false positives on faithful logos (restyled included): {fp:.3f} (target <= 0.02: "
          f"{'met' if fp <= 0.02 else 'NOT met'})")
    present = sum(n for k, n in total.items() if k not in ("missing", "wrong_logo"))
    print(f"localisation IoU (mean over {len(ious)} found logos): {mean_iou:.3f} "
          f"(target >= 0.8: {'met' if mean_iou >= 0.8 else 'NOT met'}); "
          f"found {len(ious)} of the {present} posters showing the brand's logo")
    if ious_faithful:
        print(f"  on faithful logos: mean IoU {np.mean(ious_faithful):.3f} over "
              f"{len(ious_faithful)} found of {total['faithful']}; "
              f"min {min(ious_faithful):.3f}")
    print(f"median time per poster (analyze): {statistics.median(times):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
