"""Whole catalogs: defect mix, on-disk / bucket layout, determinism, no network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from catalog import (
    LOGO_DEFECTS,
    TEXT_DEFECTS,
    generate_catalog,
    make_brand,
    make_poster,
    upload_catalog,
    write_catalog_dir,
)
from posterqa.errors import InputError
from posterqa.imaging import encode_png, load_image, load_rgba
from posterqa.manifest import parse_brand_kit, parse_manifest


def test_catalog_plan_mixes_every_defect_type_and_both_logo_styles() -> None:
    catalog = generate_catalog(7, 20, n_brands=3, defect_share=0.5, no_manifest=2)
    specs = catalog.specs
    assert len(catalog.posters) == 20 and len(catalog.brands) == 3
    bad = [s for s in specs if s.text_defects or s.logo_defect]
    assert len(bad) == 10
    assert {d for s in specs for _, d in s.text_defects} == set(TEXT_DEFECTS)
    assert {s.logo_defect for s in specs} - {None} == set(LOGO_DEFECTS)
    assert [s.with_manifest for s in specs][-3:] == [True, False, False]
    assert {b.logo_style for b in catalog.brands} == {"flat", "textured"}
    assert len({s.poster_id for s in specs}) == 20


def test_catalog_restricted_to_some_defect_types() -> None:
    catalog = generate_catalog(3, 8, defect_share=1.0, text_defect_types=("blur",),
                               logo_defect_types=())
    assert all(s.logo_defect is None for s in catalog.specs)
    assert {d for s in catalog.specs for _, d in s.text_defects} == {"blur"}


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"n_posters": 0}, "n_posters"),
    ({"n_brands": 0}, "n_brands"),
    ({"defect_share": 1.5}, "defect_share"),
    ({"no_manifest": 9}, "no_manifest"),
    ({"text_defect_types": ("smear",)}, "smear"),
])
def test_bad_catalog_arguments_raise_input_error(kwargs: dict, needle: str) -> None:
    args = {"n_posters": 4} | kwargs
    with pytest.raises(InputError, match=needle):
        generate_catalog(1, **args)


def test_written_layout_is_complete_parseable_and_byte_identical(tmp_path: Path) -> None:
    catalog = generate_catalog(5, 3, n_brands=2, defect_share=0.7, no_manifest=1)
    write_catalog_dir(catalog, tmp_path / "a")
    write_catalog_dir(generate_catalog(5, 3, n_brands=2, defect_share=0.7, no_manifest=1),
                      tmp_path / "b")
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*")
                     if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*")
                     if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    root = tmp_path / "a"
    assert not [p for p in root.rglob(".*")]  # no temporary files left behind
    for brand in catalog.brands:
        kit = parse_brand_kit((root / "brands" / brand.id / "brand.json").read_bytes())
        assert kit.id == brand.id and len(kit.fonts) == 2 and kit.colors
        for name in (*kit.logos, *kit.fonts):
            assert (root / "brands" / brand.id / name).is_file()
        logo = load_rgba(root / "brands" / brand.id / kit.logos[0])
        assert logo[..., 3].min() == 0 and logo[..., 3].max() == 255
    for spec in catalog.specs:
        png = root / "posters" / spec.brand_id / f"{spec.poster_id}.png"
        manifest_file = png.with_suffix(".json")
        truth = json.loads((root / "truth" / spec.brand_id / f"{spec.poster_id}.json")
                           .read_bytes())
        image = load_image(png)
        assert truth["size"] == [image.shape[1], image.shape[0]]
        assert truth["poster_key"] == f"posters/{spec.brand_id}/{spec.poster_id}.png"
        assert manifest_file.exists() == spec.with_manifest == truth["has_manifest"]
        if spec.with_manifest:
            manifest = parse_manifest(manifest_file.read_bytes())
            texts = [i["expected"] for i in truth["items"] if i["kind"] == "text"]
            assert list(manifest.copy_lines) == texts
        defects = sorted(i["defect"] for i in truth["items"] if i["defect"])
        assert defects == sorted([d for _, d in spec.text_defects]
                                 + ([spec.logo_defect] if spec.logo_defect else []))
        for item in truth["items"]:
            x0, y0, x1, y1 = item["box"]
            assert 0 <= x0 < x1 <= image.shape[1] and 0 <= y0 < y1 <= image.shape[0]


def test_unwritable_folder_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write the catalog"):
        write_catalog_dir(generate_catalog(1, 1), blocker / "sub")


def test_upload_catalog_to_the_real_s3_server(store: object, posterqa_settings: object) -> None:
    catalog = generate_catalog(9, 2, n_brands=1, defect_share=0.5, no_manifest=1)
    keys = upload_catalog(catalog, store, posterqa_settings)
    listed = sorted(info.key for info in store.list(""))  # type: ignore[attr-defined]
    assert listed == sorted(keys)
    first = catalog.posters[0]
    key = f"posters/{first.brand_id}/{first.poster_id}.png"
    assert store.get_bytes(key) == encode_png(first.image)  # type: ignore[attr-defined]
    assert f"truth/{first.brand_id}/{first.poster_id}.json" in keys
    assert "brands/acme/brand.json" in keys and "brands/acme/logo.png" in keys
    # the manifest lands before its poster
    assert keys.index(key.replace(".png", ".json")) < keys.index(key)


def test_generation_needs_no_network(no_network: list[str]) -> None:
    poster = make_poster(make_brand("kite", 2), 4, size=(800, 800),
                         text_defects={0: "warp"}, logo_defect="wrong_logo")
    assert poster.image.shape == (800, 800, 3)
    assert not np.array_equal(poster.image, poster.clean)


def test_catalog_from_given_posters_writes_them(tmp_path: Path) -> None:
    from catalog import Catalog

    brand = make_brand("acme", 3)
    poster = make_poster(brand, 11, size=(800, 900), text_defects={0: "wrong_chars"})
    catalog = Catalog(brands=(brand,), posters=(poster,))
    assert len(catalog.posters) == 1 and catalog.posters[0] is poster
    write_catalog_dir(catalog, tmp_path)
    png = tmp_path / "posters" / "acme" / f"{poster.poster_id}.png"
    assert png.read_bytes() == encode_png(poster.image)
    assert (tmp_path / "truth" / "acme" / f"{poster.poster_id}.json").is_file()
