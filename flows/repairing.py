"""Repair stage logic, without Prefect: working image, refine, check, save.

Several defects on one poster are repaired one after another onto the same *working
image*, so the repaired poster carries all of them; each repair keeps its own review
artifacts. Images travel between steps as files in the local cache (path + SHA-256),
never as arrays in task results.

Crash safety of :func:`save_repairs`: objects first, at deterministic keys
(``<artifacts>/<asset-id>/<defect-id>/<attempt>/<name>.png`` and the repaired poster
under the repaired prefix), then all rows in one transaction. A crash in between
leaves the defects claimed; the next run releases the stale claim and repeats the
repair with the same attempt number, overwriting the same keys. Nothing is ever
written under the posters prefix.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from flows.detection import _brand_files, _write_atomic, cache_object
from posterqa.errors import (
    BackendError,
    BackgroundChangedError,
    InputError,
    ObjectNotFoundError,
    StorageError,
    one_line_reason,
)

log = logging.getLogger(__name__)

ARTIFACT_NAMES = ("crop", "mask", "before", "after", "diff")


@dataclass(frozen=True)
class DefectJob:
    """One claimed defect: its id, the attempt number and the defect as JSON."""

    id: int
    attempt: int
    defect: dict[str, Any]
    prompt: str | None = None


@dataclass(frozen=True)
class ClaimGroup:
    """Claimed defects of one poster, repaired together onto one working image."""

    asset_id: int
    asset_key: str
    etag: str
    brand_id: str | None
    jobs: tuple[DefectJob, ...]
    start_from_repaired: bool = False

    @property
    def defect_ids(self) -> list[int]:
        return [j.id for j in self.jobs]

    def job(self, defect_id: int) -> DefectJob:
        for j in self.jobs:
            if j.id == defect_id:
                return j
        raise InputError(f"defect {defect_id} is not in the claim of {self.asset_key}")


@dataclass(frozen=True)
class WorkingImage:
    """An image in the local cache that repairs apply to, plus the brand files."""

    path: str
    sha256: str
    source_key: str
    font_path: str | None = None
    logo_path: str | None = None


@dataclass(frozen=True)
class RefineOutcome:
    """One repair attempt: verdict, figures, local artifact files, the resulting image."""

    defect_id: int
    attempt: int
    kind: str
    prompt: str
    backend: str
    seed: int | None
    before: WorkingImage
    after: WorkingImage | None = None
    verdict: str = "failed"
    reasons: tuple[str, ...] = ()
    metrics: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    next_working: WorkingImage | None = None


@dataclass(frozen=True)
class SavedRepairs:
    """What :func:`save_repairs` wrote."""

    asset_key: str
    repaired_key: str | None
    repair_ids: tuple[int, ...]
    verified: int
    failed: int


def repaired_key_for(settings: Any, key: str) -> str:
    """``posters/acme/p1.jpg`` -> ``repaired/acme/p1.jpg``: the repaired poster is the
    original file, repaired, in the original's format (:mod:`refiner.asset`)."""
    rel = key[len(settings.posters_prefix):] if key.startswith(settings.posters_prefix) else key
    return f"{settings.repaired_prefix}{rel}"


def artifact_key(settings: Any, asset_id: int, defect_id: int, attempt: int, name: str) -> str:
    return f"{settings.artifacts_prefix}{asset_id}/{defect_id}/{attempt}/{name}.png"


def guard_write(settings: Any, key: str) -> str:
    """Refuse any write under the posters prefix: originals are never overwritten."""
    if settings.posters_prefix and key.startswith(settings.posters_prefix):
        raise StorageError(f"refusing to write {key}: originals under "
                           f"{settings.posters_prefix} are never overwritten")
    return key


def fetch_working_image(store: Any, settings: Any, cache_dir: Path,
                        group: ClaimGroup) -> WorkingImage:
    """Cache the poster (or its repaired copy when earlier repairs exist) and brand files."""
    source = repaired_key_for(settings, group.asset_key) if group.start_from_repaired else None
    try:
        if source is None:
            raise ObjectNotFoundError("no repaired copy yet")
        path, sha = cache_object(store, cache_dir, source, sub="working")
    except ObjectNotFoundError:
        source = group.asset_key
        path, sha = cache_object(store, cache_dir, source, sub="posters")
    font_path = logo_path = None
    if group.brand_id:
        try:
            files = _brand_files(store, settings, cache_dir, group.brand_id)
            font_path, logo_path = files["font_path"], files["logo_path"]
        except InputError as exc:
            log.warning("%s: brand files unavailable: %s", group.asset_key, exc)
    return WorkingImage(path=str(path), sha256=sha, source_key=source,
                        font_path=font_path, logo_path=logo_path)


def heat_map(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """RGB ``uint8`` heat map of the per-pixel max channel difference (black = equal)."""
    import cv2

    diff = np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=2)
    scaled = np.clip(diff.astype(np.float32) * (255.0 / max(1, int(diff.max()))), 0, 255)
    colored = cv2.applyColorMap(scaled.astype(np.uint8), cv2.COLORMAP_INFERNO)
    colored[diff == 0] = 0
    return cv2.cvtColor(colored, cv2.COLOR_BGR2RGB)


def save_working(path: Path, image: np.ndarray) -> str:
    """Write a working image as raw ``.npy`` (no PNG encode per repair); returns its hash."""
    arr = np.ascontiguousarray(image, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npy")
    np.save(tmp, arr, allow_pickle=False)
    tmp.replace(path)
    return hashlib.sha256(arr.tobytes()).hexdigest()


def load_working(path: str | Path, *, name: str = "", max_pixels: int | None = None) -> np.ndarray:
    """Load a working image: ``.npy`` as written by :func:`save_working`, else decode."""
    from posterqa.imaging import DEFAULT_MAX_PIXELS, load_image

    if str(path).endswith(".npy"):
        return np.load(path, allow_pickle=False)
    return load_image(path, name=name, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)


def _save_png(path: Path, image: np.ndarray) -> str:
    from posterqa.imaging import encode_png

    data = encode_png(np.ascontiguousarray(image))
    _write_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def refine_region(rt: Any, group: ClaimGroup, defect_id: int,
                  working: WorkingImage) -> RefineOutcome:
    """Repair one defect on the working image; result + artifacts go to the cache."""
    from detectors.types import Defect

    job = group.job(defect_id)
    defect = Defect.from_json(job.defect)
    prompt = job.prompt or defect.prompt()
    settings = rt.settings
    base = RefineOutcome(defect_id=defect_id, attempt=job.attempt, kind=defect.kind,
                         prompt=prompt, backend=settings.refiner_backend,
                         seed=settings.refiner_seed, before=working)
    reference = working.logo_path if defect.kind == "logo" else None
    if defect.kind == "logo" and reference is None:
        return replace(base, reasons=("no_reference_logo",),
                       error="logo repair needs the brand's reference logo")
    hints = {"font_path": working.font_path} if working.font_path else {}
    try:
        image = load_working(working.path, name=working.source_key,
                             max_pixels=settings.max_image_pixels)
        result, best_of = _repair(rt, image, defect, prompt, reference, hints)
    except (InputError, BackendError, BackgroundChangedError) as exc:
        log.warning("defect %d of %s: repair failed: %s", defect_id, group.asset_key, exc)
        return replace(base, reasons=(type(exc).__name__,), error=str(exc))
    work = rt.cache_dir / "work" / str(group.asset_id) / str(defect_id) / str(job.attempt)
    before_crop = result.focus.crop(image)
    after_crop = result.focus.crop(result.image)
    files = {"crop": result.crop, "mask": result.crop_mask, "before": before_crop,
             "after": after_crop, "diff": heat_map(before_crop, after_crop)}
    artifacts = {}
    for name, arr in files.items():
        _save_png(work / f"{name}.png", arr)
        artifacts[name] = str(work / f"{name}.png")
    poster_path = work / "poster.npy"
    sha = save_working(poster_path, result.image)
    after = replace(working, path=str(poster_path), sha256=sha)
    metrics = {**result.verification.to_json(), "focus": result.focus.to_json()}
    if best_of is not None:
        metrics["best_of"] = best_of
    return replace(base, backend=result.backend, seed=result.seed, after=after,
                   verdict=result.verification.verdict,
                   reasons=tuple(result.verification.reasons), metrics=metrics,
                   artifacts=artifacts, seconds=float(result.seconds))


def _repair(rt: Any, image: np.ndarray, defect: Any, prompt: str, reference: Any,
            hints: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
    """One repair, or best-of-N seeds when ``settings.refiner_best_of > 1``."""
    settings = rt.settings
    kwargs = {"reference": reference, "hints": hints, "expected": defect.expected,
              "kind": defect.kind}
    if settings.refiner_best_of <= 1:
        return rt.refiner().repair(image, defect, prompt, seed=settings.refiner_seed,
                                   **kwargs), None
    from refiner.best_of import repair_best_of, seeds_for

    found = repair_best_of(rt.refiner(), image, defect, prompt,
                           seeds=seeds_for(settings.refiner_best_of, settings.refiner_seed),
                           **kwargs)
    result = found.best or next((t.result for t in found.tries if t.result is not None), None)
    if result is None:
        errors = "; ".join(t.error or "" for t in found.tries if t.error)
        raise BackendError(f"every best-of try failed: {errors}")
    return result, found.to_json()


def unreadable_working_image(group: ClaimGroup) -> WorkingImage:
    """Stands for a poster that could not be read for repair (no file behind it)."""
    return WorkingImage(path="", sha256="", source_key=group.asset_key)


def crashed_outcome(group: ClaimGroup, defect_id: int, working: WorkingImage,
                    exc: Any, *, stage: str, backend: str) -> RefineOutcome:
    """A failed repair that records why ``stage`` crashed; the image is left as it was."""
    from detectors.types import Defect

    job = group.job(defect_id)
    defect = Defect.from_json(job.defect)
    reason = one_line_reason(exc)
    log.warning("defect %d of %s: %s failed: %s", defect_id, group.asset_key, stage, reason)
    return RefineOutcome(defect_id=defect_id, attempt=job.attempt, kind=defect.kind,
                         prompt=job.prompt or defect.prompt(), backend=backend, seed=None,
                         before=working, reasons=(type(exc).__name__,),
                         error=f"{stage} failed: {reason}", next_working=working)


def verify_outcome(outcome: RefineOutcome, working: WorkingImage) -> RefineOutcome:
    """Independent check on the saved files: only the focus box changed.

    Returns the outcome with its final verdict and ``next_working``: the repaired image
    when verified, else the unchanged working image.
    """
    from refiner.metrics import changed_box

    if outcome.verdict != "verified" or outcome.after is None:
        return replace(outcome, next_working=working)
    before = load_working(working.path)
    after = load_working(outcome.after.path)
    if before.shape != after.shape:
        return replace(outcome, verdict="failed", reasons=(*outcome.reasons, "size_changed"),
                       next_working=working)
    box = changed_box(before, after)
    focus = outcome.metrics.get("focus", {}).get("box")
    if box is not None and focus is not None:
        x0, y0, x1, y1 = focus
        if not (x0 <= box.x0 and y0 <= box.y0 and box.x1 <= x1 and box.y1 <= y1):
            return replace(outcome, verdict="failed",
                           reasons=(*outcome.reasons, "changed_outside_focus"),
                           next_working=working)
    return replace(outcome, next_working=outcome.after)


def save_repairs(rt: Any, group: ClaimGroup, outcomes: list[RefineOutcome],
                 final: WorkingImage, *, run_id: int) -> SavedRepairs:
    """Upload artifacts and the repaired poster, then write the rows in one transaction.

    No object is left without its row: when an upload or the rows fail, what this call
    wrote is taken back (:class:`_Writes`). A storage failure fails this poster's
    repairs only: they are recorded ``failed`` with the reason and the sweep goes on;
    a database failure is raised (the run fails, and the claims are released later).
    """
    from flows import records

    writes = _Writes(rt.store, rt.settings, group, outcomes)
    try:
        uploaded, repaired_key = writes.upload(final)
    except StorageError as exc:
        writes.undo()
        log.warning("%s: saving the repairs failed: %s", group.asset_key, exc)
        reason = f"saving the repair failed: {exc}"
        outcomes = [replace(o, verdict="failed", error=reason,
                            reasons=(*o.reasons, "save_failed")) for o in outcomes]
        uploaded, repaired_key = {}, None
    outcomes = _with_fidelity(outcomes, writes)
    try:
        repair_ids = records.record_repairs(
            rt.engine, run_id=run_id, group=group, outcomes=outcomes, artifacts=uploaded,
            repaired_key=repaired_key,
        )
    except BaseException:
        writes.undo()
        raise
    verified = sum(o.verdict == "verified" for o in outcomes)
    return SavedRepairs(asset_key=group.asset_key, repaired_key=repaired_key,
                        repair_ids=tuple(repair_ids), verified=verified,
                        failed=len(outcomes) - verified)


def _with_fidelity(outcomes: list[RefineOutcome], writes: _Writes) -> list[RefineOutcome]:
    """Verified outcomes carry the written file's fidelity (``metrics["asset"]``); when
    the repaired copy was refused (a lossless format lost pixels) they fail with why."""
    if writes.fidelity is None:
        return outcomes
    out = []
    for o in outcomes:
        if o.verdict != "verified":
            out.append(o)
            continue
        o = replace(o, metrics={**o.metrics, "asset": writes.fidelity})
        if writes.refused:
            o = replace(o, verdict="failed", error=writes.refused,
                        reasons=(*o.reasons, "asset_changed_outside"))
        out.append(o)
    return out


class _Writes:
    """The objects one save writes, and how to take them back.

    Artifact keys are new for each attempt (no row names them yet): undo deletes them.
    The repaired copy's key is one per poster: when earlier repairs own it, undo puts
    back the bytes it had (the working image the repairs started from, or what was read
    before overwriting it); otherwise undo deletes it.
    """

    def __init__(self, store: Any, settings: Any, group: ClaimGroup,
                 outcomes: list[RefineOutcome]) -> None:
        self.store, self.settings, self.group, self.outcomes = store, settings, group, outcomes
        self.written: list[str] = []
        self.previous: bytes | None = None  # the repaired copy before this save
        self.previous_meta: dict[str, str] | None = None
        self.content_type = "application/octet-stream"
        # the written file's fidelity to the original (refiner.asset), and why the
        # repaired copy was not written when a lossless format lost pixels
        self.fidelity: dict[str, Any] | None = None
        self.refused: str | None = None

    def upload(self, final: WorkingImage) -> tuple[dict[int, dict[str, str]], str | None]:
        settings, store, group = self.settings, self.store, self.group
        uploaded: dict[int, dict[str, str]] = {}
        # 1. objects first, at deterministic keys
        for out in self.outcomes:
            keys = {}
            for name, path in out.artifacts.items():
                key = guard_write(settings, artifact_key(settings, group.asset_id,
                                                         out.defect_id, out.attempt, name))
                self.written.append(key)
                store.put_bytes(key, Path(path).read_bytes(), content_type="image/png")
                keys[name] = key
            uploaded[out.defect_id] = keys
        if not any(o.verdict == "verified" for o in self.outcomes):
            return uploaded, None
        repaired_key = guard_write(settings, repaired_key_for(settings, group.asset_key))
        start = self.outcomes[0].before if self.outcomes else None
        data = self._repaired_file(start, final)
        if data is None:
            return uploaded, None
        if start is not None and start.source_key == repaired_key:
            self.previous = Path(start.path).read_bytes()
        elif store.exists(repaired_key):  # an earlier version of the poster was repaired
            self.previous_meta = store.head(repaired_key)["metadata"]
            self.previous = store.get_bytes(repaired_key)
        self.written.append(repaired_key)
        store.put_bytes(repaired_key, data, content_type=self.content_type,
                        metadata=self._metadata())
        return uploaded, repaired_key

    def _repaired_file(self, start: WorkingImage | None, final: WorkingImage) -> bytes | None:
        """The file the repairs started from (the original, or its repaired copy), with
        the repaired pixels written in; None when a lossless format would lose pixels."""
        from refiner.asset import write_repaired

        if start is None or not start.path or start.path.endswith(".npy"):
            raise StorageError(f"{self.group.asset_key}: the file the repairs started from "
                               "is not in the cache")
        asset = write_repaired(Path(start.path).read_bytes(), load_working(final.path),
                               name=start.source_key,
                               max_pixels=self.settings.max_image_pixels)
        self.content_type = asset.content_type
        self.fidelity = asset.fidelity.to_json()
        if asset.fidelity.lossless and asset.fidelity.outside_changed:
            self.refused = (f"the repaired {asset.format} would differ from the original "
                            f"outside the repair: {asset.fidelity.reason}")
            log.error("%s: %s", self.group.asset_key, self.refused)
            return None
        return asset.data

    def _metadata(self) -> dict[str, str]:
        return {"source-etag": self.group.etag.strip('"'), "source-key": self.group.asset_key}

    def undo(self) -> None:
        """Take back what was written; best effort (logged when S3 refuses that too)."""
        repaired_key = repaired_key_for(self.settings, self.group.asset_key)
        for key in reversed(self.written):
            try:
                if key == repaired_key and self.previous is not None:
                    self.store.put_bytes(key, self.previous, content_type=self.content_type,
                                         metadata=self.previous_meta or self._metadata())
                else:
                    self.store.delete(key)
            except StorageError as exc:
                log.error("%s: could not take back %s after a failed save: %s",
                          self.group.asset_key, key, exc)
        self.written.clear()
