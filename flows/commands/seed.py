"""``posterqa seed``: write a generated catalog (brands, posters, manifests, ground truth)
into the bucket, or into a folder with ``--out-dir``."""

from __future__ import annotations

from pathlib import Path

import typer

from posterqa.errors import InputError


def seed(
    count: int = typer.Option(40, "--count", help="number of posters"),
    seed_value: int = typer.Option(7, "--seed", help="random seed (same seed = same bytes)"),
    brands: int = typer.Option(2, "--brands", help="number of brands"),
    defect_share: float = typer.Option(0.5, "--defect-share",
                                       help="share of posters with injected defects (0..1)"),
    no_manifest: int = typer.Option(1, "--no-manifest",
                                    help="posters without a manifest (the last ones)"),
    out_dir: Path | None = typer.Option(None, "--out-dir",
                                        help="write to this folder instead of the bucket"),
) -> None:
    """Generate a synthetic catalog with injected defects and write it to the bucket."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from catalog import generate_catalog, upload_catalog, write_catalog_dir

    if count < 1:
        raise InputError(f"--count must be >= 1, got {count}")
    if brands < 1:
        raise InputError(f"--brands must be >= 1, got {brands}")
    if not 0.0 <= defect_share <= 1.0:
        raise InputError(f"--defect-share must be in [0, 1], got {defect_share}")
    if not 0 <= no_manifest <= count:
        raise InputError(f"--no-manifest must be 0..{count}, got {no_manifest}")
    catalog = generate_catalog(seed_value, count, n_brands=brands, defect_share=defect_share,
                               no_manifest=no_manifest)
    text_defects = sum(len(s.text_defects) for s in catalog.specs)
    logo_defects = sum(s.logo_defect is not None for s in catalog.specs)
    defective = sum(bool(s.text_defects) or s.logo_defect is not None for s in catalog.specs)
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), transient=True,
                  console=Console(stderr=True)) as progress:
        task = progress.add_task("seeding posters", total=count)

        def advance(_poster: object) -> None:
            progress.advance(task)

        if out_dir is not None:
            write_catalog_dir(catalog, out_dir, on_poster=advance)
            where = str(out_dir)
        else:
            from posterqa.settings import get_settings
            from storage.runtime import open_store

            settings = get_settings()
            with open_store(settings) as store:
                upload_catalog(catalog, store, settings, on_poster=advance)
            where = f"s3://{settings.bucket}"
    typer.echo(
        f"seeded {count} posters of {brands} brand(s) into {where}: {defective} with defects "
        f"({text_defects} text, {logo_defects} logo), {no_manifest} without manifest, "
        f"seed {seed_value}"
    )


def register(app: typer.Typer) -> None:
    app.command("seed")(seed)
