"""Sign in and out.

A sign-in creates a server-side session (:mod:`dashboard.sessions`) whose token goes into
the signed cookie; sign-out revokes that session, so a copy of the old cookie is
worthless afterwards. Failed sign-ins are throttled per user name and per client
address: a locked name or address gets 429 with ``Retry-After``, its password unchecked.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from dashboard import crud, sessions
from dashboard.auth import burn_password_check, verify_password
from dashboard.deps import (
    SESSION_TOKEN,
    CsrfDep,
    SessionDep,
    SettingsDep,
    csrf_token,
    templates,
)

log = logging.getLogger(__name__)
router = APIRouter()

WRONG = "Unknown user name or wrong password."


def _safe_next(target: str | None) -> str:
    """Only same-site paths: no scheme, no host, no ``//evil``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/queue"
    return target


def _client_address(request: Request) -> str:
    """The client's address as the server sees it (uvicorn applies X-Forwarded-For from
    its ``forwarded_allow_ips`` proxies, 127.0.0.1 by default)."""
    return sessions.clean_address(request.client.host if request.client else None)


def _form(request: Request, next_: str, error: str | None, status: int,
          headers: dict[str, str] | None = None) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "login.html",
        {"user": None, "csrf_token": csrf_token(request), "next": _safe_next(next_),
         "error": error},
        status_code=status, headers=headers,
    )


def _locked(request: Request, next_: str, lock: sessions.Lockout) -> HTMLResponse:
    minutes = max(1, -(-lock.retry_after_s // 60))
    what = "this user name" if lock.scope == "user" else "your address"
    return _form(request, next_,
                 f"Too many failed sign-ins for {what}; try again in {minutes} minute"
                 f"{'s' if minutes != 1 else ''}.",
                 429, headers={"Retry-After": str(lock.retry_after_s)})


def _audit_lockouts(session: Session, locks: list[sessions.Lockout], *, username: str,
                    address: str, throttle: sessions.Throttle) -> None:
    for lock in locks:
        subject = sessions.lockout_subject(lock.scope, username=username, address=address)
        limit = throttle.max_user if lock.scope == "user" else throttle.max_address
        log.warning("sign-in locked for %s after %d failures in %d s", subject, limit,
                    throttle.window_s)
        crud.add_audit(session, actor="anonymous", entity="login", entity_id=subject,
                       action="login_lockout",
                       detail={"scope": lock.scope, "username": username[:128],
                               "address": address, "failures": limit,
                               "window_s": throttle.window_s})


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _form(request, next or "", None, 200)


@router.post("/login", dependencies=[CsrfDep], response_model=None)
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/queue",
) -> RedirectResponse | HTMLResponse:
    throttle = sessions.Throttle.from_settings(settings)
    address = _client_address(request)
    # 1. a locked user name or address: refused before the password is looked at
    lock = sessions.check_lockout(session, username=username, address=address,
                                  throttle=throttle)
    if lock is not None:
        session.rollback()
        return _locked(request, next, lock)
    # 2. the attempt is written first (pending): parallel guesses at one user name see
    #    each other, and no more of them get a password check than the maximum
    attempt = sessions.note_attempt(session, username=username, address=address,
                                    throttle=throttle)
    session.commit()
    lock = sessions.beaten_by_parallel_attempts(session, username=username,
                                                throttle=throttle)
    if lock is not None:
        sessions.forget_attempt(session, attempt_id=attempt)
        session.commit()
        return _locked(request, next, lock)
    # 3. the password, outside any transaction (on SQLite an open one holds the write
    #    lock: every other request would wait for the scrypt check)
    user = crud.get_user_for_login(session, username=username)
    session.commit()
    if user is None:
        burn_password_check(password)
        ok = False
    else:
        ok = verify_password(password, user.password_hash)
    if not ok or user is None:
        log.info("failed login for %r from %s", username[:128], address)
        locks = sessions.attempt_failed(session, attempt_id=attempt, username=username,
                                        address=address, throttle=throttle)
        _audit_lockouts(session, locks, username=username, address=address,
                        throttle=throttle)
        session.commit()
        return _form(request, next, WRONG, 401)
    if user.disabled:
        sessions.forget_attempt(session, attempt_id=attempt)
        session.commit()
        log.info("refused login of disabled user %r", user.username)
        return _form(request, next, "This account is disabled; ask an administrator.", 403)
    # 4. a fresh session (new token, new CSRF token: nothing carries over)
    sessions.attempt_succeeded(session, attempt_id=attempt, username=username)
    token = sessions.start_session(session, user_id=user.id, password_hash=user.password_hash,
                                   address=address,
                                   lifetime_s=settings.dashboard_session_hours * 3600)
    crud.add_audit(session, actor=user.username, entity="user", entity_id=str(user.id),
                   action="login", detail={"address": address})
    session.commit()
    request.session.clear()
    request.session[SESSION_TOKEN] = token
    csrf_token(request)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[CsrfDep])
def logout(request: Request, session: SessionDep) -> RedirectResponse:
    """End the session server-side (a replayed cookie is refused), then clear the cookie."""
    token = request.session.get(SESSION_TOKEN)
    if isinstance(token, str) and token:
        user_id = sessions.revoke_session(session, token=token, reason="logout")
        if user_id is not None:
            user = crud.get_user(session, user_id=user_id)
            crud.add_audit(session, actor=user.username if user else "unknown", entity="user",
                           entity_id=str(user_id), action="logout", detail={})
        session.commit()
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/queue", status_code=303)
