"""Text defect detector: OCR lines compared with the copy the poster must carry.

``TextDetector.detect(image, expected)`` reads the poster once (det + rec, see
:mod:`detectors.ocr`), aligns the lines with the expected strings
(:mod:`detectors.text_align`) and reports :class:`~detectors.types.Defect` values of kind
``"text"``, one per defective line part:

============  ===========================================================================
category      when
============  ===========================================================================
mismatch      an expected string is found but with wrong, extra or absent characters;
              the box covers the wrong characters (absent ones: the gap where they belong)
missing       an expected string is not found; localised on a left-over line that holds
              part of it, else on a left-over unreadable line, else not localised (whole
              image box, reason ``not_localised``)
unreadable    a text-like region whose read is junk (confidence < 0.5, or no letter,
              digit or CJK character) and that no expected string claims
unexpected    readable text that no expected string claims (only with
              ``report_unexpected=True``); reference-free mode never reports it
collapsed     the text reads right, but its detail collapsed (blur, warp, broken
              strokes): the combined score of the signals below is >= ``FLAG_SCORE``
============  ===========================================================================

Collapsed-detail signals. Each signal turns a figure ``x`` into evidence
``p = clip((suspect - x) / (suspect - sure), 0, 1)`` (0 at the *suspect* threshold,
1 at the *sure* one); the line's score is ``1 - prod(1 - p)``; a line part is reported when
the score is >= ``FLAG_SCORE``. Thresholds were tuned on generated posters (tuning seed
101, reported on another seed; see ``benchmarks/bench_text_detector.py``):

====================  =================================================  =======  ======
reason                figure ``x``                                       suspect  sure
====================  =================================================  =======  ======
low_ocr_score         line recognition confidence                        0.95     0.80
low_sharpness         stroke sharpness of the worst character cell /     0.70     0.45
                      median sharpness of the other lines of similar
                      height on the poster (all lines if fewer than 2)
glyph_mismatch        worst per-character similarity (NCC) between the   0.78     0.50
                      line's ink and the expected string rendered in
                      the brand font (needs ``font_path``)
reread_low_score      confidence of a focused re-read (line crop,        0.97     0.85
                      upscaled, recognition only); run only on lines
                      whose other evidence is above 0
reread_mismatch       the focused re-read differs from the expected      -        -
                      text (evidence 1)
====================  =================================================  =======  ======

Localisation: character cells come from the engine's per-character boxes (else an even
split of the line); a collapsed line part is the span of cells whose own evidence is
above 0 (the whole line when the evidence is line-level only). ``repair_quad`` is the
span snapped outwards to whole character cells and padded by 15 % of the line height.

Images are RGB ``uint8`` ``[H, W, 3]``.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from detectors.normalize import normalize, normalize_with_map
from detectors.ocr import OcrEngine, OcrLine, crop_quad, get_ocr_engine
from detectors.text_align import Alignment, Match, align, reading_order
from detectors.text_signals import glyph_similarity, prepare_line, stroke_sharpness
from detectors.types import Box, Defect, Quad, normalize_quad, pad_quad
from posterqa.errors import InputError
from posterqa.imaging import ensure_rgb_uint8
from posterqa.settings import Settings, get_settings

log = logging.getLogger(__name__)

FLAG_SCORE = 0.5
UNREADABLE_SCORE = 0.5
REPAIR_MARGIN = 0.15  # of the line height
# (suspect, sure) per signal; see the module docstring
THRESHOLDS: dict[str, tuple[float, float]] = {
    "low_ocr_score": (0.95, 0.80),
    "low_sharpness": (0.70, 0.45),
    "glyph_mismatch": (0.78, 0.50),
    "reread_low_score": (0.97, 0.85),
}
SIMILAR_HEIGHT = (0.6, 1.6)
REREAD_HEIGHT = 48


def evidence(reason: str, x: float) -> float:
    """Evidence in [0, 1] of one signal's figure ``x`` (see the thresholds table)."""
    suspect, sure = THRESHOLDS[reason]
    return float(min(max((suspect - x) / (suspect - sure), 0.0), 1.0))


def combine(ps: Sequence[float]) -> float:
    """``1 - prod(1 - p)``: independent pieces of evidence reinforce each other."""
    out = 1.0
    for p in ps:
        out *= 1.0 - min(max(p, 0.0), 1.0)
    return 1.0 - out


@dataclass(frozen=True)
class ReRead:
    """Result of :meth:`TextDetector.reread`: does the region now read as expected?"""

    matches: bool
    observed: str
    score: float


# ----------------------------------------------------------------------------- geometry


class _LineGeom:
    """Line coordinates: columns of the rectified crop, and character cells."""

    def __init__(self, line: OcrLine) -> None:
        self.line = line
        p = np.asarray(line.quad, dtype=np.float64)
        self.p = p
        self.width = float(max(np.linalg.norm(p[1] - p[0]), np.linalg.norm(p[2] - p[3]), 1.0))
        self.height = float(max(np.linalg.norm(p[3] - p[0]), np.linalg.norm(p[2] - p[1]), 1.0))
        u = p[1] - p[0]
        self.u = u / (np.linalg.norm(u) or 1.0)
        text = line.text
        # source index -> cell (c0, c1) in columns; spaces get the gap they occupy
        self.cells: dict[int, tuple[float, float]] = {}
        nonspace = [i for i, ch in enumerate(text) if not ch.isspace()]
        if line.char_boxes and len(line.char_boxes) == len(nonspace):
            for i, cb in zip(nonspace, line.char_boxes, strict=True):
                cols = [self.col(pt) for pt in cb.quad]
                self.cells[i] = (max(min(cols), 0.0), min(max(cols), self.width))
        else:
            n = max(len(text), 1)
            for i in nonspace:
                self.cells[i] = (self.width * i / n, self.width * (i + 1) / n)
        self.order = sorted(self.cells)

    def col(self, pt: Sequence[float]) -> float:
        return float((np.asarray(pt, dtype=np.float64) - self.p[0]) @ self.u)

    @property
    def avg_char(self) -> float:
        if not self.cells:
            return self.height
        ws = [c1 - c0 for c0, c1 in self.cells.values()]
        return float(max(np.median(ws), 1.0))

    def span(self, sources: Sequence[int]) -> tuple[float, float]:
        cs = [self.cells[s] for s in sources if s in self.cells]
        if not cs:
            return (0.0, self.width)
        return (min(c[0] for c in cs), max(c[1] for c in cs))

    def snapped(self, c0: float, c1: float) -> tuple[float, float]:
        """Grow [c0, c1) to whole character cells (borders halfway between characters)."""
        if not self.order:
            return (0.0, self.width)
        bounds = [0.0]
        for a, b in zip(self.order, self.order[1:], strict=False):
            bounds.append((self.cells[a][1] + self.cells[b][0]) / 2.0)
        bounds.append(self.width)
        lo = max([b for b in bounds if b <= c0 + 1e-6], default=min(c0, 0.0))
        hi = min([b for b in bounds if b >= c1 - 1e-6], default=max(c1, self.width))
        return (min(lo, c0), max(hi, c1))

    def subquad(self, c0: float, c1: float) -> Quad:
        """The part of the line quad between columns c0 and c1 (may extrapolate)."""
        p = self.p
        t0, t1 = c0 / self.width, c1 / self.width
        top0 = p[0] + (p[1] - p[0]) * t0
        top1 = p[0] + (p[1] - p[0]) * t1
        bot1 = p[3] + (p[2] - p[3]) * t1
        bot0 = p[3] + (p[2] - p[3]) * t0
        return normalize_quad([top0.tolist(), top1.tolist(), bot1.tolist(), bot0.tolist()])


def _box_of(quad: Quad, width: int, height: int) -> Box:
    box = Box.from_points(quad).clamp(width, height)
    if box.area == 0:
        raise InputError(f"defect quad {quad} lies outside the {width}x{height} image")
    return box


# ----------------------------------------------------------------------------- detector


@dataclass
class _Part:
    """One line's share of an expected string (or a whole line, reference-free)."""

    li: int
    sources: list[int]  # source char indices of the line in this part
    expected: str | None  # original expected substring for this part (None: reference-free)
    render: str  # the text this part should show (expected, else what OCR read)
    full_expected: str | None = None
    src_exp: dict[int, int] = field(default_factory=dict)  # source char -> expected index


def _is_junk(text: str) -> bool:
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] in ("L", "N"):
            return False
    return True


class TextDetector:
    """Finds wrong, unreadable, missing and collapsed text on a poster.

    ``engine`` defaults to :func:`detectors.ocr.get_ocr_engine` (built once per process).
    ``collapse_signals=False`` gives the plain OCR comparison (the benchmark baseline).
    """

    def __init__(self, settings: Settings | None = None, engine: OcrEngine | None = None,
                 *, collapse_signals: bool = True) -> None:
        self.settings = settings or get_settings()
        self._engine = engine
        self.collapse_signals = collapse_signals

    @property
    def engine(self) -> OcrEngine:
        if self._engine is None:
            self._engine = get_ocr_engine(self.settings)
        return self._engine

    # ------------------------------------------------------------------ public API

    def detect(self, image: np.ndarray, expected: Sequence[str] | None = None, *,
               font_path: str | None = None, report_unexpected: bool = False) -> list[Defect]:
        """Text defects of an RGB ``uint8`` ``[H, W, 3]`` poster.

        ``expected``: the copy the poster must carry (None = reference-free mode: only
        unreadable and collapsed text is reported). ``font_path``: the brand font, for the
        glyph-similarity signal. ``report_unexpected``: also report readable text that no
        expected string claims.
        """
        image = ensure_rgb_uint8(image)
        lines = self.engine(image)
        return self.detect_lines(image, lines, expected, font_path=font_path,
                                 report_unexpected=report_unexpected)

    def detect_lines(self, image: np.ndarray, lines: Sequence[OcrLine],
                     expected: Sequence[str] | None, *, font_path: str | None = None,
                     report_unexpected: bool = False) -> list[Defect]:
        """Like :meth:`detect`, on lines already read by the engine."""
        image = ensure_rgb_uint8(image)
        if expected is not None:
            expected = [e for e in expected if normalize(e)]
        ordered = reading_order(lines)
        geoms = [_LineGeom(ln) for ln in ordered]
        defects: list[Defect] = []
        parts: list[_Part] = []
        if expected is None:
            for li, ln in enumerate(ordered):
                if _is_junk(ln.text) or ln.score < UNREADABLE_SCORE:
                    defects.append(self._line_defect(image, geoms[li], "unreadable", None,
                                                     ("unreadable_read",), 1.0 - ln.score))
                else:
                    srcs = [i for i, ch in enumerate(ln.text) if not ch.isspace()]
                    parts.append(_Part(li, srcs, None, ln.text))
        else:
            al = align(ordered, expected)
            defects += self._from_alignment(image, al, geoms, parts, report_unexpected)
        if self.collapse_signals and parts:
            defects += self._collapsed(image, ordered, geoms, parts, font_path)
        return defects

    def reread(self, image: np.ndarray, box: Box, expected: str) -> ReRead:
        """Read the region ``box`` of ``image`` again and compare it with ``expected``.

        The box is padded by a quarter of its height, read by the engine (det + rec on the
        crop; recognition only when detection finds nothing), lines joined in reading order.
        ``matches``: the normalised read equals the normalised ``expected``, allowing one
        extra character at each end (slivers of neighbouring characters in the padding).
        """
        image = ensure_rgb_uint8(image)
        h, w = image.shape[:2]
        pad = max(2, int(round(box.height * 0.25)))
        crop_box = box.pad(pad).clamp(w, h)
        if crop_box.area == 0:
            raise InputError(f"box {box.as_list()} lies outside the {w}x{h} image")
        crop = np.ascontiguousarray(image[crop_box.slice()])
        lines = reading_order(self.engine(crop))
        if lines:
            observed = "".join(ln.text for ln in lines)
            score = float(min(ln.score for ln in lines))
        else:
            rec = self.engine.recognize([_upscale(crop)])
            observed, score = (rec[0].text, rec[0].score) if rec else ("", 0.0)
        return ReRead(matches=_reads_as(observed, expected), observed=observed, score=score)

    # ------------------------------------------------------------------ matching

    def _from_alignment(self, image: np.ndarray, al: Alignment, geoms: list[_LineGeom],
                        parts: list[_Part], report_unexpected: bool) -> list[Defect]:
        h, w = image.shape[:2]
        out: list[Defect] = []
        for m in al.matches:
            exp_norm = normalize_with_map(m.expected)
            by_line: dict[int, list] = {}
            for op in m.ops:
                li = self._op_line(al, op)
                if li is not None:
                    by_line.setdefault(li, []).append(op)
            for li, ops in sorted(by_line.items()):
                srcs = sorted({al.doc[o.doc].source for o in ops
                               if o.op in ("M", "S", "I") and al.doc[o.doc].line == li})
                exp_idx = [o.exp for o in ops if o.exp >= 0]
                exp_sub = _expected_sub(m.expected, exp_norm, exp_idx)
                if all(o.op == "M" for o in ops):
                    src_exp = {al.doc[o.doc].source: o.exp for o in ops}
                    parts.append(_Part(li, srcs, exp_sub, exp_sub, m.expected, src_exp))
                    continue
                out.append(self._mismatch(al, geoms[li], li, m, ops, w, h))
        # lines no expected string claims
        leftovers = [li for li in range(len(al.lines)) if al.line_claimed_ratio(li) < 0.5]
        used: set[int] = set()
        for exp in al.missing:
            li = self._locate_missing(al, exp, leftovers, used)
            if li is None:
                out.append(Defect(
                    kind="text", category="missing", box=Box(0, 0, w, h),
                    quad=Box(0, 0, w, h).as_quad(), expected=exp, observed=None, score=1.0,
                    reasons=("missing_text", "not_localised"),
                ))
                continue
            used.add(li)
            ln = al.lines[li]
            cat = "unreadable" if (_is_junk(ln.text) or ln.score < UNREADABLE_SCORE) else "missing"
            out.append(self._line_defect(image, geoms[li], cat, exp,
                                         ("missing_text", "unreadable_read")
                                         if cat == "unreadable" else ("missing_text",), 1.0))
        for li in leftovers:
            if li in used:
                continue
            ln = al.lines[li]
            if _is_junk(ln.text) or ln.score < UNREADABLE_SCORE:
                out.append(self._line_defect(image, geoms[li], "unreadable", None,
                                             ("unreadable_read",), 1.0 - ln.score))
            elif report_unexpected:
                out.append(self._line_defect(image, geoms[li], "unexpected", None,
                                             ("unexpected_text",), float(ln.score)))
        return out

    @staticmethod
    def _op_line(al: Alignment, op) -> int | None:
        if op.op != "D":
            return al.doc[op.doc].line
        # an absent char belongs to the line of its left neighbour, else the right one
        for d in (op.doc - 1, op.doc):
            if 0 <= d < len(al.doc) and al.doc[d].line >= 0:
                return al.doc[d].line
        return None

    def _mismatch(self, al: Alignment, g: _LineGeom, li: int, m: Match, ops: list,
                  w: int, h: int) -> Defect:
        bad_cols: list[tuple[float, float]] = []
        avg = g.avg_char
        for k, op in enumerate(ops):
            if op.op in ("S", "I"):
                bad_cols.append(g.cells.get(al.doc[op.doc].source, (0.0, g.width)))
            elif op.op == "D":
                left = next((al.doc[o.doc].source for o in reversed(ops[:k])
                             if o.op != "D" and al.doc[o.doc].line == li), None)
                right = next((al.doc[o.doc].source for o in ops[k + 1:]
                              if o.op != "D" and al.doc[o.doc].line == li), None)
                lc = g.cells.get(left) if left is not None else None
                rc = g.cells.get(right) if right is not None else None
                if lc and rc:
                    a, b = lc[1], rc[0]
                elif lc:
                    a, b = lc[1], lc[1] + avg
                elif rc:
                    a, b = rc[0] - avg, rc[0]
                else:
                    a, b = 0.0, g.width
                if b - a < avg:
                    mid = (a + b) / 2.0
                    a, b = mid - avg / 2.0, mid + avg / 2.0
                bad_cols.append((a, b))
        c0 = min(c[0] for c in bad_cols)
        c1 = max(c[1] for c in bad_cols)
        srcs_all = sorted({al.doc[o.doc].source for o in ops
                           if o.op != "D" and al.doc[o.doc].line == li})
        observed = "".join(g.line.text[s] for s in srcs_all) if srcs_all else ""
        exp_norm = normalize_with_map(m.expected)
        exp_sub = _expected_sub(m.expected, exp_norm, [o.exp for o in ops if o.exp >= 0])
        n_bad = sum(1 for o in ops if o.op != "M")
        score = min(1.0, 0.5 + 0.5 * n_bad / max(len(m.normalized), 1))
        details = (("edit_distance", float(n_bad)), ("ocr_score", g.line.score))
        return self._span_defect(g, "mismatch", c0, c1, exp_sub, observed, score,
                                 ("ocr_mismatch",), details, w, h)

    def _locate_missing(self, al: Alignment, exp: str, leftovers: list[int],
                        used: set[int]) -> int | None:
        norm = normalize(exp)
        best, best_key = None, None
        for li in leftovers:
            if li in used:
                continue
            ln = al.lines[li]
            text = al.line_norms[li].text
            common = _lcs_len(norm, text)
            junk = _is_junk(ln.text) or ln.score < UNREADABLE_SCORE
            if common == 0 and not junk:
                continue
            key = (common, junk)
            if best_key is None or key > best_key:
                best, best_key = li, key
        return best

    # ------------------------------------------------------------------ defects

    def _line_defect(self, image: np.ndarray, g: _LineGeom, category: str,
                     expected: str | None, reasons: tuple[str, ...], score: float) -> Defect:
        h, w = image.shape[:2]
        return self._span_defect(g, category, 0.0, g.width, expected, g.line.text,
                                 min(max(score, 0.0), 1.0), reasons,
                                 (("ocr_score", g.line.score),), w, h)

    def _span_defect(self, g: _LineGeom, category: str, c0: float, c1: float,
                     expected: str | None, observed: str | None, score: float,
                     reasons: tuple[str, ...], details: tuple, w: int, h: int) -> Defect:
        quad = g.subquad(c0, c1)
        s0, s1 = g.snapped(c0, c1)
        repair = pad_quad(g.subquad(s0, s1), REPAIR_MARGIN * g.height)
        return Defect(kind="text", category=category, box=_box_of(quad, w, h), quad=quad,
                      expected=expected, observed=observed, score=float(score),
                      reasons=reasons, repair_quad=repair,
                      details=tuple((k, float(v)) for k, v in details))

    # ------------------------------------------------------------------ collapsed detail

    def _collapsed(self, image: np.ndarray, lines: list[OcrLine], geoms: list[_LineGeom],
                   parts: list[_Part], font_path: str | None) -> list[Defect]:
        h, w = image.shape[:2]
        # 1. sharpness of every line (needed as the poster's reference), cheap
        preps = {}
        line_sharp = np.zeros(len(lines))
        cell_sharp: dict[int, dict[int, float]] = {}
        for li, g in enumerate(geoms):
            try:
                crop = crop_quad(image, g.line.quad)
            except InputError:
                continue
            prep = prepare_line(crop)
            preps[li] = prep
            srcs = g.order
            cells = [(int(math.floor(g.cells[s][0])), int(math.ceil(g.cells[s][1])))
                     for s in srcs]
            sh = stroke_sharpness(prep, cells) if cells else np.zeros(0)
            cell_sharp[li] = dict(zip(srcs, sh.tolist(), strict=True))
            line_sharp[li] = float(np.median(sh)) if sh.size else 0.0
        heights = np.array([g.height for g in geoms])

        out: list[Defect] = []
        suspects: list[tuple[_Part, dict]] = []
        for part in parts:
            li = part.li
            g = geoms[li]
            if li not in preps or not part.sources:
                continue
            fig: dict[str, float] = {}
            ev: dict[str, float] = {}
            char_ev: dict[int, float] = {}
            # OCR line confidence
            fig["ocr_score"] = g.line.score
            ev["low_ocr_score"] = evidence("low_ocr_score", g.line.score)
            # sharpness relative to similar lines
            ratio = heights / max(g.height, 1.0)
            others = [k for k in range(len(lines)) if k != li and k in preps
                      and SIMILAR_HEIGHT[0] <= ratio[k] <= SIMILAR_HEIGHT[1]]
            if len(others) < 2:
                others = [k for k in range(len(lines)) if k != li and k in preps]
            ref = float(np.median(line_sharp[others])) if others else 0.0
            if ref > 0:
                cs = cell_sharp[li]
                vals = {s: cs[s] / ref for s in part.sources if s in cs}
                if vals:
                    worst = min(vals.values())
                    fig["sharpness_ratio"] = worst
                    ev["low_sharpness"] = evidence("low_sharpness", worst)
                    for s, v in vals.items():
                        e = evidence("low_sharpness", v)
                        if e > 0:
                            char_ev[s] = max(char_ev.get(s, 0.0), e)
            # glyph similarity with the brand font
            if font_path and part.render.strip():
                sim = self._glyph(preps[li], g, part, font_path)
                if sim is not None:
                    sims, src_of = sim
                    fig["glyph_similarity"] = float(sims.min())
                    ev["glyph_mismatch"] = evidence("glyph_mismatch", float(sims.min()))
                    for s, v in zip(src_of, sims.tolist(), strict=True):
                        e = evidence("glyph_mismatch", v)
                        if e > 0 and s is not None:
                            char_ev[s] = max(char_ev.get(s, 0.0), e)
            log.debug("line %d %r figures %s evidence %s", li, part.render, fig, ev)
            if max(ev.values(), default=0.0) > 0:
                suspects.append((part, {"fig": fig, "ev": ev, "char_ev": char_ev}))
        # 2. focused re-read of the suspicious parts only (recognition only, one batch)
        if suspects:
            crops = []
            for part, _ in suspects:
                g = geoms[part.li]
                c0, c1 = g.span(part.sources)
                q = g.subquad(*g.snapped(c0, c1))
                crops.append(_upscale(crop_quad(image, q, pad=0.1 * g.height)))
            reads = self.engine.recognize(crops)
            for (part, info), rr in zip(suspects, reads, strict=False):
                info["fig"]["reread_score"] = rr.score
                info["ev"]["reread_low_score"] = evidence("reread_low_score", rr.score)
                if not _reads_as(rr.text, part.render):
                    info["ev"]["reread_mismatch"] = 1.0
        for part, info in suspects:
            score = combine(info["ev"].values())
            if score < FLAG_SCORE:
                continue
            g = geoms[part.li]
            char_ev = info["char_ev"]
            srcs = [s for s in part.sources if char_ev.get(s, 0.0) > 0] or part.sources
            c0, c1 = g.span(srcs)
            reasons = tuple(r for r, p in sorted(info["ev"].items(), key=lambda kv: -kv[1])
                            if p > 0)
            observed = "".join(g.line.text[s] for s in srcs)
            exp = part.expected
            if exp and part.full_expected and len(srcs) < len(part.sources):
                idx = [part.src_exp[s] for s in srcs if s in part.src_exp]
                exp = _expected_sub(part.full_expected, normalize_with_map(part.full_expected),
                                    idx)
            details = tuple(sorted(info["fig"].items()))
            out.append(self._span_defect(g, "collapsed", c0, c1, exp, observed, score,
                                         reasons, details, w, h))
        return out

    @staticmethod
    def _glyph(prep, g: _LineGeom, part: _Part, font_path: str):
        """Glyph similarity on the part's columns; returns (sims, source index per sim)."""
        text = part.render
        c0, c1 = g.span(part.sources)
        pad = 0.35 * g.height
        a = max(int(c0 - pad), 0)
        b = min(int(math.ceil(c1 + pad)), prep.ink.shape[1])
        if b - a < 4:
            return None
        sub = type(prep)(ink=prep.ink[:, a:b], grad=prep.grad[:, a:b], contrast=prep.contrast)
        res = glyph_similarity(sub, text, font_path)
        if res is None:
            return None
        sims, cells = res
        # map every expected char to the source char whose cell overlaps it most
        src_of: list[int | None] = []
        for cc0, cc1 in cells:
            x0, x1 = cc0 + a, cc1 + a
            best, best_ov = None, 0.0
            for s in part.sources:
                s0, s1 = g.cells.get(s, (0.0, 0.0))
                ov = min(x1, s1) - max(x0, s0)
                if ov > best_ov:
                    best, best_ov = s, ov
            src_of.append(best)
        keep = [k for k, ch in enumerate(text) if not ch.isspace()]
        return sims[keep], [src_of[k] for k in keep]


def _upscale(crop: np.ndarray) -> np.ndarray:
    import cv2

    h = crop.shape[0]
    if h >= REREAD_HEIGHT:
        return crop
    s = REREAD_HEIGHT / max(h, 1)
    return cv2.resize(crop, (max(int(round(crop.shape[1] * s)), 1), REREAD_HEIGHT),
                      interpolation=cv2.INTER_CUBIC)


def _reads_as(observed: str, expected: str) -> bool:
    o, e = normalize(observed), normalize(expected)
    if not e:
        return not o
    k = o.find(e)
    return k >= 0 and k <= 1 and len(o) - (k + len(e)) <= 1


def _expected_sub(expected: str, norm, exp_idx: Sequence[int]) -> str:
    if not exp_idx:
        return expected
    s, e = norm.source_span(min(exp_idx), max(exp_idx) + 1)
    return expected[s:e]


def _lcs_len(a: str, b: str) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if ca == cb else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]
