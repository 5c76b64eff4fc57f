"""Refiner backends, a registry keyed by name (``get_backend("compositor")``)."""

from refiner.backends.base import RefinerBackend, available_backends, get_backend, register

__all__ = ["RefinerBackend", "available_backends", "get_backend", "register"]
