"""The review dashboard: FastAPI, server-rendered Jinja2 templates, one static JS file.

``create_app(settings, engine=..., store=...)`` builds the app; ``posterqa dashboard``
(flows/commands/dashboard_cmds.py) opens the DB and the object store and serves it with
uvicorn. The app holds no bucket credentials in the browser: images go through
``/img/{key}``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from dashboard.deps import CsrfError, Forbidden, LoginRequired, templates
from posterqa.errors import ConfigError
from posterqa.settings import PLACEHOLDER_SECRETS, Settings

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
MIN_SECRET_LENGTH = 16
# Only our own script and images; inline style attributes carry the mask overlay's URL.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class SecurityHeaders:
    """Pure ASGI middleware adding CSP, frame and referrer headers to every response."""

    HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
               (b"referrer-policy", b"same-origin"), (b"x-content-type-options", b"nosniff")]

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def check_secret_key(secret: str) -> str:
    """Refuse an empty, placeholder or short session signing key (ConfigError)."""
    if secret.strip().lower() in PLACEHOLDER_SECRETS:
        raise ConfigError(
            "dashboard_secret_key is empty or a placeholder; set POSTERQA_DASHBOARD_SECRET_KEY "
            "to a random string (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"dashboard_secret_key has {len(secret)} characters; "
            f"at least {MIN_SECRET_LENGTH} are needed"
        )
    return secret


def create_app(settings: Settings, *, engine: Any, store: Any | None = None) -> FastAPI:
    """Build the dashboard app.

    ``engine``: a SQLAlchemy engine on the posterqa DB (``storage.db.make_engine``).
    ``store``: an open ``AssetStore`` (``storage.runtime.open_store``); without one the
    image routes answer 503 and approving cannot publish.
    """
    secret = check_secret_key(settings.dashboard_secret_key)
    app = FastAPI(title="posterqa review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.store = store
    app.add_middleware(SecurityHeaders)
    # The signed cookie holds the CSRF token, flash messages and the token of the
    # server-side session (dashboard.sessions): that row, not the cookie, says who is
    # signed in, so logout and `posterqa users disable` take effect at once.
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="posterqa_session",
        max_age=int(settings.dashboard_session_hours * 3600),
        same_site="lax",
        https_only=settings.dashboard_cookie_secure,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    from dashboard.routes import images, login, repairs, runs

    app.include_router(login.router)
    app.include_router(runs.router)
    app.include_router(repairs.router)
    app.include_router(images.router)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> RedirectResponse:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> HTMLResponse:
        return _error_page(request, 403, str(exc))

    @app.exception_handler(CsrfError)
    async def _csrf(request: Request, exc: CsrfError) -> HTMLResponse:
        log.warning("refused %s %s: %s", request.method, request.url.path, exc)
        return _error_page(request, 403, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> HTMLResponse:
        errors = exc.errors()
        if any(e.get("loc", ("",))[0] == "path" for e in errors):  # /repairs/abc
            return _error_page(request, 404, f"{request.url.path} does not exist")
        return _error_page(request, 400, "; ".join(_describe(e) for e in errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        return _error_page(request, exc.status_code, str(exc.detail), headers=exc.headers)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _describe(error: dict[str, Any]) -> str:
    """``query parameter 'page' = 'x': Input should be a valid integer...``"""
    loc = [str(p) for p in error.get("loc", ())]
    where = {"query": "query parameter", "body": "form field"}.get(loc[0] if loc else "", "")
    name = loc[-1] if loc else "?"
    value = error.get("input")
    shown = f" = {repr(value)[:80]}" if isinstance(value, str | int) else ""
    return f"{where} {name!r}{shown}: {error.get('msg', 'invalid')}".strip()


def _error_page(request: Request, status: int, message: str,
                headers: dict[str, str] | None = None) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message, "user": None},
        status_code=status, headers=headers,
    )
