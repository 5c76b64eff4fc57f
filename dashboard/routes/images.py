"""Images served through the app, so the browser never needs bucket credentials.

Only keys under the posters / repaired / artifacts / published prefixes are served;
anything with ``..``, an absolute path, a backslash or a control character is refused
with 400. Responses carry the object's S3 ETag and ``Cache-Control: private, no-cache``:
the browser keeps a copy and revalidates it (304) instead of downloading it again.
"""

from __future__ import annotations

import logging
import mimetypes

from fastapi import APIRouter, HTTPException, Request, Response

from dashboard.deps import SettingsDep, StoreDep, UserDep
from posterqa.errors import ObjectNotFoundError, StorageError
from posterqa.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter()

CACHE_CONTROL = "private, no-cache"  # revalidate: repaired keys are rewritten on re-runs
_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
          ".webp": "image/webp"}


def allowed_prefixes(settings: Settings) -> tuple[str, ...]:
    return tuple(p for p in (settings.posters_prefix, settings.repaired_prefix,
                             settings.artifacts_prefix, settings.published_prefix) if p)


def validate_key(key: str, settings: Settings) -> str:
    """The key if it is safe to serve; raises HTTPException(400) naming the problem."""
    if not key or len(key) > 1024:
        raise HTTPException(400, "image key is empty or too long")
    if key.startswith("/") or "\\" in key or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise HTTPException(400, f"image key {key!r} is not a relative bucket key")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise HTTPException(400, f"image key {key!r} has an empty, '.' or '..' segment")
    if not key.startswith(allowed_prefixes(settings)):
        raise HTTPException(400, f"image key {key!r} is outside the served prefixes")
    return key


def _content_type(key: str) -> str:
    dot = key.rfind(".")
    ext = key[dot:].lower() if dot >= 0 else ""
    return _TYPES.get(ext) or mimetypes.guess_type(key)[0] or "application/octet-stream"


@router.get("/img/{key:path}")
def image(key: str, request: Request, settings: SettingsDep, store: StoreDep,
          user: UserDep) -> Response:
    validate_key(key, settings)
    if store is None:
        raise HTTPException(503, "no object store is connected to the dashboard")
    try:
        etag = '"' + str(store.head(key)["etag"]).strip('"') + '"'
        headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL,
                   "X-Content-Type-Options": "nosniff"}
        inm = request.headers.get("if-none-match", "")
        if etag in [t.strip() for t in inm.split(",")]:
            return Response(status_code=304, headers=headers)
        data = store.get_bytes(key)
    except ObjectNotFoundError:
        raise HTTPException(404, f"image {key!r} does not exist") from None
    except StorageError as exc:
        log.warning("image %s: %s", key, exc)
        raise HTTPException(502, f"object store failed for {key!r}") from None
    return Response(content=data, media_type=_content_type(key), headers=headers)
