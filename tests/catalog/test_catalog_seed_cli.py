"""``posterqa seed``: writes the catalog layout to a folder or a bucket; bad input is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

import posterqa.settings
from flows.cli import main


def test_seed_writes_the_layout_to_a_folder(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cat"
    code = main(["seed", "--count", "3", "--seed", "4", "--brands", "2", "--out-dir", str(out)])
    assert code == 0
    stdout = capsys.readouterr().out
    assert "seeded 3 posters of 2 brand(s)" in stdout and "1 without manifest" in stdout
    pngs = sorted(p.name for p in (out / "posters").rglob("*.png"))
    assert len(pngs) == 3
    assert len(list((out / "posters").rglob("*.json"))) == 2  # the last one has no manifest
    assert len(list((out / "truth").rglob("*.json"))) == 3
    assert (out / "brands" / "acme" / "brand.json").is_file()
    assert (out / "brands" / "lumen" / "logo.png").is_file()


def test_seed_uploads_to_the_bucket(posterqa_settings: object, store: object,
                                    monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(posterqa.settings, "get_settings", lambda: posterqa_settings)
    assert main(["seed", "--count", "2", "--brands", "1"]) == 0
    assert f"s3://{store.bucket}" in capsys.readouterr().out  # type: ignore[attr-defined]
    keys = {info.key for info in store.list("posters/")}  # type: ignore[attr-defined]
    assert keys == {"posters/acme/acme-0000.png", "posters/acme/acme-0000.json",
                    "posters/acme/acme-0001.png"}


@pytest.mark.parametrize(("args", "needle"), [
    (["--count", "0"], "--count must be >= 1, got 0"),
    (["--defect-share", "2"], "--defect-share must be in [0, 1], got 2.0"),
    (["--brands", "0"], "--brands must be >= 1"),
])
def test_seed_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    args: list[str], needle: str) -> None:
    assert main(["seed", *args, "--out-dir", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and needle in err
    assert not (tmp_path / "x").exists()


def test_seed_into_an_unwritable_folder_is_one_line(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["seed", "--count", "1", "--out-dir", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("posterqa: error: cannot write the catalog") and "\n" not in err
