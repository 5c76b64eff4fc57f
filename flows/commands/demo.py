"""``posterqa demo``: the whole pipeline on one machine, in one command.

Starts the embedded SeaweedFS under the state folder, upgrades the SQLite database,
seeds a generated catalog when the bucket holds no posters yet, runs the nightly sweep
in Prefect's ephemeral mode with the CPU compositor, and prints a summary. A second
run re-uses the state and finds nothing new to process.
"""

from __future__ import annotations

import time
from typing import Any

import typer

DEMO_SEED = 20261126
DEMO_POSTERS = 40


def seed_catalog(store: Any, settings: Any, *, seed: int = DEMO_SEED,
                 n_posters: int = DEMO_POSTERS) -> Any:
    """Upload a generated catalog: two brands, some defective and some clean posters,
    one poster without manifest. Returns the catalog (with its ground truth)."""
    from catalog import generate_catalog, upload_catalog

    catalog = generate_catalog(seed, n_posters, n_brands=2, defect_share=0.5, no_manifest=1)
    upload_catalog(catalog, store, settings)
    return catalog


def has_posters(store: Any, settings: Any) -> bool:
    from posterqa.manifest import is_poster_key

    return any(is_poster_key(info.key) for info in store.list(settings.posters_prefix))


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        posters: int = typer.Option(DEMO_POSTERS, "--posters", min=1,
                                    help="catalog size when seeding an empty bucket"),
    ) -> None:
        """Seed a generated catalog, sweep it (detect, repair, verify), print a summary."""
        from contextlib import nullcontext
        from pathlib import Path

        from rich.console import Console

        from flows.prefect_env import configure_prefect, quiet_run_errors
        from flows.summary import rich_table
        from posterqa.settings import get_settings

        started = time.perf_counter()
        settings = get_settings()
        console = Console()
        Path(settings.state_dir).mkdir(parents=True, exist_ok=True)
        configure_prefect(settings)
        quiet_run_errors()
        from flows.progress import sweep_progress
        from flows.records import list_new_posters
        from flows.runtime import open_runtime
        from flows.sweep import nightly_sweep

        with open_runtime(settings) as rt:
            where = rt.store.uri(settings.posters_prefix)
            if has_posters(rt.store, settings):
                console.print(f"catalog: re-using the posters already in {where}")
            else:
                with console.status(f"seeding {posters} generated posters into {where}..."):
                    catalog = seed_catalog(rt.store, settings, n_posters=posters)
                console.print(f"catalog: seeded {len(catalog.posters)} posters of "
                              f"{len(catalog.brands)} brands into {where}")
            todo = list_new_posters(rt.store, rt.engine, settings,
                                    prefix=settings.posters_prefix, limit=None)
            console.print(f"nightly sweep of {len(todo)} new/changed poster(s): detect -> "
                          f"repair ({settings.refiner_backend}) -> verify, Prefect ephemeral")
            bars = sweep_progress(rt.engine, len(todo), console=console) if todo else nullcontext()
            with bars:
                result = nightly_sweep(prefix=settings.posters_prefix, repair="inline")
        console.print(rich_table(result, f"posterqa demo: sweep run {result['run_id']}"))
        if result.get("posters_scanned", 0) == 0:
            console.print("nothing new: every poster is already processed "
                          f"(state in {Path(settings.state_dir).resolve()}; "
                          "`make clean` starts over)")
        console.print(f"done in {time.perf_counter() - started:.1f} s. Review the repairs: "
                      f"[bold]posterqa dashboard[/] then open "
                      f"http://{settings.dashboard_host}:{settings.dashboard_port}/")
