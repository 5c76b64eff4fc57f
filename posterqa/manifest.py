"""Input contracts read by a sweep: the poster manifest and the brand kit.

Bucket layout (prefixes from settings)::

    posters/<brand>/<poster>.png         the poster (PNG/JPEG/WebP)
    posters/<brand>/<poster>.json        its manifest (same key, extension .json)
    brands/<brand_id>/brand.json         the brand kit; files named in it are
    brands/<brand_id>/<file>             relative to the kit's folder
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from posterqa.errors import InputError

POSTER_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
MAX_BRAND_ID_LENGTH = 128  # the assets.brand column
ModelT = TypeVar("ModelT", bound=BaseModel)


def name_problem(value: str) -> str | None:
    """Why ``value`` cannot be one segment of a bucket key, or None when it can.

    A brand id from a manifest becomes ``brands/<id>/...``: it must be a *name*, never a
    path (``../posters/acme`` is refused by S3 servers with InvalidRequest, and would
    point outside the kit's folder anyway). Any Unicode is fine except ``/`` and ``\\``
    (SeaweedFS turns a backslash into a slash), control characters, ``.`` and ``..``,
    and surrounding spaces.
    """
    if not value:
        return "is empty"
    if value in (".", ".."):
        return "is a relative path, not a name"
    if "/" in value or "\\" in value:
        return "is a path, not a name (no '/' or '\\')"
    if value != value.strip():
        return "has leading or trailing spaces"
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        return "contains a control character"
    return None


def relative_path_problem(value: str) -> str | None:
    """Why ``value`` is not a plain relative path of names (``fonts/a.ttf``), or None."""
    if not value:
        return "is empty"
    for part in value.split("/"):
        problem = name_problem(part)
        if problem is not None:
            return f"has a part {part!r} that {problem}" if part != value else problem
    return None


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

    @field_validator("brand")
    @classmethod
    def _brand_is_a_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = name_problem(value)
        if problem is None and len(value) > MAX_BRAND_ID_LENGTH:
            problem = f"is longer than {MAX_BRAND_ID_LENGTH} characters"
        if problem is not None:
            raise PydanticCustomError("brand_id", "brand id {value} {problem}",
                                      {"value": repr(value), "problem": problem})
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

    @field_validator("logos", "fonts")
    @classmethod
    def _files_inside_the_kit(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            problem = relative_path_problem(name)
            if problem is not None:
                raise PydanticCustomError(
                    "kit_file", "file {name} {problem} (files are named relative to the "
                    "kit's folder)", {"name": repr(name), "problem": problem})
        return value

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
