"""``posterqa s3 start|stop|status``: the embedded S3 server's lifetime, by hand.

Every command that needs the object store starts the embedded SeaweedFS by itself and
shares it with the others using the same state folder; the server stops when its last
user exits. ``posterqa s3 start`` keeps it running with no users (e.g. to browse the
bucket with another S3 client, or to save the ~1 s start of every command) until
``posterqa s3 stop``.
"""

from __future__ import annotations

import time

import typer

from posterqa.errors import ConfigError

s3_app = typer.Typer(
    help="The embedded S3 server (SeaweedFS) of the state folder.", no_args_is_help=True
)

#: ``posterqa s3 status`` exit code when no server runs (the LSB "not running" code)
NOT_RUNNING = 3


def _server():  # noqa: ANN202 - storage.seaweed.EmbeddedS3, imported lazily
    from posterqa.settings import get_settings
    from storage.seaweed import EmbeddedS3

    settings = get_settings()
    if settings.s3_endpoint is not None:
        raise ConfigError(
            f"POSTERQA_S3_ENDPOINT is set ({settings.s3_endpoint}): posterqa uses that "
            "endpoint and runs no embedded S3 server"
        )
    return EmbeddedS3.from_settings(settings)


def _pids(clients: tuple) -> str:  # tuple[S3Client, ...]
    return ", ".join(str(c.pid) for c in clients)


@s3_app.command("start")
def s3_start() -> None:
    """Start the embedded S3 server (or keep the running one) until `posterqa s3 stop`."""
    server = _server().start()
    try:
        server.pin()
        endpoint, pid = server.endpoint, server.pid
    finally:
        server.stop()  # gives up this command's lease; the pin keeps the server up
    typer.echo(
        f"embedded S3 server on {endpoint} (pid {pid}), data in {server.data_dir}; "
        "it runs until `posterqa s3 stop`"
    )


@s3_app.command("stop")
def s3_stop(
    force: bool = typer.Option(
        False, "--force", help="stop it now even while other posterqa processes use it"
    ),
) -> None:
    """Stop the embedded S3 server once no posterqa process uses it (now with --force)."""
    server = _server()
    before = server.shutdown(force=force)
    if not before.running:
        typer.echo(f"embedded S3 server for {server.state_dir}: not running")
    elif before.clients and not force:
        typer.echo(
            f"embedded S3 server {before.endpoint} is used by {len(before.clients)} "
            f"process(es) (pid {_pids(before.clients)}): it stops when the last one exits "
            "(--force stops it now)"
        )
    else:
        typer.echo(f"embedded S3 server {before.endpoint} (pid {before.pid}) stopped")
        if before.clients:
            typer.echo(
                f"posterqa: processes that were using it lose the store: pid "
                f"{_pids(before.clients)}",
                err=True,
            )


@s3_app.command("status")
def s3_status() -> None:
    """Print endpoint, pid and live users of the embedded S3 server (exit 3: not running)."""
    server = _server()
    st = server.status()
    if not st.running:
        typer.echo(f"embedded S3 server for {st.state_dir}: not running")
        raise SystemExit(NOT_RUNNING)
    pinned = "yes (runs until `posterqa s3 stop`)" if st.pinned else "no (stops with its last user)"
    typer.echo(f"embedded S3 server for {st.state_dir}: running")
    typer.echo(f"  endpoint  {st.endpoint}")
    typer.echo(f"  pid       {st.pid} (keeper pid {st.keeper_pid or '-'})")
    typer.echo(f"  pinned    {pinned}")
    typer.echo(f"  data      {server.data_dir}")
    typer.echo(f"  users     {len(st.clients)}")
    for client in st.clients:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(client.since))
        typer.echo(f"    pid {client.pid}  since {since}  {client.command}")


def register(app: typer.Typer) -> None:
    app.add_typer(s3_app, name="s3")
