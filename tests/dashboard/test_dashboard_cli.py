"""``posterqa users add`` and ``posterqa dashboard`` as a user runs them."""

from __future__ import annotations

import io
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dashboard import crud
from dashboard.auth import verify_password
from flows.cli import app
from flows.commands.dashboard_cmds import ensure_secret
from posterqa.settings import Settings, get_settings
from storage.db import make_engine
from storage.models import User


@pytest.fixture
def state_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("POSTERQA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("POSTERQA_DB_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "state"
    get_settings.cache_clear()


def test_users_add_reads_the_password_from_stdin_and_stores_a_hash(state_env: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["users", "add", "dora", "--role", "readonly",
                                 "--password-stdin"], input="dora-secret-pw\n")
    assert result.exit_code == 0, result.output
    assert "created user 'dora' with role readonly" in result.output
    engine = make_engine(get_settings().resolved_db_url)
    with Session(engine) as s:
        user = s.scalars(select(User).where(User.username == "dora")).one()
        assert user.role == "readonly"
        assert "dora-secret-pw" not in user.password_hash
        assert verify_password("dora-secret-pw", user.password_hash)
    engine.dispose()
    again = runner.invoke(app, ["users", "add", "dora", "--password-stdin"],
                          input="another-pw-123\n")
    assert again.exit_code != 0 and "already exists" in str(again.exception)


def test_users_commands_on_a_bad_name_or_password_fail_with_one_line(
        state_env: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO("vera-password-1\n"))
    assert main(["users", "add", "vera", "--password-stdin"]) == 0
    before = _password_hash("vera")
    for argv, stdin, message in (
        (["disable", "nobody"], "", "user 'nobody' does not exist (see `posterqa users list`)"),
        (["enable", "nobody"], "", "user 'nobody' does not exist (see `posterqa users list`)"),
        (["passwd", "nobody", "--password-stdin"], "long-enough-pw\n",
         "user 'nobody' does not exist (see `posterqa users list`)"),
        (["passwd", "vera", "--password-stdin"], "short\n",
         "password is 5 characters; at least 8 needed"),
        (["passwd", "vera", "--password-stdin"], "\n", "password is empty"),
    ):
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        assert main(["users", *argv]) == 2, argv
        assert capsys.readouterr().err.strip() == f"posterqa: error: {message}"
    assert _password_hash("vera") == before  # nothing half-written


def _password_hash(name: str) -> str:
    engine = make_engine(get_settings().resolved_db_url)
    try:
        with Session(engine) as s:
            return s.scalars(select(User.password_hash).where(User.username == name)).one()
    finally:
        engine.dispose()


def test_users_add_prompts_twice_when_no_stdin_flag(state_env: Path) -> None:
    result = CliRunner().invoke(app, ["users", "add", "emil"],
                                input="emil-password\nemil-password\n")
    assert result.exit_code == 0, result.output
    assert "created user 'emil' with role reviewer" in result.output


def test_session_key_is_generated_once_and_persisted(tmp_path: Path) -> None:
    settings, path = ensure_secret(Settings(state_dir=tmp_path))
    assert path and Path(path).exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(settings.dashboard_secret_key) == 64
    again, _ = ensure_secret(Settings(state_dir=tmp_path))
    assert again.dashboard_secret_key == settings.dashboard_secret_key
    chosen, none = ensure_secret(Settings(state_dir=tmp_path, dashboard_secret_key="k" * 40))
    assert none is None and chosen.dashboard_secret_key == "k" * 40


def test_queue_count_is_bounded(dash_env, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(crud, "COUNT_CAP", 5)
    with Session(dash_env.engine) as s:
        page = crud.list_queue(s, flt=crud.QueueFilter(), page=1)
    assert page.capped and page.total == 5 and page.total_label == "5+"
    assert len(page.rows) == len(dash_env.repair_ids)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dashboard_command_serves_with_the_embedded_store(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "POSTERQA_STATE_DIR": str(tmp_path / "state"),
           "POSTERQA_DASHBOARD_PORT": str(port)}
    env.pop("POSTERQA_DASHBOARD_SECRET_KEY", None)
    env.pop("POSTERQA_DB_URL", None)
    env.pop("POSTERQA_S3_ENDPOINT", None)
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "dashboard"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "posterqa dashboard did not start"
            time.sleep(0.2)
        resp = httpx.get(f"http://127.0.0.1:{port}/queue")
        assert resp.status_code == 303 and resp.headers["location"].startswith("/login")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "session key stored in" in err
    assert (tmp_path / "state" / "dashboard_secret_key").exists()
