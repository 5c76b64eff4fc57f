"""Align OCR lines with the expected copy.

The lines are put in reading order (rows top to bottom, left to right within a row) and
their normalised texts concatenated into one *document*, with a separator between lines.
Each expected string is matched, longest first, against the part of the document not yet
claimed by another string: an exact substring first, else the cheapest approximate
substring (edit distance with a free start and end; a hanzi read for anything but a
hanzi, or the reverse, costs 2, like an absent and an extra character; wrong characters
at the ends of a match taken from another row become absent ones; crossing a line separator
inside the match is free, so an expected string may run over several lines, and several
strings may share a line). A string runs on from one line to the next only where the
next sits beside it in its row, or starts the row below at the same size (height within
``WRAP_HEIGHT_RATIO``), overlapping it in x, no more than a line height below: a
headline does not run on into the smaller copy under it. A match is accepted when its
cost is at most ``MAX_COST_RATIO`` of the expected length and it keeps at least
``MIN_KEPT_RATIO`` of the characters. A string still without a match is tried again
where it may also run on over lines stacked as one block of copy (another size, a wider
gap: 'better / not / pout' in three sizes, listed as one string), at the stricter
``STACKED_COST_RATIO``; otherwise the string is *missing*. Every operation of an
accepted match is kept, so that wrong, extra and absent characters can be located on
the line they belong to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from detectors.normalize import Normalized, is_cjk, normalize, normalize_with_map
from detectors.ocr import OcrLine
from detectors.types import Box

MAX_COST_RATIO = 0.5
STACKED_COST_RATIO = 0.25  # a string run over lines stacked as one block (_align_stacked)
MIN_KEPT_RATIO = 0.4
_SEP = "\x1f"  # between lines: skipping it inside a match is free
_BREAK = "\x1e"  # between lines no string runs over: never inside a match
WRAP_HEIGHT_RATIO = 1.4
_USED = "\x00"  # claimed by another expected string: never matches


@dataclass(frozen=True)
class DocChar:
    """One normalised character of the document: which line, which source char."""

    char: str
    line: int  # index into the reading-ordered lines; -1 for a separator
    source: int  # index of the source character in ``line.text``


@dataclass(frozen=True)
class AlignOp:
    """``op``: ``M`` match, ``S`` substituted, ``I`` extra char read, ``D`` expected char absent.

    ``exp`` is the index in the normalised expected string (``-1`` for ``I``); ``doc`` the
    document position (for ``D``: the position the absent char would precede).
    """

    op: str
    exp: int
    doc: int


@dataclass(frozen=True)
class Match:
    """One expected string aligned with the document."""

    expected: str
    normalized: str
    cost: int
    start: int  # document span [start, end)
    end: int
    ops: tuple[AlignOp, ...]

    @property
    def exact(self) -> bool:
        return self.cost == 0


@dataclass(frozen=True)
class Alignment:
    lines: tuple[OcrLine, ...]  # reading order
    line_norms: tuple[Normalized, ...]
    doc: tuple[DocChar, ...]
    matches: tuple[Match, ...]  # accepted, in the order of ``expected`` input
    missing: tuple[str, ...]  # expected strings with no acceptable match
    claimed: frozenset[int]  # document positions claimed by a match

    def line_claimed_ratio(self, line: int) -> float:
        pos = [i for i, c in enumerate(self.doc) if c.line == line]
        if not pos:
            return 0.0
        return sum(1 for i in pos if i in self.claimed) / len(pos)


def reading_order(lines: Sequence[OcrLine]) -> list[OcrLine]:
    """Rows top to bottom, then x. A line joins the row above it when it overlaps one of
    the row's lines vertically by half the smaller height and is no more than
    ``ROW_HEIGHT_RATIO`` times taller than it or shorter: any of its lines, not only the
    last taken (seed 36: a tall junk read between 'Clear' and the 'e' left of an erased
    'Clearance' split the row, and the string took the junk for its 'c')."""
    items = sorted(lines, key=lambda ln: ln.box.center[1])
    rows: list[list[OcrLine]] = []
    for ln in items:
        b = ln.box
        if rows and any(min(b.y1, o.box.y1) - max(b.y0, o.box.y0)
                        > 0.5 * min(b.height, o.box.height) and similar_height(b, o.box)
                        for o in rows[-1]):
            rows[-1].append(ln)
            continue
        rows.append([ln])
    return [ln for row in rows for ln in sorted(row, key=lambda x: x.box.x0)]


ROW_HEIGHT_RATIO = 2.5


def similar_height(a, b) -> bool:
    """Lines of one row have comparable heights: a line far taller (a logo or texture
    read as junk) would chain the rows above and below it into one."""
    lo, hi = sorted((max(a.height, 1), max(b.height, 1)))
    return hi <= ROW_HEIGHT_RATIO * lo


def _other_script(a: str, b: str) -> bool:
    """A hanzi and anything but a hanzi: OCR does not mistake one for the other, so such
    a pair is no substitution (it costs as much as an absent and an extra character).
    Without it, seed 19's 'Now $19.99', read '1 $19.99', took '开售' of the line above
    (an erased '线上线下同步开售' read '同步开售') as its 'No', hiding that erasure; and
    seed 33's '特价 ¥168', read '半' (the remains of '特') and '168', took '半' for its
    '¥' (as cheap as for its '特'), its box grown over '特价' left of '半' (IoU 0.35)."""
    return is_cjk(a) != is_cjk(b)


def _trace(back: list[list[str]], i: int, j: int) -> tuple[list[AlignOp], int]:
    """The operations of the alignment ending at ``back[i][j]``, in order, and the doc
    index where it starts."""
    ops: list[AlignOp] = []
    while i > 0:
        how = back[i][j]
        if how in ("M", "S"):
            ops.append(AlignOp(how, i - 1, j - 1))
            i, j = i - 1, j - 1
        elif how == "I":
            ops.append(AlignOp("I", -1, j - 1))
            j -= 1
        else:
            ops.append(AlignOp("D", i - 1, j))
            i -= 1
    ops.reverse()
    return ops, j


def substring_align(pattern: str, doc: str) -> tuple[int, int, int, list[AlignOp]]:
    """Cheapest alignment of all of ``pattern`` with some substring of ``doc``."""
    m, n = len(pattern), len(doc)
    inf = 1 << 30
    # cost[i][j]: pattern[:i] aligned, ending just before doc[j]
    cost = [[0] * (n + 1)] + [[inf] * (n + 1) for _ in range(m)]
    back = [[""] * (n + 1) for _ in range(m + 1)]
    for i in range(1, m + 1):
        pc = pattern[i - 1]
        prow, row, brow = cost[i - 1], cost[i], back[i]
        row[0] = prow[0] + 1
        brow[0] = "D"
        for j in range(1, n + 1):
            dc = doc[j - 1]
            if dc in (_SEP, _BREAK):  # a line break is never a character of the copy
                best, how = inf, "S"
            else:
                best = prow[j - 1] + (0 if dc == pc else 2 if _other_script(dc, pc) else 1)
                how = "M" if dc == pc else "S"
            ins = row[j - 1] + (0 if dc == _SEP else inf if dc == _BREAK else 1)
            if ins < best:
                best, how = ins, "I"
            dele = prow[j] + 1
            if dele < best:
                best, how = dele, "D"
            row[j] = best
            brow[j] = how
    last = cost[m]
    total = min(last)
    # of equally cheap ends, the latest one reached without deleting a character of the
    # string: a wrong last character ('¥199' read '¥196') costs one substitution, or one
    # deletion ending before it; the deletion left the read's last character unclaimed
    # and its box short (a start takes the substitution already: the back-pointers
    # prefer it). Where the string lost characters anyway ('Member:' for an erased
    # 'Members Only', read to the end with 'y' -> ':'), the earliest end stands
    ends = [j for j in range(n + 1) if last[j] == total]
    end = ends[0]
    ops, start = _trace(back, m, end)
    for j in reversed(ends[1:]):
        if doc[j - 1] in (_SEP, _BREAK):
            continue
        cand, cand_start = _trace(back, m, j)
        if all(op.op != "D" for op in cand):
            end, ops, start = j, cand, cand_start
            break
    # drop separators / extras at the edges of the span (free or not part of the copy)
    while ops and ops[0].op == "I" and doc[ops[0].doc] == _SEP:
        ops.pop(0)
        start += 1
    return total, start, end, ops


def align(lines: Sequence[OcrLine], expected: Sequence[str]) -> Alignment:
    """Align OCR ``lines`` with the ``expected`` strings (see the module docstring)."""
    ordered = tuple(reading_order(lines))
    norms = tuple(normalize_with_map(ln.text) for ln in ordered)
    doc: list[DocChar] = []
    stacked: set[int] = set()  # breaks between lines stacked as one block of copy
    for li, nm in enumerate(norms):
        if doc:
            joinable = _joinable(ordered[li - 1], ordered[li])
            if not joinable and _stacked(ordered[li - 1], ordered[li]):
                stacked.add(len(doc))
            doc.append(DocChar(_SEP if joinable else _BREAK, -1, -1))
        for c, src in zip(nm.text, nm.source_index, strict=True):
            doc.append(DocChar(c, li, src))
    chars = [c.char for c in doc]

    items = [(i, e, normalize(e)) for i, e in enumerate(expected)]
    items = [it for it in items if it[2]]
    # exact matches first (longest first), then the rest approximately
    items.sort(key=lambda it: -len(it[2]))
    found: dict[int, Match] = {}
    claimed: set[int] = set()
    for idx, exp, norm in items:
        text = "".join(chars)
        pos = _find_exact(text, norm)
        if pos is not None:
            span = _span_positions(chars, pos, len(norm))
            ops = tuple(AlignOp("M", k, d) for k, d in enumerate(span))
            found[idx] = Match(exp, norm, 0, span[0], span[-1] + 1, ops)
            for d in span:
                chars[d] = _USED
                claimed.add(d)
    for idx, _exp, norm in items:
        if idx in found:
            continue
        total, start, end, ops = substring_align(norm, "".join(chars))
        ops = _trim_foreign_edges(ops, doc, ordered)
        if any(o.op != "D" for o in ops):
            total = _cost(ops, norm, doc)
            start = min(o.doc for o in ops if o.op != "D")
            end = max(o.doc for o in ops if o.op != "D") + 1
        kept = sum(1 for o in ops if o.op == "M")
        if total <= MAX_COST_RATIO * len(norm) and kept >= max(1, MIN_KEPT_RATIO * len(norm)):
            found[idx] = Match(_exp, norm, total, start, end, tuple(ops))
            for o in ops:
                if o.op in ("M", "S", "I") and chars[o.doc] not in (_SEP, _BREAK):
                    chars[o.doc] = _USED
                    claimed.add(o.doc)
    # missing strings, and strings matched with characters absent at an end (the rest
    # of a string set in two sizes is on the next line)
    rest = [it for it in items if it[0] not in found or _end_absent(found[it[0]])]
    if rest and stacked:
        _align_stacked(rest, doc, stacked, chars, ordered, found, claimed)
    matches = tuple(found[i] for i in sorted(found))
    missing = tuple(e for i, e, _n in sorted(items) if i not in found)
    return Alignment(ordered, norms, tuple(doc), matches, missing, frozenset(claimed))


def _align_stacked(rest, doc: list[DocChar], stacked: set[int], chars: list[str],
                   ordered: Sequence[OcrLine], found: dict[int, Match],
                   claimed: set[int]) -> None:
    """Strings the first pass left missing or matched with characters absent at an end,
    matched again where a string may also run on over lines stacked as one block
    (:func:`_stacked`: another size, a wider gap): a manifest lists 'better not pout' as
    one string that a poster sets as three lines of three sizes. Accepted only at
    ``STACKED_COST_RATIO`` (a stricter bar than ``MAX_COST_RATIO``: running on into the
    next block is what the first pass guards against) and, for a string matched already,
    only where it costs less. Updates ``found``, ``claimed`` and ``chars``."""
    loose_doc = [DocChar(_SEP, -1, -1) if k in stacked else c for k, c in enumerate(doc)]
    loose = [_SEP if k in stacked else c for k, c in enumerate(chars)]

    def mark(ops, *, free: bool) -> None:
        for o in ops:
            if o.op in ("M", "S", "I") and doc[o.doc].line >= 0:
                loose[o.doc] = chars[o.doc] = doc[o.doc].char if free else _USED
                if free:
                    claimed.discard(o.doc)
                else:
                    claimed.add(o.doc)

    for idx, exp, norm in rest:
        before = found.get(idx)
        if before is not None:
            mark(before.ops, free=True)
        m = _stacked_match(exp, norm, loose, loose_doc, stacked, ordered)
        if m is not None and (before is None or m.cost < before.cost):
            found[idx] = m
        if idx in found:
            mark(found[idx].ops, free=False)


def _stacked_match(exp: str, norm: str, loose: list[str], loose_doc: list[DocChar],
                   stacked: set[int], ordered: Sequence[OcrLine]) -> Match | None:
    """One string's match over the document with stacked lines joinable, when it
    crosses such a join and passes ``STACKED_COST_RATIO``; else None."""
    text = "".join(loose)
    pos = _find_exact(text, norm)
    if pos is not None:
        span = _span_positions(loose, pos, len(norm))
        ops = [AlignOp("M", k, d) for k, d in enumerate(span)]
        total = 0
    else:
        total, _s, _e, ops = substring_align(norm, text)
        ops = _trim_foreign_edges(ops, loose_doc, ordered)
        if not any(o.op != "D" for o in ops):
            return None
        total = _cost(ops, norm, loose_doc)
    kept = sum(1 for o in ops if o.op == "M")
    if total > STACKED_COST_RATIO * len(norm) or kept < max(1, MIN_KEPT_RATIO * len(norm)):
        return None
    read = [o.doc for o in ops if o.op != "D"]
    if not any(min(read) < k < max(read) for k in stacked):
        return None  # the first pass judged this match already
    return Match(exp, norm, total, min(read), max(read) + 1, tuple(ops))


def _end_absent(m: Match) -> bool:
    """A match whose first or last expected characters were not read."""
    return bool(m.ops) and (m.ops[0].op == "D" or m.ops[-1].op == "D")


def _stacked(a: OcrLine, b: OcrLine) -> bool:
    """Line ``b``, next after ``a`` in reading order, sits under it as part of one block
    of copy: overlapping it in x, no more than the taller one's height below it, of
    comparable height (``ROW_HEIGHT_RATIO``)."""
    ba, bb = a.box, b.box
    hi = max(ba.height, bb.height, 1)
    return similar_height(ba, bb) and bb.y0 - ba.y1 <= hi \
        and min(ba.x1, bb.x1) > max(ba.x0, bb.x0)


def _trim_foreign_edges(ops: list[AlignOp], doc: Sequence[DocChar],
                        lines: Sequence[OcrLine]) -> list[AlignOp]:
    """Ops before the first match (after the last) on a line in another row than that
    match's become absent characters: a wrong character there costs what an absent one
    does, but claims a piece of other copy. Seed 17: '全场 8 折', read '矛8折' under a line read
    '价' (the end of an erased '冬日暖心价'), took that '价' as its '全'."""
    ms = [k for k, o in enumerate(ops) if o.op == "M"]
    if not ms:
        return ops
    out = list(ops)
    for leading in (True, False):
        anchor = ms[0] if leading else ms[-1]
        edge = range(anchor) if leading else range(anchor + 1, len(out))
        line = doc[out[anchor].doc].line
        own = [k for k in edge if out[k].op != "D" and doc[out[k].doc].line >= 0
               and side_by_side(lines[doc[out[k].doc].line].box, lines[line].box)]
        # the absent characters precede the first kept one (or follow the last)
        inner = (min(own) if own else anchor) if leading else (max(own) if own else anchor)
        at = out[inner].doc if leading else out[inner].doc + 1
        for k in edge:
            o = out[k]
            if o.op == "D" or (leading and k >= inner) or (not leading and k <= inner):
                continue  # absent already, or inside the kept part
            out[k] = AlignOp("D", o.exp, at) if o.op == "S" else AlignOp("", -1, -1)
    return [o for o in out if o.op]


def side_by_side(a: Box, b: Box) -> bool:
    """Two line boxes in one row: they overlap by more than half the lower one's height."""
    return min(a.y1, b.y1) - max(a.y0, b.y0) > 0.5 * min(a.height, b.height)


def _cost(ops: Sequence[AlignOp], norm: str, doc: Sequence[DocChar]) -> int:
    """The edit cost of ``ops`` as :func:`substring_align` counts it."""
    total = 0
    for o in ops:
        if o.op == "S":
            total += 2 if _other_script(doc[o.doc].char, norm[o.exp]) else 1
        elif o.op == "D" or (o.op == "I" and doc[o.doc].char != _SEP):
            total += 1
    return total


def _joinable(a: OcrLine, b: OcrLine) -> bool:
    """Whether a string may run on from line ``a`` to ``b``, the next in reading order
    (see the module docstring)."""
    ba, bb = a.box, b.box
    if side_by_side(ba, bb):
        return True
    lo, hi = sorted((max(ba.height, 1), max(bb.height, 1)))
    return hi <= WRAP_HEIGHT_RATIO * lo and bb.y0 - ba.y1 <= hi \
        and min(ba.x1, bb.x1) > max(ba.x0, bb.x0)


def _find_exact(text: str, norm: str) -> int | None:
    """Start of ``norm`` in ``text`` where separators inside are skipped; None if absent."""
    pos = text.find(norm)
    if pos >= 0:
        return pos
    if _SEP not in text:
        return None
    # allow the string to run over a line break
    stripped, index = [], []
    for k, c in enumerate(text):
        if c != _SEP:
            stripped.append(c)
            index.append(k)
    p = "".join(stripped).find(norm)
    return index[p] if p >= 0 else None


def _span_positions(chars: list[str], start: int, length: int) -> list[int]:
    out = []
    k = start
    while len(out) < length and k < len(chars):
        if chars[k] != _SEP:
            out.append(k)
        k += 1
    return out
