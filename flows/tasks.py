"""Prefect tasks: small, each named for its one side effect, passing keys and hashes.

Retries with backoff are declared only on tasks that talk to S3 or the database
(``IO_RETRIES``); CPU/GPU work is not retried (a failed repair is recorded, not
repeated). ``refine_region`` carries the ``gpu`` tag (for GPU backends, see :func:`refine_task`) so
that a tag concurrency limit (``prefect concurrency-limit create gpu 1``) serialises GPU
work across runs.

The logic lives in :mod:`flows.detection`, :mod:`flows.repairing` and
:mod:`flows.records`; the tasks fetch the per-process resources from
:func:`flows.runtime.current` and call it. Tests call ``task.fn(...)`` directly.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from flows import detection, records, repairing
from flows.detection import Detection, FetchedPoster, PosterRef
from flows.repairing import ClaimGroup, RefineOutcome, SavedRepairs, WorkingImage
from flows.runtime import current

IO_RETRIES: dict[str, Any] = {"retries": 3, "retry_delay_seconds": [1, 5, 15]}
GPU_TAG = "gpu"

# The OCR engine and the detectors use all cores themselves; running two detections at
# once only makes both slower, so detection is serialised while I/O tasks overlap it.
_detect_lock = threading.Lock()
_log = logging.getLogger(__name__)


def _logger() -> Any:
    """The run logger inside a flow/task run; the module logger for ``task.fn()`` calls."""
    try:
        return get_run_logger()
    except MissingContextError:
        return _log


@task(name="open_run", cache_policy=NO_CACHE, **IO_RETRIES)
def open_run(kind: str, prefix: str | None = None, params: dict[str, Any] | None = None) -> int:
    """Insert the run row (status running); returns its id."""
    rt = current()
    return records.open_run(rt.engine, kind=kind, prefix=prefix, params=params or {},
                            state_dir=rt.settings.state_dir)


@task(name="list_new_posters", cache_policy=NO_CACHE, **IO_RETRIES)
def list_new_posters(prefix: str, limit: int | None = None) -> list[PosterRef]:
    """List posters under ``prefix`` that are new or changed since their last scan."""
    rt = current()
    refs = records.list_new_posters(rt.store, rt.engine, rt.settings, prefix=prefix, limit=limit)
    _logger().info("%d new or changed poster(s) under %s", len(refs), prefix)
    return refs


@task(name="fetch_poster", cache_policy=NO_CACHE, **IO_RETRIES)
def fetch_poster(ref: PosterRef) -> FetchedPoster:
    """Download poster, manifest and brand kit files into the local cache."""
    rt = current()
    return detection.fetch_poster(rt.store, rt.settings, rt.cache_dir, ref)


@task(name="detect_defects", cache_policy=NO_CACHE)
def detect_defects(fetched: FetchedPoster) -> Detection:
    """Run the text and logo detectors on a cached poster."""
    rt = current()
    image, error = detection.load_poster(fetched, max_pixels=rt.settings.max_image_pixels)
    if error is not None:
        return Detection(key=fetched.key, etag=fetched.etag, sha256=fetched.sha256,
                         mode=fetched.mode, brand_id=fetched.brand_id, error=error)
    return detection.detect_defects(
        fetched, text_detector=rt.text_detector(), logo_detector_factory=rt.logo_detector,
        max_pixels=rt.settings.max_image_pixels, image=image, lock=_detect_lock,
    )


@task(name="record_defects", cache_policy=NO_CACHE, **IO_RETRIES)
def record_defects(found: Detection, run_id: int, force: bool = False) -> dict[str, Any]:
    """Write the asset, scan and pending defect rows (one transaction) + audit events."""
    rt = current()
    out = records.record_detection(rt.engine, rt.settings, run_id=run_id, detection=found,
                                   force=force)
    logger = _logger()
    if found.error:
        logger.warning("%s: %s", found.key, found.error)
    else:
        logger.info("%s: %d defect(s) [%s]", found.key, len(found.defects), found.mode)
    return out


@task(name="record_manual_defects", cache_policy=NO_CACHE, **IO_RETRIES)
def record_manual_defects(
    key: str, boxes: list[list[int]], prompt: str | None, run_id: int
) -> dict[str, Any]:
    """Record hand-drawn boxes as pending defects of ``key``."""
    rt = current()
    etag = records.current_etag(rt.store, key)
    return records.record_manual_defects(rt.engine, rt.settings, run_id=run_id, key=key,
                                         etag=etag, boxes=boxes, prompt=prompt)


@task(name="claim_defects", cache_policy=NO_CACHE, **IO_RETRIES)
def claim_defects(
    worker: str, limit: int, defect_ids: list[int] | None = None
) -> list[ClaimGroup]:
    """Claim pending defects (all of a poster together); returns them grouped by poster."""
    return records.claim_groups(current().engine, worker=worker, limit=limit,
                                defect_ids=defect_ids)


@task(name="fetch_working_image", cache_policy=NO_CACHE, **IO_RETRIES)
def fetch_working_image(group: ClaimGroup) -> WorkingImage:
    """Cache the image repairs start from (the repaired copy if earlier repairs exist)."""
    rt = current()
    return repairing.fetch_working_image(rt.store, rt.settings, rt.cache_dir, group)


@task(name="refine_region", cache_policy=NO_CACHE)
def refine_region(group: ClaimGroup, defect_id: int, working: WorkingImage) -> RefineOutcome:
    """Repair one region of the working image; writes result and artifacts to the cache."""
    rt = current()
    return repairing.refine_region(rt, group, defect_id, working)


def refine_task(settings: Any) -> Any:
    """``refine_region``, tagged ``gpu`` when the backend runs on a GPU.

    A tag concurrency limit costs an API round trip per task run (~0.3 s), so the CPU
    compositor runs untagged; GPU backends queue on ``prefect concurrency-limit create
    gpu N`` (N = GPUs).
    """
    if settings.refiner_backend == "compositor":
        return refine_region
    return refine_region.with_options(tags=[GPU_TAG])


@task(name="verify_repair", cache_policy=NO_CACHE)
def verify_repair(outcome: RefineOutcome, working: WorkingImage) -> RefineOutcome:
    """Check the repair on the saved files; sets the image the next repair starts from."""
    return repairing.verify_outcome(outcome, working)


@task(name="save_repair", cache_policy=NO_CACHE, **IO_RETRIES)
def save_repair(
    group: ClaimGroup, outcomes: list[RefineOutcome], final: WorkingImage, run_id: int
) -> SavedRepairs:
    """Upload repaired poster + artifacts, then write repair rows and audit events."""
    rt = current()
    saved = repairing.save_repairs(rt, group, outcomes, final, run_id=run_id)
    _logger().info(
        "%s: %d repair(s) verified, %d failed", group.asset_key, saved.verified, saved.failed
    )
    return saved


@task(name="close_run", cache_policy=NO_CACHE, **IO_RETRIES)
def close_run(run_id: int, status: str = "completed", error: str | None = None) -> dict[str, Any]:
    """Store the run's counts and status; returns the summary."""
    return records.close_run(current().engine, run_id=run_id, status=status, error=error)
