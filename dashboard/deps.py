"""FastAPI dependencies: DB session, current user, role and CSRF checks, templates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from dashboard import crud, sessions
from dashboard.auth import csrf_matches, new_csrf_token
from posterqa.settings import Settings

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


def _fmt_dt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def _basename(key: str | None) -> str:
    return (key or "").rsplit("/", 1)[-1]


templates.env.filters["dt"] = _fmt_dt
templates.env.filters["basename"] = _basename


class LoginRequired(Exception):
    """No signed-in user: the app answers with a redirect to /login."""


class Forbidden(Exception):
    """Signed in, but the role may not do this (403)."""


class CsrfError(Exception):
    """A state-changing request without the session's CSRF token (403)."""


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def _db_slots(request: Request) -> asyncio.Semaphore:
    slots = getattr(request.app.state, "db_slots", None)
    if slots is None:
        slots = asyncio.Semaphore(pool_capacity(request.app.state.engine))
        request.app.state.db_slots = slots
    return slots


def pool_capacity(engine: Any) -> int:
    """How many connections the engine's pool hands out at once (size + overflow)."""
    pool = engine.pool
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", 0)
    if callable(size):
        return max(1, int(size()) + max(0, int(overflow)))
    return 8


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One SQLAlchemy session per request; routes commit what they change.

    A request first takes one of ``pool_capacity`` slots, on the event loop (FIFO), so
    that no more sessions exist than the pool has connections: otherwise, with the
    40-thread pool of sync routes, threads queue inside SQLAlchemy's pool where new
    arrivals can barge ahead, and under 50 concurrent users some waited past the 30 s
    pool timeout (HTTP 500). Async also makes the teardown run on the event loop.
    """
    slots = _db_slots(request)
    async with slots:
        session = Session(request.app.state.engine, expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()


#: Ids are ``Integer`` columns (PostgreSQL int4): no row has a larger id, and a larger
#: value must not reach the database (SQLite raises OverflowError binding past int64).
MAX_DB_ID = 2**31 - 1


def check_id(value: int, what: str) -> int:
    """``value`` if it can be the id of a row; HTTP 404 naming ``what`` otherwise."""
    if not 1 <= value <= MAX_DB_ID:
        raise HTTPException(404, f"{what} {value} does not exist")
    return value


def get_store(request: Request) -> Any | None:
    return request.app.state.store


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]
StoreDep = Annotated[Any, Depends(get_store)]


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use (also for anonymous sessions)."""
    token = request.session.get("csrf")
    if not token:
        token = new_csrf_token()
        request.session["csrf"] = token
    return token


SESSION_TOKEN = "sid"  # the cookie's key for the server-side session token


def current_user(request: Request, session: SessionDep) -> crud.UserView:
    """The user of the request's server-side session (see :mod:`dashboard.sessions`).

    A cookie whose session was revoked (logout, ``users disable``, password change) or
    expired is no longer enough: the token is dropped and the browser sent to /login.
    """
    token = request.session.get(SESSION_TOKEN)
    if not isinstance(token, str) or not token:
        raise LoginRequired()
    user = sessions.resolve_session(session, token=token)
    if user is None:
        request.session.pop(SESSION_TOKEN, None)
        raise LoginRequired()
    return user


UserDep = Annotated[crud.UserView, Depends(current_user)]


def reviewer(user: UserDep) -> crud.UserView:
    if user.role != "reviewer":
        raise Forbidden(f"user {user.username!r} has role {user.role!r}; only reviewers decide")
    return user


ReviewerDep = Annotated[crud.UserView, Depends(reviewer)]


async def check_csrf(request: Request) -> None:
    """Every state-changing request carries the session's token (form field or header)."""
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else None
    if not csrf_matches(sent, request.session.get("csrf")):
        raise CsrfError(
            f"{request.method} {request.url.path} refused: missing or wrong CSRF token "
            "(reload the page and try again)"
        )


CsrfDep = Depends(check_csrf)


def page_context(request: Request, user: crud.UserView | None, **extra: Any) -> dict[str, Any]:
    """What every template gets: the user, the CSRF token, flash message."""
    flash = request.session.pop("flash", None)
    return {"user": user, "csrf_token": csrf_token(request), "flash": flash, **extra}


def flash(request: Request, message: str, level: str = "info") -> None:
    request.session["flash"] = {"message": message, "level": level}
