"""Sign in and out."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from dashboard import crud
from dashboard.auth import burn_password_check, verify_password
from dashboard.deps import CsrfDep, SessionDep, csrf_token, templates

log = logging.getLogger(__name__)
router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only same-site paths: no scheme, no host, no ``//evil``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/queue"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "login.html",
        {"user": None, "csrf_token": csrf_token(request), "next": _safe_next(next), "error": None},
    )


@router.post("/login", dependencies=[CsrfDep], response_model=None)
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/queue",
) -> RedirectResponse | HTMLResponse:
    user = crud.get_user_for_login(session, username=username)
    if user is None:
        burn_password_check(password)
        ok = False
    else:
        ok = verify_password(password, user.password_hash)
    if not ok or user is None:
        log.info("failed login for %r", username)
        return templates.TemplateResponse(
            request, "login.html",
            {"user": None, "csrf_token": csrf_token(request), "next": _safe_next(next),
             "error": "Unknown user name or wrong password."},
            status_code=401,
        )
    request.session.clear()
    request.session["uid"] = user.id
    csrf_token(request)  # fresh token for the new session
    crud.add_audit(session, actor=user.username, entity="user", entity_id=str(user.id),
                   action="login", detail={})
    session.commit()
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[CsrfDep])
def logout(request: Request) -> RedirectResponse:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/queue", status_code=303)
