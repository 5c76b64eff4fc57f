"""A rich progress display for the CLI while a sweep runs in this process.

The flow itself only logs; this polls the database once a second (scans and repair
rows written since the start) and draws two bars: posters scanned and defects repaired.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, select


def _counts(engine: Any, since: datetime) -> tuple[int, int, int]:
    from storage.db import session_scope
    from storage.models import Defect, Repair, Scan

    with session_scope(engine) as s:
        scanned = s.scalar(select(func.count()).select_from(Scan)
                           .where(Scan.scanned_at >= since)) or 0
        found = s.scalar(select(func.count()).select_from(Defect)
                         .where(Defect.created_at >= since,
                                Defect.status != "skipped")) or 0  # review-only ones
        repaired = s.scalar(select(func.count()).select_from(Repair)
                            .where(Repair.created_at >= since)) or 0
    return int(scanned), int(found), int(repaired)


@contextlib.contextmanager
def sweep_progress(engine: Any, total_posters: int, *, console: Any = None) -> Iterator[None]:
    """Show scan/repair bars until the block ends (``total_posters`` from the listing)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from storage.models import utcnow

    since = utcnow().replace(microsecond=0)
    stop = threading.Event()
    progress = Progress(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=False)
    scan_bar = progress.add_task("posters scanned", total=max(total_posters, 1))
    repair_bar = progress.add_task("defects repaired", total=None)

    def poll() -> None:
        while not stop.wait(1.0):
            with contextlib.suppress(Exception):  # a busy DB only delays the next update
                scanned, found, repaired = _counts(engine, since)
                progress.update(scan_bar, completed=scanned)
                progress.update(repair_bar, completed=repaired, total=found or None)

    thread = threading.Thread(target=poll, name="posterqa-progress", daemon=True)
    with progress:
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(5)
            with contextlib.suppress(Exception):
                scanned, found, repaired = _counts(engine, since)
                progress.update(scan_bar, completed=scanned, total=max(total_posters, scanned, 1))
                progress.update(repair_bar, completed=repaired, total=max(found, 1))
