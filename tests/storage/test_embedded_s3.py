"""The embedded SeaweedFS server: start, stop, shared use of a state folder, clear failures.

The same with several real processes and signals: ``test_s3_lifetime.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from posterqa.errors import ConfigError, StorageError
from posterqa.settings import Settings
from storage.runtime import open_store
from storage.seaweed import EmbeddedS3, find_weed_binary, pid_alive


def test_weed_binary_comes_from_the_installed_wheel() -> None:
    binary = find_weed_binary()
    assert binary.name == "weed" and os.access(binary, os.X_OK)


def test_state_folder_keeps_objects_across_restarts(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state", bucket="keep")
    with open_store(settings) as store:
        store.put_bytes("posters/a.png", b"one", content_type="image/png")
        first_endpoint = store.endpoint
    # stopped: nothing listens there any more, no server.json is left behind
    assert not (tmp_path / "state" / "s3" / "server.json").exists()
    with open_store(settings) as store:
        assert store.get_bytes("posters/a.png") == b"one"
        assert [o.key for o in store.list("posters/")] == ["posters/a.png"]
    assert (tmp_path / "state" / "s3" / "data").is_dir()
    assert (tmp_path / "state" / "s3" / "logs" / "weed.out").stat().st_size > 0
    assert first_endpoint.startswith("http://127.0.0.1:")
    assert not list((tmp_path / "state" / "s3" / "run").glob("*.sock"))


def test_second_opener_of_a_running_state_folder_attaches(s3_server: EmbeddedS3) -> None:
    other = EmbeddedS3(
        s3_server.state_dir, access_key=s3_server.access_key, secret_key=s3_server.secret_key
    )
    with other:
        assert other.endpoint == s3_server.endpoint
        assert other.pid == s3_server.pid and not other.launched
        leases = sorted(p.name for p in (s3_server.root / "clients").glob("*.json"))
        assert len(leases) == 2 and all(n.startswith(f"{os.getpid()}-") for n in leases)
        assert other.lease_path is not None and other.lease_path.name in leases
    assert s3_server.running  # the attacher's exit did not stop the server under its user
    assert [p.name for p in (s3_server.root / "clients").glob("*.json")] == [
        s3_server.lease_path.name  # type: ignore[union-attr]
    ]
    info = json.loads((s3_server.root / "server.json").read_text())
    assert (info["pid"], info["endpoint"], info["pinned"]) == (
        s3_server.pid,
        s3_server.endpoint,
        False,
    )


def test_opener_with_other_keys_is_refused_without_harming_the_server(
    s3_server: EmbeddedS3,
) -> None:
    intruder = EmbeddedS3(s3_server.state_dir, access_key="other", secret_key="other-secret")
    with pytest.raises(ConfigError) as err:
        intruder.start()
    assert str(err.value) == (
        f"the embedded S3 server for {s3_server.state_dir} ({s3_server.endpoint}) refuses "
        "access key 'other': it was started with other keys "
        "(POSTERQA_S3_ACCESS_KEY / POSTERQA_S3_SECRET_KEY)"
    )
    assert s3_server.running and intruder.lease_path is None
    assert [c.pid for c in s3_server.status().clients] == [os.getpid()]


def _dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


@pytest.fixture
def started(tmp_path: Path) -> Iterator[EmbeddedS3]:
    """A server started in this process; killed afterwards should a test fail midway."""
    server = EmbeddedS3(tmp_path / "state", access_key="k", secret_key="s-secret").start()
    server_pid = server.pid
    assert server_pid is not None
    try:
        yield server
    finally:
        if pid_alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)


def test_leases_of_dead_or_reused_pids_do_not_keep_the_server(started: EmbeddedS3) -> None:
    server, server_pid = started, started.pid
    assert server_pid is not None
    clients = server.root / "clients"
    dead = _dead_pid()
    stale = {
        # a process that has exited (SIGKILLed, say) ...
        clients / f"{dead}-deadbeef.json": {"pid": dead, "start": None},
        # ... and a live pid that now belongs to another process (other start time)
        clients / "1-reused00.json": {"pid": 1, "start": -1},
    }
    for path, record in stale.items():
        path.write_text(json.dumps({**record, "since": 0, "command": "gone"}))
    assert [c.pid for c in server.status().clients] == [os.getpid()]

    server.stop()  # the only live user leaves: stale leases are no reason to stay
    assert not pid_alive(server_pid)
    assert not list(clients.glob("*.json"))
    assert not (server.root / "server.json").exists()


def test_pinned_server_outlives_its_users_until_shutdown(started: EmbeddedS3) -> None:
    server, server_pid = started, started.pid
    assert server_pid is not None
    server.pin()
    server.stop()
    assert pid_alive(server_pid) and server.status().pinned
    user = EmbeddedS3(server.state_dir, access_key="k", secret_key="s-secret").start()
    assert user.pid == server_pid
    before = server.shutdown()  # a user is left: unpinned, not stopped
    assert before.running and [c.pid for c in before.clients] == [os.getpid()]
    assert pid_alive(server_pid) and not server.status().pinned
    user.stop()
    assert not pid_alive(server_pid)
    assert not server.shutdown().running


@pytest.mark.parametrize("how", ["file_in_the_way", "under_a_file"])
def test_unwritable_state_folder_is_a_one_line_config_error(tmp_path: Path, how: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    state = blocker if how == "file_in_the_way" else blocker / "state"
    with pytest.raises(ConfigError) as err:
        EmbeddedS3(state, access_key="a", secret_key="b").start()
    message = str(err.value)
    assert message.startswith(f"state folder {state} is not writable: ")
    assert "\n" not in message


def test_server_that_exits_at_start_reports_the_log_tail(tmp_path: Path) -> None:
    fake = tmp_path / "weed"
    fake.write_text("#!/bin/sh\necho 'F1126 12:00:00.000 mini.go:1 cannot bind' >&2\nexit 3\n")
    fake.chmod(0o755)
    server = EmbeddedS3(tmp_path / "state", access_key="a", secret_key="b", binary=fake)
    with pytest.raises(StorageError) as err:
        server.start()
    assert "exited with code 3" in str(err.value)
    assert "cannot bind" in str(err.value)
    assert not server.running


def test_server_that_never_answers_times_out_with_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "weed"
    fake.write_text("#!/bin/sh\necho 'starting forever'\nexec sleep 60\n")
    fake.chmod(0o755)
    server = EmbeddedS3(
        tmp_path / "state", access_key="a", secret_key="b", binary=fake, startup_timeout=1
    )
    with pytest.raises(StorageError, match=r"did not answer on http://127\.0\.0\.1:\d+ within 1 s"):
        server.start()
    assert not server.running  # the hung process was killed
