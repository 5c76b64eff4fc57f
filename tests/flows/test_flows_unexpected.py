"""Text no copy line claims is its own category behind its own switch (issue 21 item 6):
the sweep's detection step reports it only with ``report_unexpected_text`` on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from detectors.text import TextDetector
from flows.detection import FetchedPoster, detect_defects
from posterqa.settings import Settings


def _poster(path: Path) -> None:
    import fontpkg_roboto

    font = str(next(Path(fontpkg_roboto.__file__).parent.rglob("Roboto[[]wdth,wght].ttf")))
    image = Image.new("RGB", (800, 600), (240, 236, 225))
    draw = ImageDraw.Draw(image)
    draw.text((80, 100), "Summer Sale", font=ImageFont.truetype(font, 72), fill=(30, 30, 60))
    draw.text((80, 400), "Visit us today", font=ImageFont.truetype(font, 40), fill=(30, 30, 60))
    image.save(path)


def _detect(path: Path, settings: Settings):
    fetched = FetchedPoster(key="posters/p.png", etag="e", path=str(path),
                            manifest={"copy": ["Summer Sale"]})
    image = np.asarray(Image.open(path).convert("RGB"))
    return detect_defects(fetched, text_detector=TextDetector(settings),
                          logo_detector_factory=None, max_pixels=10**8, image=image)


def test_unlisted_text_is_no_defect_by_default_and_unexpected_when_switched_on(tmp_path):
    path = tmp_path / "p.png"
    _poster(path)
    assert _detect(path, Settings()).defects == ()
    found = _detect(path, Settings(report_unexpected_text=True)).defects
    assert [(d["category"], d["observed"]) for d in found] == [("unexpected", "Visit us today")]
