"""Nothing posterqa starts outlives it by accident: real processes, real signals.

- ``posterqa dashboard`` stopped by SIGTERM (uvicorn re-raises it after its shutdown)
  still gives up its lease on the embedded S3 server, which stops if it was the last user;
- a process SIGKILLed after Prefect started its temporary API server for a flow run
  leaves no Prefect server (nor watchdog) behind.

The embedded S3 server's own sharing between processes: ``tests/storage/test_s3_lifetime.py``.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from posterqa.settings import Settings
from storage.seaweed import EmbeddedS3, pid_alive, wait_gone

ROOT = Path(__file__).resolve().parents[2]
POSTERQA = str(Path(sys.executable).parent / "posterqa")


def _env(state: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("POSTERQA_", "AWS_", "PREFECT_"))
    }
    env.update(POSTERQA_STATE_DIR=str(state), PYTHONPATH=str(ROOT))
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _leases(state: Path) -> list[int]:
    return sorted(int(p.name.split("-")[0]) for p in (state / "s3" / "clients").glob("*.json"))


def _start_dashboard(state: Path) -> subprocess.Popen[bytes]:
    """``posterqa dashboard`` on a free port, returned once it answers HTTP."""
    port = _free_port()
    proc = subprocess.Popen(
        [POSTERQA, "dashboard", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=_env(state),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dashboard exited: {proc.stderr.read().decode()[-1500:]}")  # type: ignore[union-attr]
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
            return proc
        except urllib.error.HTTPError:
            return proc  # any HTTP answer: it serves
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the dashboard did not answer within 90 s")


def _terminate(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stderr is not None:
            proc.stderr.close()


def test_dashboard_on_sigterm_gives_up_its_lease_and_leaves_others_the_server(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    other = EmbeddedS3.from_settings(Settings(state_dir=state)).start()  # this test: a user
    try:
        dashboard = _start_dashboard(state)
        assert _leases(state) == sorted([os.getpid(), dashboard.pid])
        assert _terminate(dashboard) == -signal.SIGTERM  # still ends by the signal
        # its lease went with it (not left for the keeper to find stale) ...
        assert _leases(state) == [os.getpid()]
        # ... and the server it shared stays up for the remaining user
        assert other.running
        assert other.pid is not None and pid_alive(other.pid)
    finally:
        other.stop()


def test_dashboard_on_sigterm_stops_the_server_when_it_was_the_last_user(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    dashboard = _start_dashboard(state)
    info = json.loads((state / "s3" / "server.json").read_text())
    server_pid, keeper_pid = info["pid"], info["keeper_pid"]
    try:
        assert _terminate(dashboard) == -signal.SIGTERM
        assert wait_gone(server_pid, 10), "SIGTERM to the dashboard left SeaweedFS running"
        assert _leases(state) == []
        # stopped by the dashboard's own release, not later by the keeper's clean-up
        assert wait_gone(keeper_pid, 5)
        log = (state / "s3" / "logs" / "keeper.log").read_text()
        assert f"server pid {server_pid} was stopped by its users" in log
        assert "no live user left" not in log
    finally:
        if pid_alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)


FLOW_RUNNER = """
import sys, time
from posterqa.settings import Settings
from flows.prefect_env import configure_prefect

configure_prefect(Settings(state_dir=sys.argv[1]))
from prefect import flow

@flow
def hello() -> int:
    return 1

assert hello() == 1
from prefect.server.api.server import SubprocessASGIServer
import flows.prefect_env as env

server = SubprocessASGIServer._instances[None].server_process
watchdogs = [w.pid for w in env._watchdogs if w.poll() is None]
print(server.pid, watchdogs[-1] if watchdogs else 0, flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_sigkilled_process_leaves_no_prefect_server_behind(tmp_path: Path) -> None:
    """Prefect stops its temporary server from ``atexit``, which SIGKILL never reaches."""
    proc = subprocess.Popen(
        [sys.executable, "-c", FLOW_RUNNER, str(tmp_path / "state")],
        cwd=ROOT,
        env=_env(tmp_path / "state"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    server_pid = watchdog_pid = None
    try:
        # one line after one flow run: cold Prefect start is ~10-30 s on a busy machine
        ready, _, _ = select.select([proc.stdout], [], [], 180)
        out = proc.stdout.readline() if ready else ""  # type: ignore[union-attr]
        assert out, f"flow run failed: {proc.stderr.read()[-2000:]}"  # type: ignore[union-attr]
        server_pid, watchdog_pid = (int(w) for w in out.split())
        assert pid_alive(server_pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert wait_gone(server_pid, 15), "Prefect's temporary API server outlived its process"
        assert watchdog_pid and wait_gone(watchdog_pid, 5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for pid in (server_pid, watchdog_pid):
            if pid and pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
