"""Detection on real images: ``../shared/realset`` (see its README for the cases).

    python benchmarks/bench_real.py [--realset DIR] [--only NAME...] [--json-out FILE]

Runs the text detector with each case's ``expect`` lines (and the logo detector with its
``logo`` reference, where one is given) exactly as ``posterqa detect`` does, and scores
by the set's rule:

- a clean image is a false positive when any ``text`` defect is reported; a clean image
  with ``logo`` is a logo false positive when any ``logo`` defect is reported;
- a defect is found when a reported box of its kind has IoU >= 0.3 with ``box`` or
  contains its centre, and that box covers less than half of the image (a "missing, not
  localised" report over the whole poster does not count).

Prints one line per case, then the summary per source repository and in all. The figures
are for measuring, never for tuning rules to single images: the set kept aside decides.
``--json-out`` writes every case's reports, for a before/after comparison of two commits.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_REALSET = ROOT.parent / "shared" / "realset"
IOU_FOUND = 0.3
MAX_IMAGE_SHARE = 0.5


@dataclass
class CaseResult:
    """What detection reported on one case, and how the set's rule scores it."""

    name: str
    source: str
    group: str  # "clean" or "defect"
    text_reports: list[dict] = field(default_factory=list)
    logo_reports: list[dict] = field(default_factory=list)
    has_logo: bool = False
    found: bool | None = None  # defect cases: the main box located
    other_found: int = 0
    other_total: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def text_fp(self) -> bool:
        return self.group == "clean" and bool(self.text_reports)

    @property
    def logo_fp(self) -> bool:
        return self.group == "clean" and self.has_logo and bool(self.logo_reports)


def iou(a: list[int], b: list[int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def locates(report_box: list[int], truth: list[int], width: int, height: int) -> bool:
    """The set's rule: IoU >= 0.3 or the centre inside, and under half of the image."""
    area = (report_box[2] - report_box[0]) * (report_box[3] - report_box[1])
    if area >= MAX_IMAGE_SHARE * width * height:
        return False
    cx, cy = (truth[0] + truth[2]) / 2, (truth[1] + truth[3]) / 2
    inside = report_box[0] <= cx < report_box[2] and report_box[1] <= cy < report_box[3]
    return inside or iou(report_box, truth) >= IOU_FOUND


def _summary_row(label: str, rows: list[CaseResult]) -> str:
    clean = [r for r in rows if r.group == "clean"]
    logos = [r for r in clean if r.has_logo]
    defects = [r for r in rows if r.group == "defect"]
    return (f"{label:<34} {sum(r.text_fp for r in clean):>3} of {len(clean):<7} "
            f"{sum(bool(r.found) for r in defects):>3} of {len(defects):<6} "
            f"{sum(r.logo_fp for r in logos):>3} of {len(logos)}")


def run_case(case: dict, group: str, realset: Path, text_detector, logo_detector,
             max_pixels: int) -> CaseResult:
    from posterqa.imaging import load_image, load_rgba

    name = Path(case["image"]).stem
    result = CaseResult(name=name, source=case["source"].split(":")[0], group=group,
                        has_logo="logo" in case)
    started = time.perf_counter()
    try:
        rgb = load_image(realset / case["image"], max_pixels=max_pixels)
        reference = (load_rgba(realset / case["logo"], max_pixels=max_pixels)
                     if "logo" in case else None)
        defects = text_detector.detect(rgb, list(case["expect"]), logo=reference)
        if reference is not None:
            defects += logo_detector.detect(rgb, reference, required=True)
    except Exception as exc:  # a crash is a result here, reported on the case's line
        result.error = f"{type(exc).__name__}: {exc}"
        result.seconds = time.perf_counter() - started
        return result
    result.seconds = time.perf_counter() - started
    reports = [d.to_json() for d in defects]
    result.text_reports = [r for r in reports if r["kind"] == "text"]
    result.logo_reports = [r for r in reports if r["kind"] == "logo"]
    if group == "defect":
        h, w = rgb.shape[:2]
        kind_reports = result.logo_reports if case.get("kind") == "logo" else result.text_reports
        boxes = [r["bbox"] for r in kind_reports]
        result.found = any(locates(b, case["box"], w, h) for b in boxes)
        others = case.get("other_boxes", [])
        result.other_total = len(others)
        result.other_found = sum(any(locates(b, o, w, h) for b in boxes) for o in others)
    return result


def _case_line(r: CaseResult) -> str:
    if r.error:
        verdict = f"ERROR {r.error[:80]}"
    elif r.group == "clean":
        verdict = "FP text" if r.text_fp else "ok"
        if r.has_logo:
            verdict += " | FP logo" if r.logo_fp else " | logo ok"
    else:
        verdict = "found" if r.found else "MISSED"
        if r.other_total:
            verdict += f" (+{r.other_found}/{r.other_total} other boxes)"
    shown = "; ".join(
        f"{d['category']} {d['bbox']} {(d.get('observed') or '')[:20]!r}"
        for d in (r.text_reports + r.logo_reports)[:3]
    )
    return f"{r.group:<6} {r.name:<28} {r.seconds:5.1f}s  {verdict:<28} {shown}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realset", type=Path, default=DEFAULT_REALSET)
    parser.add_argument("--only", nargs="*", help="case names (image stems) to run")
    parser.add_argument("--json-out", type=Path, help="write every case's reports here")
    parser.add_argument("--ocr-cache", type=Path,
                        help="replay OCR answers recorded in this folder "
                             "(benchmarks/ocr_replay.py): exact, fast reruns while "
                             "iterating on a detector")
    args = parser.parse_args(argv)

    cases_file = args.realset / "cases.json"
    if not cases_file.is_file():
        print(f"bench_real: no cases.json under {args.realset}", file=sys.stderr)
        return 2
    cases = json.loads(cases_file.read_text(encoding="utf-8"))

    from detectors.logo import LogoDetector
    from detectors.text import TextDetector
    from posterqa.settings import get_settings

    settings = get_settings()
    engine = None
    if args.ocr_cache:
        from benchmarks.ocr_replay import ReplayEngine
        from detectors.ocr import get_ocr_engine

        engine = ReplayEngine(get_ocr_engine(settings), args.ocr_cache)
    text_detector = TextDetector(settings, engine=engine)
    logo_detector = LogoDetector(settings)
    results: list[CaseResult] = []
    for group, key in (("clean", "clean"), ("defect", "defects")):
        for case in cases[key]:
            if args.only and Path(case["image"]).stem not in args.only:
                continue
            r = run_case(case, group, args.realset, text_detector, logo_detector,
                         settings.max_image_pixels)
            results.append(r)
            print(_case_line(r), flush=True)

    print()
    print(f"{'source':<34} {'clean, text FP':<14} {'defects found':<13} {'logo FP'}")
    by_source: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        by_source[r.source].append(r)
    for source in sorted(by_source):
        print(_summary_row(source, by_source[source]))
    print(_summary_row("all", results))
    errors = sum(r.error is not None for r in results)
    times = [r.seconds for r in results if r.error is None]
    print(f"errors: {errors}; median time per image: "
          f"{statistics.median(times) if times else 0:.2f} s; total {sum(times):.0f} s")
    if args.json_out:
        args.json_out.write_text(json.dumps([r.__dict__ for r in results], indent=1,
                                            ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
