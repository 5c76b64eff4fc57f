"""``posterqa db upgrade`` / ``posterqa store ls`` through ``flows.cli.main``.

Bad endpoint, wrong credentials and an unwritable state folder must each end in one line
on stderr and a non-zero exit. One test runs the storage commands in a network namespace
with only loopback (``unshare -n``) to prove nothing reaches outside.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTERQA_", "AWS_"))}
    env.update({f"POSTERQA_{k.upper()}": v for k, v in settings.items()})
    return env


@pytest.fixture
def posterqa(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run ``flows.cli.main(args)`` in-process with POSTERQA_* settings; (code, out, err)."""
    from flows.cli import main
    from posterqa.settings import get_settings

    def run(*args: str, **settings: str) -> tuple[int, str, str]:
        for key in [k for k in os.environ if k.startswith(("POSTERQA_", "AWS_"))]:
            monkeypatch.delenv(key)
        for key, value in settings.items():
            monkeypatch.setenv(f"POSTERQA_{key.upper()}", value)
        get_settings.cache_clear()
        capsys.readouterr()
        try:
            code = main(list(args))
        finally:
            get_settings.cache_clear()
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _one_error_line(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert code != 0, out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("posterqa: error: ")
    return lines[0].removeprefix("posterqa: error: ")


def test_db_upgrade_and_store_ls_list_the_bucket(
    posterqa, tmp_path: Path, s3_server, store
) -> None:
    store.put_bytes("posters/acme/p1.png", b"png", content_type="image/png")
    store.put_bytes("brands/acme/brand.json", b"{}", content_type="application/json")
    common = {
        "state_dir": str(tmp_path / "state"),
        "s3_endpoint": s3_server.endpoint,
        "s3_access_key": s3_server.access_key,
        "s3_secret_key": s3_server.secret_key,
        "bucket": store.bucket,
    }
    code, out, err = posterqa("db", "upgrade", **common)
    assert code == 0, err
    assert "is at revision 0002_dashboard_sessions" in out
    assert (tmp_path / "state" / "posterqa.db").is_file()

    code, out, err = posterqa("store", "ls", "posters/", **common)
    assert code == 0, err
    key, size, etag = out.strip().split("\t")
    assert (key, size) == ("posters/acme/p1.png", "3") and len(etag) == 32


def test_unreachable_endpoint_is_one_line(posterqa, tmp_path: Path) -> None:
    result = posterqa("store", "ls", state_dir=str(tmp_path), s3_endpoint="http://127.0.0.1:1",
                      s3_access_key="k", s3_secret_key="s")
    assert _one_error_line(result) == (
        "cannot reach S3 endpoint http://127.0.0.1:1: connection refused"
    )


def test_external_endpoint_without_any_credentials_is_one_line(posterqa, tmp_path: Path) -> None:
    # the fixture clears POSTERQA_* and AWS_*: no key anywhere in boto3's chain
    result = posterqa("store", "ls", state_dir=str(tmp_path), s3_endpoint="http://127.0.0.1:1")
    assert "Unable to locate credentials" in _one_error_line(result)


def test_wrong_credentials_are_one_line(posterqa, tmp_path: Path, s3_server, store) -> None:
    result = posterqa(
        "store",
        "ls",
        state_dir=str(tmp_path),
        s3_endpoint=s3_server.endpoint,
        s3_access_key="intruder",
        s3_secret_key="guess",
        bucket=store.bucket,
    )
    assert _one_error_line(result) == (
        f"S3 rejected the credentials for bucket {store.bucket} (InvalidAccessKeyId)"
    )


def test_unwritable_state_folder_is_one_line(posterqa, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the state folder should be")
    state = blocker / "state"
    for args in (("store", "ls"), ("db", "upgrade")):
        result = posterqa(*args, state_dir=str(state))
        assert _one_error_line(result) == f"state folder {state} is not writable: Not a directory"


def test_console_script_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    """The real entry point in a fresh process: one line on stderr, exit status 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "store", "ls"],
        cwd=ROOT,
        env=_env(state_dir=str(tmp_path), s3_endpoint="http://127.0.0.1:1", s3_access_key="k",
                 s3_secret_key="s"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "posterqa: error: cannot reach S3 endpoint http://127.0.0.1:1: connection refused"
    ]


def _netns_available() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True, timeout=10
    )
    return probe.returncode == 0


SCRIPT = """
import socket
import numpy as np
from posterqa.settings import get_settings
from storage.db import upgrade
from storage.runtime import open_store
settings = get_settings()
print("revision", upgrade(settings.resolved_db_url))
with open_store(settings) as store:
    store.put_image("posters/offline.png", np.zeros((4, 4, 3), dtype=np.uint8))
    print("listed", [o.key for o in store.list("posters/")])
try:
    socket.create_connection(("192.0.2.1", 80), timeout=2)
    print("outside reachable")
except OSError as exc:
    print("outside unreachable:", exc)
"""


@pytest.mark.skipif(not _netns_available(), reason="unshare -n needs root (CAP_SYS_ADMIN)")
def test_storage_runs_with_no_network_at_all(tmp_path: Path) -> None:
    """Embedded SeaweedFS + SQLite migrations + put/list in a namespace with only loopback."""
    proc = subprocess.run(
        [
            "unshare",
            "-n",
            "sh",
            "-c",
            f'ip link set lo up && exec "{sys.executable}" -c "$0"',
            SCRIPT,
        ],
        cwd=ROOT,
        env=_env(state_dir=str(tmp_path / "state")),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["revision 0002_dashboard_sessions", "listed ['posters/offline.png']"]
    assert lines[2].startswith("outside unreachable:")
