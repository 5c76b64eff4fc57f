"""Benchmark of the text defect detector against plain OCR mismatch, on generated posters.

    python benchmarks/bench_text_detector.py --posters 200 --seed 29

Seeds: 1, 2, 7 and 101 were used for tuning (2 was the first report seed, then its
failures were studied); 11, 12 and 13 were report seeds on 2026-11-27 whose failures
were studied in the next round (blur read by OCR but too soft to measure, partly erased
lines OCR missed, a headline running on into the copy below, the wordmark boxed with
its plate); 14, 15, 16 and 17 were run as report seeds in that round and then studied
too (erased fragments, partial matches on clean lines); 18 and 19 had not been run
before the figures reported at the end of the third round (2026-11-27). The fourth round
(2026-11-27: the logo's outline, runs of erased pieces, OCR cuts) was tuned on all of
1-19 above; 20 and 21 had not been run before its final figures. The fifth round
(2026-11-27: the wordmark read with a stray sign, passed-over lines read again, erased
middles, ink boxes over background shapes) was tuned on all of 1-21; 22 and 23 were
then run as its report seeds: 22 met every target, 23 missed wrong characters (0.957),
and its two misses were studied (one led to pairing a string with a left-over read of
its length). 24 was then run on that code: erasure 0.870, its misses studied (sharp
matches of two strings on one place, a read ending as its string). 25 and 26 had not
been run before that round's final figures. The sixth round (2026-11-27: look-alike
digits, hosts kept on their read, doubtful part matches, short tilted lines levelled,
the alignment's end on a wrong last character) was tuned on all of 1-26; 27 and 28
were then run as its report seeds (27: wrong characters 0.957; 28: erasure 0.957, blur
0.870) and studied (a part of a blurred string's rendering matched with soft edges);
29 (the default) and 30 had not been run before that round's final figures, nor 31,
then run once with ``--posters 400`` (erasure 0.936). The seventh round (2026-11-27: an
erasure's remains read as a piece of the string, a digit read for its look-alike letter
sharing it, a read holding both ends of its string not grown) was tuned on 31's misses
and checked on 1-28 (no change there); 32 and 33 were then run as its report seeds (32
met every target; 33: erasure 0.935), and 34 with ``--posters 400`` (clean-line false
positives 0.59 %), all three studied: a poor glyph fit is now measured again against
the local background (clean lines over a backdrop of two tones). 35 (``--posters
400``: wrong characters 0.967) and 36 (erasure 0.957, false positives 0.57 %) had not
been run before that code's figures. One rule followed them, from seed 34's false
positives: a thin blob at a crop's side and top or bottom edge is a panel's side edge
(checked on 1, 2, 7, 101, 11-28, 31, 33, 34 and 36: clean-line false positives 24 -> 21
on the first twenty, no target type lost); no report seed has run on it. The eighth
round (2026-11-27: strings with no place looked for again by detection at 640 and
1280 px, a line joining a row by any of its lines, a hanzi no substitution for a
non-hanzi, an erased string placed by the end a sure read holds) was tuned on the
misses of 12, 15, 17, 24, 25, 28, 31, 33 and 36 and checked on 1, 2, 7, 101, 11-28,
31, 33, 34, 36 (no hit lost); 37 (``--posters 1000``) had not been run before its
figures. The next report needs 38 and up.

Realistic posters (2026-12-08): ``--realism`` sets every line in a drawn lettering style
and layout (``catalog.make_poster(realism=True)``: 3D, metallic, neon, emboss, textured,
glitter...; arcs, perspective, one string over several lines or columns, repeated copy,
~10 px text), and ``--defects real`` cycles through ``catalog.REAL_TEXT_DEFECTS`` (the
misspellings, pseudo-hanzi and look-alike hanzi of real generators) instead of the
classic pixel defects (``--defects all``: both). With ``--realism`` the table is followed
by the clean lines and their false positives per lettering style and per layout, and the
recall per layout. Seed 60 was started on an earlier generator and stopped unread; 61
ran with a plan that never gave two of the twelve types a poster (fixed: the types now
cycle over the defective posters); 62 ran on the generator before its embroidery style
(detector: real types recalled 0.40-1.00, clean-line false positives 40.79 %), 63
before its garbled_word defect (0.40-1.00, 38.63 %), 64 before garbled_word's span was
cut to the letters it changes (0.50-1.00, 40.24 %); 65 is the report seed of the
generator as committed with it; the next report needs 66 and up.

    python benchmarks/bench_text_detector.py --posters 60 --seed 65 --realism --defects all

Posters come from the synthetic catalog (``catalog.make_brand`` / ``catalog.make_poster``).
Poster ``i`` carries one text defect type (cycling through ``catalog.TEXT_DEFECTS``) on one
or two of its lines, except every ``--clean-every``-th poster, which is clean. Each poster
is read once by the OCR engine; the same lines go to

* ``plain OCR``: :class:`TextDetector` with ``collapse_signals=False`` and
  ``rescan_sides=()`` (the text comparison of one OCR pass only: mismatch / missing /
  unreadable), and
* ``detector``: the full :class:`TextDetector` (plus the collapsed-detail signals), with
  the brand's fonts.

Both get the brand's reference logo, as the sweep does (its wordmark, read once per
brand, is the logo's and not copy).

Per defect type: recall (a reported defect box with IoU >= 0.5 with the truth line box),
precision (reported defects that hit a defective line / all reported defects, on the
posters of that type), and the median seconds per poster (OCR + matching + signals).
``clean lines FP``: reported defects that lie on a clean line, the logo or the
background, as a share of the clean lines of all posters. ``loose boxes``:
reports that overlap a defective line (IoU > 0.1) without reaching IoU 0.5 (neither a
hit nor a false positive). ``unlocalised``: "expected copy not found" reports without a
box (reason ``not_localised``), counted apart from both. ``OCR engine`` is the engine
call alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog import REAL_TEXT_DEFECTS, TEXT_DEFECTS, make_brand, make_poster  # noqa: E402
from detectors.ocr import get_ocr_engine  # noqa: E402
from detectors.text import TextDetector  # noqa: E402


@dataclass
class Tally:
    hits: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    totals: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tp_reports: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    all_reports: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    false_pos: int = 0
    loose: int = 0
    unlocalised: int = 0
    clean_lines: int = 0
    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    misses: list[str] = field(default_factory=list)
    fps: list[str] = field(default_factory=list)
    # realistic posters: clean lines / false positives / defective lines / hits per style
    # and per layout ("style:neon", "layout:arc")
    lines_by: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fp_by: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    bad_by: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    hit_by: dict[str, int] = field(default_factory=lambda: defaultdict(int))


DEFECT_SETS = {"classic": TEXT_DEFECTS, "real": REAL_TEXT_DEFECTS,
               "all": TEXT_DEFECTS + REAL_TEXT_DEFECTS}


def poster_plan(i: int, clean_every: int = 6, types: tuple[str, ...] = TEXT_DEFECTS
                ) -> tuple[str | None, dict[int, str]]:
    """Poster ``i``'s defect type (None: clean, every ``clean_every``-th poster) and the
    lines that carry it (line 1 of every third poster, else line 0; line 2 too on odd
    posters). The classic types go by ``i`` (as they always have); another set goes by
    the count of defective posters before ``i``, so that every type comes round even when
    the set's size shares a factor with ``clean_every``."""
    k = i if tuple(types) == TEXT_DEFECTS or not clean_every else i - i // clean_every
    types = list(types)
    kind = None if (clean_every and i % clean_every == clean_every - 1) else \
        types[k % len(types)]
    defects: dict[int, str] = {}
    if kind:
        defects[0 if i % 3 else 1] = kind
        if i % 2:
            defects[2] = kind
    return kind, defects


def _score(tally: Tally, kind: str | None, defects, truth, seconds: float, pid: str) -> None:
    """Score one poster's reports against its truth (text lines and the logo)."""
    text = [t for t in truth if t.kind == "text"]
    bad = [t for t in text if t.defect is not None]
    kind = kind or "clean"
    tally.clean_lines += sum(1 for t in text if t.defect is None)
    tally.seconds[kind].append(seconds)
    for t in text:
        if t.style is not None and t.defect is None:
            tally.lines_by[f"style:{t.style}"] += 1
            tally.lines_by[f"layout:{t.layout}"] += 1
    for t in bad:
        tally.totals[t.defect] += 1
        if t.layout is not None:
            tally.bad_by[f"layout:{t.layout}"] += 1
        if any(d.box.iou(t.box) >= 0.5 for d in defects):
            tally.hits[t.defect] += 1
            if t.layout is not None:
                tally.hit_by[f"layout:{t.layout}"] += 1
        else:
            tally.misses.append(f"{pid} {t.defect} {t.expected!r} {t.box.as_list()}")
    for d in defects:
        tally.all_reports[kind] += 1
        if any(d.box.iou(t.box) >= 0.5 for t in bad):
            tally.tp_reports[kind] += 1
            continue
        if "not_localised" in d.reasons:
            tally.unlocalised += 1  # "this copy is not on the poster", no box
            continue
        best = max(truth, key=lambda t: d.box.iou(t.box), default=None)
        if best is not None and best.defect is not None and best.kind == "text" \
                and d.box.iou(best.box) > 0.1:
            tally.loose += 1  # on a defective line, but boxed too loosely: a miss, not an FP
            continue
        tally.false_pos += 1
        if best is not None and getattr(best, "style", None) is not None \
                and d.box.iou(best.box) > 0:
            tally.fp_by[f"style:{best.style}"] += 1
            tally.fp_by[f"layout:{best.layout}"] += 1
        tally.fps.append(f"{pid} {d.category} {d.reasons} {d.box.as_list()} "
                         f"exp={d.expected!r} obs={d.observed!r}")


def run(n_posters: int, seed: int, clean_every: int, verbose: bool, realism: bool = False,
        defects: str = "classic") -> int:
    engine = get_ocr_engine()
    full = TextDetector(engine=engine)
    # the baseline: the text comparison of one OCR pass (no rescan of unplaced strings)
    plain = TextDetector(engine=engine, collapse_signals=False, rescan_sides=())
    brands = [make_brand(f"brand{k}", seed) for k in range(2)]
    for b in brands:  # the logo's wordmark is read once per brand (cached), not per poster
        full.wordmarks(b.logo_rgba)
        plain.wordmarks(b.logo_rgba)
    tallies = {"plain OCR": Tally(), "detector": Tally()}
    ocr_times: list[float] = []
    types = list(DEFECT_SETS[defects])
    extra = {"realism": True} if realism else {}
    for i in range(n_posters):
        brand = brands[i % len(brands)]
        kind, planned = poster_plan(i, clean_every, tuple(types))
        poster = make_poster(brand, seed * 100_003 + i, text_defects=planned, with_logo=True,
                             **extra)
        expected = list(poster.manifest.copy_lines) if poster.manifest else None
        fonts = [str(p) for p in brand.font_paths]
        t0 = time.perf_counter()
        lines = engine(poster.image)
        t_ocr = time.perf_counter() - t0
        ocr_times.append(t_ocr)
        t0 = time.perf_counter()
        found = plain.detect_lines(poster.image, lines, expected, logo=brand.logo_rgba)
        _score(tallies["plain OCR"], kind, found, poster.truth,
               t_ocr + time.perf_counter() - t0, poster.poster_id)
        t0 = time.perf_counter()
        found = full.detect_lines(poster.image, lines, expected, font_path=fonts,
                                  logo=brand.logo_rgba)
        _score(tallies["detector"], kind, found, poster.truth,
               t_ocr + time.perf_counter() - t0, poster.poster_id)
        if verbose:
            print(f"{i + 1}/{n_posters} {poster.poster_id} {kind}", file=sys.stderr)

    names = list(tallies)
    options = (" realism" if realism else "") + (f" defects={defects}"
                                                  if defects != "classic" else "")
    print(f"text detector benchmark: {n_posters} posters, seed {seed}{options}, "
          f"{sum(tallies['detector'].totals.values())} defective lines, "
          f"{tallies['detector'].clean_lines} clean lines")
    head = f"{'defect':<16}" + "".join(
        f"| {n + ' recall':>17} {'prec':>6} {'s/poster':>9} " for n in names)
    print(head)
    print("-" * len(head))
    for t in types:
        row = f"{t:<16}"
        for n in names:
            ta = tallies[n]
            rec = ta.hits[t] / ta.totals[t] if ta.totals[t] else float("nan")
            prec = ta.tp_reports[t] / ta.all_reports[t] if ta.all_reports[t] else float("nan")
            med = statistics.median(ta.seconds[t]) if ta.seconds[t] else float("nan")
            row += f"| {rec:>17.3f} {prec:>6.3f} {med:>9.3f} "
        print(row)
    row = f"{'clean lines FP':<16}"
    for n in names:
        ta = tallies[n]
        fp = ta.false_pos / max(ta.clean_lines, 1)
        med = statistics.median([s for v in ta.seconds.values() for s in v])
        row += f"| {f'{ta.false_pos} = {100 * fp:.2f}%':>17} {'':>6} {med:>9.3f} "
    print(row)
    for label, attr in (("loose boxes", "loose"), ("unlocalised", "unlocalised")):
        row = f"{label:<16}"
        for n in names:
            row += f"| {getattr(tallies[n], attr):>17} {'':>6} {'':>9} "
        print(row)
    if realism:
        _print_breakdown(tallies)
    ocr_med = statistics.median(ocr_times)
    det_med = statistics.median([s for v in tallies["detector"].seconds.values() for s in v])
    plain_med = statistics.median([s for v in tallies["plain OCR"].seconds.values() for s in v])
    print(f"OCR engine alone: median {ocr_med:.3f} s/poster; detector / OCR = "
          f"{det_med / ocr_med:.3f}x; plain OCR / OCR = {plain_med / ocr_med:.3f}x")
    if verbose:
        for n in names:
            print(f"\n[{n}] misses:", *tallies[n].misses, sep="\n  ")
            print(f"[{n}] false positives:", *tallies[n].fps, sep="\n  ")
    return 0


def _print_breakdown(tallies: dict[str, Tally]) -> None:
    """Clean lines and false positives per lettering style and per layout; recall per
    layout (realistic posters)."""
    names = list(tallies)
    keys = sorted(set().union(*(t.lines_by for t in tallies.values()),
                              *(t.bad_by for t in tallies.values())))
    print("\nper style / layout: clean lines, FP on them (plain OCR | detector); "
          "defective lines, hits (plain OCR | detector)")
    for key in keys:
        row = f"{key:<20} {tallies[names[0]].lines_by[key]:>5} clean"
        row += "".join(f" | FP {tallies[n].fp_by[key]:>3}" for n in names)
        bad = tallies[names[0]].bad_by[key]
        if bad:
            row += f"   {bad:>4} defective" + "".join(
                f" | hit {tallies[n].hit_by[key]:>3}" for n in names)
        print(row)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posters", type=int, default=200)
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--clean-every", type=int, default=6,
                        help="every N-th poster carries no defect (0 = none)")
    parser.add_argument("--verbose", action="store_true", help="list misses and false positives")
    parser.add_argument("--realism", action="store_true",
                        help="realistic lettering styles and layouts (make_poster(realism=True))")
    parser.add_argument("--defects", choices=sorted(DEFECT_SETS), default="classic",
                        help="defect types to cycle through: classic pixel defects, the "
                             "misspellings of real generators, or all")
    args = parser.parse_args(argv)
    return run(args.posters, args.seed, args.clean_every, args.verbose, args.realism,
               args.defects)


if __name__ == "__main__":
    sys.exit(main())
