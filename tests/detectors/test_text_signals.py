"""Line signals on constructed crops: the ink map of a line seen on a backing panel."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from detectors.ocr import crop_quad
from detectors.text_signals import (
    _LEVELS,
    _hist_median,
    _hist_percentile,
    core_ink_box,
    crop_line,
    glyph_similarity,
    ink_box,
    nan_to_zero,
    prepare_line,
    prepare_line_local,
    std_above,
)


def _roboto() -> str:
    import fontpkg_roboto

    return str(next(Path(fontpkg_roboto.__file__).parent.rglob("Roboto[[]wdth,wght].ttf")))


def _drawn(text: str, font_path: str, size: int, margin: int, ground: tuple, ink: tuple
           ) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``text`` drawn (basic layout) on a flat ``ground`` with ``margin`` px round its ink
    box; returns the RGB image and the font's box of the text."""
    font = ImageFont.truetype(font_path, size, layout_engine=ImageFont.Layout.BASIC)
    x0, y0, x1, y1 = font.getbbox(text)
    img = Image.new("RGB", (x1 - x0 + 2 * margin, y1 - y0 + 2 * margin), ground)
    ImageDraw.Draw(img).text((margin - x0, margin - y0), text, font=font, fill=ink)
    return np.asarray(img), (x0, y0, x1, y1)


def test_a_panel_edge_in_the_margin_is_not_taken_for_the_ink() -> None:
    # light rounded panel on a dark poster, dark text on the panel; the crop (like an OCR
    # quad) shows 7 px of the dark outside all round: the outside band and the strokes
    # make one Otsu class, the panel the other (the panel erodes less than the band)
    text, size, m, pad = "Open daily 9am-9pm", 21, 7, 9
    font = ImageFont.truetype(_roboto(), size, layout_engine=ImageFont.Layout.BASIC)
    x0, y0, x1, y1 = font.getbbox(text)
    w, h = x1 - x0 + 2 * (m + pad), y1 - y0 + 2 * (m + pad)
    img = Image.new("RGB", (w, h), (45, 25, 15))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((m, m, w - m - 1, h - m - 1), radius=5, fill=(240, 236, 232))
    draw.text((m + pad - x0, m + pad - y0), text, font=font, fill=(150, 90, 60))
    line = prepare_line(np.asarray(img))
    inner = line.ink[m + 3:h - m - 3, m + 3:w - m - 3]
    assert inner.mean() < 0.35  # strokes only, not the whole panel
    sims, _cells = glyph_similarity(line, text, _roboto())
    assert float(np.sort(sims)[:3].mean()) > 0.7


def test_a_descender_cut_by_the_crop_still_counts_as_ink() -> None:
    # the detector's quad may end inside the descenders (y, j): those glyphs touch the
    # crop's bottom edge but are the line's own, not a neighbour's stroke
    text, size = "Quality You Can Trust", 50
    img, (_x0, y0, _x1, y1) = _drawn(text, _roboto(), size, 10, (250, 246, 240), (30, 30, 40))
    crop = img[:y1 - y0 + 1]  # the descenders lose their last 9 px
    line = prepare_line(crop)
    sims, _cells = glyph_similarity(line, text, _roboto())
    assert sims[6] > 0.7  # the y of "Quality"
    assert float(np.sort(sims)[:3].mean()) > 0.6


def test_the_ink_box_leaves_out_texture_past_a_panels_edge() -> None:
    # dark text on a light panel, the crop reaching past the panel into a mid-grey
    # textured poster: the wide halo that keeps a blurred line's soft edge lets the
    # texture in beside the glyphs; only ink connected to the glyph blobs counts
    text, size, m = "Flash Sale", 60, 40
    font = ImageFont.truetype(_roboto(), size, layout_engine=ImageFont.Layout.BASIC)
    x0, y0, x1, y1 = font.getbbox(text)
    w, h = x1 - x0 + 2 * m + 40, y1 - y0 + 2 * m + 20
    rng = np.random.default_rng(4)
    tex = rng.normal(150, 30, (h // 8 + 1, w // 8 + 1)).clip(0, 255).astype(np.uint8)
    back = np.asarray(Image.fromarray(tex).resize((w, h), Image.Resampling.BICUBIC))
    img = Image.fromarray(np.dstack([back] * 3))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((m - 18, m - 12, w - m + 18, h - m + 12), radius=8,
                           fill=(245, 243, 240))
    draw.text((m + 20 - x0, m + 10 - y0), text, font=font, fill=(25, 25, 30))
    line = prepare_line(np.asarray(img), halo=int(0.25 * h))
    loose = ink_box(line.ink, thresh=0.2)
    assert loose is not None and (loose[2] - loose[0]) > (x1 - x0) + 30  # the halo's texture
    glyphs = Image.new("L", (w, h), 0)  # the glyphs' own pixels
    ImageDraw.Draw(glyphs).text((m + 20 - x0, m + 10 - y0), text, font=font, fill=255)
    ys, xs = np.nonzero(np.asarray(glyphs) > 100)
    bx0, by0, bx1, by1 = core_ink_box(line, thresh=0.2)
    assert abs(bx0 - xs.min()) <= 3 and abs(bx1 - xs.max() - 1) <= 3
    assert abs(by0 - ys.min()) <= 3 and abs(by1 - ys.max() - 1) <= 3


def test_the_one_descender_of_a_long_line_sets_its_height() -> None:
    # a long line with a single descender ('p'): its rows hold fewer ink pixels than the
    # ink box's row rule asks for; dropping them squashed the rendering onto the line and
    # clean round letters (e, S, c, a) compared at 0.66-0.80 (0.71 here)
    text, size = "Weekend Special Sale", 44
    img, _box = _drawn(text, _roboto(), size, 15, (30, 40, 80), (230, 220, 90))
    sims, _cells = glyph_similarity(prepare_line(img), text, _roboto())
    assert float(np.sort(sims)[:3].mean()) > 0.9


def test_histogram_order_statistics_equal_numpys_bit_for_bit() -> None:
    # prepare_line takes the background's median and the ink's percentiles from grey-level
    # histograms: they must be np.median's and np.percentile's float32 values exactly
    rng = np.random.default_rng(0)
    for k in range(2000):
        n = int(rng.integers(1, 500))
        levels = rng.integers(0, 256, 4) if k % 2 else np.arange(256)
        grey = rng.choice(levels, n).astype(np.uint8)
        bg, sign = float(rng.integers(0, 511)) / 2, (-1.0, 1.0)[k % 4 // 2]
        diff = np.maximum(sign * (grey.astype(np.float32) - bg), 0.0)
        level_diff = np.maximum(sign * (_LEVELS - bg), 0.0)
        hist = np.bincount(grey, minlength=256).astype(np.int64)
        for q in (99, 95, 50):
            assert _hist_percentile(level_diff, hist, q) == float(np.percentile(diff, q))
        assert _hist_median(hist) == float(np.median(grey.astype(np.float32)))


def test_nan_to_zero_equals_nan_to_num() -> None:
    finite = np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(3, 4)
    for bad in (None, np.nan, np.inf, -np.inf):
        a = finite.copy()
        if bad is not None:
            a[1, 2] = bad
        expected = np.nan_to_num(a, nan=0.0)
        got = nan_to_zero(a)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)


def test_std_above_only_claims_what_np_std_confirms() -> None:
    rng = np.random.default_rng(1)
    for k in range(3000):
        a = (rng.random((int(rng.integers(1, 40)), int(rng.integers(1, 40))))
             * 10.0 ** -rng.integers(1, 6)).astype(np.float32)
        if k % 3 == 0:  # one outlier on a flat patch: the bound's worst case
            a[:] = 0.5
            a.flat[0] += np.float32(10.0 ** -rng.integers(1, 5))
        limit = float(10.0 ** -rng.integers(2, 5))
        if std_above(a, limit, float(a.max() - a.min())):
            assert float(a.std()) > limit


def test_crop_line_equals_the_perspective_warp() -> None:
    # upright whole-pixel quads are sliced, the rest warped: the same pixels either way
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (120, 200, 3), dtype=np.uint8)
    quads = [
        ((10.0, 20.0), (90.0, 20.0), (90.0, 45.0), (10.0, 45.0)),
        ((0.0, 0.0), (200.0, 0.0), (200.0, 120.0), (0.0, 120.0)),  # the whole image
        ((150.0, 100.0), (200.0, 100.0), (200.0, 120.0), (150.0, 120.0)),  # its corner
        ((150.0, 100.0), (230.0, 100.0), (230.0, 130.0), (150.0, 130.0)),  # past it
        ((10.5, 20.0), (90.5, 20.0), (90.5, 45.0), (10.5, 45.0)),  # half pixels
        ((10.0, 30.0), (90.0, 20.0), (93.0, 45.0), (13.0, 55.0)),  # rotated
    ]
    for quad in quads:
        got, expected = crop_line(image, quad), crop_quad(image, quad)
        assert got.shape == expected.shape and np.array_equal(got, expected)


def test_a_line_cropped_along_a_leaning_quad_is_levelled_before_the_comparison() -> None:
    # upright text, the detector's quad leaning 1.3 degrees (7 px over 305): the crop
    # shows the line tilted and its ink box 4-7 px taller than the glyphs; levelled, the
    # rendering is compared at the glyphs' own size
    import pylopdf_fonts_zh_cn

    sc = str(Path(pylopdf_fonts_zh_cn.__file__).parent / "NotoSansSC-Regular.otf")
    text, size = "全国包邮 七天无理由", 31
    img, (x0, y0, x1, y1) = _drawn(text, sc, size, 30, (210, 210, 210), (30, 30, 30))
    w = x1 - x0
    quad = ((18.0, 19.0), (w + 42.0, 12.0), (w + 43.0, y1 - y0 + 45.0), (20.0, y1 - y0 + 52.0))
    line = prepare_line(crop_line(img, quad))
    sims, _cells = glyph_similarity(line, text, sc)
    assert float(np.sort(sims)[:3].mean()) > 0.85
    # the same upright crop of a line with a descender at one end is not "levelled"
    text = "Weekend Sale Shopping"
    img, _box = _drawn(text, _roboto(), 44, 15, (30, 40, 80), (230, 220, 90))
    sims, _cells = glyph_similarity(prepare_line(img), text, _roboto())
    assert float(np.sort(sims)[:3].mean()) > 0.9


def test_a_short_tilted_line_is_levelled_by_where_its_glyphs_match() -> None:
    # seed 25: clean '全场五折' and '¥59.90' cropped along upright quads showed the text
    # leaning ~2 degrees; too short for the ends' rule (ink box < 4x its height), they
    # were compared stretched to the tilted box (0.67-0.76) and flagged as collapsed.
    # Levelled by the slope of where each character's rendering matched: > 0.9
    import pylopdf_fonts_zh_cn

    from detectors.text_signals import _glyph_slope

    sc = str(Path(pylopdf_fonts_zh_cn.__file__).parent / "NotoSansSC-Regular.otf")
    for text, font in (("全场五折", sc), ("¥59.90", _roboto())):
        img, _box = _drawn(text, font, 44, 14, (200, 225, 220), (25, 25, 30))
        h, w = img.shape[:2]
        tilted = np.asarray(Image.fromarray(img).rotate(2.2, resample=Image.Resampling.BICUBIC,
                                                        fillcolor=(200, 225, 220)))
        sims, _cells = glyph_similarity(prepare_line(tilted), text, font)
        assert float(np.sort(sims)[:3].mean()) > 0.9, (text, sims)
    # places that disagree (glyphs shifted at random, as in a warp) give no slope
    assert _glyph_slope(np.ones(5), [(0, 0), (10, 3), (20, -2), (30, 4), (40, -3)]) is None
    assert abs(_glyph_slope(np.ones(4), [(0, 0), (10, 0.4), (20, 0.8), (30, 1.2)]) - 0.04) < 1e-9


def test_a_backdrop_of_two_tones_under_the_line_fails_one_grey_level_not_the_local_one(
) -> None:
    # seed 34, poster 3400140: a clean 'Now $19.99' over a backdrop split diagonally in
    # two tones. With one background level, the darker tone joins the ink and the glyphs
    # compare 0.36; against the local background (the crop closed with a square of half
    # its height) they compare as a clean line's
    text, size, m = "Now $19.99", 40, 12
    img, _ = _drawn(text, _roboto(), size, m, (235, 190, 170), (40, 30, 40))
    img = img.copy()
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    split = xx < 0.45 * w + 0.8 * (yy - h / 2)  # a diagonal edge across the line
    dark_tone = np.array([150, 120, 190], np.uint8)
    drawn_ink = img.astype(int).sum(axis=2) < 300
    img[split & ~drawn_ink] = dark_tone

    def low3(line) -> float:
        sims, _cells = glyph_similarity(line, text, _roboto())
        return float(np.sort(sims)[:3].mean())

    assert low3(prepare_line(img)) < 0.6
    assert low3(prepare_line_local(img, ink_dark=True)) > 0.8
    # on a flat ground both agree
    flat, _ = _drawn(text, _roboto(), size, m, (235, 190, 170), (40, 30, 40))
    assert abs(low3(prepare_line(flat)) - low3(prepare_line_local(flat, ink_dark=True))) < 0.1


def test_a_panels_side_edge_at_the_crops_end_is_not_ink() -> None:
    # seed 34, poster 3400190: 'Scan the code to join' on a light panel; the OCR quad's
    # margin reached past the panel's right end, where the dark poster shows as a bar
    # from the crop's top down past its middle: glyph-sized, it passed for a cut
    # descender and stretched the ink box (glyphs 0.51 with it, 0.94 without)
    text, size, m = "Scan the code to join", 24, 8
    img, _ = _drawn(text, _roboto(), size, m, (236, 232, 226), (150, 140, 60))
    img = img.copy()
    h, w = img.shape[:2]
    bar = np.zeros((h, w + 4, 3), np.uint8)
    bar[:, :w] = img
    bar[: int(0.75 * h), w:] = (35, 20, 30)  # the outside, past the panel's rounded end
    bar[int(0.75 * h):, w:] = (236, 232, 226)
    line = prepare_line(bar)
    assert line.ink[:, w:].max() == 0
    sims, _cells = glyph_similarity(line, text, _roboto())
    assert float(np.sort(sims)[:3].mean()) > 0.8


def _gold_fill(img: np.ndarray, ground: tuple) -> np.ndarray:
    """The ink of ``img`` (pixels away from the flat ``ground``) filled with a vertical
    gold ramp (light top, dark bottom), as metallic lettering is shaded."""
    out = img.copy()
    ink = np.abs(img.astype(np.int16) - np.array(ground, np.int16)).sum(axis=2) > 60
    ramp = np.linspace(0.0, 1.0, img.shape[0])[:, None, None]
    gold = (1 - ramp) * np.array([255, 236, 150]) + ramp * np.array([120, 70, 10])
    out[ink] = np.broadcast_to(gold, img.shape)[ink].astype(np.uint8)
    return out


@pytest.mark.parametrize("ground, ink, size", [((30, 30, 40), (240, 200, 90), 72),
                                               ((240, 240, 235), (20, 20, 60), 40),
                                               ((240, 240, 235), (200, 30, 30), 28)])
def test_ink_tones_tell_a_shaded_fill_from_flat_and_from_blurred_ink(ground, ink, size) -> None:
    from detectors.text_signals import ink_tones

    flat, _ = _drawn("GOLDEN Sale 2024", _roboto(), size, 12, ground, ink)
    shaded = _gold_fill(flat, ground)
    tones = {name: ink_tones(img, prepare_line(img)) for name, img in (
        ("flat", flat), ("shaded", shaded), ("blur2", cv2.GaussianBlur(flat, (0, 0), 2.0)),
        ("blur3", cv2.GaussianBlur(flat, (0, 0), 3.0)))}
    assert all(v is not None for v in tones.values()), tones
    # a blur mixes ink with background: no colour off that mix
    assert max(tones["flat"], tones["blur2"], tones["blur3"]) < 0.05 < 0.12 < tones["shaded"]


def test_ink_tones_is_none_where_strokes_are_too_thin_to_have_a_core() -> None:
    from detectors.text_signals import ink_tones

    thin = np.full((40, 200, 3), 255, np.uint8)
    for x in range(10, 190, 12):
        thin[8:32, x:x + 2] = 0  # strokes 2 px wide: an erosion leaves nothing
    assert ink_tones(thin, prepare_line(thin)) is None
    thin[8:32, 100:108] = 0  # one 8 px stroke: a core to measure, flat
    assert ink_tones(thin, prepare_line(thin)) == 0.0


def test_stroke_cv_grows_with_uneven_stroke_widths() -> None:
    from detectors.text_signals import stroke_cv

    even = np.full((60, 240, 3), 255, np.uint8)
    for x in range(20, 220, 40):
        even[10:50, x:x + 8] = 0  # five bars 8 px wide
    uneven = np.full((60, 240, 3), 255, np.uint8)
    for k, x in enumerate(range(20, 220, 40)):
        uneven[10:50, x:x + 3 + 5 * k] = 0  # bars 3 .. 23 px wide
    cv_even, cv_uneven = stroke_cv(prepare_line(even)), stroke_cv(prepare_line(uneven))
    assert cv_even is not None and cv_uneven is not None
    assert cv_even < 0.2 < cv_uneven
