"""``posterqa repair KEY``: repair one poster now (detected defects or given boxes)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("repair")
    def repair(
        key: str = typer.Argument(..., help="poster key in the bucket, e.g. posters/acme/p1.png"),
        box: list[str] = typer.Option(None, "--box", help="x0,y0,x1,y1 (repeatable)"),
        prompt: str = typer.Option(None, "--prompt",
                                   help="e.g. \"refine the text 'SALE'\" or 'Refine the LOGO.'"),
    ) -> None:
        """Repair one poster: the boxes given, or whatever detection finds on it."""
        from rich.console import Console

        from detectors.types import Box
        from flows.prefect_env import configure_prefect, quiet_run_errors
        from flows.summary import rich_table
        from posterqa.errors import InputError
        from posterqa.settings import get_settings

        boxes = [Box.parse(b).as_list() for b in (box or [])]
        if prompt is not None and not boxes:
            raise InputError("--prompt needs at least one --box")
        settings = get_settings()
        configure_prefect(settings)
        quiet_run_errors()
        from flows.runtime import open_runtime
        from flows.sweep import repair_asset

        console = Console()
        from flows.commands.sweep import db_errors_as_one_line

        with (console.status(f"repairing {key}..."), open_runtime(settings) as rt,
              db_errors_as_one_line(rt.engine)):
            rt.store.head(key)  # a missing poster is one line, before any flow starts
            result = repair_asset(key=key, boxes=boxes, prompt=prompt)
        console.print(rich_table(result, f"repair run {result['run_id']}: {key}"))
