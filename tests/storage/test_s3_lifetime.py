"""The embedded S3 server outlives any one user: real processes, real signals, real SeaweedFS.

Each client below is a separate Python process that opens the store of one shared state
folder (``storage.runtime.open_store``) and then obeys ``put KEY`` / ``get KEY`` /
``exit`` lines on its stdin, so the tests decide exactly when processes overlap.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.seaweed import pid_alive, wait_gone

ROOT = Path(__file__).resolve().parents[2]
POSTERQA = str(Path(sys.executable).parent / "posterqa")
TIMEOUT = 60.0  # per answer of a client; a start takes ~1 s, more on a loaded machine

CLIENT = """
import json, os, sys
from posterqa.settings import get_settings
from storage.runtime import open_store

settings = get_settings()
with open_store(settings) as store:
    info = json.loads((settings.state_dir / "s3" / "server.json").read_text())
    print("ready", info["pid"], store.endpoint, flush=True)
    for line in sys.stdin:
        cmd, _, key = line.strip().partition(" ")
        if cmd == "put":
            store.put_bytes(key, key.encode(), content_type="text/plain")
            print("ok", flush=True)
        elif cmd == "get":
            print("got", store.get_bytes(key).decode(), flush=True)
        elif cmd == "exit":
            break
print("bye", flush=True)
"""


def _env(state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTERQA_", "AWS_"))}
    env.update(POSTERQA_STATE_DIR=str(state), POSTERQA_BUCKET="lifetime", PYTHONPATH=str(ROOT))
    return env


class Client:
    """One client process holding the store open until told to exit (or killed)."""

    def __init__(self, state: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CLIENT],
            cwd=ROOT,
            env=_env(state),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.server_pid, self.endpoint = 0, ""

    def ready(self) -> Client:
        """Wait until the client has the store open."""
        words = self._line().split()
        assert words[0] == "ready", words
        self.server_pid, self.endpoint = int(words[1]), words[2]
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _line(self) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            raise AssertionError(f"client {self.pid} gave no answer: {err[-1500:]}")
        return line.strip()

    def ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._line()

    def exit(self) -> None:
        assert self.ask("exit") == "bye"
        assert self.proc.wait(timeout=TIMEOUT) == 0, self.proc.stderr.read()  # type: ignore[union-attr]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def clients(tmp_path: Path):
    """Start clients on one state folder; kills leftovers and the server afterwards."""
    state = tmp_path / "state"
    started: list[Client] = []

    def start(*, wait: bool = True) -> Client:
        started.append(Client(state))
        return started[-1].ready() if wait else started[-1]

    start.state = state  # type: ignore[attr-defined]
    yield start
    for client in started:
        client.close()
    info = state / "s3" / "server.json"
    if info.exists():  # a failed test must not leave a server behind
        pid = json.loads(info.read_text())["pid"]
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def _leases(state: Path) -> list[int]:
    return sorted(int(p.name.split("-")[0]) for p in (state / "s3" / "clients").glob("*.json"))


def _posterqa(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [POSTERQA, *args], cwd=ROOT, env=_env(state), capture_output=True, text=True, timeout=120
    )


def test_server_outlives_its_starter_while_another_process_uses_it(clients) -> None:
    first = clients()
    assert first.ask("put from-first.txt") == "ok"
    second = clients()
    assert second.server_pid == first.server_pid and second.endpoint == first.endpoint
    assert _leases(clients.state) == sorted([first.pid, second.pid])

    first.exit()  # the process that started the server leaves first
    assert pid_alive(second.server_pid)
    assert second.ask("put from-second.txt") == "ok"
    assert second.ask("get from-first.txt") == "got from-first.txt"
    assert second.ask("get from-second.txt") == "got from-second.txt"

    second.exit()  # the last user leaves: the server stops with it
    assert wait_gone(second.server_pid, 5), "the last user's exit left the server running"
    assert not (clients.state / "s3" / "server.json").exists()
    assert _leases(clients.state) == []


def test_s3_start_keeps_the_server_up_across_clients_until_s3_stop(clients) -> None:
    state = clients.state
    started = _posterqa(state, "s3", "start")
    assert started.returncode == 0, started.stderr
    assert "it runs until `posterqa s3 stop`" in started.stdout
    status = _posterqa(state, "s3", "status")
    assert status.returncode == 0, status.stderr
    assert "pinned    yes" in status.stdout and "users     0" in status.stdout
    server_pid = int(status.stdout.split("pid       ")[1].split()[0])

    first = clients()
    assert first.server_pid == server_pid
    assert first.ask("put pinned.txt") == "ok"
    first.exit()
    assert pid_alive(server_pid), "a client's exit stopped a server started by `s3 start`"

    second = clients()
    assert second.server_pid == server_pid
    stop = _posterqa(state, "s3", "stop")  # a user is left: unpinned, stops with it
    assert stop.returncode == 0, stop.stderr
    assert f"used by 1 process(es) (pid {second.pid})" in stop.stdout
    assert pid_alive(server_pid)
    assert second.ask("get pinned.txt") == "got pinned.txt"
    second.exit()
    assert wait_gone(server_pid, 5)
    status = _posterqa(state, "s3", "status")
    assert status.returncode == 3 and "not running" in status.stdout

    # pinned with no user: `s3 stop` stops it at once
    assert _posterqa(state, "s3", "start").returncode == 0
    server_pid = json.loads((state / "s3" / "server.json").read_text())["pid"]
    stop = _posterqa(state, "s3", "stop")
    assert stop.returncode == 0 and f"(pid {server_pid}) stopped" in stop.stdout
    assert wait_gone(server_pid, 5)


def test_sigkilled_clients_neither_keep_the_server_nor_take_it_from_others(clients) -> None:
    starter = clients()
    other = clients()
    server_pid = starter.server_pid
    keeper_pid = json.loads((clients.state / "s3" / "server.json").read_text())["keeper_pid"]

    starter.kill()  # its lease stays on disk, its process is gone
    time.sleep(2.0)  # several rounds of the keeper
    assert pid_alive(server_pid), "the server died with the process that started it"
    assert other.ask("put after-kill.txt") == "ok"
    assert other.ask("get after-kill.txt") == "got after-kill.txt"

    other.kill()  # the last user dies without releasing its lease
    assert wait_gone(server_pid, 15), "no live user is left, yet the server keeps running"
    assert wait_gone(keeper_pid, 5)  # it stopped the server and tidied up
    assert not (clients.state / "s3" / "server.json").exists()
    assert _leases(clients.state) == []  # stale leases cleared
    log = (clients.state / "s3" / "logs" / "keeper.log").read_text()
    assert f"stopped server pid {server_pid}: no live user left" in log


def test_a_new_user_after_a_killed_one_gets_a_working_server(clients) -> None:
    gone = clients()
    gone.kill()
    fresh = clients()  # either the old server (still there) or a new one: it must work
    assert fresh.ask("put fresh.txt") == "ok"
    assert fresh.ask("get fresh.txt") == "got fresh.txt"
    assert _leases(clients.state) == [fresh.pid]
    fresh.exit()
    assert wait_gone(fresh.server_pid, 5)


def test_clients_starting_at_once_share_one_server(clients) -> None:
    racing = [clients(wait=False) for _ in range(3)]  # all race for the start lock
    for client in racing:
        client.ready()
    assert len({c.server_pid for c in racing}) == 1
    assert len({c.endpoint for c in racing}) == 1
    for i, client in enumerate(racing):
        assert client.ask(f"put race-{i}.txt") == "ok"
    assert racing[0].ask("get race-2.txt") == "got race-2.txt"
    for client in racing:
        client.exit()
    assert wait_gone(racing[0].server_pid, 5)
