"""Copy lines as real AI generators set them: layouts, lettering styles, misspellings.

Used by :func:`catalog.make_poster` for a line that has a style, a layout or one of
:data:`~catalog.spelling.REAL_TEXT_DEFECTS` (every line with ``realism=True``). The line
is drawn crisply in its layout and style; a real defect is a second *variant* of the same
drawing with the misspelt text, so it differs from the clean line only in the spelling.
The glyphs, fonts and warps are drawn by :mod:`catalog.glyphs`, the styles painted by
:mod:`catalog.lettering`, the misspellings made by :mod:`catalog.spelling`.

Layouts (:data:`TEXT_LAYOUTS`); a layout with several *parts* (lines, columns,
repetitions) lists their boxes in the truth, and a defect's box covers only the parts
that hold the changed characters:

=================  =====================================================================
``straight``       one line (may be tilted, as the default generator does)
``arc``            the baseline on a circle, up to 50-140 degrees of sweep (radius at
                   least 3x the size), arched up or down
``wave``           the baseline on a gentle sine wave (amplitude 10-20 % of the size,
                   1.5-2.5 line lengths long)
``perspective``    the line in perspective: receding to one side or tilted back
``multiline``      one manifest string set over 2-3 lines (split between words, or
                   between hanzi)
``sizes``          the same, each line in another size (1 and 0.45-0.75 of it)
``columns``        one string set as 2-3 columns side by side, 1-2.5 em apart
``vertical``       hanzi set top to bottom (one to three columns, right to left)
``repeated``       the same copy shown 2-4 times (a row, a column or a 2x2 grid), as on
                   store signage; a defect sits in one of the copies
``tiny``           text 11-13 px (about 10 px of ink high)
=================  =====================================================================
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image, ImageFont

from catalog import texts
from catalog.elements import Element, erase_mask, fade_window, halo, stroke_cuts, substitute
from catalog.glyphs import (
    draw_text,
    repad,
    rotate,
    shear,
    styled_font,
    text_bbox,
    warp,
)
from catalog.graphics import ink_box
from catalog.lettering import BOLD_STYLES, ITALIC_STYLES, LETTERING_STYLES, paint
from catalog.spelling import (
    HANZI_DEFECTS,
    LATIN_DEFECTS,
    REAL_TEXT_DEFECTS,
    Spelling,
    has_hanzi,
    is_hanzi,
    misspell,
    substitution,
)
from detectors.types import Box, normalize_quad
from posterqa.errors import InputError
from posterqa.fonts import load_font, pick_font

if TYPE_CHECKING:
    from catalog.brands import GeneratedBrand

TEXT_LAYOUTS = ("straight", "arc", "wave", "perspective", "multiline", "sizes", "columns",
                "vertical", "repeated", "tiny")
_SS = 2  # supersampling of layouts that are warped (keeps the warped glyphs crisp)
_INK = 0.002  # a letter pixel counts as ink above this alpha (it can change a pixel value)
# relative weights with which realism=True draws a line's style / layout
_STYLE_WEIGHTS = {"plain": 3.0, **{s: 1.0 for s in LETTERING_STYLES if s != "plain"}}
_LAYOUT_WEIGHTS = {"straight": 5.0, "arc": 1.0, "wave": 0.6, "perspective": 1.0,
                   "multiline": 1.5, "sizes": 1.0, "columns": 0.8, "vertical": 0.8,
                   "repeated": 1.0, "tiny": 1.2}
_TOKEN = re.compile(r"\S+")
# realism=True gives lines under _SMALL_PX (and tiny ones) only these styles: generators
# keep fine print simple, and effects on 10-25 px letters would make them illegible
_SMALL_PX = 28
_SMALL_STYLES = ("plain", "bold", "italic", "shadow")


@dataclass
class RealLine:
    """How one copy line is drawn (set when planned) and what it drew (set when rendered)."""

    style: str
    layout: str
    defect: str | None = None
    spelling: Spelling | None = None
    params: dict[str, Any] = field(default_factory=dict)
    max_w: int = 0
    parts: list[list[np.ndarray]] = field(default_factory=list)  # [variant][part] alpha
    bad_parts: tuple[int, ...] = ()


# --------------------------------------------------------------------------- planning


def layout_fits(layout: str, text: str) -> bool:
    """Whether ``text`` can be set in ``layout``."""
    if layout in ("multiline", "sizes", "columns"):
        return len(_TOKEN.findall(text)) >= 2 or (has_hanzi(text) and " " not in text
                                                  and len(text) >= 4)
    if layout == "vertical":
        return 2 <= len(text) <= 10 and all(is_hanzi(c) for c in text)
    if layout == "repeated":
        return len(text) <= 14
    if layout in ("arc", "wave", "perspective"):
        return len(text) >= 3
    return layout in TEXT_LAYOUTS


def plan_line(el: Element, index: int, rng: np.random.Generator, drng: np.random.Generator,
              brand: GeneratedBrand, width: int, used: set[str], *, realism: bool,
              style: str | None, layout: str | None, defect: str | None) -> None:
    """Give line ``el`` its :class:`RealLine` (style, layout, misspelling). ``rng`` draws
    the style and layout, ``drng`` the defect (the stream the classic defects use)."""

    # a line that cannot carry the defect or the layout asked for gets another text:
    # Chinese (any layout can set a short Chinese headline), English for pseudo_letter
    latin = defect in LATIN_DEFECTS
    if (defect in HANZI_DEFECTS and not has_hanzi(el.text)) or \
            (layout is not None and not layout_fits(layout, el.text)):
        _retext(el, rng, brand, width, used, layout, latin)
    spelling = None
    if defect in REAL_TEXT_DEFECTS:
        for attempt in range(8):
            try:
                spelling = misspell(drng, el.text, defect, str(el.font_path))
                break
            except InputError:  # nowhere to put it (a price such as "€5")
                if attempt == 7:
                    raise
                _retext(el, rng, brand, width, used, layout, latin)
    elif defect == "wrong_chars":
        spelling = substitution(el.text, substitute(drng, el.text, str(el.font_path)))
    if layout is None:
        names = [n for n in _LAYOUT_WEIGHTS if layout_fits(n, el.text)] if realism else []
        if el.size > 40:
            names = [n for n in names if n != "tiny"]
        names = names or ["straight"]
        w = np.array([_LAYOUT_WEIGHTS[n] for n in names])
        layout = names[int(rng.choice(len(names), p=w / w.sum()))]
    if style is None:
        names = list(_STYLE_WEIGHTS) if realism else ["plain"]
        if layout == "tiny" or el.size < _SMALL_PX:  # fine print: no heavy effects
            names = [n for n in names if n in _SMALL_STYLES]
        w = np.array([_STYLE_WEIGHTS[n] for n in names])
        style = names[int(rng.choice(len(names), p=w / w.sum()))]
    line = RealLine(style=style, layout=layout, defect=defect, spelling=spelling,
                    max_w=width - 4)
    line.params = _layout_params(rng, line, el)
    if layout == "tiny":
        el.size = int(rng.integers(11, 14))
        el.pad = halo(el.size)
    elif layout != "straight":
        el.angle = 0.0
    el.real = line


def _retext(el: Element, rng: np.random.Generator, brand: GeneratedBrand, width: int,
            used: set[str], layout: str | None, latin: bool = False) -> None:
    """Give the line a Chinese text (English with ``latin``) that ``layout`` can set."""
    pool = texts.HEADLINES_EN + texts.SLOGANS_EN + texts.DETAILS_EN if latin else \
        texts.HEADLINES_ZH + texts.SLOGANS_ZH + texts.DETAILS_ZH
    pool = tuple(t for t in pool if t not in used and (layout is None or layout_fits(layout, t)))
    if not pool:
        raise InputError(f"no copy for layout {layout!r} is left on this poster")
    for _ in range(20):
        text = pool[int(rng.integers(len(pool)))]
        prefer = [brand.latin_font, brand.cjk_font] if latin else \
            [brand.cjk_font, brand.latin_font]
        font_path = str(pick_font(text, prefer))
        size = el.size
        text_w = load_font(font_path, size).getlength(text)
        if text_w > 0.84 * width:
            size = int(size * 0.84 * width / text_w)
        if size >= 16:
            used.discard(el.text)
            used.add(text)
            el.text, el.font_path, el.size = text, font_path, size
            el.pad = _halo_of(size)
            return
    raise InputError(f"no {'English' if latin else 'Chinese'} copy fits a {width}px poster")


def _halo_of(size: int) -> int:

    return halo(size)


def _layout_params(rng: np.random.Generator, line: RealLine, el: Element) -> dict[str, Any]:
    lay = line.layout
    if lay == "arc":
        return {"sweep": math.radians(rng.uniform(50, 140)), "up": bool(rng.random() < 0.65)}
    if lay == "wave":
        return {"amp": rng.uniform(0.1, 0.2), "period": rng.uniform(1.5, 2.5),
                "phase": rng.uniform(0, 2 * math.pi)}
    if lay == "perspective":
        return {"mode": str(rng.choice(["left", "right", "back"])),
                "ratio": rng.uniform(0.55, 0.8), "squash": rng.uniform(0.75, 1.0)}
    if lay in ("multiline", "sizes", "columns"):
        n_tok = len(_TOKEN.findall(el.text))
        most = max(2, min(3, n_tok if n_tok >= 2 else len(el.text) // 2))
        n = int(rng.integers(2, most + 1))
        sizes = [1.0] + [float(rng.uniform(0.45, 0.75)) for _ in range(n - 1)]
        if lay == "sizes" and rng.random() < 0.3:
            sizes = sizes[::-1]
        return {"n": n, "align": str(rng.choice(["center", "left", "right"])),
                "gap": rng.uniform(0.15, 0.4), "col_gap": rng.uniform(1.0, 2.5),
                "stagger": [float(rng.uniform(0, 0.6)) for _ in range(n)],
                "sizes": sizes if lay == "sizes" else [1.0] * n}
    if lay == "vertical":
        n = len(el.text)
        cols = 1 if n <= 3 else int(rng.integers(1, 3)) if n <= 7 else int(rng.integers(2, 4))
        return {"cols": cols, "gap": rng.uniform(0.04, 0.2)}
    if lay == "repeated":
        n = int(rng.integers(2, 5))
        return {"n": n, "arrange": str(rng.choice(["row", "column", "grid"] if n == 4
                                                   else ["row", "column"])),
                "gap": rng.uniform(0.8, 2.0), "bad": int(rng.integers(n))}
    return {}


# --------------------------------------------------------------------------- layouts


def _chunks(text: str, n: int, avoid: tuple[int, int]) -> list[tuple[int, int]]:
    """``n`` spans of ``text`` of balanced length, cut between words (else between
    hanzi), never inside ``avoid`` (the span a misspelling replaced)."""
    toks = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    if len(toks) >= 2:
        n = min(n, len(toks))
        ends = np.cumsum([e - s for s, e in toks])  # letters up to and with token t
        cut_after: list[int] = []
        for j in range(1, n):
            lo = (cut_after[-1] + 1) if cut_after else 0
            hi = len(toks) - 1 - (n - j)  # leave a token for each chunk still to come
            t = min(range(lo, hi + 1), key=lambda t: abs(ends[t] - ends[-1] * j / n))
            cut_after.append(t)
        starts = [0] + [t + 1 for t in cut_after]
        stops = cut_after + [len(toks) - 1]
        return [(toks[a][0], toks[b][1]) for a, b in zip(starts, stops, strict=True)]
    cuts = []
    for k in range(1, n):
        c = round(len(text) * k / n)
        if avoid[0] < c < avoid[1]:
            c = avoid[1] if avoid[1] < len(text) else avoid[0]
        if 0 < c < len(text) and (not cuts or c > cuts[-1]):
            cuts.append(c)
    bounds = [0, *cuts, len(text)]
    return [(bounds[k], bounds[k + 1]) for k in range(len(bounds) - 1)]


def _map_span(s: int, e: int, sp: Spelling | None) -> tuple[int, int]:
    """Span ``(s, e)`` of the expected text in the misspelt text."""
    if sp is None or e <= sp.span[0]:
        return s, e
    if s >= sp.span[1]:
        return s + sp.delta, e + sp.delta
    return s, e + sp.delta


def render(el: Element) -> None:
    """Draw line ``el`` (clean and, for a misspelling, defective) in its layout; sets
    ``el.alpha`` (union of both, for layout and backing panels), ``el.quad`` and the
    line's parts. Shrinks the size until the line fits the poster's width."""
    line: RealLine = el.real

    for _ in range(8):
        parts, quad = _render_once(el, line)
        w = parts[0][0].shape[1]
        if w <= line.max_w or el.size <= 11:
            break
        el.size = max(11, int(el.size * line.max_w / w * 0.97))
        el.pad = halo(el.size)
    line.parts = parts
    el.alpha = np.maximum.reduce([p for v in parts for p in v])
    el.quad = quad


def _render_once(el: Element, line: RealLine
                 ) -> tuple[list[list[np.ndarray]], Any]:
    sp = line.spelling
    variants = [el.text] + ([sp.text] if sp else [])
    glyphs = {g[0]: g[1:] for g in sp.glyphs} if sp else {}
    warped = line.layout in ("arc", "wave", "perspective")
    bold, italic = line.style in BOLD_STYLES, line.style in ITALIC_STYLES
    slant = styled_font(str(el.font_path), el.size, bold, italic)[2]
    ss = _SS if (warped or slant) else 1
    size, pad = el.size * ss, el.pad * ss
    font, stroke, _ = styled_font(str(el.font_path), size, bold, italic)
    canvas_w, canvas_h, runs = _place(line, variants, font, stroke, size, pad,
                                      str(el.font_path), bold, italic, glyphs)
    parts: list[list[np.ndarray]] = []
    for v in range(len(variants)):
        vparts = []
        for part in runs:
            img = Image.new("L", (canvas_w, canvas_h), 0)
            for text, f, st, x, y in part[v]:
                draw_text(img, x, y, text, f, st, glyphs)
            vparts.append(np.asarray(img, np.float32) / 255.0)
        parts.append(vparts)
    if slant:
        parts = [[shear(p, 0.2) for p in vp] for vp in parts]
    if warped:
        parts = warp(line.layout, line.params, parts, size, pad)
    if ss != 1:
        parts = [[cv2.resize(p, (max(1, p.shape[1] // ss), max(1, p.shape[0] // ss)),
                             interpolation=cv2.INTER_AREA) for p in vp] for vp in parts]
    corners = None
    if line.layout == "straight" and el.angle:  # tilted as the default generator tilts
        union = np.maximum.reduce([p for vp in parts for p in vp])
        x0, y0, x1, y1 = ink_box(union > 1.0 / 255.0) or (0, 0, 1, 1)
        h, w = union.shape
        parts = [[rotate(p, el.angle) for p in vp] for vp in parts]
        nh, nw = parts[0][0].shape
        c, s_ = math.cos(math.radians(el.angle)), math.sin(math.radians(el.angle))
        corners = [(nw / 2 + (x - w / 2) * c + (y - h / 2) * s_,
                    nh / 2 - (x - w / 2) * s_ + (y - h / 2) * c)
                   for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
    parts, (ox, oy) = repad(parts, el.pad)
    quad = None
    if corners is not None:
        quad = normalize_quad([(x - ox, y - oy) for x, y in corners])
    return parts, quad


def _place(line: RealLine, variants: list[str], font: ImageFont.FreeTypeFont, stroke: int,
           size: int, pad: int, font_path: str, bold: bool, italic: bool,
           glyphs: dict[str, tuple[str, str, str]]
           ) -> tuple[int, int, list[list[list[tuple]]]]:
    """Canvas size and, per part and variant, the runs to draw there."""
    sp = line.spelling
    p = line.params
    lay = line.layout
    n_var = len(variants)
    if lay in ("straight", "arc", "wave", "perspective", "tiny", "repeated"):
        boxes = [text_bbox(t, font, stroke, glyphs) for t in variants]
        lft, top = min(bx[0] for bx in boxes), min(bx[1] for bx in boxes)
        rgt, bot = max(bx[2] for bx in boxes), max(bx[3] for bx in boxes)
        w, h = rgt - lft, bot - top
        if lay != "repeated":
            line.bad_parts = (0,)
            return w + 2 * pad, h + 2 * pad, [[[(variants[v], font, stroke, pad - lft, pad - top)]
                                                for v in range(n_var)]]
        n, gap = p["n"], int(p["gap"] * size)
        arrange = p["arrange"]
        if arrange == "row" and n * w + (n - 1) * gap > line.max_w * 0.95:
            arrange = "grid" if n == 4 else "column"
        cols = {"row": n, "column": 1, "grid": 2}[arrange]
        rows = -(-n // cols)
        vgap = int(0.35 * size) if arrange != "row" else 0
        runs = []
        for k in range(n):
            cx, cy = k % cols, k // cols
            x0, y0 = pad + cx * (w + gap) - lft, pad + cy * (h + vgap) - top
            runs.append([[(variants[v] if k == p["bad"] else variants[0], font, stroke, x0, y0)]
                         for v in range(n_var)])
        line.bad_parts = (p["bad"],)
        return cols * w + (cols - 1) * gap + 2 * pad, rows * h + (rows - 1) * vgap + 2 * pad, runs
    if lay == "vertical":
        expected = variants[0]
        chunks = _chunks(expected, p["cols"], sp.span if sp else (0, 0))
        cell = int(size * (1 + p["gap"]))
        n_rows = max(len(variants[v][slice(*_map_span(s, e, sp if v else None))])
                     for v in range(n_var) for s, e in chunks)
        col_w = int(size * 1.25)
        runs = []
        for k, (s, e) in enumerate(chunks):
            x_col = pad + (len(chunks) - 1 - k) * col_w  # right to left
            per_var = []
            for v in range(n_var):
                vs, ve = _map_span(s, e, sp if v else None)
                chars = variants[v][vs:ve]
                per_var.append([(ch, font, stroke, x_col + (size - font.getlength(
                    glyphs[ch][0] if ch in glyphs else ch)) / 2, pad + j * cell)
                    for j, ch in enumerate(chars)])
            runs.append(per_var)
        line.bad_parts = _bad_chunks(chunks, sp)
        return len(chunks) * col_w + 2 * pad - (col_w - size), n_rows * cell + 2 * pad, runs
    # multiline / sizes / columns: chunks of the expected string
    chunks = _chunks(variants[0], p["n"], sp.span if sp else (0, 0))
    if len(chunks) == 1:  # the misspelling spans every cut: one line, and the truth says so
        line.layout = "straight"
    fonts = [styled_font(font_path, max(8, round(size * f)), bold, italic)[:2]
             for f in p["sizes"][:len(chunks)]]
    metrics = []
    for k, (s, e) in enumerate(chunks):
        f, st = fonts[k]
        bxs = [text_bbox(variants[v][slice(*_map_span(s, e, sp if v else None))], f, st, glyphs)
               for v in range(n_var)]
        metrics.append((min(b[0] for b in bxs), min(b[1] for b in bxs),
                        max(b[2] for b in bxs), max(b[3] for b in bxs)))
    ws = [m[2] - m[0] for m in metrics]
    hs = [m[3] - m[1] for m in metrics]
    runs = []
    if lay == "columns":
        gap = int(p["col_gap"] * size)
        offs = [int(st * max(hs)) for st in p["stagger"][:len(chunks)]]
        x = pad
        for k, (s, e) in enumerate(chunks):
            f, st = fonts[k]
            runs.append([(variants[v][slice(*_map_span(s, e, sp if v else None))], f, st,
                          x - metrics[k][0], pad + offs[k] - metrics[k][1]) for v in range(n_var)])
            x += ws[k] + gap
        cw, ch = x - gap + pad, max(o + hh for o, hh in zip(offs, hs, strict=True)) + 2 * pad
    else:
        gap = int(p["gap"] * size)
        width = max(ws)
        y = pad
        for k, (s, e) in enumerate(chunks):
            f, st = fonts[k]
            dx = {"left": 0, "center": (width - ws[k]) // 2, "right": width - ws[k]}[p["align"]]
            runs.append([(variants[v][slice(*_map_span(s, e, sp if v else None))], f, st,
                          pad + dx - metrics[k][0], y - metrics[k][1]) for v in range(n_var)])
            y += hs[k] + gap
        cw, ch = width + 2 * pad, y - gap + pad
    line.bad_parts = _bad_chunks(chunks, sp)
    return cw, ch, [[[r] for r in part] for part in runs]


def _bad_chunks(chunks: list[tuple[int, int]], sp: Spelling | None) -> tuple[int, ...]:
    if sp is None:
        return tuple(range(len(chunks)))
    bad = tuple(k for k, (s, e) in enumerate(chunks) if any(s <= c < e for c in sp.changed))
    return bad or tuple(range(len(chunks)))


# --------------------------------------------------------------------------- layers, truth


@dataclass(frozen=True)
class RealLayers:
    """What one line puts on the poster: clean and delivered layers (premultiplied RGB,
    alpha), the truth box and the parts' boxes (layer coordinates), what it shows."""

    clean: tuple[np.ndarray, np.ndarray]
    shown: tuple[np.ndarray, np.ndarray]
    box: tuple[int, int, int, int]
    parts: tuple[tuple[int, int, int, int], ...]
    rendered: str


def layers(el: Element, defect: str | None, style_rng: Callable[[], np.random.Generator],
           drng: np.random.Generator) -> RealLayers:
    """Paint line ``el`` clean and with ``defect``; ``style_rng()`` returns a fresh,
    identically seeded generator (both variants get the same texture and sparkles)."""
    from catalog.posters import TEXT_DEFECTS

    line: RealLine = el.real
    clean_parts = line.parts[0]
    a_clean = np.maximum.reduce(clean_parts)
    rgb_c, al_c, core_c = paint(line.style, a_clean, el.color, el.size, el.pad, style_rng())
    part_cores = [paint(line.style, p, el.color, el.size, el.pad, style_rng())[2] > _INK
                  for p in clean_parts]
    rendered = el.text
    if defect is None:
        rgb_b, al_b = rgb_c, al_c
        bad_cores = part_cores
        affected: tuple[int, ...] = tuple(range(len(clean_parts)))
    elif line.spelling is not None:
        bad = line.parts[1]
        rgb_b, al_b, _ = paint(line.style, np.maximum.reduce(bad), el.color, el.size, el.pad,
                               style_rng())
        bad_cores = [paint(line.style, p, el.color, el.size, el.pad, style_rng())[2] > _INK
                     for p in bad]
        affected = line.bad_parts
        rendered = line.spelling.shown
    elif defect in TEXT_DEFECTS:
        stack = _classic(drng, el, defect, np.dstack([rgb_c, al_c, core_c]))
        rgb_b, al_b = stack[..., :3], stack[..., 3]
        whole = (stack[..., 4] > _INK) | (core_c > _INK)
        bad_cores = [whole] * len(clean_parts)
        affected = tuple(range(len(clean_parts)))
    else:
        raise InputError(f"unknown text defect {defect!r}")
    boxes = []
    for k in range(len(clean_parts)):
        boxes.append(ink_box(part_cores[k] | bad_cores[k]))
    sel = [boxes[k] for k in affected if boxes[k] is not None]
    if not sel:
        raise InputError(f"line {el.text!r} left no ink")
    box = (min(b[0] for b in sel), min(b[1] for b in sel), max(b[2] for b in sel),
           max(b[3] for b in sel))
    return RealLayers(clean=(rgb_c, al_c), shown=(rgb_b, al_b), box=box,
                      parts=tuple(b for b in boxes if b is not None), rendered=rendered)


def _classic(rng: np.random.Generator, el: Element, defect: str, stack: np.ndarray
             ) -> np.ndarray:
    """A classic pixel defect (erasure, blur, warp, broken strokes) applied to the painted
    layer ``stack`` (premultiplied RGB, alpha, core)."""
    from catalog.graphics import elastic_maps

    h, w = stack.shape[:2]
    core = stack[..., 4]
    fade = fade_window(h, w, el.pad)[..., None]
    if defect == "erasure":
        total = float(core.sum())
        for _ in range(10):
            mask = erase_mask(rng, core)
            if float((core * mask).sum()) >= 0.2 * total:
                break
        return stack * (1.0 - mask)[..., None]
    if defect == "blur":
        sigma = max(2.0, el.size * rng.uniform(0.10, 0.16))
        return cv2.GaussianBlur(stack, (0, 0), sigma) * fade
    if defect == "warp":
        amp = max(2.5, el.size * rng.uniform(0.10, 0.15))
        wavelength = max(6.0, el.size * rng.uniform(0.35, 0.6))
        map_x, map_y = elastic_maps(rng, h, w, amp, wavelength)
        return cv2.remap(stack, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=0) * fade
    if defect == "broken_strokes":
        cuts = stroke_cuts(rng, core, el.size, len(el.text))
        return stack * (1.0 - cuts)[..., None]
    raise InputError(f"text defect {defect!r} has no realistic rendering")


def box_in_poster(el: Element, box: tuple[int, int, int, int]) -> Box:
    x0, y0, x1, y1 = box
    return Box(el.x + x0, el.y + y0, el.x + x1, el.y + y1)
