"""Per-process resources a flow run shares with its tasks: store, DB engine, refiner.

Tasks receive keys and hashes, never pixels or clients; they reach the object store,
the database and the (expensive, loaded once) refiner through :func:`current`. A flow
opens the runtime with :func:`use_runtime`, which re-uses one that the caller (the CLI,
a test, the benchmark) already opened, so the embedded SeaweedFS starts once per
process and the refiner backend loads once per run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posterqa.errors import ConfigError
from posterqa.settings import Settings, get_settings
from storage.seaweed import pid_alive

log = logging.getLogger(__name__)

_lock = threading.RLock()
_current: Runtime | None = None


@dataclass
class Runtime:
    """What one process needs to run flows: settings, store, engine, caches."""

    settings: Settings
    store: Any
    engine: Any
    cache_dir: Path
    _refiner: Any = None
    _text_detector: Any = None
    _logo_detector: Any = None
    _backend: Any = None
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def text_detector(self) -> Any:
        """The OCR-based text detector, built once per process."""
        with self._lock:
            if self._text_detector is None:
                from detectors.text import TextDetector

                self._text_detector = TextDetector(self.settings)
            return self._text_detector

    def logo_detector(self) -> Any:
        with self._lock:
            if self._logo_detector is None:
                from detectors.logo import LogoDetector

                self._logo_detector = LogoDetector(self.settings)
            return self._logo_detector

    def refiner(self) -> Any:
        """The refiner with its backend, loaded on first use and kept for the run."""
        with self._lock:
            if self._refiner is None:
                from refiner.core import Refiner

                name = self.settings.refiner_backend
                log.info("loading refiner backend %s", name)
                self._backend = _build_backend(name, self.settings)
                text = _safe(self.text_detector)
                logo = _safe(self.logo_detector)
                self._refiner = Refiner(
                    self._backend,
                    pixel_budget=self.settings.refiner_pixel_budget,
                    margin=self.settings.refiner_margin,
                    text_checker=None if text is None else text.reread,
                    logo_checker=None if logo is None else logo.compare,
                )
            return self._refiner

    def close(self) -> None:
        with self._lock:
            if self._backend is not None:
                with contextlib.suppress(Exception):
                    self._backend.close()
            self._backend = None
            self._refiner = None


def _safe(factory: Any) -> Any:
    try:
        return factory()
    except ImportError:
        return None


def _build_backend(name: str, settings: Settings) -> Any:
    from refiner.backends import get_backend

    return get_backend(name, settings=settings, pixel_budget=settings.refiner_pixel_budget)


def current() -> Runtime:
    """The runtime opened by the running flow (or its caller)."""
    if _current is None:
        raise ConfigError("no posterqa runtime is open (call flows.runtime.use_runtime first)")
    return _current


def _open_cache(root: Path) -> Path:
    """A cache folder of this process (``<root>/<pid>-<random>``), removed on close.

    Posters, brand files and working images are cached per process, so concurrent
    sweeps sharing a state folder never delete each other's files; folders left by
    processes that died (killed mid-run) are removed here.
    """
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        pid_text = old.name.partition("-")[0]
        if old.is_dir() and pid_text.isdigit() and not pid_alive(int(pid_text)):
            shutil.rmtree(old, ignore_errors=True)
    path = root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


@contextlib.contextmanager
def open_runtime(settings: Settings) -> Iterator[Runtime]:
    """Start/connect the store, upgrade the DB, and make the runtime current."""
    global _current
    from storage.db import make_engine, upgrade
    from storage.runtime import open_store

    Path(settings.state_dir).mkdir(parents=True, exist_ok=True)
    url = settings.resolved_db_url
    upgrade(url)  # StorageError with one line when the DB is unreachable
    engine = make_engine(url)
    cache_dir = _open_cache(Path(settings.state_dir) / "cache")
    with open_store(settings) as store:
        runtime = Runtime(settings=settings, store=store, engine=engine, cache_dir=cache_dir)
        with _lock:
            previous, _current = _current, runtime
        try:
            yield runtime
        finally:
            runtime.close()
            with _lock:
                _current = previous
            engine.dispose()
            shutil.rmtree(cache_dir, ignore_errors=True)


@contextlib.contextmanager
def use_runtime(settings: Settings | None = None) -> Iterator[Runtime]:
    """The open runtime if there is one, else open one from ``settings``/the env."""
    if _current is not None:
        yield _current
        return
    with open_runtime(settings or get_settings()) as runtime:
        yield runtime
