"""posterqa's Prefect flows: ``nightly_sweep``, ``repair_pending``, ``repair_asset``.

Two stages joined by the database: detection lists new or changed posters, detects and
records defects as *pending*; repair claims pending defects in batches, repairs them
with the refiner (backend loaded once per run), verifies and saves. ``nightly_sweep``
runs repair inline (one machine, SQLite) or hands it off to the ``repair-pending``
deployment on the GPU work pool.

Import :mod:`flows.prefect_env` and call ``configure_prefect`` before importing this
module (the CLI does). Deployments: ``prefect.yaml``.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from typing import Any, Literal

from prefect import flow, get_run_logger, unmapped
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner
from sqlalchemy.exc import SQLAlchemyError

from flows import records, repairing, summary
from flows.detection import MODE_UNKNOWN, Detection, PosterRef
from flows.repairing import ClaimGroup
from flows.runtime import current, use_runtime
from flows.tasks import (
    claim_defects,
    close_run,
    detect_defects,
    fetch_poster,
    fetch_working_image,
    list_new_posters,
    open_run,
    record_defects,
    record_manual_defects,
    refine_task,
    save_repair,
    verify_repair,
)
from posterqa.errors import StorageError, is_storage_trouble, one_line_reason

CLAIM_BATCH = 16


@contextlib.contextmanager
def tracked_run(kind: str, prefix: str | None, params: dict[str, Any]) -> Iterator[int]:
    """The run row: opened ``running``; closed ``failed`` with the cause if the flow fails.

    A database error leaves the flow as one line (:class:`StorageError` naming the
    database). When even the ``failed`` close cannot be written, the cause is kept in
    the state folder and the next process that opens a run closes this one with it
    (:func:`flows.records.close_run_or_note`).
    """
    rt = current()
    run_id = open_run(kind, prefix, params)
    try:
        yield run_id
    except BaseException as exc:
        error = records.db_error_line(rt.engine, exc) or f"{type(exc).__name__}: {exc}"
        records.close_run_or_note(rt.engine, rt.settings.state_dir, run_id=run_id,
                                  error=error[:2000])
        if isinstance(exc, SQLAlchemyError):
            raise StorageError(error) from exc
        raise


def default_worker() -> str:
    """``host:pid`` — lets a restarted worker release claims left by a dead process."""
    return f"{socket.gethostname()}:{os.getpid()}"


@flow(name="nightly-sweep", task_runner=ThreadPoolTaskRunner(max_workers=4), log_prints=False)
def nightly_sweep(
    prefix: str = "posters/",
    limit: int | None = None,
    dry_run: bool = False,
    repair: Literal["inline", "handoff"] = "inline",
) -> dict[str, Any]:
    """Detect defects on new/changed posters under ``prefix``, then repair them."""
    with use_runtime():
        logger = get_run_logger()
        posters = list_new_posters(prefix, limit)
        if dry_run:
            logger.info("dry run: %d poster(s) would be scanned", len(posters))
            return {"dry_run": True, "would_scan": [p.key for p in posters]}
        with tracked_run("sweep", prefix, {"limit": limit, "repair": repair}) as run_id:
            fetched = fetch_poster.map(posters)
            found = detect_defects.map(fetched)
            recorded = record_defects.map(found, run_id=unmapped(run_id))
            wait(recorded)
            failed = record_failed_posters(posters, fetched, found, recorded, run_id)
            logger.info("detection done: %d poster(s) recorded, %d of them after a "
                        "task failure", len(recorded), failed)
            if repair == "inline":
                drain_queue(run_id, worker=default_worker(), limit=None)
            else:
                records.hand_off_repairs(logger)
            result = close_run(run_id)
        summary.publish(result)
        return result


@flow(name="repair-pending", log_prints=False)
def repair_pending(limit: int | None = None, worker: str | None = None) -> dict[str, Any]:
    """Claim pending defects in batches and repair, verify and save them."""
    with use_runtime():
        with tracked_run("repair", None, {"limit": limit}) as run_id:
            drain_queue(run_id, worker=worker or default_worker(), limit=limit)
            result = close_run(run_id)
        summary.publish(result)
        return result


@flow(name="repair-asset", log_prints=False)
def repair_asset(
    key: str, boxes: list[list[int]] | None = None, prompt: str | None = None
) -> dict[str, Any]:
    """Repair one poster: the given boxes (with ``prompt``), or what detection finds."""
    with use_runtime():
        with tracked_run("manual", key, {"boxes": boxes or [], "prompt": prompt}) as run_id:
            if boxes:
                recorded = record_manual_defects(key, boxes, prompt, run_id)
            else:
                etag = records.current_etag(current().store, key)
                found = detect_defects(fetch_poster(PosterRef(key=key, etag=etag)))
                recorded = record_defects(found, run_id, force=True)
            drain_queue(run_id, worker=default_worker(), limit=None,
                        defect_ids=list(recorded["defect_ids"]))
            result = close_run(run_id)
        summary.publish(result)
        return result


def record_failed_posters(
    posters: list[PosterRef], fetched: Any, found: Any, recorded: Any, run_id: int
) -> int:
    """Record, with its reason, each poster whose fetch or detection task failed (one
    bad poster never stops a sweep); returns how many. A failed ``record_defects``
    itself (the database) fails the run."""
    n = 0
    for ref, *chain in zip(posters, fetched, found, recorded, strict=True):
        if chain[-1].state.is_completed():
            continue
        stage, exc = next(((stage, fut.state.result(raise_on_failure=False))
                           for stage, fut in zip(("fetch", "detect", "record"), chain,
                                                 strict=True)
                           if fut.state.is_failed() or fut.state.is_crashed()),
                          ("record", None))
        if stage == "record":
            if isinstance(exc, BaseException):
                raise exc
            raise StorageError(f"{ref.key}: recording the scan did not finish")
        reason = one_line_reason(exc)
        # storage trouble (after the task's retries) is not the poster's fault: its
        # reason is recorded but it is not marked scanned, so the next sweep retries it
        transient = stage == "fetch" and is_storage_trouble(exc)
        poster = chain[0].state.result() if stage == "detect" else None
        record_defects(Detection(
            key=ref.key, etag=ref.etag, sha256=getattr(poster, "sha256", None),
            mode=poster.mode if poster is not None else MODE_UNKNOWN,
            brand_id=getattr(poster, "brand_id", None),
            error=f"{'reading' if stage == 'fetch' else 'detection'} failed: {reason}",
            retry_later=transient,
        ), run_id)
        n += 1
    return n


def drain_queue(
    run_id: int, *, worker: str, limit: int | None, defect_ids: list[int] | None = None
) -> int:
    """Claim and repair batches until the queue (or ``limit``) is exhausted."""
    records.release_stale_claims(current().engine, worker=worker)
    done = 0
    while limit is None or done < limit:
        batch = CLAIM_BATCH if limit is None else min(CLAIM_BATCH, limit - done)
        groups = claim_defects(worker, batch, defect_ids)
        if not groups:
            break
        # saving (PNG encode, uploads, rows) overlaps the next poster's repairs; a batch
        # holds each poster once, and every save lands before the next claim
        saves = [repair_group(group, run_id) for group in groups]
        for future in saves:
            future.result()
        done += sum(len(g.defect_ids) for g in groups)
        get_run_logger().info("repaired %d defect(s) so far", done)
    return done


def repair_group(group: ClaimGroup, run_id: int) -> Any:
    """Repairs of one poster, applied one after another onto the same working image;
    returns the future of its save."""
    backend = current().settings.refiner_backend
    refine = refine_task(current().settings)
    state = fetch_working_image(group, return_state=True)
    if not state.is_completed():
        exc = state.result(raise_on_failure=False)
        if is_storage_trouble(exc):
            raise exc  # storage trouble: the run fails, the claims are released later
        # the poster's own problem (deleted since its scan, undecodable): failed repairs
        working = repairing.unreadable_working_image(group)
        outcomes = [repairing.crashed_outcome(group, d, working, exc, backend=backend,
                                              stage="reading the poster")
                    for d in group.defect_ids]
        return save_repair.submit(group, outcomes, working, run_id)
    working = state.result()
    outcomes = []
    for defect_id in group.defect_ids:
        state = refine(group, defect_id, working, return_state=True)
        if state.is_completed():
            outcome = verify_repair(state.result(), working)
        else:  # a crash repairs nothing: recorded as a failed repair, the sweep goes on
            outcome = repairing.crashed_outcome(group, defect_id, working, state.result(
                raise_on_failure=False), stage="repair", backend=backend)
        working = outcome.next_working
        outcomes.append(outcome)
    return save_repair.submit(group, outcomes, working, run_id)
