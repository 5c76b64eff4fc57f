"""Realistic copy: the misspellings, lettering styles and layouts of real generators, their
ground truth, and the default poster left exactly as it was."""

from __future__ import annotations

import json
import unicodedata

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from catalog import (
    LETTERING_STYLES,
    REAL_TEXT_DEFECTS,
    TEXT_DEFECTS,
    TEXT_LAYOUTS,
    GeneratedBrand,
    GeneratedPoster,
    TruthItem,
    generate_catalog,
    make_brand,
    make_poster,
)
from catalog.glyphs import compose_glyph, styled_font
from catalog.lettering import BOLD_STYLES, ITALIC_STYLES
from catalog.spelling import LOOKALIKE_HANZI, PSEUDO_PARTNERS, SHOWN_PSEUDO
from catalog.texts import SIMILAR
from posterqa.errors import InputError
from posterqa.fonts import CJK_FONTS, covers_char, find_font
from posterqa.imaging import encode_png

SIZE = (768, 1024)
HALO_STYLES = {"shadow", "neon"}  # their glow/shadow lies outside the letters' box


@pytest.fixture(scope="module")
def brand() -> GeneratedBrand:
    return make_brand("acme", 11, logo_style="flat")


def _line(poster: GeneratedPoster, index: int) -> TruthItem:
    return next(t for t in poster.truth if t.kind == "text" and t.line_index == index)


def _inside(box, mask: np.ndarray) -> bool:
    """Every pixel of ``mask`` (poster coordinates) lies in ``box``."""
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = box.as_list()
    return bool(((xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)).all())


def _changed(poster: GeneratedPoster) -> np.ndarray:
    return (poster.image != poster.clean).any(axis=2)


def _grow(box, px: int):
    x0, y0, x1, y1 = box.as_list()
    return type(box)(x0 - px, y0 - px, x1 + px, y1 + px)


# --------------------------------------------------------------------------- defaults


def test_options_off_give_the_default_poster_byte_for_byte(brand: GeneratedBrand) -> None:
    kwargs = dict(size=SIZE, n_lines=5, text_defects={0: "blur", 2: "wrong_chars"},
                  logo_defect="warp")
    default = make_poster(brand, 7, **kwargs)
    off = make_poster(brand, 7, realism=False, text_styles={}, text_layouts={}, **kwargs)
    assert encode_png(default.image) == encode_png(off.image)
    assert encode_png(default.clean) == encode_png(off.clean)
    assert default.truth_json("k.png") == off.truth_json("k.png")
    doc = json.loads(default.truth_json("k.png"))
    assert not any({"style", "layout", "parts"} & set(item) for item in doc["items"])
    # and the option does change the poster when on
    on = make_poster(brand, 7, realism=True, **kwargs)
    assert encode_png(on.image) != encode_png(default.image)


def test_same_seed_gives_the_same_realistic_poster(brand: GeneratedBrand) -> None:
    kwargs = dict(text_defects={0: "pseudo_hanzi", 1: "swapped_letters"}, realism=True)
    a = make_poster(brand, 21, **kwargs)
    b = make_poster(make_brand("acme", 11, logo_style="flat"), 21, **kwargs)
    assert encode_png(a.image) == encode_png(b.image)
    assert encode_png(a.clean) == encode_png(b.clean)
    assert a.truth_json("k.png") == b.truth_json("k.png")
    c = make_poster(brand, 22, **kwargs)
    assert encode_png(a.image) != encode_png(c.image)


def test_unknown_style_layout_or_defect_is_refused_by_name(brand: GeneratedBrand) -> None:
    with pytest.raises(InputError, match="'chrome-ish'"):
        make_poster(brand, 1, text_styles={0: "chrome-ish"})
    with pytest.raises(InputError, match="'spiral'"):
        make_poster(brand, 1, text_layouts={0: "spiral"})
    with pytest.raises(InputError, match="'typo'"):
        make_poster(brand, 1, text_defects={0: "typo"})


# --------------------------------------------------------------------------- defects


def _check_spelling(defect: str, expected: str, shown: str) -> None:
    if defect == "swapped_letters":
        assert len(shown) == len(expected) and sorted(shown) == sorted(expected)
        diff = [i for i, (a, b) in enumerate(zip(expected, shown, strict=True)) if a != b]
        assert len(diff) == 2 and diff[1] == diff[0] + 1
    elif defect == "doubled_letter":
        assert len(shown) == len(expected) + 1
        j = next(i for i in range(len(expected)) if shown[i] != expected[i]) \
            if shown[:-1] != expected else len(expected)
        assert shown[j] == shown[j - 1] and shown[:j] + shown[j + 1:] == expected
    elif defect == "dropped_letter":
        assert len(shown) == len(expected) - 1
        assert any(expected[:j] + expected[j + 1:] == shown for j in range(len(expected)))
    elif defect == "garbled_word":
        head = next(i for i in range(min(len(shown), len(expected)) + 1)
                    if i == min(len(shown), len(expected)) or shown[i] != expected[i])
        tail = next(i for i in range(min(len(shown), len(expected)) - head + 1)
                    if i == min(len(shown), len(expected)) - head
                    or shown[-1 - i] != expected[-1 - i])
        changed = expected[head:len(expected) - tail]
        assert " " not in changed  # all slips inside one word
    elif defect in ("pseudo_hanzi", "pseudo_letter"):
        assert shown.count(SHOWN_PSEUDO) == 1 and len(shown) == len(expected)
        bad = expected[shown.index(SHOWN_PSEUDO)]
        assert ("\u3400" <= bad <= "\u9fff") == (defect == "pseudo_hanzi")
        assert defect == "pseudo_hanzi" or bad.isascii() and bad.isalpha()
    elif defect == "lookalike_hanzi":
        pairs = [(a, b) for a, b in zip(expected, shown, strict=True) if a != b]
        assert 1 <= len(pairs) <= 2
        for a, b in pairs:
            assert "\u3400" <= b <= "\u9fff" and a != b
    elif defect == "stray_punct":
        assert len(shown) == len(expected) + 1
        extra = next((shown[j] for j in range(len(expected)) if shown[j] != expected[j]),
                     shown[-1])
        assert unicodedata.category(extra).startswith("P")


@pytest.mark.parametrize("defect", REAL_TEXT_DEFECTS)
def test_real_defect_changes_the_spelling_and_its_box_holds_every_changed_pixel(
        brand: GeneratedBrand, defect: str) -> None:
    poster = make_poster(brand, 40, size=SIZE, n_lines=4, text_defects={1: defect})
    item = _line(poster, 1)
    assert item.defect == defect
    assert item.rendered != item.expected
    _check_spelling(defect, item.expected, item.rendered)
    assert item.style == "plain" and item.layout == "straight"
    changed = _changed(poster)
    assert changed.any()
    assert _inside(item.box, changed)  # the defect's ink lies in its truth box
    assert poster.manifest is not None and item.expected in poster.manifest.copy_lines
    # crisp: the defective line has as many fully inked pixels as the clean one (no blur)
    x0, y0, x1, y1 = item.box.as_list()
    bg = poster.background[y0:y1, x0:x1].astype(int)
    full = [int((np.abs(img[y0:y1, x0:x1].astype(int) - bg).max(axis=2) >
                 0.9 * np.abs(img[y0:y1, x0:x1].astype(int) - bg).max()).sum())
            for img in (poster.clean, poster.image)]
    assert full[1] >= 0.6 * full[0]


def test_hanzi_defects_use_look_alikes_and_need_a_hanzi(brand: GeneratedBrand) -> None:
    for seed in range(50, 56):
        poster = make_poster(brand, seed, size=SIZE, n_lines=3,
                             text_defects={0: "lookalike_hanzi", 1: "pseudo_hanzi"})
        for index in (0, 1):
            item = _line(poster, index)
            assert any("\u3400" <= c <= "\u9fff" for c in item.expected)
        item = _line(poster, 0)
        for a, b in zip(item.expected, item.rendered, strict=True):
            if a != b:
                assert b in LOOKALIKE_HANZI.get(a, "") + SIMILAR.get(a, "")


def test_look_alike_table_and_pseudo_partners_are_drawn_by_every_cjk_font() -> None:
    for name in CJK_FONTS:
        path = str(find_font(name))
        for ch, alikes in LOOKALIKE_HANZI.items():
            assert alikes and ch not in alikes
            assert all(covers_char(path, c) for c in ch + alikes), (name, ch, alikes)
        assert all(covers_char(path, c) for c in PSEUDO_PARTNERS), name


def test_pseudo_hanzi_is_a_new_glyph_made_of_two_real_ones(brand: GeneratedBrand) -> None:
    font = styled_font(str(brand.cjk_font), 64, False, False)[0]
    glyphs = []
    for ch in ("情", "好", "明"):
        img = Image.new("L", (80, 80), 0)
        ImageDraw.Draw(img).text((8, 0), ch, font=font, fill=255)
        glyphs.append(np.asarray(img, np.float32))
    for base, partner in ((0, 1), (2, 0), (1, 2)):
        a, b = glyphs[base], glyphs[partner]
        for axis in ("x", "y"):
            made = compose_glyph(a, b, axis)
            for real in glyphs:
                assert np.abs(made - real).mean() > 3.0  # no real character of the three
            m, a_, b_ = (made, a, b) if axis == "x" else (made.T, a.T, b.T)
            # one part is the base's, the rest the partner's, cut in the base's middle
            cuts = [c for c in range(1, 80) if np.array_equal(m[:, :c], a_[:, :c])
                    and np.array_equal(m[:, c:], b_[:, c:])]
            ink = np.flatnonzero(a_.max(axis=0) > 40)
            assert any(ink[0] + 0.25 * np.ptp(ink) <= c <= ink[0] + 0.75 * np.ptp(ink)
                       for c in cuts)


@pytest.mark.parametrize("defect", TEXT_DEFECTS)
def test_classic_defects_work_on_styled_lines(brand: GeneratedBrand, defect: str) -> None:
    poster = make_poster(brand, 41, size=SIZE, n_lines=4, text_defects={0: defect},
                         text_styles={0: "extruded"})
    item = _line(poster, 0)
    assert item.defect == defect and item.style == "extruded"
    changed = _changed(poster)
    assert changed.any() and _inside(item.box, changed)


# --------------------------------------------------------------------------- styles


@pytest.mark.parametrize("style", LETTERING_STYLES)
def test_clean_styled_line_is_boxed_on_its_letters_and_stays_legible(
        brand: GeneratedBrand, style: str) -> None:
    seed = 60
    poster = make_poster(brand, seed, size=SIZE, n_lines=4, text_styles={1: style})
    item = _line(poster, 1)
    assert item.defect is None and item.style == style and item.rendered == item.expected
    assert np.array_equal(poster.image, poster.clean)
    if style in BOLD_STYLES or style in ITALIC_STYLES:  # another glyph shape: its own width
        plain = _line(make_poster(brand, seed, size=SIZE, n_lines=4, text_styles={1: "plain"}),
                      1)
        assert item.box.width >= 0.95 * plain.box.width
        assert item.box.width <= plain.box.width + 0.5 * item.size_px
        return
    # the same poster in plain letters has the same layout: its ink is the letters
    plain = make_poster(brand, seed, size=SIZE, n_lines=4, text_styles={1: "plain"})
    pitem = _line(plain, 1)
    x0, y0, x1, y1 = _grow(pitem.box, pitem.size_px).as_list()
    region = (slice(max(0, y0), y1), slice(max(0, x0), x1))
    letters = (plain.image[region] != plain.background[region]).any(axis=2)
    ys, xs = np.nonzero(letters)
    letters_box = (xs.min() + max(0, x0), ys.min() + max(0, y0),
                   xs.max() + 1 + max(0, x0), ys.max() + 1 + max(0, y0))
    b = item.box.as_list()
    assert b[0] <= letters_box[0] and b[1] <= letters_box[1]
    assert b[2] >= letters_box[2] and b[3] >= letters_box[3]
    slack = 0.2 * item.size_px + 2  # outline and extrusion widen the letters a little
    assert max(letters_box[0] - b[0], letters_box[1] - b[1], b[2] - letters_box[2],
               b[3] - letters_box[3]) <= slack
    # legible: the letters' inner pixels stand apart from the pixels just outside them
    solid = cv2.erode(letters.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    ring = cv2.dilate(letters.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & \
        ~letters
    lum = poster.image[region].astype(np.float32) @ np.float32([0.299, 0.587, 0.114])
    assert solid.sum() > 20
    assert abs(float(np.median(lum[solid])) - float(np.median(lum[ring]))) >= 25.0


@pytest.mark.parametrize("style", sorted(LETTERING_STYLES))
def test_misspelt_styled_line_changes_only_near_its_box(brand: GeneratedBrand,
                                                        style: str) -> None:
    poster = make_poster(brand, 61, size=SIZE, n_lines=4, text_defects={1: "doubled_letter"},
                         text_styles={1: style})
    item = _line(poster, 1)
    changed = _changed(poster)
    assert changed.any()
    pad = int(min(0.3 * item.size_px, 30)) + 3
    assert _inside(_grow(item.box, pad), changed)  # glows reach into the halo at most
    if style not in HALO_STYLES:
        delta = np.abs(poster.image.astype(int) - poster.clean.astype(int)).max(axis=2)
        assert _inside(item.box, delta > 0.25 * delta.max())


# --------------------------------------------------------------------------- layouts


def _ink(poster: GeneratedPoster, box) -> np.ndarray:
    x0, y0, x1, y1 = box.as_list()
    return (poster.image[y0:y1, x0:x1] != poster.background[y0:y1, x0:x1]).any(axis=2)


@pytest.mark.parametrize("layout", TEXT_LAYOUTS)
def test_every_layout_is_constructed_with_parts_and_a_one_string_manifest(
        brand: GeneratedBrand, layout: str) -> None:
    poster = make_poster(brand, 70, size=SIZE, n_lines=4, text_layouts={2: layout})
    item = _line(poster, 2)
    assert item.layout == layout and item.defect is None
    n = len(item.parts)
    expect = {"multiline": (2, 3), "sizes": (2, 3), "columns": (2, 3), "vertical": (1, 3),
              "repeated": (2, 4)}.get(layout, (1, 1))
    assert expect[0] <= n <= expect[1]
    for part in item.parts:  # each part inked, inside the line's box
        assert item.box.x0 <= part.x0 and part.x1 <= item.box.x1
        assert item.box.y0 <= part.y0 and part.y1 <= item.box.y1
        assert _ink(poster, part).mean() > 0.05
    assert poster.manifest is not None
    assert poster.manifest.copy_lines.count(item.expected) == 1
    assert len(poster.manifest.copy_lines) == len([t for t in poster.truth if t.kind == "text"])


def test_layout_geometry(brand: GeneratedBrand) -> None:
    def line(layout: str, seed: int = 71) -> tuple[GeneratedPoster, TruthItem]:
        p = make_poster(brand, seed, size=SIZE, n_lines=3, text_layouts={0: layout})
        return p, _line(p, 0)

    p, t = line("arc")  # the ink's middle moves up and down along the line
    ink = _ink(p, t.box)
    cols = [np.flatnonzero(c).mean() for c in ink.T if c.any()]
    assert max(cols) - min(cols) > 0.3 * t.size_px
    p, t = line("perspective")  # one end taller than the other, or the top narrower
    ink = _ink(p, t.box)
    third = ink.shape[1] // 3
    h_left = np.ptp(np.flatnonzero(ink[:, :third].any(axis=1)))
    h_right = np.ptp(np.flatnonzero(ink[:, -third:].any(axis=1)))
    rows = np.flatnonzero(ink.any(axis=1))
    w_top = np.ptp(np.flatnonzero(ink[rows[0]:rows[0] + ink.shape[0] // 3].any(axis=0)))
    w_bot = np.ptp(np.flatnonzero(ink[rows[-1] - ink.shape[0] // 3:rows[-1] + 1].any(axis=0)))
    assert abs(h_left - h_right) > 0.1 * max(h_left, h_right) or w_top < 0.92 * w_bot
    p, t = line("vertical")
    assert t.box.height > 1.5 * t.box.width
    p, t = line("tiny")
    assert t.box.height <= 17 and t.size_px <= 13
    p, t = line("repeated")
    ink_counts = [int(_ink(p, part).sum()) for part in t.parts]
    assert max(ink_counts) - min(ink_counts) <= 0.02 * max(ink_counts) + 4  # the same copy


@pytest.mark.parametrize("layout", ["multiline", "sizes", "columns", "vertical", "repeated"])
def test_defect_in_a_multi_part_layout_is_boxed_on_its_part(brand: GeneratedBrand,
                                                            layout: str) -> None:
    found_narrow = False
    for seed in range(80, 100):
        poster = make_poster(brand, seed, size=SIZE, n_lines=3, text_layouts={0: layout},
                             text_defects={0: "pseudo_hanzi"})
        item = _line(poster, 0)
        assert item.defect == "pseudo_hanzi" and len(item.parts) >= 1
        changed = _changed(poster)
        assert _inside(item.box, changed)
        union = (min(p.x0 for p in item.parts), min(p.y0 for p in item.parts),
                 max(p.x1 for p in item.parts), max(p.y1 for p in item.parts))
        if len(item.parts) > 1:
            # the box is one of the parts (the one holding the changed glyph) ...
            assert any(p.as_list() == item.box.as_list() for p in item.parts)
            assert item.box.as_list() != list(union)
            found_narrow = True
            break
    assert found_narrow


def test_realistic_catalog_carries_every_real_defect_and_style_fields() -> None:
    cat = generate_catalog(3, 12, defect_share=1.0, text_defect_types=REAL_TEXT_DEFECTS,
                           realism=True, no_manifest=0)
    seen = set()
    for poster in cat.posters:
        doc = json.loads(poster.truth_json("k.png"))
        for item in doc["items"]:
            if item["kind"] == "text":
                assert item["style"] in LETTERING_STYLES
                assert item["layout"] in TEXT_LAYOUTS
                assert item["parts"]
                if item["defect"]:
                    seen.add(item["defect"])
    assert seen == set(REAL_TEXT_DEFECTS)
