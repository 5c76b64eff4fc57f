"""Publishing an approved repair, per ``settings.publish_mode`` (never silently).

- ``prefix``: copy the repaired poster to ``settings.published_prefix`` + the same
  relative key (``repaired/acme/p1.png`` -> ``published/acme/p1.png``); the original
  stays untouched.
- ``overwrite-versioned``: copy the repaired poster over the original key, but only when
  the bucket keeps versions (the original stays retrievable as the previous version);
  otherwise refuse with :class:`PublishError` and change nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from posterqa.errors import ConfigError, PosterQAError, StorageError
from posterqa.settings import Settings

log = logging.getLogger(__name__)


class PublishError(PosterQAError):
    """The approved repair cannot be published as the settings ask."""


@dataclass(frozen=True)
class Published:
    mode: str
    source_key: str
    published_key: str


def published_key_for(settings: Settings, *, repaired_key: str, asset_key: str) -> str:
    """Where ``prefix`` mode puts the repaired poster: the same key relative to its prefix."""
    if repaired_key.startswith(settings.repaired_prefix):
        relative = repaired_key[len(settings.repaired_prefix):]
    elif asset_key.startswith(settings.posters_prefix):
        relative = asset_key[len(settings.posters_prefix):]
    else:
        relative = asset_key
    return settings.published_prefix + relative.lstrip("/")


def bucket_versioning_enabled(store: Any) -> bool:
    """True when the store's bucket has versioning ``Enabled`` (not merely ``Suspended``)."""
    check = getattr(store, "versioning_enabled", None)
    if callable(check):
        return bool(check())
    client = getattr(store, "client", None)
    bucket = getattr(store, "bucket", None)
    if client is None or bucket is None:
        raise ConfigError("cannot tell whether the bucket keeps versions: the store has no client")
    try:
        status = client.get_bucket_versioning(Bucket=bucket).get("Status")
    except Exception as exc:  # botocore ClientError and friends
        raise StorageError(f"cannot read the versioning state of bucket {bucket!r}: {exc}") from exc
    return status == "Enabled"


def publish_repair(settings: Settings, store: Any, *, repaired_key: str | None,
                   asset_key: str) -> Published:
    """Copy the repaired poster where ``settings.publish_mode`` says; raise PublishError."""
    if store is None:
        raise PublishError("cannot publish: the dashboard has no object store connected")
    if not repaired_key:
        raise PublishError(f"cannot publish the repair of {asset_key!r}: it has no repaired poster")
    if not store.exists(repaired_key):
        raise PublishError(f"cannot publish: repaired poster {repaired_key!r} is missing")
    mode = settings.publish_mode
    if mode == "prefix":
        dst = published_key_for(settings, repaired_key=repaired_key, asset_key=asset_key)
    elif mode == "overwrite-versioned":
        if not bucket_versioning_enabled(store):
            raise PublishError(
                f"publish_mode is 'overwrite-versioned' but bucket "
                f"{getattr(store, 'bucket', '?')!r} has no versioning enabled: refusing to "
                f"overwrite {asset_key!r}; enable versioning or set POSTERQA_PUBLISH_MODE=prefix"
            )
        dst = asset_key
    else:  # settings validation makes this unreachable
        raise PublishError(f"unknown publish_mode {mode!r}")
    store.copy(repaired_key, dst)
    log.info("published %s -> %s (%s)", repaired_key, dst, mode)
    return Published(mode=mode, source_key=repaired_key, published_key=dst)
