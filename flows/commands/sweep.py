"""``posterqa sweep``: detect and repair new or changed posters under a prefix."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import typer


def run_sweep(settings: Any, *, prefix: str, limit: int | None, dry_run: bool,
              repair: str = "inline", show_progress: bool = False,
              console: Any = None) -> dict[str, Any]:
    """Open the runtime and run ``nightly_sweep`` in this process (ephemeral Prefect)."""
    from flows.prefect_env import configure_prefect, quiet_run_errors

    configure_prefect(settings)
    quiet_run_errors()
    from flows.progress import sweep_progress
    from flows.records import list_new_posters
    from flows.runtime import open_runtime
    from flows.sweep import nightly_sweep

    with open_runtime(settings) as rt, db_errors_as_one_line(rt.engine):
        todo = [] if dry_run or not show_progress else list_new_posters(
            rt.store, rt.engine, settings, prefix=prefix, limit=limit)
        if not todo:
            return nightly_sweep(prefix=prefix, limit=limit, dry_run=dry_run, repair=repair)
        with sweep_progress(rt.engine, len(todo), console=console):
            return nightly_sweep(prefix=prefix, limit=limit, dry_run=dry_run, repair=repair)


@contextlib.contextmanager
def db_errors_as_one_line(engine: Any) -> Iterator[None]:
    """A database error (SQLAlchemy's many-line one) becomes a one-line StorageError."""
    from sqlalchemy.exc import SQLAlchemyError

    from flows.records import db_error_line
    from posterqa.errors import StorageError

    try:
        yield
    except SQLAlchemyError as exc:
        raise StorageError(db_error_line(engine, exc)) from exc


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep(
        prefix: str = typer.Option(None, "--prefix", help="bucket prefix (default: posters)"),
        limit: int = typer.Option(None, "--limit", min=1, help="scan at most N posters"),
        dry_run: bool = typer.Option(False, "--dry-run", help="only list what would be scanned"),
        repair: str = typer.Option("inline", "--repair",
                                   help="inline: repair here; handoff: leave to repair-pending"),
    ) -> None:
        """Scan new/changed posters under a prefix, record defects, repair and verify."""
        from rich.console import Console

        from flows.summary import rich_table
        from posterqa.errors import InputError
        from posterqa.settings import get_settings

        if repair not in ("inline", "handoff"):
            raise InputError(f"--repair must be 'inline' or 'handoff', got {repair!r}")
        settings = get_settings()
        console = Console()
        result = run_sweep(settings, prefix=prefix or settings.posters_prefix, limit=limit,
                           dry_run=dry_run, repair=repair, show_progress=True, console=console)
        if result.get("dry_run"):
            keys = result["would_scan"]
            console.print(f"dry run: {len(keys)} poster(s) would be scanned")
            for key in keys:
                console.print(f"  {key}")
            return
        console.print(rich_table(result, f"sweep run {result['run_id']}"))
