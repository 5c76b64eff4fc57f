"""``posterqa db upgrade`` and ``posterqa store ls``: the database schema and the bucket."""

from __future__ import annotations

import typer

db_app = typer.Typer(
    help="Database schema (Alembic migrations shipped with posterqa).", no_args_is_help=True
)
store_app = typer.Typer(
    help="The object store (embedded SeaweedFS or an S3 endpoint).", no_args_is_help=True
)


@db_app.command("upgrade")
def db_upgrade(
    revision: str = typer.Argument("head", help="target revision"),
) -> None:
    """Create or migrate the database at POSTERQA_DB_URL (default: SQLite in the state folder)."""
    from sqlalchemy.engine import make_url

    from posterqa.settings import get_settings
    from storage.db import upgrade
    from storage.seaweed import ensure_writable_dir

    settings = get_settings()
    if settings.db_url is None:
        ensure_writable_dir(settings.state_dir)
    url = settings.resolved_db_url
    at = upgrade(url, revision)
    shown = make_url(url).render_as_string(hide_password=True)
    typer.echo(f"database {shown} is at revision {at}")


@store_app.command("ls")
def store_ls(
    prefix: str = typer.Argument("", help="key prefix, e.g. posters/"),
    limit: int = typer.Option(0, "--limit", min=0, help="print at most N keys (0 = all)"),
) -> None:
    """List objects under PREFIX: key, size, ETag (starts the embedded S3 when needed)."""
    from posterqa.settings import get_settings
    from storage.runtime import open_store

    settings = get_settings()
    count = 0
    with open_store(settings) as store:
        for info in store.list(prefix):
            typer.echo(f"{info.key}\t{info.size}\t{info.etag}")
            count += 1
            if limit and count >= limit:
                break
    typer.echo(f"{count} object(s) under s3://{settings.bucket}/{prefix}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.add_typer(store_app, name="store")
