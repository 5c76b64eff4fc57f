"""Time (and optionally profile) the text detector alone, on OCR lines read once.

    python benchmarks/prof_text_detector.py --posters 200 --seed 13 --cache /tmp/textprof
    python benchmarks/prof_text_detector.py --posters 200 --seed 13 --cache /tmp/textprof \\
        --dump detections.txt --profile detector.prof

The posters are those of ``benchmarks/bench_text_detector.py`` (same seed, same defect
cycle). Each poster is read by the OCR engine once; with ``--cache`` the lines are kept
in that folder (``{seed}_{i}.pkl``) and later runs skip the engine, so that only
:meth:`detectors.text.TextDetector.detect_lines` runs and is timed.

Prints the median and mean milliseconds per poster of ``detect_lines``, and the same
without its focused re-reads (``engine.recognize`` calls on line crops, the OCR model's
share). ``--dump`` writes every detection (category, box, expected, observed, score to 6
decimals, reasons, quads, details) one per line, to diff two versions of the detector
for identical output; ``--profile`` saves cProfile statistics of the ``detect_lines``
calls (read with ``python -m pstats``). The machine's other load moves the timings:
compare medians of runs made back to back, and repeat them.
"""

from __future__ import annotations

import argparse
import cProfile
import pickle
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_text_detector import poster_plan  # noqa: E402

from catalog import make_brand, make_poster  # noqa: E402
from detectors.ocr import OcrEngine, OcrLine, RecResult, get_ocr_engine  # noqa: E402
from detectors.text import TextDetector  # noqa: E402
from detectors.types import Defect  # noqa: E402


class TimedEngine:
    """An OCR engine that adds up the seconds spent in ``recognize``."""

    def __init__(self, engine: OcrEngine) -> None:
        self._engine = engine
        self.name = engine.name
        self.recognize_seconds = 0.0

    def __call__(self, image: np.ndarray) -> list[OcrLine]:
        return self._engine(image)

    def recognize(self, crops: Sequence[np.ndarray]) -> list[RecResult]:
        t0 = time.perf_counter()
        try:
            return self._engine.recognize(crops)
        finally:
            self.recognize_seconds += time.perf_counter() - t0


def _defect_line(poster_id: str, d: Defect) -> str:
    def pts(quad) -> list | None:
        return None if quad is None else [[round(float(c), 4) for c in pt] for pt in quad]

    return (f"{poster_id} {d.kind} {d.category} {tuple(d.box.as_list())} {d.expected!r} "
            f"{d.observed!r} {round(d.score, 6)} {d.reasons} q={pts(d.quad)} "
            f"r={pts(d.repair_quad)} det={[(k, round(v, 6)) for k, v in d.details]}")


def run(n_posters: int, seed: int, cache: Path | None, dump: Path | None,
        profile: Path | None) -> int:
    engine = TimedEngine(get_ocr_engine())
    detector = TextDetector(engine=engine)
    brands = [make_brand(f"brand{k}", seed) for k in range(2)]
    for b in brands:  # the logo's wordmark is read once per brand (cached), not per poster
        detector.wordmarks(b.logo_rgba)
    prof = cProfile.Profile() if profile else None
    total, own, lines_out = [], [], []
    for i in range(n_posters):
        brand = brands[i % len(brands)]
        _kind, defects = poster_plan(i)
        poster = make_poster(brand, seed * 100_003 + i, text_defects=defects, with_logo=True)
        cached = cache / f"{seed}_{i}.pkl" if cache else None
        if cached and cached.exists():
            lines = pickle.loads(cached.read_bytes())
        else:
            lines = engine(poster.image)
            if cached:
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.write_bytes(pickle.dumps(lines))
        expected = list(poster.manifest.copy_lines) if poster.manifest else None
        fonts = [str(p) for p in brand.font_paths]
        engine.recognize_seconds = 0.0
        if prof:
            prof.enable()
        t0 = time.perf_counter()
        found = detector.detect_lines(poster.image, lines, expected, font_path=fonts,
                                      logo=brand.logo_rgba)
        total.append(time.perf_counter() - t0)
        if prof:
            prof.disable()
        own.append(total[-1] - engine.recognize_seconds)
        lines_out += [_defect_line(poster.poster_id, d) for d in found]
    print(f"seed {seed}, {n_posters} posters: detect_lines median "
          f"{1000 * statistics.median(total):.1f} ms, mean {1000 * statistics.mean(total):.1f} ms;"
          f" without re-reads median {1000 * statistics.median(own):.1f} ms, "
          f"mean {1000 * statistics.mean(own):.1f} ms; {len(lines_out)} detections")
    if dump:
        dump.write_text("\n".join(lines_out) + "\n")
    if prof and profile:
        prof.dump_stats(str(profile))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posters", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--cache", type=Path, help="folder for the OCR lines, read once")
    parser.add_argument("--dump", type=Path, help="write every detection to this file")
    parser.add_argument("--profile", type=Path, help="save cProfile statistics here")
    args = parser.parse_args(argv)
    return run(args.posters, args.seed, args.cache, args.dump, args.profile)


if __name__ == "__main__":
    raise SystemExit(main())
