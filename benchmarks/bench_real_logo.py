"""The realset's faithful-logo cases under the brand rules (opt-in calibrated decision).

    python benchmarks/bench_real_logo.py [--realset ../shared/realset]
                                         [--rules restyle|default|pixel]

``benchmarks/bench_real.py`` runs the logo detector with its default rules
(:data:`detectors.logo_scorer.DEFAULT_RULES`: the pixel measures' verdict on the shape,
with the parts of the brand rules that are safe by default); this runs the nine clean
cases with a ``logo`` reference through ``LogoDetector(rules=RESTYLE_RULES)`` (every part,
the calibrated shape decision included; ``--rules default``: the detector's default;
``--rules pixel``: every part off, the pixel verdict alone) and prints each
case's logo defects and review-only notes, and how many faithful logos got a logo defect
(notes are not defects: a reviewer sees them, the refiner never does). Measuring only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.logo import LogoDetector  # noqa: E402
from detectors.logo_scorer import DEFAULT_RULES, RESTYLE_RULES, LogoRules  # noqa: E402
from posterqa.imaging import load_image, load_rgba  # noqa: E402

DEFAULT_REALSET = Path(__file__).resolve().parents[2] / "shared" / "realset"
MAX_PIXELS = 40_000_000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--realset", type=Path, default=DEFAULT_REALSET)
    ap.add_argument("--rules", choices=("restyle", "default", "pixel"), default="restyle")
    args = ap.parse_args(argv)
    cases = json.loads((args.realset / "cases.json").read_text())["clean"]
    rules = {"restyle": RESTYLE_RULES, "default": DEFAULT_RULES,
             "pixel": LogoRules(restyle_allowed=False, colour_apart=False,
                                small_unjudged=False, note_when_unsure=False)}[args.rules]
    det = LogoDetector(rules=rules)
    flagged = total = 0
    for c in cases:
        if "logo" not in c:
            continue
        total += 1
        image = load_image(args.realset / c["image"], max_pixels=MAX_PIXELS)
        ref = load_rgba(args.realset / c["logo"], max_pixels=MAX_PIXELS)
        found = det.detect(image, ref, required=True)
        logo = [d for d in found if d.kind == "logo"]
        notes = [d for d in found if d.kind == "note"]
        flagged += bool(logo)
        print(f"{Path(c['image']).stem:26s} {'FP logo' if logo else 'logo ok':8s} "
              f"{[(d.category, d.box.as_list(), d.reasons) for d in logo + notes]}")
    print(f"faithful logos with a logo defect: {flagged} of {total} (notes not counted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
