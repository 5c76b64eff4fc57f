"""The asset store: one S3 bucket through boto3, against any S3 endpoint.

Keys are plain strings (``posters/acme/p1.png``); ETags are returned without quotes.
Errors come back as posterqa's own exceptions with one line each:

- a key that does not exist -> :class:`~posterqa.errors.ObjectNotFoundError` naming
  ``s3://bucket/key``;
- an endpoint that cannot be reached -> :class:`~posterqa.errors.StorageError`
  ``cannot reach S3 endpoint http://...: connection refused``;
- rejected credentials -> ``S3 rejected the credentials for bucket X (InvalidAccessKeyId)``;
- ``put_bytes(..., overwrite=False)`` on an existing key -> :class:`ObjectExistsError`.

Keys may be any Unicode. User metadata values may be too: S3 carries them in HTTP
headers, ASCII only, so :meth:`AssetStore.put_bytes` percent-encodes them
(:func:`encode_metadata`) and :meth:`AssetStore.head` decodes them again.

Transient errors (throttling, 5xx, dropped connections) are retried by botocore's
``standard`` retry mode, a few attempts with backoff.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from posterqa.errors import ConfigError, InputError, ObjectNotFoundError, StorageError

log = logging.getLogger(__name__)

_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
    "InvalidClientTokenId",
}
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^)\"']+)")
# printable ASCII stays as it is in a metadata value, except "%" (the escape itself)
_META_SAFE = "".join(ch for ch in string.printable if ch not in "%\t\n\r\x0b\x0c")
_META_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def encode_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata as S3 carries it: values percent-encoded (UTF-8) where they are
    not printable ASCII, and ``%`` itself; keys must be lower-case ASCII names.

    ``{"source-key": "posters/ü.png"}`` -> ``{"source-key": "posters/%C3%BC.png"}``.
    Raises :class:`InputError` for a key that S3 cannot carry.
    """
    from urllib.parse import quote

    out: dict[str, str] = {}
    for key, value in (metadata or {}).items():
        name = str(key)
        if not _META_KEY_RE.match(name):
            raise InputError(f"S3 metadata key {name!r} must be lower-case ASCII "
                             f"letters, digits, '.', '_' or '-'")
        out[name] = quote(str(value), safe=_META_SAFE)
    return out


def decode_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """The inverse of :func:`encode_metadata` (values percent-decoded as UTF-8)."""
    from urllib.parse import unquote

    return {str(k): unquote(str(v)) for k, v in (metadata or {}).items()}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class ObjectExistsError(StorageError):
    """``put_bytes(..., overwrite=False)`` found the key already there."""


@dataclass(frozen=True)
class ObjectInfo:
    """One object in a listing. ``etag`` has no surrounding quotes."""

    key: str
    etag: str
    size: int
    last_modified: datetime


def normalize_etag(etag: str | None) -> str:
    """``'"abc"'`` -> ``'abc'`` (S3 returns ETags quoted)."""
    return (etag or "").strip().strip('"')


def make_s3_client(
    endpoint: str | None,
    *,
    access_key: str | None,
    secret_key: str | None,
    region: str = "us-east-1",
    max_attempts: int = 3,
    connect_timeout: float = 5.0,
    read_timeout: float = 60.0,
) -> Any:
    """A boto3 S3 client with path-style addressing and a small retry budget.

    ``endpoint=None`` means AWS itself. Raises :class:`ConfigError` for a malformed URL.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": "path"},
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        signature_version="s3v4",
    )
    try:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=config,
        )
    except ValueError as exc:
        raise ConfigError(f"invalid S3 endpoint {endpoint!r}: {exc}") from exc


class AssetStore:
    """Read and write objects of one bucket. Thread-safe (boto3 clients are)."""

    def __init__(self, client: Any, bucket: str, *, endpoint: str | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.endpoint = endpoint or getattr(getattr(client, "meta", None), "endpoint_url", "")

    @classmethod
    def connect(
        cls,
        *,
        endpoint: str | None,
        bucket: str,
        access_key: str | None,
        secret_key: str | None,
        region: str = "us-east-1",
        max_attempts: int = 3,
    ) -> AssetStore:
        """A store on a fresh client (no request is made yet)."""
        client = make_s3_client(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            region=region,
            max_attempts=max_attempts,
        )
        return cls(client, bucket, endpoint=endpoint)

    def __repr__(self) -> str:
        return f"AssetStore(endpoint={self.endpoint!r}, bucket={self.bucket!r})"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # ------------------------------------------------------------------ errors

    def _error(self, exc: Exception, *, op: str, key: str | None = None) -> Exception:
        """Translate a boto3/botocore exception into one of posterqa's (not raised)."""
        from botocore.exceptions import (
            ClientError,
            ConnectionClosedError,
            EndpointConnectionError,
            ReadTimeoutError,
        )

        if isinstance(exc, EndpointConnectionError):
            detail = str(exc.kwargs.get("error", exc))
            match = _ERRNO_RE.search(detail)
            reason = match.group(1).strip().lower() if match else "connection failed"
            return StorageError(f"cannot reach S3 endpoint {self.endpoint}: {reason}")
        if isinstance(exc, ReadTimeoutError | ConnectionClosedError):
            return StorageError(f"S3 endpoint {self.endpoint} stopped answering during {op}")
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _CREDENTIAL_CODES:
                return StorageError(
                    f"S3 rejected the credentials for bucket {self.bucket} ({code})"
                )
            if code == "NoSuchBucket":
                return StorageError(
                    f"bucket {self.bucket} does not exist at S3 endpoint {self.endpoint}"
                )
            if key is not None and code in _NOT_FOUND_CODES:
                return ObjectNotFoundError(f"object {self.uri(key)} does not exist")
            if code in ("AccessDenied", "403") or status == 403:
                return StorageError(
                    f"S3 denied {op} on {self.uri(key) if key else 'bucket ' + self.bucket} "
                    f"(AccessDenied: wrong credentials or missing permission)"
                )
            message = _one_line(str(err.get("Message") or ""))
            target = self.uri(key) if key else f"bucket {self.bucket}"
            return StorageError(
                f"S3 {op} on {target} failed: {code or status}{': ' + message if message else ''}"
            )
        target = self.uri(key) if key else self.bucket
        return StorageError(f"S3 {op} on {target} failed: {_one_line(str(exc))}")

    def _call(self, op: str, key: str | None = None, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, op)(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, op=op, key=key) from exc

    # ------------------------------------------------------------------ bucket

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (idempotent)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code not in ("404", "NoSuchBucket", "NotFound"):
                if code in ("403", "AccessDenied"):
                    # HEAD has no body: ask again with a request that says why
                    self._call("list_objects_v2", Bucket=self.bucket, MaxKeys=1)
                raise self._error(exc, op="head_bucket") from exc
        except BotoCoreError as exc:
            raise self._error(exc, op="head_bucket") from exc
        try:
            self.client.create_bucket(Bucket=self.bucket)
            log.info("created bucket %s at %s", self.bucket, self.endpoint)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise self._error(exc, op="create_bucket") from exc

    # ------------------------------------------------------------------ listing

    def list(
        self, prefix: str = "", *, known_etags: Mapping[str, str] | None = None
    ) -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, in key order, page by page (1,000 keys a page).

        With ``known_etags`` (key -> ETag from the last run), only keys that are new or
        whose ETag changed are yielded.
        """
        known = (
            {k: normalize_etag(v) for k, v in known_etags.items()}
            if known_etags is not None
            else None
        )
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call("list_objects_v2", **kwargs)
            for item in page.get("Contents", ()):
                info = ObjectInfo(
                    key=item["Key"],
                    etag=normalize_etag(item.get("ETag")),
                    size=int(item.get("Size", 0)),
                    last_modified=_utc(item.get("LastModified")),
                )
                if known is not None and known.get(info.key) == info.etag:
                    continue
                yield info
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")
            if not token:
                raise StorageError(
                    f"S3 listing of s3://{self.bucket}/{prefix} is truncated without a token"
                )

    # ------------------------------------------------------------------ objects

    def head(self, key: str) -> dict[str, Any]:
        """``{"etag", "size", "content_type", "metadata", "last_modified"}`` of ``key``
        (metadata values decoded, see :func:`decode_metadata`)."""
        resp = self._call("head_object", key, Bucket=self.bucket, Key=key)
        return {
            "etag": normalize_etag(resp.get("ETag")),
            "size": int(resp.get("ContentLength", 0)),
            "content_type": resp.get("ContentType"),
            "metadata": decode_metadata(resp.get("Metadata")),
            "last_modified": _utc(resp.get("LastModified")),
        }

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except ObjectNotFoundError:
            return False
        return True

    def get_bytes(self, key: str) -> bytes:
        """The object's bytes; :class:`ObjectNotFoundError` when it does not exist."""
        resp = self._call("get_object", key, Bucket=self.bucket, Key=key)
        try:
            return resp["Body"].read()
        except Exception as exc:  # a dropped stream surfaces as urllib3/botocore errors
            raise StorageError(f"reading {self.uri(key)} failed: {exc}") from exc

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        overwrite: bool = True,
    ) -> str:
        """Write ``data`` to ``key``; returns the new ETag.

        ``metadata`` values may be any text: they are percent-encoded for S3
        (:func:`encode_metadata`) and decoded by :meth:`head`. With
        ``overwrite=False`` an existing key is never replaced: the key is checked first
        and the PUT carries ``If-None-Match: *``, so an S3 server that supports
        conditional writes (AWS S3, SeaweedFS, MinIO) also refuses a writer that raced
        in between. A server that ignores the header leaves that small window open.
        Raises :class:`ObjectExistsError` when the key exists.
        """
        meta = encode_metadata(metadata)
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": bytes(data),
            "ContentType": content_type,
            "Metadata": meta,
        }
        if not overwrite:
            if self.exists(key):
                raise ObjectExistsError(f"object {self.uri(key)} exists; refusing to overwrite")
            kwargs["IfNoneMatch"] = "*"
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = self.client.put_object(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if not overwrite and code in (
                "PreconditionFailed",
                "412",
                "ConditionalRequestConflict",
            ):
                raise ObjectExistsError(
                    f"object {self.uri(key)} exists; refusing to overwrite"
                ) from exc
            raise self._error(exc, op="put_object", key=None) from exc
        except BotoCoreError as exc:
            raise self._error(exc, op="put_object", key=None) from exc
        return normalize_etag(resp.get("ETag"))

    def put_image(
        self,
        key: str,
        image: np.ndarray,
        *,
        metadata: Mapping[str, str] | None = None,
        overwrite: bool = True,
    ) -> str:
        """Encode ``image`` (RGB ``uint8 [H, W, 3]``, RGBA, or a ``[H, W]`` mask) as PNG; put it."""
        from posterqa.imaging import encode_png

        return self.put_bytes(
            key,
            encode_png(image),
            content_type="image/png",
            metadata=metadata,
            overwrite=overwrite,
        )

    def get_image(self, key: str, max_pixels: int | None = None) -> np.ndarray:
        """Decode ``key`` to RGB ``uint8 [H, W, 3]`` in sRGB (EXIF, ICC, alpha handled).

        Raises :class:`ObjectNotFoundError`, or :class:`posterqa.errors.InputError` for
        an undecodable or too large image (named by its ``s3://`` URI).
        """
        from posterqa.imaging import DEFAULT_MAX_PIXELS, load_image

        data = self.get_bytes(key)
        return load_image(data, name=self.uri(key), max_pixels=max_pixels or DEFAULT_MAX_PIXELS)

    def copy(self, src: str, dst: str, *, metadata: Mapping[str, str] | None = None) -> str:
        """Server-side copy ``src`` -> ``dst`` in the same bucket; returns the new ETag.

        Content type and metadata are copied unless ``metadata`` replaces the latter
        (encoded as in :meth:`put_bytes`).
        """
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": dst,
            "CopySource": {"Bucket": self.bucket, "Key": src},
        }
        if metadata is not None:
            head = self.head(src)
            kwargs["MetadataDirective"] = "REPLACE"
            kwargs["Metadata"] = encode_metadata(metadata)
            if head["content_type"]:
                kwargs["ContentType"] = head["content_type"]
        resp = self._call("copy_object", src, **kwargs)
        return normalize_etag(resp.get("CopyObjectResult", {}).get("ETag"))

    def delete(self, key: str) -> None:
        """Delete ``key`` (no error when it does not exist, as in S3)."""
        self._call("delete_object", None, Bucket=self.bucket, Key=key)


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(0, UTC)
