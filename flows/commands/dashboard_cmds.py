"""``posterqa dashboard`` (serve the review app) and ``posterqa users
add|list|passwd|disable|enable``."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from posterqa.errors import ConfigError, InputError
from posterqa.settings import PLACEHOLDER_SECRETS, Settings, get_settings

log = logging.getLogger(__name__)

SECRET_FILE = "dashboard_secret_key"


def ensure_secret(settings: Settings) -> tuple[Settings, str | None]:
    """Settings with a usable session key; generates one under the state dir if unset.

    Returns the settings and, when the key came from (or was written to) the state
    folder, that file's path so the CLI can say so.
    """
    if settings.dashboard_secret_key.strip().lower() not in PLACEHOLDER_SECRETS:
        return settings, None
    path = Path(settings.state_dir) / SECRET_FILE
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        if len(secret) < 32:
            raise ConfigError(f"session key file {path} is too short; delete it to regenerate")
        return settings.model_copy(update={"dashboard_secret_key": secret}), str(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot write the session key file {path}: {exc.strerror}") from exc
    secret = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret + "\n")
    return settings.model_copy(update={"dashboard_secret_key": secret}), str(path)


def _engine(settings: Settings):  # noqa: ANN202 - sqlalchemy Engine
    from storage.db import make_engine, upgrade

    url = settings.resolved_db_url
    upgrade(url)
    return make_engine(url)


@contextlib.contextmanager
def _db_session() -> Iterator[Any]:
    """A session on the configured DB (migrated to head) for one users command;
    committed when the block succeeds, the engine disposed either way."""
    from sqlalchemy.orm import Session

    engine = _engine(get_settings())
    try:
        with Session(engine) as session:
            yield session
            session.commit()
    finally:
        engine.dispose()


def dashboard(
    host: str | None = typer.Option(None, help="address to listen on (default from settings)"),
    port: int | None = typer.Option(None, help="port (default from settings)"),
) -> None:
    """Serve the review dashboard (and the embedded S3 while it runs)."""
    import uvicorn

    from dashboard.app import create_app
    from storage.runtime import open_store

    settings, secret_file = ensure_secret(get_settings())
    if secret_file:
        typer.echo(f"posterqa: using the session key stored in {secret_file} "
                   "(set POSTERQA_DASHBOARD_SECRET_KEY to choose one)", err=True)
    host = host or settings.dashboard_host
    port = port or settings.dashboard_port
    engine = _engine(settings)
    # uvicorn stops on SIGTERM, then re-raises it with the previous handler restored:
    # with the default one the process would die right there, skipping the `with` below
    # that gives up the embedded S3 server (its last user would leave it running).
    # Ours unwinds first, then ends the process by SIGTERM as uvicorn would.
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    terminated = False
    try:
        with open_store(settings) as store:
            app = create_app(settings, engine=engine, store=store)
            typer.echo(f"posterqa: review dashboard on http://{host}:{port}/ "
                       f"(create accounts with `posterqa users add NAME`)", err=True)
            uvicorn.run(app, host=host, port=port, log_level="info")
    except _Terminated:
        terminated = True
    finally:
        engine.dispose()
        signal.signal(signal.SIGTERM, previous)
    if terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)


class _Terminated(BaseException):
    """SIGTERM, as an exception, so that ``with``/``finally`` blocks release what they hold."""


def _raise_terminated(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: let the release finish
    raise _Terminated


users_app = typer.Typer(help="Dashboard accounts.", no_args_is_help=True)


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="user name"),
    role: str = typer.Option("reviewer", help="reviewer (decides) or readonly (looks)"),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="read the password from the first line of stdin"),
) -> None:
    """Create a dashboard account; the password is prompted for (or read from stdin)."""
    from dashboard import crud
    from dashboard.auth import check_role

    check_role(role)
    password = _read_password(password_stdin)
    with _db_session() as session:
        user = crud.create_user(session, username=name, password=password, role=role)
    typer.echo(f"created user {user.username!r} with role {user.role}")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise InputError("password is empty")
    return password


@users_app.command("list")
def users_list() -> None:
    """List dashboard accounts: name, role, state (enabled / disabled), live sessions."""
    from dashboard import crud

    with _db_session() as session:
        for user in crud.list_users(session):
            state = "disabled" if user.disabled_at else "enabled"
            typer.echo(f"{user.username}\t{user.role}\t{state}\t"
                       f"{user.live_sessions} session(s)")


@users_app.command("passwd")
def users_passwd(
    name: str = typer.Argument(..., help="user name"),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="read the password from the first line of stdin"),
) -> None:
    """Set a new password; every dashboard session of the user ends at once."""
    from dashboard import crud

    password = _read_password(password_stdin)
    with _db_session() as session:
        revoked = crud.set_password(session, username=name, password=password)
    typer.echo(f"changed the password of {name!r}; ended {revoked} session(s)")


@users_app.command("disable")
def users_disable(name: str = typer.Argument(..., help="user name")) -> None:
    """Disable an account: it cannot sign in and its sessions end at once."""
    from dashboard import crud

    with _db_session() as session:
        revoked = crud.set_user_disabled(session, username=name, disabled=True)
    typer.echo(f"disabled user {name!r}; ended {revoked} session(s)")


@users_app.command("enable")
def users_enable(name: str = typer.Argument(..., help="user name")) -> None:
    """Enable a disabled account again (its old sessions stay ended: it signs in anew)."""
    from dashboard import crud

    with _db_session() as session:
        crud.set_user_disabled(session, username=name, disabled=False)
    typer.echo(f"enabled user {name!r}")


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
    app.add_typer(users_app, name="users")
