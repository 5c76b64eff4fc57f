"""Settings (POSTERQA_ env) and the manifest / brand-kit contracts."""

from __future__ import annotations

import json
import re

import pytest

from posterqa.errors import InputError
from posterqa.manifest import manifest_key_for, parse_brand_kit, parse_manifest
from posterqa.settings import Settings


def test_settings_read_env_prefix_and_normalise_prefixes(monkeypatch, tmp_path):
    monkeypatch.setenv("POSTERQA_BUCKET", "catalog")
    monkeypatch.setenv("POSTERQA_POSTERS_PREFIX", "/in")
    monkeypatch.setenv("POSTERQA_STATE_DIR", str(tmp_path))
    s = Settings()
    assert s.bucket == "catalog" and s.posters_prefix == "in/"
    assert s.resolved_db_url == f"sqlite:///{tmp_path.resolve()}/posterqa.db"
    assert s.embedded_s3 is True
    assert Settings(s3_endpoint="http://s3.example:9000").embedded_s3 is False


def test_manifest_parses_copy_and_reports_bad_fields_by_name():
    m = parse_manifest('{"brand": "acme", "copy": "SALE", "logo_required": true}')
    assert m.copy_lines == ("SALE",) and m.logo_required
    with pytest.raises(InputError, match="p1.json is not valid JSON"):
        parse_manifest("{", name="p1.json")
    with pytest.raises(InputError, match="logo_required"):
        parse_manifest('{"logo_required": "perhaps"}')
    with pytest.raises(InputError, match="JSON object"):
        parse_manifest("[1]")


def test_brand_kit_and_manifest_key():
    kit = parse_brand_kit('{"id": "acme", "display_name": "ACME", "logos": ["logo.png"]}')
    assert kit.logos == ("logo.png",)
    with pytest.raises(InputError, match="display_name"):
        parse_brand_kit('{"id": "acme"}')
    assert manifest_key_for("posters/acme/p1.png") == "posters/acme/p1.json"


@pytest.mark.parametrize("brand, problem", [
    ("../posters/acme", "is a path, not a name (no '/' or '\\')"),
    ("acme/../x", "is a path, not a name (no '/' or '\\')"),
    ("a\\b", "is a path, not a name (no '/' or '\\')"),
    ("..", "is a relative path, not a name"),
    (".", "is a relative path, not a name"),
    ("", "is empty"),
    (" acme", "has leading or trailing spaces"),
    ("ac\nme", "contains a control character"),
    ("x" * 129, "is longer than 128 characters"),
])
def test_a_brand_id_must_be_a_name_not_a_path(brand, problem):
    # brands/<id>/brand.json: "../posters/acme" made SeaweedFS answer InvalidRequest
    with pytest.raises(InputError) as info:
        parse_manifest(json.dumps({"brand": brand}), name="p1.json")
    assert str(info.value) == f"p1.json: field 'brand': brand id {brand!r} {problem}"


@pytest.mark.parametrize("brand", ["acme", "海报", "brand-1.v2", "Café Noir", "..x"])
def test_any_unicode_name_is_a_brand_id(brand):
    assert parse_manifest(json.dumps({"brand": brand})).brand == brand


def test_brand_kit_files_stay_inside_the_kit_folder():
    kit = parse_brand_kit('{"id": "a", "display_name": "A", "fonts": ["fonts/Sans SC.otf"]}')
    assert kit.fonts == ("fonts/Sans SC.otf",)
    for name in ("../other/logo.png", "/etc/passwd", "a//b.png", "a\\..\\b.png"):
        with pytest.raises(InputError, match=f"field 'logos': file {re.escape(repr(name))} "):
            parse_brand_kit(json.dumps({"id": "a", "display_name": "A", "logos": [name]}))
