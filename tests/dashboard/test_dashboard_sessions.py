"""Sessions end when they should (logout, ``users disable``, password change), sign-ins
are throttled, the cookie can be Secure, huge ids / pages are 404 / 400, re-run boxes
are checked against the poster.

Everything goes over real HTTP: httpx against the app served by uvicorn on 127.0.0.1
(the second client address, 127.0.0.2, is a real loopback source address). The
throttling tests get a database of their own, so their lockouts touch no other test.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from dash_support import POSTER_H, POSTER_W, READONLY, REVIEWER, DashEnv, add_user, serve
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dashboard.app import create_app
from posterqa.settings import Settings
from storage.db import make_engine, upgrade
from storage.models import (
    AuditEvent,
    Defect,
    LoginFailure,
    Review,
    User,
    UserSession,
    utcnow,
)

ROOT = Path(__file__).resolve().parents[2]
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
COOKIE = "posterqa_session"
OTHER = ("otto", "otto-password-1")


def token_of(html: str) -> str:
    match = TOKEN_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def client_for(url: str, address: str = "127.0.0.1") -> httpx.Client:
    """An HTTP client connecting from ``address`` (any 127.x.y.z is a real source)."""
    return httpx.Client(base_url=url, follow_redirects=False, timeout=30,
                        transport=httpx.HTTPTransport(local_address=address))


def try_login(client: httpx.Client, user: tuple[str, str]) -> httpx.Response:
    token = token_of(client.get("/login").text)
    return client.post("/login", data={"username": user[0], "password": user[1],
                                       "csrf_token": token, "next": "/queue"})


def login(client: httpx.Client, user: tuple[str, str]) -> str:
    """Sign in; returns the CSRF token of the signed-in session."""
    resp = try_login(client, user)
    assert resp.status_code == 303, resp.text
    page = client.get("/queue")
    assert page.status_code == 200
    return token_of(page.text)


def signed_in(url: str, cookie: str) -> bool:
    """Does this exact cookie (replayed by a fresh client) still open the queue?"""
    with client_for(url) as fresh:
        fresh.cookies.set(COOKIE, cookie)
        resp = fresh.get("/queue")
    if resp.status_code == 303:
        assert resp.headers["location"].startswith("/login")
        return False
    assert resp.status_code == 200, resp.status_code
    return True


def audit(engine: Any, action: str) -> list[AuditEvent]:
    with Session(engine) as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.id)))


def cli(env_db_url: str, tmp_path: Path, *args: str, stdin: str = "") -> str:
    """``python -m flows.cli ARGS`` as a user runs it, against the given database."""
    env = {**os.environ, "POSTERQA_DB_URL": env_db_url,
           "POSTERQA_STATE_DIR": str(tmp_path / "cli-state")}
    proc = subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


# ------------------------------------------------------------------ fixtures


@dataclass
class Fresh:
    url: str  # the served app
    settings: Settings
    engine: Any


@pytest.fixture
def fresh(tmp_path: Path, dash_env: DashEnv) -> Iterator[Callable[..., Fresh]]:
    """``fresh(db_url=None, **settings)``: a new database (SQLite by default) with the
    users rita and otto, and the app on it served by uvicorn."""
    stack: list[Any] = []

    def make(db_url: str | None = None, **overrides: Any) -> Fresh:
        url = db_url or f"sqlite:///{tmp_path / f'fresh-{len(stack)}.db'}"
        upgrade(url)
        engine = make_engine(url)
        add_user(engine, *REVIEWER, "reviewer")
        add_user(engine, *OTHER, "readonly")
        settings = Settings(**{**dash_env.settings.model_dump(), "db_url": url, **overrides})
        app = create_app(settings, engine=engine, store=dash_env.store)
        server = serve(app)
        base = server.__enter__()
        stack.append((server, engine))
        return Fresh(url=base, settings=settings, engine=engine)

    yield make
    for server, engine in reversed(stack):
        server.__exit__(None, None, None)
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request: pytest.FixtureRequest) -> str | None:
    """None (the fixture's SQLite file) or a fresh PostgreSQL database."""
    return None if request.param == "sqlite" else request.getfixturevalue("pg_url")


def new_user(env: DashEnv, name: str, role: str = "reviewer") -> tuple[str, str]:
    user = (f"{name}-{time.monotonic_ns() % 10**9}", f"{name}-password-1")
    add_user(env.engine, *user, role)
    return user


# ------------------------------------------------------------------ sessions end


def test_logout_revokes_the_session_so_a_replayed_cookie_is_refused(
        live_url: str, dash_env: DashEnv) -> None:
    user = new_user(dash_env, "lou")
    with client_for(live_url) as client:
        token = login(client, user)
        cookie = client.cookies[COOKIE]
        assert signed_in(live_url, cookie)
        resp = client.post("/logout", data={"csrf_token": token})
        assert resp.status_code == 303 and resp.headers["location"] == "/login"
    assert not signed_in(live_url, cookie)  # the exact cookie, replayed
    with Session(dash_env.engine) as s:
        row = s.scalars(select(UserSession).join(User).where(User.username == user[0])).one()
        assert row.revoked_reason == "logout" and row.revoked_at is not None
    assert [e.detail for e in audit(dash_env.engine, "logout")
            if e.actor == user[0]] == [{}]


def test_users_disable_on_the_cli_ends_live_sessions_and_refuses_sign_in(
        live_url: str, dash_env: DashEnv, tmp_path: Path) -> None:
    user = new_user(dash_env, "dina")
    db_url = dash_env.settings.db_url
    with client_for(live_url) as one, client_for(live_url) as two:
        login(one, user)
        login(two, user)
        cookies = [one.cookies[COOKIE], two.cookies[COOKIE]]
    assert all(signed_in(live_url, c) for c in cookies)

    out = cli(db_url, tmp_path, "users", "disable", user[0])
    assert f"disabled user {user[0]!r}; ended 2 session(s)" in out
    assert not any(signed_in(live_url, c) for c in cookies)
    listed = cli(db_url, tmp_path, "users", "list")
    assert f"{user[0]}\treviewer\tdisabled\t0 session(s)" in listed.splitlines()
    with client_for(live_url) as client:
        refused = try_login(client, user)
        assert refused.status_code == 403 and "disabled" in refused.text
        assert client.get("/queue").status_code == 303

    assert "enabled user" in cli(db_url, tmp_path, "users", "enable", user[0])
    assert not any(signed_in(live_url, c) for c in cookies)  # old sessions stay ended
    with client_for(live_url) as client:
        login(client, user)
    actions = [e.action for e in audit(dash_env.engine, "disable_user")
               + audit(dash_env.engine, "enable_user") if e.detail["username"] == user[0]]
    assert actions == ["disable_user", "enable_user"]


def test_password_change_on_the_cli_ends_sessions_and_the_old_password(
        live_url: str, dash_env: DashEnv, tmp_path: Path) -> None:
    user = new_user(dash_env, "pat")
    with client_for(live_url) as client:
        login(client, user)
        cookie = client.cookies[COOKIE]
    out = cli(dash_env.settings.db_url, tmp_path, "users", "passwd", user[0],
              "--password-stdin", stdin="pat-new-password-2\n")
    assert "ended 1 session(s)" in out
    assert not signed_in(live_url, cookie)
    with client_for(live_url) as client:
        assert try_login(client, user).status_code == 401
        login(client, (user[0], "pat-new-password-2"))
    with Session(dash_env.engine) as s:
        assert s.scalars(select(User).where(User.username == user[0])).one() \
            .password_changed_at is not None


def test_session_ends_when_the_password_hash_changes_or_the_session_expires(
        live_url: str, dash_env: DashEnv) -> None:
    """Without any revocation: the per-request check of the user and the row."""
    from dashboard.auth import hash_password

    user = new_user(dash_env, "hank")
    with client_for(live_url) as one, client_for(live_url) as two:
        login(one, user)
        login(two, user)
        first, second = one.cookies[COOKIE], two.cookies[COOKIE]
    with Session(dash_env.engine) as s:
        uid = s.scalar(select(User.id).where(User.username == user[0]))
        [older, _] = s.scalars(select(UserSession.id).where(UserSession.user_id == uid)
                               .order_by(UserSession.id)).all()
        s.execute(update(UserSession).where(UserSession.id == older)
                  .values(expires_at=UserSession.created_at))
        s.commit()
    assert not signed_in(live_url, first)  # expired
    assert signed_in(live_url, second)
    with Session(dash_env.engine) as s:  # expired a week and a day ago: pruned at sign-in
        s.execute(update(UserSession).where(UserSession.id == older).values(
            expires_at=utcnow() - timedelta(days=8)))
        s.commit()
    with client_for(live_url) as client:
        login(client, READONLY)
    with Session(dash_env.engine) as s:
        assert s.get(UserSession, older) is None
    with Session(dash_env.engine) as s:  # a password set behind the dashboard's back
        s.execute(update(User).where(User.id == uid)
                  .values(password_hash=hash_password("hank-other-password")))
        s.commit()
    assert not signed_in(live_url, second)


def test_a_cookie_from_before_the_upgrade_is_not_a_session(live_url: str,
                                                          dash_env: DashEnv) -> None:
    """0001's cookie held ``{"uid": N}``; signed with the right key it still means nothing."""
    import base64
    import json

    import itsdangerous

    signer = itsdangerous.TimestampSigner(dash_env.settings.dashboard_secret_key)
    forged = signer.sign(base64.b64encode(json.dumps({"uid": 1}).encode())).decode()
    assert not signed_in(live_url, forged)


# ------------------------------------------------------------------ throttling


def test_failed_sign_ins_lock_the_user_name_then_unlock_after_the_window(
        fresh: Callable[..., Fresh], any_db_url: str | None) -> None:
    app = fresh(any_db_url, dashboard_login_window_s=6, dashboard_login_max_user_failures=3,
                dashboard_login_max_address_failures=100)
    with client_for(app.url) as client:
        for _ in range(3):
            assert try_login(client, (REVIEWER[0], "wrong-password")).status_code == 401
        started = time.monotonic()
        locked = try_login(client, REVIEWER)  # the right password, refused unchecked
        assert locked.status_code == 429
        assert "Too many failed sign-ins for this user name" in locked.text
        retry = int(locked.headers["retry-after"])
        assert 1 <= retry <= 6
        assert client.get("/queue").status_code == 303
        for _ in range(3):  # further attempts: refused, and no new audit events
            assert try_login(client, (REVIEWER[0], "wrong-password")).status_code == 429
        # the lock is per user name: another account signs in from the same address
        with client_for(app.url) as other:
            login(other, OTHER)
        events = audit(app.engine, "login_lockout")
        assert [(e.entity_id, e.detail["scope"], e.detail["failures"]) for e in events] == [
            (f"user:{REVIEWER[0]}", "user", 3)]
        assert events[0].detail["address"] == "127.0.0.1"
        # after Retry-After, the right password is accepted again
        time.sleep(max(0.0, retry - (time.monotonic() - started)) + 0.1)
        login(client, REVIEWER)
    with Session(app.engine) as s:  # success forgets the user name's failures
        assert s.scalar(select(func.count()).select_from(LoginFailure)
                        .where(LoginFailure.username == REVIEWER[0])) == 0


def test_failed_sign_ins_lock_the_client_address(fresh: Callable[..., Fresh]) -> None:
    app = fresh(dashboard_login_window_s=600, dashboard_login_max_user_failures=50,
                dashboard_login_max_address_failures=4)
    with client_for(app.url, "127.0.0.1") as client:
        for i in range(4):  # four different (unknown) user names
            assert try_login(client, (f"guess-{i}", "wrong-password")).status_code == 401
        locked = try_login(client, REVIEWER)
        assert locked.status_code == 429
        assert "Too many failed sign-ins for your address" in locked.text
        assert int(locked.headers["retry-after"]) > 500
    with client_for(app.url, "127.0.0.2") as elsewhere:  # another address is not locked
        login(elsewhere, REVIEWER)
    events = audit(app.engine, "login_lockout")
    assert [(e.entity_id, e.detail["scope"]) for e in events] == [
        ("address:127.0.0.1", "address")]


def sign_in_at_once(url: str, attempts: list[tuple[str, str]]) -> list[int]:
    """Each (name, password) posted by its own client and thread, released together by a
    barrier; returns the status codes in the order they came back."""
    clients = [client_for(url) for _ in attempts]
    tokens = [token_of(c.get("/login").text) for c in clients]
    barrier = threading.Barrier(len(attempts))
    codes: list[int] = []

    def post(i: int) -> None:
        barrier.wait()
        codes.append(clients[i].post("/login", data={
            "username": attempts[i][0], "password": attempts[i][1],
            "csrf_token": tokens[i]}).status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(attempts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in clients:
        c.close()
    return codes


def test_a_burst_of_parallel_guesses_gets_no_more_checks_than_the_limit(
        fresh: Callable[..., Fresh]) -> None:
    app = fresh(dashboard_login_window_s=600, dashboard_login_max_user_failures=3,
                dashboard_login_max_address_failures=100)
    n = 12
    codes = sign_in_at_once(app.url, [(REVIEWER[0], f"wrong-{i}") for i in range(n)])
    assert sorted(set(codes)) == [401, 429] and len(codes) == n
    assert codes.count(401) <= 3  # passwords checked: at most the limit
    with client_for(app.url) as client:
        assert try_login(client, REVIEWER).status_code == 429
    assert [e.entity_id for e in audit(app.engine, "login_lockout")] == [
        f"user:{REVIEWER[0]}"]


def test_many_people_signing_in_at_once_from_one_address_are_not_locked_out(
        fresh: Callable[..., Fresh]) -> None:
    """Attempts still being checked do not count against the address (one proxy, a
    team signing in at nine): only real failures do."""
    app = fresh(dashboard_login_window_s=600, dashboard_login_max_address_failures=2)
    users = [REVIEWER, OTHER]
    for i in range(14):
        users.append((f"team-{i}", f"team-password-{i}"))
        add_user(app.engine, *users[-1], "readonly")
    codes = sign_in_at_once(app.url, users)
    assert codes == [303] * len(users)
    with Session(app.engine) as s:
        assert s.scalar(select(func.count()).select_from(LoginFailure)) == 0


# ------------------------------------------------------------------ cookie flag


def test_secure_cookie_setting_marks_the_session_cookie_secure(
        fresh: Callable[..., Fresh], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTERQA_DASHBOARD_COOKIE_SECURE", "true")
    assert Settings().dashboard_cookie_secure is True
    monkeypatch.delenv("POSTERQA_DASHBOARD_COOKIE_SECURE")
    assert Settings().dashboard_cookie_secure is False

    secure = fresh(dashboard_cookie_secure=True)
    plain = fresh()
    with client_for(secure.url) as client:
        cookie = client.get("/login").headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    flags = [f.strip().lower() for f in cookie.split(";")]
    assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags
    with client_for(plain.url) as client:
        flags = [f.strip().lower() for f in client.get("/login").headers["set-cookie"]
                 .split(";")]
    assert "secure" not in flags and "httponly" in flags


# ------------------------------------------------------------------ huge numbers


HUGE = "99999999999999999999999"


def test_huge_ids_and_pages_are_404_and_400_not_500(
        fresh: Callable[..., Fresh], any_db_url: str | None) -> None:
    app = fresh(any_db_url)
    with client_for(app.url) as client:
        token = login(client, REVIEWER)
        for rid in (HUGE, str(2**31), str(2**63), "0", "-1", "abc"):
            resp = client.get(f"/repairs/{rid}")
            assert resp.status_code == 404, (rid, resp.status_code)
            assert "does not exist" in resp.text
            for action in ("approve", "reject", "rerun"):
                resp = client.post(f"/repairs/{rid}/{action}",
                                   data={"csrf_token": token, "comment": "c",
                                         "box": "1,1,5,5", "prompt": "p"})
                assert resp.status_code == 404, (rid, action, resp.status_code)
        for page in (HUGE, str(2**63), "0", "-3"):
            resp = client.get("/queue", params={"page": page})
            assert resp.status_code == 400, (page, resp.status_code)
            assert "is not a page number" in resp.text
        resp = client.get("/queue", params={"page": "abc"})
        assert resp.status_code == 400 and "&#39;page&#39;" in resp.text
        for run in (HUGE, str(2**31)):
            resp = client.get("/queue", params={"run": run})
            assert resp.status_code == 400 and "is not a run id" in resp.text
            assert client.get("/repairs/1", params={"run": run}).status_code == 400
        assert client.get("/queue", params={"page": "2", "run": "7"}).status_code == 200
        assert client.get("/queue", params={"run": "²"}).status_code == 200  # dropped


# ------------------------------------------------------------------ re-run boxes


def test_rerun_box_outside_the_poster_is_refused_and_nothing_is_written(
        live_url: str, dash_env: DashEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[int]] = []

    def fake_start(settings: Any, *, asset_key: str, boxes: Any, prompt: str) -> str:
        calls.append(boxes[0].as_list())
        return "flow-run-7"

    monkeypatch.setattr("dashboard.routes.repairs.start_rerun", fake_start)
    rid, key = dash_env.repair_ids[6], dash_env.asset_keys[6]

    def counts() -> tuple[int, int, int]:
        with Session(dash_env.engine) as s:
            return (s.scalar(select(func.count()).select_from(Defect)) or 0,
                    s.scalar(select(func.count()).select_from(Review)) or 0,
                    s.scalar(select(func.count()).select_from(AuditEvent)) or 0)

    with client_for(live_url) as client:
        token = login(client, REVIEWER)
        before = counts()
        for box in ("0,0,1e20,1e20", "0,0,361,540", "0,0,360,541", "-5,0,10,10",
                    "0,0,1e400,5"):
            resp = client.post(f"/repairs/{rid}/rerun", data={
                "csrf_token": token, "box": box, "prompt": "refine the text 'SALE'"})
            assert resp.status_code == 303
            page = client.get(resp.headers["location"]).text
            assert "Re-run not requested" in page, box
            if box != "0,0,1e400,5":
                assert f"is outside the poster {key} ({POSTER_W}x{POSTER_H} pixels)" in page
        assert calls == [] and counts() == before
        # the whole poster, exactly, is allowed
        client.post(f"/repairs/{rid}/rerun", data={
            "csrf_token": token, "box": f"0,0,{POSTER_W},{POSTER_H}", "prompt": "p"})
    assert calls == [[0, 0, POSTER_W, POSTER_H]]


def test_poster_size_applies_the_exif_orientation(dash_env: DashEnv) -> None:
    from dashboard.rerun import poster_size
    from posterqa.errors import ImageDecodeError

    img = Image.fromarray(np.zeros((30, 80, 3), np.uint8))
    for orientation, size in ((1, (80, 30)), (6, (30, 80)), (8, (30, 80)), (3, (80, 30))):
        exif = Image.Exif()
        exif[0x0112] = orientation
        buf = io.BytesIO()
        img.save(buf, "JPEG", exif=exif.tobytes())
        key = f"posters/exif/o{orientation}.jpg"
        dash_env.store.put_bytes(key, buf.getvalue(), content_type="image/jpeg")
        assert poster_size(dash_env.store, key) == size, orientation
    dash_env.store.put_bytes("posters/exif/not.png", b"not an image",
                             content_type="image/png")
    with pytest.raises(ImageDecodeError, match="posters/exif/not.png"):
        poster_size(dash_env.store, "posters/exif/not.png")
