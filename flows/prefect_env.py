"""Prefect's environment, set in one place before :mod:`prefect` is first imported.

Prefect reads its settings when it is imported, so every entry point that runs a flow
(the CLI commands, the tests, the benchmark) calls :func:`configure_prefect` first and
imports :mod:`flows.sweep` (which imports prefect) only afterwards.

Ephemeral mode (no ``PREFECT_API_URL``) starts a temporary API server inside the
process; on a busy 2-core machine its cold start can take longer than Prefect's default
20 s, hence the 90 s timeout. ``PREFECT_HOME`` goes under posterqa's state folder so
nothing is written to the user's ``~/.prefect``. Values already present in the
environment win (a production worker sets its own ``PREFECT_API_URL`` and home).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from posterqa.settings import Settings

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
    return applied


def quiet_run_errors() -> None:
    """For the CLI: Prefect would log a failing flow/task run's traceback; the CLI prints
    the error as one line instead (the run keeps its state and error in Prefect)."""
    for logger in ("PREFECT_FLOW_RUNS", "PREFECT_TASK_RUNS"):
        os.environ.setdefault(f"PREFECT_LOGGING_LOGGERS_{logger}_LEVEL", "CRITICAL")


def prefect_imported() -> bool:
    """True once something in this process imported prefect."""
    return "prefect" in sys.modules
