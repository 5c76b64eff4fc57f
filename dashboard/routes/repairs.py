"""The repair queue, the repair page and the three decisions (approve, reject, re-run)."""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from dashboard import crud
from dashboard.deps import (
    CsrfDep,
    ReviewerDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    UserDep,
    check_id,
    flash,
    page_context,
    templates,
)
from dashboard.publish import publish_repair
from dashboard.rerun import check_box_inside, poster_size, start_rerun
from detectors.types import Box
from posterqa.errors import InputError, PosterQAError
from storage.models import REVIEW_STATUSES

log = logging.getLogger(__name__)
router = APIRouter()

ARTIFACT_ORDER = ("before", "after", "crop", "mask", "diff")


def _filter_from(request: Request) -> crud.QueueFilter:
    q = request.query_params
    try:
        return crud.QueueFilter.parse(status=q.get("status"), brand=q.get("brand"),
                                      kind=q.get("kind"), verdict=q.get("verdict"),
                                      sort=q.get("sort"), run=q.get("run"))
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None


def _qs(params: dict[str, str]) -> str:
    return ("?" + urlencode(params)) if params else ""


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep, user: UserDep,
               page: int = 1) -> HTMLResponse:
    if not 1 <= page <= crud.MAX_PAGE:
        raise HTTPException(400, f"page {page} is not a page number (1 to {crud.MAX_PAGE})")
    flt = _filter_from(request)
    result = crud.list_queue(session, flt=flt, page=page)
    params = flt.query_params()
    pager: dict[str, Any] = {
        "rows": result.rows, "number": result.number, "total": result.total,
        "total_label": result.total_label, "first": result.first, "last": result.last,
        "prev_url": f"/queue{_qs({**params, 'page': str(page - 1)})}" if page > 1 else None,
        "next_url": f"/queue{_qs({**params, 'page': str(page + 1)})}" if result.has_next
        else None,
    }
    ctx = page_context(
        request, user, page=pager, f=flt, qs=_qs(params), statuses=REVIEW_STATUSES,
        brands=crud.list_brands(session), kinds=crud.KINDS, verdicts=crud.VERDICTS,
        sorts=[(k, v[0]) for k, v in crud.SORTS.items()],
    )
    return templates.TemplateResponse(request, "queue.html", ctx)


def _figure(value: Any, fmt: str = "{}") -> str:
    if value is None:
        return "—"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def _metrics_figures(metrics: dict[str, Any]) -> dict[str, Any]:
    """Look for the verification figures at the top level or under figures/verification."""
    merged: dict[str, Any] = {}
    for nested in (metrics.get("verification"), metrics.get("figures")):
        if isinstance(nested, dict):
            inner = nested.get("figures")
            if isinstance(inner, dict):
                merged.update(inner)
            merged.update({k: v for k, v in nested.items() if k != "figures"})
    merged.update({k: v for k, v in metrics.items() if k not in ("verification", "figures")})
    return merged


def _reread(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        ok = value.get("matches")
        mark = "matches" if ok else ("does not match" if ok is not None else "")
        observed = value.get("observed")
        score = value.get("score")
        parts = [mark]
        if observed is not None:
            parts.append(f"read {observed!r}")
        if isinstance(score, int | float):
            parts.append(f"score {score:.3f}")
        reasons = value.get("reasons")
        if reasons:
            parts.append("; ".join(str(r) for r in reasons))
        return ", ".join(p for p in parts if p) or "—"
    return str(value)


def figures_for(metrics: dict[str, Any]) -> dict[str, str]:
    m = _metrics_figures(metrics)
    reasons = m.get("reasons")
    return {
        "bg_changed_pixels": _figure(m.get("bg_changed_pixels"), "{:,}"),
        "ssim_bg": _figure(m.get("ssim_bg"), "{:.5f}"),
        "bg_max_abs_diff": _figure(m.get("bg_max_abs_diff")),
        "reread": _reread(m.get("reread") or m.get("region")),
        "band_color_shift": _figure(m.get("band_color_shift"), "{:.3f}"),
        "reasons": "; ".join(str(r) for r in reasons) if isinstance(reasons, list) else "",
        "ink": _ink_figure(m.get("ink")),
        "brand_color": _brand_figure(m.get("brand_color")),
    }


def _ink_figure(ink: Any) -> str:
    if not isinstance(ink, dict):
        return ""
    return (f"{_figure(ink.get('residual'), '{:.3f}')} of the old ink's contrast left "
            f"uncovered ({_figure(ink.get('ghost_px'), '{:,}')} ghost px)")


def _brand_figure(brand: Any) -> str:
    if not isinstance(brand, dict):
        return ""
    mark = "on brand" if brand.get("ok") else "OFF BRAND"
    return (f"{mark}: {brand.get('color')}, ΔE {_figure(brand.get('delta_e'), '{:.1f}')} "
            f"from {brand.get('nearest')} (tolerance "
            f"{_figure(brand.get('tolerance'), '{:.0f}')})")


# What each verdict reason means, said plainly on the repair page (refiner.verify and
# flows.repairing write the codes).
REASON_TEXT = {
    "residual_ink": "old ink is left in the region: faded strokes of the old text that no "
                    "new glyph covers",
    "added_text": "added text: the region held no text, the repair put new text there "
                  "(not a fix of existing copy)",
    "off_brand_color": "the repaired text's colour is not one of the brand's colours",
    "text_mismatch": "the repaired region does not read as the expected copy",
    "logo_mismatch": "the repaired logo does not match the reference",
    "background_changed": "pixels outside the blend band changed",
    "band_color_shift": "colours in the blend band shifted against the surrounding ring",
    "region_check_unavailable": "the region could not be re-checked",
    "asset_changed_outside": "the written file changed pixels outside the repair",
    "changed_outside_focus": "pixels outside the focus crop changed",
    "size_changed": "the repaired image has another size",
    "save_failed": "the repaired file could not be saved",
}


def reasons_for(metrics: dict[str, Any], reason: str | None = None) -> list[dict[str, str]]:
    """The verdict's reasons as ``{"code", "text", "detail"}`` rows (codes kept, in order)."""
    m = _metrics_figures(metrics)
    codes: list[str] = [str(c) for c in m.get("reasons") or [] if c]
    if reason:
        codes += [c.strip() for c in str(reason).split(",")
                  if re.fullmatch(r"[a-z_]+", c.strip()) and c.strip() not in codes]
    ink = m.get("ink") if isinstance(m.get("ink"), dict) else {}
    brand = m.get("brand_color") if isinstance(m.get("brand_color"), dict) else {}
    rows = []
    for code in codes:
        detail = ""
        if code == "residual_ink" and ink:
            detail = (f"{_figure(ink.get('residual'), '{:.3f}')} of the old ink's contrast "
                      f"left uncovered, {_figure(ink.get('ghost_px'), '{:,}')} ghost px")
        elif code == "added_text" and ink:
            detail = (f"{_figure(ink.get('old_ink'), '{:,}')} px of ink before, "
                      f"{_figure(ink.get('new_ink'), '{:,}')} px after")
        elif code == "off_brand_color" and brand:
            detail = (f"text colour {brand.get('color')} is ΔE "
                      f"{_figure(brand.get('delta_e'), '{:.1f}')} from the nearest brand "
                      f"colour {brand.get('nearest')} (tolerance "
                      f"{_figure(brand.get('tolerance'), '{:.0f}')})")
        rows.append({"code": code, "text": REASON_TEXT.get(code, code.replace("_", " ")),
                     "detail": detail})
    return rows


_META_LABELS = (("icc_profile", "ICC profile"), ("exif", "EXIF"), ("dpi", "DPI"))


def file_record(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The written file's fidelity record (``metrics["asset"]``, refiner.asset) said plainly.

    ``rows``: ``(label, value)``; ``bar``: whether the file meets the bar (nothing outside
    the repair changed, no metadata lost); ``why``: the record's reason or note;
    ``notes``: what the writer had to do (re-encode, lossless WebP) as its own lines.
    """
    a = metrics.get("asset")
    if not isinstance(a, dict):
        return None
    fmt = str(a.get("format") or "?")
    reason = str(a.get("reason") or "")
    changed_from = re.search(r"format changed from (\S+) to (\S+)", reason)
    rows: list[tuple[str, str]] = [
        ("Format", f"{changed_from.group(1)} → {fmt} (not kept)" if changed_from
         else f"{fmt} (kept)"),
    ]
    kept, lost = set(a.get("kept") or []), set(a.get("lost") or [])
    for key, label in _META_LABELS:
        rows.append((label, "kept" if key in kept else "LOST" if key in lost
                     else "none in the original"))
    rewritten = _figure(a.get("changed_pixels"), "{:,}")
    outside = a.get("outside_changed")
    if a.get("lossless", fmt != "JPEG"):
        if outside == 0:
            value = f"identical to the original's ({rewritten} px rewritten)"
        elif isinstance(outside, int) and outside < 0:
            value = "not comparable (the decoded size differs)"
        else:
            value = (f"{_figure(outside, '{:,}')} px outside the repair differ "
                     f"(max {_figure(a.get('outside_max_diff'))})")
        rows.append(("Pixels outside the repair", value))
    else:
        untouched, changed = a.get("blocks_untouched"), a.get("blocks_changed")
        if not changed:
            value = f"all {_figure(untouched, '{:,}')} untouched 8×8 blocks decode identically"
        else:
            value = (f"{_figure(changed, '{:,}')} of {_figure(untouched, '{:,}')} untouched "
                     f"blocks decode differently (max {_figure(a.get('outside_max_diff'))})")
        rows.append(("JPEG blocks (MCUs)", value))
        edge = a.get("blocks_edge_only") or 0
        rows.append(("Blocks differing at their edge only",
                     f"{_figure(edge, '{:,}')} (1 px next to a patched block: subsampled "
                     "chroma is interpolated across it)" if edge else "0"))
    notes = []
    if "re-encoded" in reason:
        notes.append("the file was re-encoded as a whole (no lossless block patching, e.g. "
                     "a progressive JPEG): every block went through the encoder again")
    if "written lossless" in reason:
        notes.append("a lossy WebP was written lossless: the pixels outside the repair are "
                     "kept exactly, the file is larger")
    meets = bool(a.get("meets_bar"))
    return {"rows": rows, "bar": meets, "why": reason or None, "notes": notes,
            "format": fmt}


def _overlay_box(metrics: dict[str, Any]) -> list[int] | None:
    """Where a crop-sized mask / diff sits in the poster (the focus crop's box)."""
    m = _metrics_figures(metrics)
    for key in ("focus_box", "crop_box"):
        value = m.get(key)
        if isinstance(value, list | tuple) and len(value) == 4:
            return [int(v) for v in value]
    focus = m.get("focus")
    if isinstance(focus, dict):
        value = focus.get("box")
        if isinstance(value, list | tuple) and len(value) == 4:
            return [int(v) for v in value]
    return None


def stage_images(r: crud.RepairView) -> dict[str, Any]:
    """What the comparison stage shows.

    With a repaired poster: the original and the repaired poster at full resolution, the
    defect box, and the crop-sized mask / diff placed at the focus crop's box. Without
    one (a failed repair): the focus-crop artifacts ``before`` / ``after``, the box moved
    into crop coordinates, the mask / diff covering the whole crop.
    """
    focus = _overlay_box(r.metrics)
    if r.repaired_key or not ("before" in r.artifacts and "after" in r.artifacts):
        return {"before_key": r.asset_key, "after_key": r.repaired_key or r.asset_key,
                "stage_box": r.box, "overlay_box": focus, "stage_note": None
                if r.repaired_key else "no repaired poster: both sides show the original"}
    box = None
    if r.box and focus:
        box = [r.box[0] - focus[0], r.box[1] - focus[1], r.box[2] - focus[0],
               r.box[3] - focus[1]]
    return {"before_key": r.artifacts["before"], "after_key": r.artifacts["after"],
            "stage_box": box, "overlay_box": None,
            "stage_note": "no repaired poster was kept: showing the focus crop before / after"}


@router.get("/repairs/{repair_id}", response_class=HTMLResponse)
def repair_page(request: Request, repair_id: int, session: SessionDep, settings: SettingsDep,
                user: UserDep) -> HTMLResponse:
    check_id(repair_id, "repair")
    flt = _filter_from(request)
    r = crud.get_repair(session, repair_id=repair_id)
    if r is None:
        raise HTTPException(404, f"repair {repair_id} does not exist")
    qs = _qs(flt.query_params())
    prev_id, next_id = crud.neighbours(session, repair_id=repair_id, flt=flt)
    artifacts = [(name, r.artifacts[name]) for name in ARTIFACT_ORDER if name in r.artifacts]
    artifacts += [(k, v) for k, v in sorted(r.artifacts.items()) if k not in ARTIFACT_ORDER]
    stage = stage_images(r)
    ctx = page_context(
        request, user, r=r, qs=qs, fig=figures_for(r.metrics),
        verdict_reasons=reasons_for(r.metrics, r.reason), file=file_record(r.metrics),
        prev_url=f"/repairs/{prev_id}{qs}" if prev_id else None,
        next_url=f"/repairs/{next_id}{qs}" if next_id else None,
        **stage, mask_key=r.artifacts.get("mask"), diff_key=r.artifacts.get("diff"),
        artifacts=artifacts,
        reviews=crud.list_reviews(session, repair_id=r.id),
        audit=crud.list_audit(session, repair_id=r.id, defect_id=r.defect_id,
                             asset_id=r.asset_id),
        publish_mode=settings.publish_mode,
    )
    return templates.TemplateResponse(request, "repair.html", ctx)


def _back(repair_id: int, back: str) -> RedirectResponse:
    """Back to the repair page, keeping only the queue's own filter parameters."""
    params = {k: v for k, v in parse_qsl(back.lstrip("?"))
              if k in ("status", "brand", "kind", "verdict", "sort", "run")}
    return RedirectResponse(f"/repairs/{repair_id}{_qs(params)}", status_code=303)


def _load(session: SessionDep, repair_id: int) -> crud.RepairView:
    check_id(repair_id, "repair")
    r = crud.get_repair(session, repair_id=repair_id)
    if r is None:
        raise HTTPException(404, f"repair {repair_id} does not exist")
    return r


@router.post("/repairs/{repair_id}/approve", dependencies=[CsrfDep])
def approve(request: Request, repair_id: int, session: SessionDep, settings: SettingsDep,
            store: StoreDep, user: ReviewerDep,
            back: Annotated[str, Form()] = "") -> RedirectResponse:
    r = _load(session, repair_id)
    if r.review_status in ("approved", "published"):
        flash(request, f"Repair {repair_id} is already {r.review_status}.", "error")
        return _back(repair_id, back)
    if r.verdict != "verified":
        flash(request, f"Repair {repair_id} failed verification ({r.reason or 'see figures'}); "
                       "reject it or request a re-run.", "error")
        return _back(repair_id, back)
    try:
        published = publish_repair(settings, store, repaired_key=r.repaired_key,
                                   asset_key=r.asset_key)
    except PosterQAError as exc:
        log.warning("approve of repair %s refused: %s", repair_id, exc)
        flash(request, f"Not approved: {exc}", "error")
        return _back(repair_id, back)
    detail = {"publish_mode": published.mode, "source_key": published.source_key,
              "published_key": published.published_key}
    try:
        crud.record_decision(session, repair_id=repair_id, user=user, decision="approve",
                             expected_status=r.review_status, new_status="published",
                             comment=None, detail=detail)
    except crud.DecisionConflict as exc:
        flash(request, f"Not recorded: {exc}.", "error")
        return _back(repair_id, back)
    crud.add_audit(session, actor=user.username, entity="asset", entity_id=str(r.asset_id),
                   action="publish", detail={"repair_id": repair_id, **detail})
    session.commit()
    where = ("over the original (the bucket keeps the previous version)"
             if published.mode == "overwrite-versioned" else "")
    flash(request, f"Approved and published to {published.published_key} {where}".strip() + ".",
          "ok")
    return _back(repair_id, back)


@router.post("/repairs/{repair_id}/reject", dependencies=[CsrfDep])
def reject(request: Request, repair_id: int, session: SessionDep, user: ReviewerDep,
           comment: Annotated[str, Form()] = "",
           back: Annotated[str, Form()] = "") -> RedirectResponse:
    r = _load(session, repair_id)
    comment = comment.strip()
    if not comment:
        flash(request, "A rejection needs a comment: say what is wrong.", "error")
        return _back(repair_id, back)
    if r.review_status == "published":
        flash(request, f"Repair {repair_id} is already published; it cannot be rejected here.",
              "error")
        return _back(repair_id, back)
    try:
        crud.record_decision(session, repair_id=repair_id, user=user, decision="reject",
                             expected_status=r.review_status, new_status="rejected",
                             comment=comment[:2000], detail={})
    except crud.DecisionConflict as exc:
        flash(request, f"Not recorded: {exc}.", "error")
        return _back(repair_id, back)
    session.commit()
    flash(request, f"Rejected repair {repair_id}.", "ok")
    return _back(repair_id, back)


@router.post("/repairs/{repair_id}/rerun", dependencies=[CsrfDep])
def rerun(request: Request, repair_id: int, session: SessionDep, settings: SettingsDep,
          store: StoreDep, user: ReviewerDep, box: Annotated[str, Form()],
          prompt: Annotated[str, Form()], comment: Annotated[str, Form()] = "",
          back: Annotated[str, Form()] = "") -> RedirectResponse:
    r = _load(session, repair_id)
    prompt = prompt.strip()
    try:
        parsed = Box.parse(box)
        if not prompt:
            raise ValueError("the prompt is empty")
    except (PosterQAError, ValueError) as exc:
        flash(request, f"Re-run not requested: {exc}", "error")
        return _back(repair_id, back)
    if r.review_status == "published":
        flash(request, f"Repair {repair_id} is already published.", "error")
        return _back(repair_id, back)
    # the box must lie on the poster: nothing is started or written otherwise
    if store is None:
        flash(request, "Re-run not requested: no object store is connected to the dashboard, "
                       "so the box cannot be checked against the poster.", "error")
        return _back(repair_id, back)
    try:
        check_box_inside(parsed, poster_size(store, r.asset_key), key=r.asset_key)
    except PosterQAError as exc:
        log.info("re-run of repair %s refused: %s", repair_id, exc)
        flash(request, f"Re-run not requested: {exc}", "error")
        return _back(repair_id, back)
    try:
        flow_run_id = start_rerun(settings, asset_key=r.asset_key, boxes=[parsed], prompt=prompt)
    except PosterQAError as exc:
        log.warning("re-run of repair %s failed to start: %s", repair_id, exc)
        flash(request, f"Re-run could not be started: {exc}", "error")
        return _back(repair_id, back)
    detail = {"box": parsed.as_list(), "prompt": prompt, "asset_key": r.asset_key,
              "flow_run_id": flow_run_id}
    try:
        crud.record_decision(session, repair_id=repair_id, user=user, decision="rerun",
                             expected_status=r.review_status, new_status="rejected",
                             comment=comment.strip()[:2000] or None, detail=detail)
    except crud.DecisionConflict as exc:
        flash(request, f"Re-run {flow_run_id or ''} started, but not recorded: {exc}.", "error")
        return _back(repair_id, back)
    session.commit()
    if flow_run_id:
        flash(request, f"Re-run requested: flow run {flow_run_id}.", "ok")
    else:
        flash(request, "Re-run requested (recorded; the flow trigger is not available here).",
              "ok")
    return _back(repair_id, back)
