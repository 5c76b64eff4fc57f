"""Alignment of OCR lines with the expected strings (no OCR engine involved)."""

from __future__ import annotations

from detectors.ocr import OcrLine
from detectors.text_align import align, reading_order
from detectors.types import Box


def _line(text: str, x0: int, y0: int, x1: int, y1: int) -> OcrLine:
    return OcrLine(quad=Box(x0, y0, x1, y1).as_quad(), text=text, score=0.99)


def test_reading_order_is_rows_then_left_to_right() -> None:
    a = _line("right", 300, 12, 400, 40)
    b = _line("left", 10, 10, 120, 42)
    c = _line("below", 10, 80, 120, 110)
    assert [ln.text for ln in reading_order([c, a, b])] == ["left", "right", "below"]


def test_exact_match_claims_the_line() -> None:
    al = align([_line("限时特惠", 0, 0, 200, 40)], ["限时特惠"])
    assert [m.cost for m in al.matches] == [0]
    assert al.missing == ()
    assert al.line_claimed_ratio(0) == 1.0


def test_expected_string_may_span_two_lines() -> None:
    lines = [_line("Free shipping on", 0, 0, 300, 30), _line("orders over $50", 0, 40, 300, 70)]
    al = align(lines, ["Free shipping on orders over $50"])
    assert al.missing == ()
    (m,) = al.matches
    assert m.cost == 0
    assert {al.doc[op.doc].line for op in m.ops} == {0, 1}


def test_one_line_may_hold_several_expected_strings() -> None:
    al = align([_line("原价¥399 现价¥199", 0, 0, 400, 30)], ["现价 ¥199", "原价 ¥399"])
    assert [m.cost for m in al.matches] == [0, 0]
    assert al.line_claimed_ratio(0) == 1.0


def test_substitution_is_located_on_the_wrong_character() -> None:
    al = align([_line("鼎好啇城", 0, 0, 200, 40)], ["鼎好商城"])
    (m,) = al.matches
    assert m.cost == 1
    wrong = [op for op in m.ops if op.op != "M"]
    assert [(op.op, op.exp, al.doc[op.doc].source) for op in wrong] == [("S", 2, 2)]


def test_absent_characters_are_deletions() -> None:
    al = align([_line("Summer Sa", 0, 0, 200, 40)], ["Summer Sale"])
    (m,) = al.matches
    assert [op.op for op in m.ops].count("D") == 2


def test_unrelated_text_leaves_the_expected_string_missing() -> None:
    al = align([_line("Hello world", 0, 0, 200, 40)], ["限时特惠"])
    assert al.matches == ()
    assert al.missing == ("限时特惠",)
    assert al.line_claimed_ratio(0) == 0.0


def test_a_tall_junk_read_does_not_chain_rows() -> None:
    # a logo or texture read as one tall line overlaps the rows above and below it; it
    # must not pull the headline between the two halves of the line under it
    head = _line("Sabel", 533, 271, 753, 369)
    junk = _line("_", 775, 186, 1311, 632)
    left = _line("Live E", 477, 390, 585, 439)
    right = _line("ery Day", 692, 385, 837, 452)
    order = [ln.text for ln in reading_order([junk, right, head, left])]
    assert order.index("ery Day") == order.index("Live E") + 1
    assert order.index("Sabel") < order.index("Live E")
    al = align([junk, right, head, left], ["Live Better Every Day"])
    (m,) = al.matches
    assert {al.doc[o.doc].line for o in m.ops if o.op == "M"} == {
        order.index("Live E"), order.index("ery Day")}


def test_a_string_does_not_run_on_into_smaller_copy_below() -> None:
    # 'Summer Sale' lost 'Sale' to an erasure; the line below starts with 'SALE' but is
    # other copy at a smaller size: the headline is not 'Summer' + that 'SALE'
    lines = [_line("Summer", 420, 280, 1070, 460), _line("SALE 低至 3 折", 860, 536, 1394, 651)]
    al = align(lines, ["Summer Sale", "SALE 低至 3 折"])
    by_exp = {m.expected: m for m in al.matches}
    assert by_exp["SALE 低至 3 折"].cost == 0
    summer = by_exp["Summer Sale"]
    assert {al.doc[op.doc].line for op in summer.ops if op.op != "D"} == {0}


def test_a_latin_string_does_not_take_hanzi_of_the_line_above_as_letters() -> None:
    # '线上线下同步开售' lost its first half to an erasure; 'Now $19.99', read '1 $19.99',
    # wraps below it at the same size. Reading '开售' as its 'No' costs no more than
    # leaving 'No' absent, but OCR does not mistake a hanzi for a letter: the price keeps
    # to its own line and the erased line keeps its half
    lines = [_line("同步开售", 1746, 460, 1891, 503), _line("1 $19.99", 1765, 516, 1862, 556)]
    al = align(lines, ["线上线下同步开售", "Now $19.99"])
    by_exp = {m.expected: m for m in al.matches}
    price = by_exp["Now $19.99"]
    assert {al.doc[op.doc].line for op in price.ops if op.op in "MS"} == {1}
    head = by_exp["线上线下同步开售"]
    assert [al.doc[op.doc].char for op in head.ops if op.op == "M"] == list("同步开售")


def test_a_wrong_first_character_is_not_taken_from_the_row_above() -> None:
    # '全场 8 折' read '矛8折' under '冬' and '价', the ends of an erased '冬日暖心价':
    # reading '价' as its '全' costs what an absent '全' does, but would take the erased
    # line's last piece; the string keeps to its own row, '价' stays unclaimed
    lines = [_line("冬", 66, 563, 176, 638), _line("价", 229, 563, 340, 640),
             _line("矛8折", 68, 705, 348, 794)]
    al = align(lines, ["冬日暖心价", "全场 8 折"])
    (sale,) = [m for m in al.matches if m.expected == "全场 8 折"]
    assert {al.doc[op.doc].line for op in sale.ops if op.op in "MSI"} == {2}
    assert sale.cost == 2  # '全' absent, '场' read as '矛'
    assert not any(al.doc[d].line == 1 for d in al.claimed)


def test_a_wrong_last_character_is_a_substitution_claiming_the_whole_read() -> None:
    # seed 11: '¥199' read '¥196'. Ending before the '6' (one '9' deleted) costs as much
    # as substituting it; the deletion left the '6' unclaimed and the box short (IoU 0.45)
    al = align([_line("¥196", 0, 0, 64, 30)], ["¥199"])
    (m,) = al.matches
    assert m.cost == 1 and [op.op for op in m.ops] == ["M", "M", "M", "S"]
    assert al.line_claimed_ratio(0) == 1.0
    # a line's break is no character to end on: the string ends before it
    al = align([_line("Save $10", 0, 0, 200, 30), _line("Members only", 0, 300, 200, 330)],
               ["Save $100", "Members only"])
    assert [m.cost for m in al.matches] == [1, 0]
    # a string that lost its end keeps its deletions: 'Member:' for an erased
    # 'Members Only' ends before the ':' (which could stand for the 'y' at equal cost)
    al = align([_line("Member:", 0, 0, 700, 170)], ["Members Only"])
    (m,) = al.matches
    assert [op.op for op in m.ops][-5:] == ["D"] * 5 and m.end == m.start + 6


def test_a_line_joins_a_row_by_any_of_its_lines_not_only_the_last() -> None:
    # seed 36, poster 3600304: 'Clear' and the 'e' left of an erased 'Clearance', with a
    # tall junk read ('1', a background shape) between them by centre height. Compared
    # with the junk alone, the 'e' (3.5x shorter) started a row of its own, and the
    # string took the junk for its 'c' ('Clear1'); it fits 'Clear', so shares its row
    clear = _line("Clear", 396, 194, 616, 291)
    junk = OcrLine(quad=((966.0, 148.0), (1039.0, 172.0), (983.0, 352.0), (909.0, 328.0)),
                   text="1", score=0.43)
    e = _line("e", 712, 221, 757, 280)
    assert [ln.text for ln in reading_order([junk, e, clear])] == ["Clear", "e", "1"]
    al = align([junk, e, clear], ["Clearance"])
    (m,) = al.matches
    assert {al.lines[al.doc[o.doc].line].text for o in m.ops if o.op in "MS"} == {"Clear", "e"}


def test_a_hanzi_is_not_read_for_a_currency_sign() -> None:
    # seed 33, poster 3300120: an erased '特价 ¥168' read '半' (the remains of '特') and
    # '168'. A hanzi for '¥' cost 1 like one for '特', and the tie took '半' for the '¥':
    # two characters absent before it, and the box grew over them past the line's start
    half = _line("半", 519, 849, 555, 904)
    price = _line("168", 635, 849, 760, 920)
    al = align([half, price], ["特价 ¥168"])
    (m,) = al.matches
    (sub,) = [o for o in m.ops if o.op == "S"]
    assert m.normalized[sub.exp] in "特价"
