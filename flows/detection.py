"""Detection stage logic, without Prefect: fetch a poster and its inputs, run detectors.

The Prefect tasks in :mod:`flows.tasks` are thin wrappers around these functions so
that the logic can be called and tested directly. Values passed between the steps are
small frozen dataclasses holding keys, hashes and local cache paths, never pixels.

Failures that belong to one poster (deleted object, corrupt image, bad manifest,
unknown brand) become a :class:`Detection` with ``error`` set; the sweep records the
reason on the asset and goes on with the other posters.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posterqa.errors import (
    ImageTooLargeError,
    ImageTooSmallError,
    InputError,
    ObjectNotFoundError,
    PosterQAError,
)
from posterqa.manifest import manifest_key_for, parse_brand_kit, parse_manifest

log = logging.getLogger(__name__)

MODE_MANIFEST = "manifest"
MODE_REFERENCE_FREE = "reference-free"
MODE_UNKNOWN = "unknown"  # the poster could not be read: whether it has a manifest is unknown


@dataclass(frozen=True)
class PosterRef:
    """A poster object found by listing: key, ETag and size in bytes."""

    key: str
    etag: str
    size: int = 0


@dataclass(frozen=True)
class FetchedPoster:
    """A poster downloaded to the local cache, with what its manifest and kit say."""

    key: str
    etag: str
    sha256: str | None = None
    path: str | None = None
    manifest: dict[str, Any] | None = None
    brand_id: str | None = None
    brand_name: str | None = None
    font_path: str | None = None  # the kit's first font (the repair's typeface)
    logo_path: str | None = None
    error: str | None = None
    font_paths: tuple[str, ...] = ()  # all the kit's fonts (Latin and CJK copy)

    @property
    def mode(self) -> str:
        return MODE_MANIFEST if self.manifest is not None else MODE_REFERENCE_FREE


@dataclass(frozen=True)
class Detection:
    """What the detectors found on one poster (defects as ``Defect.to_json()`` dicts)."""

    key: str
    etag: str
    sha256: str | None
    mode: str
    brand_id: str | None = None
    width: int | None = None
    height: int | None = None
    defects: tuple[dict[str, Any], ...] = ()
    error: str | None = None
    seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)
    retry_later: bool = False  # not the poster's fault (storage): recorded, not marked scanned


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def cache_object(store: Any, cache_dir: Path, key: str, *, sub: str) -> tuple[Path, str]:
    """Download ``key`` into ``cache_dir/sub/<sha256><ext>``; returns (path, sha256)."""
    data = store.get_bytes(key)
    sha = hashlib.sha256(data).hexdigest()
    ext = Path(key).suffix.lower()
    path = cache_dir / sub / f"{sha}{ext}"
    if not path.exists():
        _write_atomic(path, data)
    return path, sha


def _brand_files(store: Any, settings: Any, cache_dir: Path, brand_id: str) -> dict[str, Any]:
    """Read ``brands/<id>/brand.json`` and cache its main logo and all its fonts locally
    (a kit's Latin and CJK fonts: the text detector fits each line with the one that
    draws it; with the first alone, Chinese copy had no rendering to compare)."""
    kit_key = f"{settings.brands_prefix}{brand_id}/brand.json"
    try:
        raw = store.get_bytes(kit_key)
    except ObjectNotFoundError:
        raise InputError(
            f"manifest names unknown brand {brand_id!r}: {kit_key} does not exist"
        ) from None
    kit = parse_brand_kit(raw, name=kit_key)

    def cached(name: str) -> str:
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise InputError(f"brand kit {brand_id!r} names a file outside its folder: "
                             f"{name!r}")
        key = f"{settings.brands_prefix}{brand_id}/{name}"
        # the cache folder lives for one run: a kit file is downloaded once per run
        path = cache_dir / "brands" / brand_id / name
        if not path.is_file():
            try:
                _write_atomic(path, store.get_bytes(key))
            except ObjectNotFoundError:
                raise InputError(
                    f"brand kit {brand_id!r} names {name!r} but {key} is missing"
                ) from None
        return str(path)

    fonts = tuple(cached(name) for name in kit.fonts)
    return {"kit": kit, "font_paths": fonts, "font_path": fonts[0] if fonts else None,
            "logo_path": cached(kit.logos[0]) if kit.logos else None}


def fetch_poster(store: Any, settings: Any, cache_dir: Path, ref: PosterRef) -> FetchedPoster:
    """Download poster, manifest and brand kit files; per-poster problems -> ``error``."""
    try:
        path, sha = cache_object(store, cache_dir, ref.key, sub="posters")
    except ObjectNotFoundError:
        return FetchedPoster(
            key=ref.key, etag=ref.etag,
            error=f"poster {ref.key} was deleted between listing and reading",
        )
    base = {"key": ref.key, "etag": ref.etag, "sha256": sha, "path": str(path)}
    mkey = manifest_key_for(ref.key)
    try:
        manifest = parse_manifest(store.get_bytes(mkey), name=mkey)
    except ObjectNotFoundError:
        return FetchedPoster(**base)  # reference-free mode
    except InputError as exc:
        return FetchedPoster(**base, error=f"bad manifest: {exc}")
    fetched: dict[str, Any] = {**base, "manifest": manifest.to_json()}
    if manifest.brand:
        try:
            files = _brand_files(store, settings, cache_dir, manifest.brand)
        except InputError as exc:
            return FetchedPoster(**fetched, brand_id=manifest.brand, error=str(exc))
        fetched.update(
            brand_id=manifest.brand,
            brand_name=files["kit"].display_name,
            font_path=files["font_path"],
            font_paths=files["font_paths"],
            logo_path=files["logo_path"],
        )
    return FetchedPoster(**fetched)


def load_poster(fetched: FetchedPoster, *, max_pixels: int) -> tuple[Any, str | None]:
    """Decode the cached poster: ``(RGB uint8 [H, W, 3] array, None)`` or ``(None, reason)``."""
    from posterqa.imaging import MIN_POSTER_SIDE, load_image

    if fetched.error is not None or fetched.path is None:
        return None, fetched.error or "poster was not fetched"
    try:
        return load_image(fetched.path, name=fetched.key, max_pixels=max_pixels,
                          min_side=MIN_POSTER_SIDE), None
    except (ImageTooLargeError, ImageTooSmallError) as exc:
        return None, f"poster not checked: {exc}"
    except InputError as exc:
        return None, f"corrupt poster: {exc}"


def detect_defects(
    fetched: FetchedPoster, *, text_detector: Any, logo_detector_factory: Any,
    max_pixels: int, image: Any = None, lock: Any = None,
) -> Detection:
    """Run the text (and, where the manifest asks for it, logo) detector on a poster.

    ``image``: the decoded poster when the caller already has it; ``lock``: held only
    around the detectors themselves (decoding can overlap another poster's detection).
    """
    import contextlib

    base = {"key": fetched.key, "etag": fetched.etag, "sha256": fetched.sha256,
            "mode": fetched.mode, "brand_id": fetched.brand_id}
    if image is None:
        image, error = load_poster(fetched, max_pixels=max_pixels)
        if error is not None:
            return Detection(**base, error=error)
    from posterqa.imaging import load_rgba
    from posterqa.manifest import PosterManifest

    height, width = image.shape[:2]
    reference = None
    manifest = None
    if fetched.manifest is not None:
        manifest = PosterManifest.model_validate(fetched.manifest)
        if manifest.logo_required and fetched.logo_path:
            reference = load_rgba(fetched.logo_path, name="brand logo")
    with lock if lock is not None else contextlib.nullcontext():
        t0 = time.perf_counter()  # the detectors' own time (decode excluded)
        try:
            if manifest is None:
                found = list(text_detector.detect(image, None))
            else:
                found = list(text_detector.detect(
                    image, list(manifest.copy_lines),
                    font_path=list(fetched.font_paths) or fetched.font_path,
                    logo=reference,  # its wordmark is the logo's, not copy
                    report_unexpected=text_detector.settings.report_unexpected_text,
                ))
                if reference is not None:
                    hints = tuple(h for h in manifest.hints if h.kind == "logo")
                    found += list(logo_detector_factory().detect(
                        image, reference, required=True, brand_name=fetched.brand_name,
                        hints=hints,
                    ))
        except PosterQAError as exc:
            return Detection(**base, width=width, height=height,
                             error=f"detection failed: {exc}")
        seconds = time.perf_counter() - t0
    return Detection(
        **base, width=width, height=height, seconds=seconds,
        defects=tuple(d.to_json() for d in found),
    )
