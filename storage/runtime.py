"""Open the configured object store: the embedded SeaweedFS or an external S3 endpoint."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from storage.seaweed import EmbeddedS3
from storage.store import AssetStore

log = logging.getLogger(__name__)


@contextmanager
def open_store(settings: Any, *, create_bucket: bool = True) -> Iterator[AssetStore]:
    """An :class:`AssetStore` on ``settings.bucket``, for the duration of the block.

    With ``settings.s3_endpoint`` unset, this call takes a lease on the embedded
    SeaweedFS server of ``settings.state_dir`` (starting it, or sharing the one already
    running there) and gives the lease up at the end; the server stops when its last
    user leaves, unless ``posterqa s3 start`` pinned it (:mod:`storage.seaweed`).
    Otherwise the store connects to
    ``settings.s3_endpoint`` with ``settings.s3_access_key`` / ``s3_secret_key``, or,
    when those are unset, boto3's own credential chain (``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, an instance role).
    The bucket is created when missing (``create_bucket=True``), which also proves the
    endpoint and the credentials work: errors surface here as one-line
    :class:`~posterqa.errors.StorageError` / :class:`~posterqa.errors.ConfigError`.
    """
    server: EmbeddedS3 | None = None
    access_key, secret_key = settings.s3_access_key, settings.s3_secret_key
    if settings.s3_endpoint is None:
        server = EmbeddedS3.from_settings(settings).start()
        endpoint = server.endpoint
        access_key, secret_key = server.access_key, server.secret_key
    else:
        endpoint = settings.s3_endpoint
    try:
        store = AssetStore.connect(
            endpoint=endpoint,
            bucket=settings.bucket,
            access_key=access_key,
            secret_key=secret_key,
            region=settings.s3_region,
        )
        if create_bucket:
            store.ensure_bucket()
        yield store
    finally:
        if server is not None:
            server.stop()
