"""The review loop in Debian's Chromium (headless, pytest-playwright) against the app on
127.0.0.1, a real SQLite DB and SeaweedFS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dash_support import REVIEWER, DashEnv
from dash_support import sign_in as dash_sign_in
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, Repair

pytestmark = pytest.mark.browser


def sign_in(page: Page, live_url: str, path: str = "/queue") -> None:
    dash_sign_in(page, live_url, path)
    js_ready(page)


def js_ready(page: Page) -> None:
    """Wait until review.js has bound the keyboard shortcuts."""
    expect(page.locator("body")).to_have_attribute("data-js", "ready")


def db_status(env: DashEnv, repair_id: int) -> str:
    with Session(env.engine) as s:
        return s.get(Repair, repair_id).review_status


def test_review_loop_approve_with_the_keyboard(page: Page, live_url: str, dash_env: DashEnv,
                                               artifacts_dir: Path) -> None:
    newest = dash_env.repair_ids[-1]
    sign_in(page, live_url)
    expect(page.locator("#queue tr.row")).to_have_count(len(dash_env.repair_ids))
    page.keyboard.press("j")
    expect(page.locator("#queue tr.row.selected")).to_have_count(1)
    page.screenshot(path=str(artifacts_dir / "dashboard-queue.png"), full_page=True)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/repairs/{newest}$"))
    js_ready(page)
    expect(page.locator("#review-status")).to_have_text("pending")
    expect(page.locator("#stage")).to_have_attribute("data-ready", "1")
    # the comparison: both full-resolution posters decoded, the after layer clipped
    page.wait_for_function("""() => ['img-before', 'img-after'].every(
        (id) => document.getElementById(id).complete)""")
    sizes = page.evaluate("""() => [document.getElementById('img-before').naturalWidth,
                                    document.getElementById('img-after').naturalWidth]""")
    assert sizes == [360, 360]
    page.keyboard.press("m")  # mask overlay on
    expect(page.locator("#layer-mask")).to_be_visible()
    page.fill("#slider", "35")
    page.screenshot(path=str(artifacts_dir / "dashboard-repair-page.png"), full_page=True)

    page.keyboard.press("a")
    expect(page.locator("#review-status")).to_have_text("published")
    js_ready(page)
    expect(page.locator(".flash")).to_contain_text("Approved and published")
    expect(page.locator("#audit tr", has_text=REVIEWER[0]).locator("td.action")).to_have_text(
        ["publish", "approve"])
    expect(page.locator("#reviews")).to_contain_text(f"approve by {REVIEWER[0]}")
    assert db_status(dash_env, newest) == "published"
    # j moves on to the next repair in the queue
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(rf"/repairs/{dash_env.repair_ids[-2]}$"))


def test_reject_with_a_comment(page: Page, live_url: str, dash_env: DashEnv) -> None:
    rid = dash_env.repair_ids[6]
    sign_in(page, live_url, f"/repairs/{rid}")
    page.keyboard.press("r")
    expect(page.locator("#reject-comment")).to_be_focused()
    page.keyboard.type("logo colour is off")
    page.keyboard.press("Enter")
    expect(page.locator("#review-status")).to_have_text("rejected")
    expect(page.locator("#reviews")).to_contain_text("logo colour is off")
    expect(page.locator("#audit td.action").first).to_have_text("reject")
    assert db_status(dash_env, rid) == "rejected"


def test_forged_post_without_csrf_token_is_refused(page: Page, live_url: str,
                                                   dash_env: DashEnv) -> None:
    rid = dash_env.repair_ids[0]
    sign_in(page, live_url, f"/repairs/{rid}")
    # a form built by another page's script: same cookies, no token
    page.evaluate(f"""() => {{
        const f = document.createElement('form');
        f.method = 'post'; f.action = '/repairs/{rid}/approve';
        document.body.appendChild(f); f.submit();
    }}""")
    expect(page.locator("h1")).to_have_text("403")
    expect(page.locator(".error-message")).to_contain_text("CSRF")
    status = page.evaluate(f"""async () => (await fetch('/repairs/{rid}/reject', {{
        method: 'POST', headers: {{'Content-Type': 'application/x-www-form-urlencoded'}},
        body: 'comment=forged&csrf_token=not-the-token'}})).status""")
    assert status == 403
    assert db_status(dash_env, rid) == "pending"
    with Session(dash_env.engine) as s:
        assert s.scalars(select(AuditEvent).where(AuditEvent.entity_id == str(rid),
                                                  AuditEvent.entity == "repair")).first() is None


def test_traversal_in_image_key_is_refused(page: Page, live_url: str,
                                           dash_env: DashEnv) -> None:
    sign_in(page, live_url)
    ok = page.request.get(f"{live_url}/img/{dash_env.asset_keys[0]}")
    assert ok.status == 200 and ok.headers["content-type"] == "image/png"
    # '..' with encoded slashes reaches the app as one key: refused
    for raw in ("/img/posters/..%2F..%2Fstate", "/img/repaired/acme/..%2F..%2Fbrands%2Fb.json",
                "/img/posters/acme/..%5C..%5Cx.png"):
        assert page.request.get(live_url + raw).status == 400, raw
    # plain '../' segments are resolved by the client before sending: never an image
    resp = page.request.get(live_url + "/img/posters/%2E%2E/%2E%2E/etc/passwd")
    assert resp.status == 404 and "/img/" not in resp.url


def test_unauthenticated_visit_returns_to_the_page_after_login(page: Page, live_url: str,
                                                               dash_env: DashEnv) -> None:
    sign_in(page, live_url, f"/repairs/{dash_env.repair_ids[1]}")
    expect(page.locator("h1")).to_contain_text(f"Repair #{dash_env.repair_ids[1]}")


def test_sign_out_ends_the_session_for_a_copied_cookie(page: Page, browser: Browser,
                                                       live_url: str) -> None:
    sign_in(page, live_url)
    copied = page.context.cookies()
    assert [c["name"] for c in copied] == ["posterqa_session"]
    assert copied[0]["httpOnly"] and not copied[0]["secure"]
    page.click("header .who button[type=submit]")  # "Sign out"
    expect(page).to_have_url(re.compile(r"/login$"))
    # another browser holding the cookie from before the sign-out gets nowhere
    other = browser.new_context()
    try:
        other.add_cookies(copied)
        replay = other.new_page()
        replay.goto(live_url + "/queue")
        expect(replay).to_have_url(re.compile(r"/login\?next=%2Fqueue$"))
        expect(replay.locator("h1")).to_have_text("Sign in")
    finally:
        other.close()
