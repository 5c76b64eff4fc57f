"""Input contracts read by a sweep: the poster manifest and the brand kit.

Bucket layout (prefixes from settings)::

    posters/<brand>/<poster>.png         the poster (PNG/JPEG/WebP)
    posters/<brand>/<poster>.json        its manifest (same key, extension .json)
    brands/<brand_id>/brand.json         the brand kit; files named in it are
    brands/<brand_id>/<file>             relative to the kit's folder
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from posterqa.errors import InputError

POSTER_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
ModelT = TypeVar("ModelT", bound=BaseModel)


class RegionHint(BaseModel):
    """Where something is expected to be, in poster pixels ``[x0, y0, x1, y1]``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: str = Field(description="'text' or 'logo'")
    bbox: tuple[int, int, int, int]
    text: str | None = None


class PosterManifest(BaseModel):
    """``<poster>.json``: what the poster must show."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    brand: str | None = None
    copy_lines: tuple[str, ...] = Field(default=(), alias="copy")
    logo_required: bool = False
    hints: tuple[RegionHint, ...] = ()

    @field_validator("copy_lines", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        if isinstance(value, str):
            return (value,)
        return value

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class BrandKit(BaseModel):
    """``brands/<id>/brand.json``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    display_name: str
    canonical_strings: tuple[str, ...] = ()
    logos: tuple[str, ...] = Field(default=(), description="logo files, PNG with alpha preferred")
    fonts: tuple[str, ...] = Field(default=(), description="font files (TTF/OTF), first = main")
    colors: tuple[str, ...] = Field(default=(), description="'#rrggbb' strings")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def manifest_key_for(poster_key: str) -> str:
    """``posters/acme/p1.png`` -> ``posters/acme/p1.json``."""
    stem, dot, _ext = poster_key.rpartition(".")
    return f"{stem}.json" if dot else f"{poster_key}.json"


def is_poster_key(key: str) -> bool:
    return key.lower().endswith(POSTER_EXTENSIONS)


def _parse_model(model: type[ModelT], data: bytes | str, name: str) -> ModelT:
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InputError(f"{name} must be a JSON object, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{name}: field {loc!r}: {first['msg']}") from None


def parse_manifest(data: bytes | str, *, name: str = "manifest") -> PosterManifest:
    """Parse a manifest; raises :class:`InputError` naming the file and the problem."""
    return _parse_model(PosterManifest, data, name)


def parse_brand_kit(data: bytes | str, *, name: str = "brand.json") -> BrandKit:
    """Parse a brand kit; raises :class:`InputError` naming the file and the problem."""
    return _parse_model(BrandKit, data, name)
