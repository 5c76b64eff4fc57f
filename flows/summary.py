"""Run summaries: the Prefect table artifact of each run and the CLI's rich table."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

ROWS = (
    ("posters_scanned", "posters scanned"),
    ("posters_clean", "  clean"),
    ("posters_defective", "  with defects"),
    ("posters_error", "  not checkable (reason recorded)"),
    ("posters_unread", "posters not read (storage error; next sweep retries)"),
    ("defects_found", "defects found"),
    ("repairs_verified", "repairs verified"),
    ("repairs_failed", "repairs failed"),
    ("pending_review", "repairs pending review"),
    ("defects_still_pending", "defects still queued"),
    ("defects_unlocalised", "defects not localised (review only)"),
)


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """``(label, value)`` rows of a run result (see :func:`flows.records.close_run`)."""
    by_kind = result.get("defects_by_kind") or {}
    values = {**result, "defects_found": sum(by_kind.values())}
    rows = [(label, str(values.get(key, 0))) for key, label in ROWS]
    idx = [r[0] for r in rows].index("defects found") + 1
    for kind in sorted(by_kind):
        rows.insert(idx, (f"  {kind}", str(by_kind[kind])))
        idx += 1
    return rows


def publish(result: dict[str, Any]) -> None:
    """Attach the summary to the flow run as a table artifact (``<kind>-summary``)."""
    from prefect.artifacts import create_table_artifact

    table = [{"what": label.strip(), "count": value} for label, value in summary_rows(result)]
    kind = str(result.get("kind") or "run")
    try:
        create_table_artifact(
            key=f"posterqa-{kind}-summary", table=table,
            description=f"posterqa {kind} run {result.get('run_id')}: "
                        f"{result.get('status', '')}",
        )
    except Exception as exc:  # an artifact is a report, never a reason to fail a run
        log.warning("could not create the summary artifact: %s", exc)


def rich_table(result: dict[str, Any], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("")
    table.add_column("count", justify="right")
    for label, value in summary_rows(result):
        table.add_row(label, value)
    return table
