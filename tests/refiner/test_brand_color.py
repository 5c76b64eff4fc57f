"""The repaired text's colour against the brand's colours (issue 22 item 3): a repair
drawn off the brand's palette is not verified; the compositor draws faded (blurred)
copy in the brand colour it fades from."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from detectors.types import Box
from posterqa.errors import InputError
from refiner.backends.compositor import fallback_font, palette_color
from refiner.core import Refiner, text_prompt
from refiner.metrics import nearest_color, repaired_ink_color
from refiner.verify import BRAND_COLOR_TOLERANCE, brand_palette

BRAND = "#96141e"  # (150, 20, 30)
OTHER = "#2a7f3b"  # a green no kit colour is near


def _poster(text: str, *, blur: float = 0.0) -> tuple[np.ndarray, Box]:
    yy, xx = np.mgrid[0:160, 0:420]
    bg = np.stack([225 + xx * 20 // 420, 215 + yy * 30 // 160, 190 + 0 * xx], 2)
    im = Image.fromarray(bg.astype(np.uint8))
    font = ImageFont.truetype(fallback_font(), 44)
    draw = ImageDraw.Draw(im)
    draw.text((30, 100), text, font=font, fill=(150, 20, 30), anchor="ls")
    box = Box(*draw.textbbox((30, 100), text, font=font, anchor="ls")).pad(4)
    if blur:
        region = im.crop(box.as_list()).filter(ImageFilter.GaussianBlur(blur))
        im.paste(region, box.as_list()[:2])
    return np.asarray(im).copy(), box


def _repair(image: np.ndarray, box: Box, **hints: object) -> object:
    refiner = Refiner("compositor", require_region_check=False)
    return refiner.repair(image, box, text_prompt("SALE 50% OFF"),
                          hints={"quad": box.as_quad(), **hints})


def test_brand_palette_adds_neutrals_and_names_a_bad_colour() -> None:
    assert brand_palette([BRAND]) == ((150, 20, 30), (0, 0, 0), (255, 255, 255))
    assert brand_palette([]) == () and brand_palette(None) == ()
    with pytest.raises(InputError, match="'#12'"):
        brand_palette(["#12"])


def test_repair_in_the_brand_colour_is_verified_and_off_palette_is_not() -> None:
    image, box = _poster("SALE 5O% OFF")
    on = _repair(image, box, brand_colors=[BRAND])
    bc = on.verification.brand_color
    assert bc is not None and bc.delta_e <= BRAND_COLOR_TOLERANCE
    assert "off_brand_color" not in on.verification.reasons
    off = _repair(image, box, brand_colors=[BRAND], color=OTHER)
    assert "off_brand_color" in off.verification.reasons and not off.ok
    assert off.verification.brand_color.delta_e > BRAND_COLOR_TOLERANCE
    assert off.verification.to_json()["brand_color"]["nearest"] in (BRAND, "#000000")
    # no kit colours: the copy's colour is not known and not checked
    unknown = _repair(image, box, color=OTHER)
    assert unknown.verification.brand_color is None
    assert "off_brand_color" not in unknown.verification.reasons


def test_blurred_copy_is_redrawn_in_the_brand_colour_it_fades_from() -> None:
    image, box = _poster("SALE 5O% OFF", blur=2.2)
    plain = _repair(image, box)
    drawn_plain = repaired_ink_color(image, plain.image, plain.mask)
    branded = _repair(image, box, brand_colors=[BRAND])
    drawn = repaired_ink_color(image, branded.image, branded.mask)
    assert drawn is not None and drawn_plain is not None
    # without the kit the blur's washed-out colour is drawn; with it, the brand colour
    assert nearest_color(drawn_plain, [(150, 20, 30)])[1] > BRAND_COLOR_TOLERANCE
    assert nearest_color(drawn, [(150, 20, 30)])[1] <= 3.0
    assert "off_brand_color" not in branded.verification.reasons


def test_palette_color_keeps_on_brand_and_unexplained_colours() -> None:
    clean = np.full((10, 10, 3), 230, np.uint8)
    strokes = np.full((10, 10), 255, np.uint8)
    pal = np.asarray(brand_palette([BRAND]), np.float32)
    faded = (190, 125, 130)  # halfway from the background to the brand colour
    assert palette_color(faded, clean, strokes, pal) == (150, 20, 30)
    assert palette_color((152, 22, 30), clean, strokes, pal) == (150, 20, 30)  # the kit value
    assert palette_color((30, 28, 34), clean, strokes, pal) == (30, 28, 34)  # a black kept
    assert palette_color((40, 160, 60), clean, strokes, pal) == (40, 160, 60)
    assert palette_color(faded, clean, strokes, None) == faded
