"""Settings (POSTERQA_ env) and the manifest / brand-kit contracts."""

from __future__ import annotations

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
