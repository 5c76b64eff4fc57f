"""Prefect's environment, set in one place before :mod:`prefect` is first imported.

Prefect reads its settings when it is imported, so every entry point that runs a flow
(the CLI commands, the tests, the benchmark) calls :func:`configure_prefect` first and
imports :mod:`flows.sweep` (which imports prefect) only afterwards.

Ephemeral mode (no ``PREFECT_API_URL``) starts a temporary API server inside the
process; on a busy 2-core machine its cold start can take longer than Prefect's default
20 s, hence the 90 s timeout. ``PREFECT_HOME`` goes under posterqa's state folder so
nothing is written to the user's ``~/.prefect``. Values already present in the
environment win (a production worker sets its own ``PREFECT_API_URL`` and home).

That temporary server is a child process (``python -m uvicorn ...
prefect.server.api.server:create_app``) which Prefect stops from an ``atexit`` hook, so a
process killed by SIGKILL (or by SIGTERM, which skips ``atexit``) left it running for
many minutes. :func:`configure_prefect` therefore arranges for every such server this
process starts to get a *watchdog*: a tiny process (plain Python, no imports beyond the
standard library) that polls its parent, and terminates the server (SIGTERM, then SIGKILL
after 5 s) as soon as this process is gone. Prefect gives no hook for this (no preexec
function, and ``PR_SET_PDEATHSIG`` would fire when the *thread* that started the server
ends, and Prefect starts it from whichever thread first needs a client), so
``SubprocessASGIServer._run_uvicorn_command`` is wrapped: Prefect still builds and starts
the server; the wrapper only adds the watchdog for the pid it returns. The wrapper is
installed when Prefect's server module is imported (it takes seconds to import, so it is
not imported just for this).
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

from posterqa.settings import Settings

log = logging.getLogger(__name__)

DEFAULTS: dict[str, str] = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    # stop Prefect from printing its "View at http://..." run URLs in ephemeral mode
    "PREFECT_UI_ENABLED": "false",
}


def prefect_home(settings: Settings) -> Path:
    """Where Prefect keeps its ephemeral database and profiles: ``<state_dir>/prefect``."""
    return (Path(settings.state_dir) / "prefect").resolve()


def configure_prefect(settings: Settings, *, force: bool = False) -> dict[str, str]:
    """Put Prefect's settings into ``os.environ``; returns what it set.

    Must run before ``import prefect``; when prefect is already imported (a test
    session, a worker process) the values only reach child processes, which is logged
    by the caller if it matters. ``force=True`` overrides values already set.
    """
    wanted = dict(DEFAULTS)
    wanted["PREFECT_HOME"] = str(prefect_home(settings))
    applied: dict[str, str] = {}
    for name, value in wanted.items():
        if force or name not in os.environ:
            os.environ[name] = value
            applied[name] = value
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    guard_ephemeral_server()
    return applied


# --------------------------------------------------------------------------- watchdog

_SERVER_MODULE = "prefect.server.api.server"
_GUARD_MARK = "__posterqa_watchdog__"
#: the watchdog, run as ``python -I -S -c WATCHDOG <parent pid> <server pid> <start>``
WATCHDOG = """
import os, signal, sys, time
parent, child, start = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
signal.signal(signal.SIGINT, signal.SIG_IGN)
def same():
    try:
        with open(f"/proc/{child}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z" and fields[19] == start
while same():
    if os.getppid() != parent:
        try:
            os.kill(child, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while same() and time.monotonic() < deadline:
                time.sleep(0.1)
            if same():
                os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
        break
    time.sleep(0.2)
"""
_watchdogs: list[subprocess.Popen[bytes]] = []
_watchdogs_lock = threading.Lock()


def watch_child(pid: int) -> subprocess.Popen[bytes] | None:
    """Start a watchdog that terminates process ``pid`` once this process is gone.

    The watchdog exits by itself when ``pid`` exits first. Returns it, or ``None`` when
    ``pid`` is already gone.
    """
    from storage.seaweed import process_start_time

    start = process_start_time(pid)
    if start is None:
        return None
    watchdog = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", WATCHDOG, str(os.getpid()), str(pid), str(start)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C to our process group leaves it to do its job
    )
    with _watchdogs_lock:
        _watchdogs[:] = [w for w in _watchdogs if w.poll() is None]  # reap finished ones
        _watchdogs.append(watchdog)
    return watchdog


def _guard(server_class: Any) -> None:
    """Wrap Prefect's ``SubprocessASGIServer._run_uvicorn_command`` to add a watchdog."""
    original = server_class._run_uvicorn_command
    if getattr(original, _GUARD_MARK, False):
        return

    @functools.wraps(original)
    def run_uvicorn_with_watchdog(self: Any) -> Any:
        proc = original(self)
        watch_child(proc.pid)
        log.debug("Prefect's temporary API server (pid %s) is watched", proc.pid)
        return proc

    setattr(run_uvicorn_with_watchdog, _GUARD_MARK, True)
    server_class._run_uvicorn_command = run_uvicorn_with_watchdog


class _GuardOnImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds Prefect's server module through the normal finders; guards it once loaded."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != _SERVER_MODULE:
            return None
        with _watchdogs_lock:
            if self in sys.meta_path:
                sys.meta_path.remove(self)  # one module, once: step aside for the real finders
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__.loader = self._loader  # type: ignore[union-attr]
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        _guard(module.SubprocessASGIServer)


def guard_ephemeral_server() -> None:
    """Make every Prefect temporary API server of this process die with the process."""
    module = sys.modules.get(_SERVER_MODULE)
    if module is not None:
        _guard(module.SubprocessASGIServer)
        return
    with _watchdogs_lock:
        if not any(isinstance(f, _GuardOnImport) for f in sys.meta_path):
            sys.meta_path.insert(0, _GuardOnImport())


def quiet_run_errors() -> None:
    """For the CLI: Prefect would log a failing flow/task run's traceback; the CLI prints
    the error as one line instead (the run keeps its state and error in Prefect)."""
    for logger in ("PREFECT_FLOW_RUNS", "PREFECT_TASK_RUNS"):
        os.environ.setdefault(f"PREFECT_LOGGING_LOGGERS_{logger}_LEVEL", "CRITICAL")


def prefect_imported() -> bool:
    """True once something in this process imported prefect."""
    return "prefect" in sys.modules
