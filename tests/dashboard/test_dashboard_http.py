"""The dashboard over HTTP (in-process client) against a real SQLite DB and SeaweedFS."""

from __future__ import annotations

import re
from typing import Any

import pytest
from dash_support import READONLY, REVIEWER, DashEnv
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard import crud
from posterqa.errors import ConfigError
from storage.models import AuditEvent, Repair, Review

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def token_of(html: str) -> str:
    match = TOKEN_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client: TestClient, user: tuple[str, str]) -> str:
    """Sign in; returns the session's CSRF token."""
    token = token_of(client.get("/login").text)
    resp = client.post("/login", data={"username": user[0], "password": user[1],
                                       "csrf_token": token, "next": "/queue"},
                       follow_redirects=False)
    assert resp.status_code == 303, resp.text
    return token_of(client.get("/queue").text)


@pytest.fixture
def client(dash_app: Any) -> TestClient:
    return TestClient(dash_app)


@pytest.fixture
def reviewer(client: TestClient) -> tuple[TestClient, str]:
    return client, login(client, REVIEWER)


def status_of(env: DashEnv, repair_id: int) -> str:
    with Session(env.engine) as s:
        return s.get(Repair, repair_id).review_status


def audit_actions(env: DashEnv, repair_id: int) -> list[str]:
    with Session(env.engine) as s:
        return list(s.scalars(select(AuditEvent.action).where(
            AuditEvent.entity == "repair", AuditEvent.entity_id == str(repair_id),
        ).order_by(AuditEvent.id)))


def test_unauthenticated_requests_redirect_to_login(client: TestClient,
                                                    dash_env: DashEnv) -> None:
    for path in ("/queue", "/runs", f"/repairs/{dash_env.repair_ids[0]}",
                 f"/img/{dash_env.asset_keys[0]}"):
        resp = client.get(path, follow_redirects=False)
        assert resp.status_code == 303, path
        assert resp.headers["location"].startswith("/login?next=")


def test_wrong_password_does_not_sign_in(client: TestClient) -> None:
    token = token_of(client.get("/login").text)
    resp = client.post("/login", data={"username": REVIEWER[0], "password": "wrong-password",
                                       "csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 401
    assert "wrong password" in resp.text
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_login_form_without_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    resp = client.post("/login", data={"username": REVIEWER[0], "password": REVIEWER[1]},
                       follow_redirects=False)
    assert resp.status_code == 403


def test_queue_lists_and_filters_repairs(reviewer: tuple[TestClient, str],
                                         dash_env: DashEnv) -> None:
    client, _ = reviewer
    html = client.get("/queue").text
    assert html.count('class="row"') == len(dash_env.repair_ids)
    acme = client.get("/queue", params={"brand": "acme"}).text
    assert acme.count('class="row"') == 4 and "globex" not in acme.split("<tbody>")[1]
    failed = client.get("/queue", params={"verdict": "failed"}).text
    assert failed.count('class="row"') == 1
    assert f"/repairs/{dash_env.repair_ids[5]}" in failed
    logo = client.get("/queue", params={"kind": "logo"}).text
    assert "No repairs match" in logo
    # unknown filter values are ignored, not errors
    assert client.get("/queue", params={"status": "bogus", "sort": "x"}).status_code == 200


def test_queue_pages_and_bounded_count(dash_env: DashEnv) -> None:
    with Session(dash_env.engine) as s:
        flt = crud.QueueFilter.parse(status=None, brand=None, kind=None, verdict=None,
                                     sort="oldest", run=None)
        first = crud.list_queue(s, flt=flt, page=1, page_size=3)
        third = crud.list_queue(s, flt=flt, page=3, page_size=3)
    assert [r.id for r in first.rows] == dash_env.repair_ids[:3]
    assert first.has_next and first.total == len(dash_env.repair_ids)
    assert [r.id for r in third.rows] == dash_env.repair_ids[6:8]
    assert not third.has_next and (third.first, third.last) == (7, 8)


def test_repair_page_shows_figures_and_neighbours(reviewer: tuple[TestClient, str],
                                                  dash_env: DashEnv) -> None:
    client, _ = reviewer
    rid = dash_env.repair_ids[1]
    html = client.get(f"/repairs/{rid}", params={"sort": "oldest"}).text
    assert "SALE 1 % OFF" in html and "SA1E 1 # 0FF" in html
    assert 'id="fig-ssim">1.00000<' in html
    assert 'id="fig-bg-changed">0<' in html
    assert "matches, read &#39;SALE 1 % OFF&#39;, score 0.987" in html
    assert 'id="fig-backend">compositor<' in html and 'id="fig-seed">1235<' in html
    assert f'/repairs/{dash_env.repair_ids[0]}?sort=oldest" id="prev-link"' in html
    assert f'/repairs/{dash_env.repair_ids[2]}?sort=oldest" id="next-link"' in html
    assert f"/img/{dash_env.asset_keys[1]}" in html
    assert 'data-overlay-box="20,210,340,288"' in html
    assert client.get("/repairs/999999").status_code == 404


def test_runs_page_lists_the_run(reviewer: tuple[TestClient, str]) -> None:
    client, _ = reviewer
    html = client.get("/runs").text
    assert "sweep" in html and ">8</a>" in html  # 8 repairs link to the filtered queue
    # posters scanned and defects found come from the counts the flows write
    cells = re.findall(r'<td class="num">(\d*)</td>', html)
    assert cells[:2] == ["11", "8"], cells


def test_approve_publishes_to_the_prefix_and_audits(reviewer: tuple[TestClient, str],
                                                    dash_env: DashEnv) -> None:
    client, token = reviewer
    rid, key = dash_env.repair_ids[2], dash_env.asset_keys[2]
    published = key.replace("posters/", "published/", 1)
    assert not dash_env.store.exists(published)
    resp = client.post(f"/repairs/{rid}/approve", data={"csrf_token": token},
                       follow_redirects=False)
    assert resp.status_code == 303
    assert status_of(dash_env, rid) == "published"
    assert dash_env.store.get_bytes(published) == dash_env.store.get_bytes(
        key.replace("posters/", "repaired/", 1))
    assert audit_actions(dash_env, rid)[-1] == "approve"
    with Session(dash_env.engine) as s:
        review = s.scalars(select(Review).where(Review.repair_id == rid)).one()
        assert (review.decision, review.reviewer) == ("approve", REVIEWER[0])
    page = client.get(resp.headers["location"]).text
    assert f"Approved and published to {published}" in page
    # a second approval is refused and writes nothing
    client.post(f"/repairs/{rid}/approve", data={"csrf_token": token})
    assert audit_actions(dash_env, rid).count("approve") == 1


def test_approving_a_failed_verification_is_refused(reviewer: tuple[TestClient, str],
                                                    dash_env: DashEnv) -> None:
    client, token = reviewer
    rid = dash_env.repair_ids[5]
    page = client.post(f"/repairs/{rid}/approve", data={"csrf_token": token}).text
    assert "failed verification" in page
    # no repaired poster: the stage compares the focus-crop artifacts instead
    assert "showing the focus crop" in page
    assert 'id="img-before" src="/img/artifacts/5/5/1/before.png"' in page
    assert 'data-box="30,30,290,48"' in page
    assert status_of(dash_env, rid) == "pending"
    assert "approve" not in audit_actions(dash_env, rid)


@pytest.mark.parametrize("data", [{}, {"csrf_token": "forged-token"}])
def test_decision_without_the_session_csrf_token_is_refused(
        reviewer: tuple[TestClient, str], dash_env: DashEnv, data: dict[str, str]) -> None:
    client, _ = reviewer
    rid = dash_env.repair_ids[3]
    for action in ("approve", "reject", "rerun"):
        resp = client.post(f"/repairs/{rid}/{action}", data={**data, "comment": "x",
                                                             "box": "1,1,5,5", "prompt": "p"})
        assert resp.status_code == 403
        assert "CSRF" in resp.text
    assert status_of(dash_env, rid) == "pending"


def test_readonly_user_cannot_decide(client: TestClient, dash_env: DashEnv) -> None:
    token = login(client, READONLY)
    rid = dash_env.repair_ids[3]
    page = client.get(f"/repairs/{rid}").text
    assert "read-only" in page and 'id="approve-form"' not in page
    resp = client.post(f"/repairs/{rid}/approve", data={"csrf_token": token})
    assert resp.status_code == 403
    assert status_of(dash_env, rid) == "pending"


def test_reject_needs_a_comment_and_records_it(reviewer: tuple[TestClient, str],
                                               dash_env: DashEnv) -> None:
    client, token = reviewer
    rid = dash_env.repair_ids[3]
    page = client.post(f"/repairs/{rid}/reject", data={"csrf_token": token, "comment": " "}).text
    assert "needs a comment" in page and status_of(dash_env, rid) == "pending"
    client.post(f"/repairs/{rid}/reject", data={"csrf_token": token,
                                                "comment": "glyphs still broken"})
    assert status_of(dash_env, rid) == "rejected"
    with Session(dash_env.engine) as s:
        event = s.scalars(select(AuditEvent).where(
            AuditEvent.entity_id == str(rid), AuditEvent.action == "reject")).one()
        assert event.detail["comment"] == "glyphs still broken"
        assert (event.detail["from"], event.detail["to"]) == ("pending", "rejected")


def test_rerun_calls_the_flow_trigger_with_the_edited_box(
        reviewer: tuple[TestClient, str], dash_env: DashEnv,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The real trigger starts the whole repair-asset flow (Prefect, OCR, refiner): it is
    # exercised by the flow tests; here it is recorded.
    calls: list[dict[str, Any]] = []

    def fake_start(settings: Any, *, asset_key: str, boxes: Any, prompt: str) -> str:
        calls.append({"asset_key": asset_key, "boxes": [b.as_list() for b in boxes],
                      "prompt": prompt})
        return "flow-run-42"

    monkeypatch.setattr("dashboard.routes.repairs.start_rerun", fake_start)
    client, token = reviewer
    rid = dash_env.repair_ids[4]
    page = client.post(f"/repairs/{rid}/rerun", data={
        "csrf_token": token, "box": "10, 20, 110, 60", "prompt": "refine the text 'SALE'"}).text
    assert "flow run flow-run-42" in page
    assert calls == [{"asset_key": dash_env.asset_keys[4], "boxes": [[10, 20, 110, 60]],
                      "prompt": "refine the text 'SALE'"}]
    with Session(dash_env.engine) as s:
        event = s.scalars(select(AuditEvent).where(
            AuditEvent.entity_id == str(rid), AuditEvent.action == "rerun")).one()
    assert event.detail["flow_run_id"] == "flow-run-42"
    assert event.detail["box"] == [10, 20, 110, 60]
    bad = client.post(f"/repairs/{rid}/rerun", data={
        "csrf_token": token, "box": "10,20,5,60", "prompt": "p"}).text
    assert "Re-run not requested" in bad and len(calls) == 1


def test_images_are_served_with_etag_and_validated_keys(
        reviewer: tuple[TestClient, str], dash_env: DashEnv) -> None:
    client, _ = reviewer
    key = dash_env.asset_keys[0]
    resp = client.get(f"/img/{key}")
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
    assert resp.content == dash_env.store.get_bytes(key)
    assert "private" in resp.headers["cache-control"]
    again = client.get(f"/img/{key}", headers={"If-None-Match": resp.headers["etag"]})
    assert again.status_code == 304 and not again.content
    assert client.get("/img/posters/acme/nope.png").status_code == 404
    assert client.get("/img/brands/acme/brand.json").status_code == 400
    for raw in ("/img/posters/%2E%2E/%2E%2E/etc/passwd", "/img/posters/acme/..%2F..%2Fx.png",
                "/img/%2Fetc/passwd"):
        assert client.get(raw).status_code == 400, raw


def test_overwrite_mode_refuses_without_versioning_then_keeps_the_original_version(
        dash_env: DashEnv) -> None:
    from dashboard.publish import PublishError, publish_repair
    from storage.store import AssetStore

    settings = dash_env.settings.model_copy(update={"publish_mode": "overwrite-versioned",
                                                    "bucket": "versioned-test"})
    store = AssetStore.connect(endpoint=dash_env.store.endpoint, bucket="versioned-test",
                               access_key=settings.s3_access_key,
                               secret_key=settings.s3_secret_key)
    store.ensure_bucket()
    store.put_bytes("posters/a/p.png", b"original", content_type="image/png")
    store.put_bytes("repaired/a/p.png", b"repaired", content_type="image/png")
    with pytest.raises(PublishError, match="no versioning enabled"):
        publish_repair(settings, store, repaired_key="repaired/a/p.png",
                       asset_key="posters/a/p.png")
    assert store.get_bytes("posters/a/p.png") == b"original"
    store.client.put_bucket_versioning(Bucket="versioned-test",
                                       VersioningConfiguration={"Status": "Enabled"})
    done = publish_repair(settings, store, repaired_key="repaired/a/p.png",
                          asset_key="posters/a/p.png")
    assert done.published_key == "posters/a/p.png"
    assert store.get_bytes("posters/a/p.png") == b"repaired"
    versions = store.client.list_object_versions(Bucket="versioned-test",
                                                 Prefix="posters/a/p.png")["Versions"]
    assert len(versions) == 2


def test_app_refuses_a_placeholder_secret(dash_env: DashEnv) -> None:
    from dashboard.app import create_app

    settings = dash_env.settings.model_copy(update={"dashboard_secret_key": "changeme"})
    with pytest.raises(ConfigError, match="placeholder"):
        create_app(settings, engine=dash_env.engine)


def test_concurrent_requests_never_wait_past_a_tiny_connection_pool(dash_env: DashEnv) -> None:
    """More simultaneous page loads than pooled connections: all are served, none 500s."""
    import asyncio

    import httpx
    from sqlalchemy import create_engine

    from dashboard.app import create_app

    engine = create_engine(dash_env.settings.db_url, pool_size=1, max_overflow=0,
                           pool_timeout=0.05, connect_args={"check_same_thread": False})
    app = create_app(dash_env.settings, engine=engine, store=dash_env.store)

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            token = token_of((await client.get("/login")).text)
            await client.post("/login", data={"username": REVIEWER[0], "password": REVIEWER[1],
                                              "csrf_token": token})
            pages = await asyncio.gather(*(client.get("/queue") for _ in range(24)))
            return [p.status_code for p in pages]

    # a thread of its own: Playwright's sync API may already run a loop in this one
    from concurrent.futures import ThreadPoolExecutor

    try:
        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(lambda: asyncio.run(run())).result() == [200] * 24
    finally:
        engine.dispose()


def test_runs_link_to_the_prefect_flow_run_when_a_ui_url_is_known(dash_env: DashEnv) -> None:
    from dash_support import FLOW_RUN_ID

    with Session(dash_env.engine) as s:
        [run] = crud.list_runs(s, prefect_ui_url="http://127.0.0.1:4200/")
        [bare] = crud.list_runs(s)
    assert run.prefect_url == f"http://127.0.0.1:4200/runs/flow-run/{FLOW_RUN_ID}"
    assert bare.prefect_url is None and bare.flow_run_id == FLOW_RUN_ID
    assert (run.repairs, run.failed, run.counts["posters_scanned"]) == (8, 1, 11)
