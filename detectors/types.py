"""Domain values shared by the detectors, the refiner, storage and the flows.

Coordinates are image pixels, origin top-left, x to the right, y down. A :class:`Box`
is half-open: it covers columns ``x0 .. x1-1`` and rows ``y0 .. y1-1``. A quad is four
``(x, y)`` points, clockwise from the top-left corner of the text/logo as it reads.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from posterqa.errors import InputError

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]

DEFECT_KINDS = ("text", "logo", "note")
# text: the copy is wrong / unreadable / absent / not in the manifest
# logo: the logo is deformed (blur, warp, colour, erasure, wrong logo) / absent
# note: not a defect - something a reviewer should look at (e.g. the brand's logo was not
# found with confidence: "logo_not_found"); always review-only, never repaired
# reasons that say the detector could not place the defect on the poster: such a defect
# goes to a reviewer, never to the refiner (its box is the whole poster); "review_only":
# a note, for a reviewer's eyes only
UNLOCALISED_REASONS = ("not_localised", "no_logo_slot", "review_only")
DEFECT_CATEGORIES = {
    "text": ("mismatch", "unreadable", "missing", "unexpected", "collapsed"),
    "logo": ("deformed", "missing"),
    "note": ("logo_not_found",),
}


@dataclass(frozen=True, order=True)
class Box:
    """Axis-aligned half-open box ``[x0, x1) x [y0, y1)`` in integer pixels."""

    x0: int
    y0: int
    x1: int
    y1: int

    def __post_init__(self) -> None:
        if self.x1 < self.x0 or self.y1 < self.y0:
            raise InputError(f"box {self.as_list()} has x1 < x0 or y1 < y0")

    @classmethod
    def parse(cls, text: str) -> Box:
        """Parse ``"x0,y0,x1,y1"`` (the CLI's ``--box``)."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 4:
            raise InputError(f"box {text!r} must be four integers x0,y0,x1,y1")
        try:
            x0, y0, x1, y1 = (int(float(p)) for p in parts)
        except (ValueError, OverflowError):  # "1e400" and "inf" are floats, no integers
            raise InputError(f"box {text!r} must be four integers x0,y0,x1,y1") from None
        if x1 <= x0 or y1 <= y0:
            raise InputError(f"box {text!r} is empty (needs x1 > x0 and y1 > y0)")
        return cls(x0, y0, x1, y1)

    @classmethod
    def from_points(cls, points: Iterable[Sequence[float]]) -> Box:
        """The smallest integer box containing every point (floor/ceil)."""
        pts = np.asarray(list(points), dtype=np.float64).reshape(-1, 2)
        if pts.size == 0:
            raise InputError("cannot build a box from no points")
        x0, y0 = np.floor(pts.min(axis=0)).astype(int)
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
        return cls(int(x0), int(y0), max(int(x1), int(x0) + 1), max(int(y1), int(y0) + 1))

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> Box:
        """The tight box of the non-zero pixels of a ``[H, W]`` mask."""
        ys, xs = np.nonzero(np.asarray(mask))
        if xs.size == 0:
            raise InputError("mask is empty: no pixel is set")
        return cls(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def center(self) -> Point:
        return ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)

    def as_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]

    def as_quad(self) -> Quad:
        return (
            (float(self.x0), float(self.y0)),
            (float(self.x1), float(self.y0)),
            (float(self.x1), float(self.y1)),
            (float(self.x0), float(self.y1)),
        )

    def intersection(self, other: Box) -> int:
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return max(w, 0) * max(h, 0)

    def iou(self, other: Box) -> float:
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union else 0.0

    def pad(self, px: int, px_y: int | None = None) -> Box:
        """Grow by ``px`` (and ``px_y`` vertically, default the same); no clamping."""
        py = px if px_y is None else px_y
        return Box(self.x0 - px, self.y0 - py, self.x1 + px, self.y1 + py)

    def clamp(self, width: int, height: int) -> Box:
        """Clip to an image of ``width`` x ``height``; may become empty."""
        x0, y0 = min(max(self.x0, 0), width), min(max(self.y0, 0), height)
        x1, y1 = min(max(self.x1, x0), width), min(max(self.y1, y0), height)
        return Box(x0, y0, x1, y1)

    def inside(self, width: int, height: int) -> bool:
        return 0 <= self.x0 < self.x1 <= width and 0 <= self.y0 < self.y1 <= height

    def union(self, other: Box) -> Box:
        return Box(min(self.x0, other.x0), min(self.y0, other.y0),
                   max(self.x1, other.x1), max(self.y1, other.y1))

    def slice(self) -> tuple[slice, slice]:
        """``image[box.slice()]`` selects the box's pixels."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


def quad_from_box(box: Box) -> Quad:
    return box.as_quad()


def normalize_quad(points: Sequence[Sequence[float]]) -> Quad:
    """Four points as a tuple of float pairs (order kept)."""
    pts = [(float(p[0]), float(p[1])) for p in points]
    if len(pts) != 4:
        raise InputError(f"a quad needs 4 points, got {len(pts)}")
    return (pts[0], pts[1], pts[2], pts[3])


def pad_quad(quad: Quad, px: float) -> Quad:
    """Grow a convex quad outwards by ``px`` along its own axes."""
    pts = np.asarray(quad, dtype=np.float64)
    center = pts.mean(axis=0)
    u = pts[1] - pts[0]
    v = pts[3] - pts[0]
    nu = u / (np.linalg.norm(u) or 1.0)
    nv = v / (np.linalg.norm(v) or 1.0)
    out = []
    for p in pts:
        d = p - center
        su = math.copysign(1.0, float(d @ nu)) if abs(d @ nu) > 1e-9 else 0.0
        sv = math.copysign(1.0, float(d @ nv)) if abs(d @ nv) > 1e-9 else 0.0
        q = p + px * (su * nu + sv * nv)
        out.append((float(q[0]), float(q[1])))
    return normalize_quad(out)


def quad_mask(quad: Quad, height: int, width: int) -> np.ndarray:
    """``uint8 [H, W]`` mask with 255 inside the quad (edges included)."""
    mask = np.zeros((height, width), dtype=np.uint8)
    pts = np.round(np.asarray(quad, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(mask, [pts], 255)
    return mask


@dataclass(frozen=True)
class Defect:
    """One defective region found on a poster.

    ``box`` and ``quad`` locate the defective content tightly; ``repair_quad`` is the
    region to repaint (padded to whole characters / the logo plus margin). ``score`` is
    in [0, 1], higher = more certainly defective. ``reasons`` are short machine-readable
    tags (``"ocr_mismatch"``, ``"low_sharpness"``, ...); ``details`` holds the figures
    behind them.
    """

    kind: str
    category: str
    box: Box
    quad: Quad
    expected: str | None
    observed: str | None
    score: float
    reasons: tuple[str, ...]
    repair_quad: Quad | None = None
    details: tuple[tuple[str, float], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.kind not in DEFECT_KINDS:
            raise InputError(f"defect kind {self.kind!r} is not one of {DEFECT_KINDS}")
        if self.category not in DEFECT_CATEGORIES[self.kind]:
            raise InputError(
                f"defect category {self.category!r} is not valid for kind {self.kind!r}"
            )

    @property
    def repairable(self) -> bool:
        """False when the detector could not localise the defect (see UNLOCALISED_REASONS)."""
        return not any(r in UNLOCALISED_REASONS for r in self.reasons)

    @property
    def repair_region(self) -> Quad:
        return self.repair_quad if self.repair_quad is not None else self.quad

    def repair_mask(self, height: int, width: int) -> np.ndarray:
        """``uint8 [H, W]`` mask, 255 = repaint, of the repair region."""
        return quad_mask(self.repair_region, height, width)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "category": self.category,
            "bbox": self.box.as_list(),
            "quad": [list(p) for p in self.quad],
            "repair_quad": [list(p) for p in self.repair_region],
            "expected": self.expected,
            "observed": self.observed,
            "score": round(float(self.score), 4),
            "reasons": list(self.reasons),
            "repairable": self.repairable,
            "details": {k: round(float(v), 4) for k, v in self.details},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Defect:
        repair = data.get("repair_quad")
        return cls(
            kind=data["kind"],
            category=data["category"],
            box=Box(*data["bbox"]),
            quad=normalize_quad(data["quad"]),
            expected=data.get("expected"),
            observed=data.get("observed"),
            score=float(data["score"]),
            reasons=tuple(data.get("reasons", ())),
            repair_quad=normalize_quad(repair) if repair else None,
            details=tuple((k, float(v)) for k, v in (data.get("details") or {}).items()),
        )

    def prompt(self) -> str:
        """The backend-independent repair prompt for this defect."""
        if self.kind == "logo":
            return "Refine the LOGO."
        text = (self.expected or "").replace("'", "\u2019")
        return f"refine the text '{text}'" if text else "Refine the text."
