"""detectors.types: Box and Defect values."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.types import Box, Defect, pad_quad, quad_mask
from posterqa.errors import InputError


def test_box_parse_and_errors_name_the_value():
    assert Box.parse("1, 2, 30, 40") == Box(1, 2, 30, 40)
    with pytest.raises(InputError, match="'1,2,3'"):
        Box.parse("1,2,3")
    with pytest.raises(InputError, match="empty"):
        Box.parse("5,5,5,9")
    for infinite in ("0,0,1e400,5", "0,0,inf,5", "0,0,nan,5"):  # float() takes them
        with pytest.raises(InputError, match="four integers"):
            Box.parse(infinite)


def test_box_iou_clamp_and_from_mask():
    a, b = Box(0, 0, 10, 10), Box(5, 0, 15, 10)
    assert a.iou(b) == pytest.approx(50 / 150)
    assert Box(-5, -5, 20, 8).clamp(10, 10) == Box(0, 0, 10, 8)
    mask = np.zeros((6, 6), np.uint8)
    mask[2:4, 1:5] = 255
    assert Box.from_mask(mask) == Box(1, 2, 5, 4)
    with pytest.raises(InputError, match="empty"):
        Box.from_mask(np.zeros((3, 3), np.uint8))


def test_quad_mask_and_pad_quad():
    box = Box(2, 2, 6, 5)
    mask = quad_mask(box.as_quad(), 8, 8)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 255}
    assert Box.from_mask(mask) == Box(2, 2, 7, 6)  # fillPoly includes the edge pixels
    padded = pad_quad(box.as_quad(), 1.0)
    assert padded[0] == (1.0, 1.0) and padded[2] == (7.0, 6.0)


def test_defect_json_round_trip_and_prompt():
    d = Defect(kind="text", category="mismatch", box=Box(1, 2, 3, 4),
               quad=Box(1, 2, 3, 4).as_quad(), expected="鼎好商城", observed="鼎好啇城",
               score=0.9, reasons=("ocr_mismatch",), details=(("sim", 0.75),))
    again = Defect.from_json(d.to_json())
    assert again == Defect(**{**d.__dict__, "repair_quad": d.quad})
    assert d.prompt() == "refine the text '鼎好商城'"
    logo = Defect(kind="logo", category="missing", box=Box(0, 0, 1, 1),
                  quad=Box(0, 0, 1, 1).as_quad(), expected=None, observed=None,
                  score=1.0, reasons=())
    assert logo.prompt() == "Refine the LOGO."
    with pytest.raises(InputError, match="'blurry'"):
        Defect(kind="text", category="blurry", box=Box(0, 0, 1, 1),
               quad=Box(0, 0, 1, 1).as_quad(), expected=None, observed=None,
               score=0.0, reasons=())
