"""The runs page: one row per flow run with its counts and a link to Prefect."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dashboard import crud
from dashboard.deps import SessionDep, SettingsDep, UserDep, page_context, templates

router = APIRouter()


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request, session: SessionDep, settings: SettingsDep,
              user: UserDep) -> HTMLResponse:
    ui_url = getattr(settings, "prefect_ui_url", None)
    runs = crud.list_runs(session, prefect_ui_url=ui_url)
    return templates.TemplateResponse(request, "runs.html", page_context(request, user, runs=runs))
