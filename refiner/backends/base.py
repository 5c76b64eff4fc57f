"""The backend interface and the registry.

A backend turns a focus crop into a refined crop of the same size::

    out = backend.refine(crop, crop_mask, prompt, reference=None, seed=0, hints={})

``crop``: RGB uint8 ``[h, w, 3]``; ``crop_mask``: uint8 ``[h, w]``, 255 = repaint;
``reference``: RGBA or RGB uint8 or None; returns RGB uint8 ``[h, w, 3]``. The refiner
core does the crop, the resize to the backend's pixel budget and the paste-back; a
backend never sees or changes the full poster. ``hints`` carries optional,
backend-specific facts the detector knew (text quad in crop coordinates, font path,
colours); model backends ignore what they do not use.

Backends register themselves by name; heavy backends live in modules that are only
imported when :func:`get_backend` asks for them, so the CPU path starts fast.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from posterqa.errors import ConfigError

_REGISTRY: dict[str, type[RefinerBackend]] = {}
# name -> module that registers it when imported (lazy, keeps torch out of the CPU path)
_LAZY: dict[str, str] = {
    "compositor": "refiner.backends.compositor",
    "refineanything": "refiner.backends.refineanything",
}


class RefinerBackend(ABC):
    """Base class of every refiner backend."""

    name: ClassVar[str] = ""
    # the crop is resized so that w*h is about pixel_budget, each side a multiple of this
    size_multiple: ClassVar[int] = 1
    # False: the core hands the crop at its own resolution (no resize to the budget)
    wants_resize: ClassVar[bool] = True
    deterministic: ClassVar[bool] = True

    def __init__(self, pixel_budget: int = 1024 * 1024, *, settings: Any = None) -> None:
        self.pixel_budget = pixel_budget
        self.settings = settings

    @abstractmethod
    def refine(
        self,
        crop: np.ndarray,
        crop_mask: np.ndarray,
        prompt: str,
        reference: np.ndarray | None = None,
        *,
        seed: int | None = None,
        hints: Mapping[str, Any] | None = None,
    ) -> np.ndarray:
        """Return the refined crop, RGB uint8 with the shape of ``crop``."""

    def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release models and memory (no-op by default)."""

    def __enter__(self) -> RefinerBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def register(name: str) -> Callable[[type[RefinerBackend]], type[RefinerBackend]]:
    """Class decorator: make a backend available as ``name``."""

    def deco(cls: type[RefinerBackend]) -> type[RefinerBackend]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def available_backends() -> list[str]:
    return sorted(set(_REGISTRY) | set(_LAZY))


def backend_class(name: str) -> type[RefinerBackend]:
    if name not in _REGISTRY and name in _LAZY:
        importlib.import_module(_LAZY[name])
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown refiner backend {name!r}; available: {', '.join(available_backends())}"
        ) from None


def get_backend(name: str, **kwargs: Any) -> RefinerBackend:
    """Build the backend registered as ``name`` (kwargs go to its constructor)."""
    return backend_class(name)(**kwargs)
