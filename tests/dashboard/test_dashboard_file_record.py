"""The repair page says what the written file kept (``metrics["asset"]``, refiner.asset)
and why a verdict failed (``residual_ink``, ``added_text``), in Debian's Chromium against
the app on 127.0.0.1. The file records are real ones: refiner.asset writes the repaired
poster into a baseline 4:2:0 JPEG, a progressive JPEG and a PNG."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from dash_support import DashEnv, damage, make_poster, sign_in
from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from refiner.asset import write_repaired
from storage.models import Repair

pytestmark = pytest.mark.browser


@contextmanager
def repair_recorded_as(env: DashEnv, repair_id: int, *, verdict: str,
                       reasons: list[str], **extra: Any) -> Iterator[None]:
    """The repair's verdict and metrics replaced for the test, put back afterwards."""
    with Session(env.engine) as s:
        row = s.get(Repair, repair_id)
        saved = (row.verdict, row.reason, dict(row.metrics or {}))
        row.verdict, row.reason = verdict, ", ".join(reasons) or None
        row.metrics = {**saved[2], "verdict": verdict, "reasons": reasons, **extra}
        s.commit()
    try:
        yield
    finally:
        with Session(env.engine) as s:
            row = s.get(Repair, repair_id)
            row.verdict, row.reason, row.metrics = saved
            s.commit()


def jpeg_record(**save: Any) -> dict[str, Any]:
    """The fidelity record of repairing the defect bar in a JPEG poster saved with ``save``."""
    buf = io.BytesIO()
    Image.fromarray(damage(make_poster(2))).save(buf, format="JPEG", quality=90, **save)
    source = buf.getvalue()
    from posterqa.imaging import load_image

    before = load_image(source, name="poster.jpg")
    after = before.copy()
    clean = make_poster(2)
    after[240:258, 50:310] = clean[240:258, 50:310]
    return write_repaired(source, after, name="poster.jpg").fidelity.to_json()


def test_png_record_meets_the_bar_and_residual_ink_is_said(page: Page, live_url: str,
                                                           dash_env: DashEnv) -> None:
    sign_in(page, live_url, f"/repairs/{dash_env.repair_ids[0]}")
    expect(page.locator("#file-bar")).to_have_class(re.compile(r"\bbar-ok\b"))
    expect(page.locator("#file-bar")).to_contain_text("Meets the bar")
    record = page.locator("#file-record")
    expect(record).to_contain_text("PNG (kept)")
    expect(record).to_contain_text("identical to the original's")
    expect(page.locator("#verdict-reasons")).to_have_count(0)
    # the seeded failed repair: old ink left, no file written
    page.goto(f"{live_url}/repairs/{dash_env.repair_ids[5]}")
    ink = page.locator("#verdict-reasons li[data-reason=residual_ink]")
    expect(ink).to_contain_text("old ink is left in the region")
    expect(ink).to_contain_text("0.071 of the old ink's contrast left uncovered, 412 ghost px")
    expect(page.locator("#file-bar")).to_contain_text("No file record: the repair failed")


def test_jpeg_records_say_blocks_edge_and_reencode(page: Page, live_url: str,
                                                   dash_env: DashEnv,
                                                   artifacts_dir: Path) -> None:
    baseline = jpeg_record(subsampling=2)  # 4:2:0
    progressive = jpeg_record(subsampling=2, progressive=True)
    assert baseline["meets_bar"] and baseline["blocks_edge_only"] > 0
    assert not progressive["meets_bar"] and "re-encoded" in progressive["reason"]
    rid_base, rid_prog = dash_env.repair_ids[2], dash_env.repair_ids[3]
    with repair_recorded_as(dash_env, rid_base, verdict="verified", reasons=[],
                            asset=baseline):
        sign_in(page, live_url, f"/repairs/{rid_base}")
        expect(page.locator("#file-bar")).to_contain_text("Meets the bar")
        record = page.locator("#file-record")
        expect(record).to_contain_text("JPEG (kept)")
        expect(record).to_contain_text(
            f"all {baseline['blocks_untouched']:,} untouched 8×8 blocks decode identically")
        expect(record.locator("dt", has_text="edge only")).to_have_count(1)
        expect(record).to_contain_text(f"{baseline['blocks_edge_only']:,} (1 px next to a "
                                       "patched block")
    with repair_recorded_as(dash_env, rid_prog, verdict="verified", reasons=[],
                            asset=progressive):
        page.goto(f"{live_url}/repairs/{rid_prog}")
        bar = page.locator("#file-bar")
        expect(bar).to_have_class(re.compile(r"\bbar-miss\b"))
        expect(bar).to_contain_text("Does not meet the bar for JPEG")
        expect(bar).to_contain_text("untouched JPEG MCUs decode differently")
        expect(page.locator("#file-notes")).to_contain_text("re-encoded as a whole")
        page.locator("#file-record").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "dashboard-file-record.png"), full_page=True)


def test_added_text_is_not_a_fix(page: Page, live_url: str, dash_env: DashEnv) -> None:
    rid = dash_env.repair_ids[4]
    ink = {"old_ink": 4, "new_ink": 1500, "uncovered": 0, "residual": 0.0, "ghost_px": 0}
    with repair_recorded_as(dash_env, rid, verdict="failed", reasons=["added_text"], ink=ink):
        sign_in(page, live_url, f"/repairs/{rid}")
        row = page.locator("#verdict-reasons li[data-reason=added_text]")
        expect(row).to_contain_text("added text: the region held no text")
        expect(row).to_contain_text("4 px of ink before, 1,500 px after")
        expect(page.locator("h1 .v-failed")).to_have_text("failed")


def test_off_brand_colour_is_said_with_its_figures(page: Page, live_url: str,
                                                  dash_env: DashEnv) -> None:
    rid = dash_env.repair_ids[1]
    brand = {"color": "#2a7f3b", "nearest": "#000000", "delta_e": 48.31, "tolerance": 12.0,
             "ok": False}
    with repair_recorded_as(dash_env, rid, verdict="failed", reasons=["off_brand_color"],
                            brand_color=brand):
        sign_in(page, live_url, f"/repairs/{rid}")
        row = page.locator("#verdict-reasons li[data-reason=off_brand_color]")
        expect(row).to_contain_text("not one of the brand's colours")
        expect(row).to_contain_text("text colour #2a7f3b is ΔE 48.3 from the nearest brand "
                                    "colour #000000 (tolerance 12)")
        expect(page.locator("#fig-brand-color")).to_have_text(
            "OFF BRAND: #2a7f3b, ΔE 48.3 from #000000 (tolerance 12)")
        expect(page.locator("#fig-ink")).to_contain_text("0.012 of the old ink's contrast")
