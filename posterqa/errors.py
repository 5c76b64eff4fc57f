"""posterqa's own exceptions.

Every message names the thing and the value that was wrong, so that the CLI can print
``str(exc)`` as its one line and exit non-zero.
"""

from __future__ import annotations


class PosterQAError(Exception):
    """Base class of every error posterqa raises on purpose."""


class InputError(PosterQAError, ValueError):
    """Bad user input: unreadable image, empty mask, box outside the image, ..."""


class ImageDecodeError(InputError):
    """An image could not be decoded."""


class ImageTooLargeError(InputError):
    """An image has more pixels than ``Settings.max_image_pixels`` allows."""


class ImageTooSmallError(InputError):
    """An image is too small to be checked (fewer pixels a side than a poster needs)."""


class ConfigError(PosterQAError):
    """A setting is missing or invalid (bad endpoint, unwritable state folder, ...)."""


class ModelWeightsMissingError(ConfigError):
    """A model file or folder named by the settings does not exist."""


class StorageError(PosterQAError):
    """The object store or the database failed."""


class ObjectNotFoundError(StorageError, KeyError):
    """An S3 key does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "object not found"


class BackendError(PosterQAError):
    """A refiner backend failed or returned something unusable."""


class BackgroundChangedError(PosterQAError):
    """Paste-back changed pixels outside the blend band (must never happen)."""


def one_line_reason(exc: BaseException, limit: int = 1000) -> str:
    """``Type: message`` of ``exc`` on one line (white space folded), at most ``limit``
    characters: the reason recorded for a poster or a repair that failed."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:limit]


def is_storage_trouble(exc: object) -> bool:
    """True for a failure of the store itself (after retries), not of the poster: any
    :class:`StorageError` but a missing object. Such a poster is retried later."""
    return isinstance(exc, StorageError) and not isinstance(exc, ObjectNotFoundError)
