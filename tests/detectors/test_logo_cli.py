"""``posterqa detect --logo REF``: bad references end in one line on stderr and exit 2."""

from __future__ import annotations

import numpy as np
import pytest

from posterqa.imaging import encode_png


@pytest.fixture()
def poster(tmp_path):
    path = tmp_path / "poster.png"
    path.write_bytes(encode_png(np.full((120, 160, 3), 235, np.uint8)))
    return path


def _run(args, capsys) -> tuple[int, str]:
    from flows.cli import main

    code = main(args)
    return code, capsys.readouterr().err


def test_detect_with_an_unreadable_logo_exits_2_with_one_line(tmp_path, poster, capsys):
    ref = tmp_path / "logo.png"
    ref.write_bytes(b"\x89PNG but not really")
    code, err = _run(["detect", str(poster), "--logo", str(ref)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "logo.png" in err and "cannot decode" in err


def test_detect_with_a_one_pixel_logo_exits_2_with_one_line(tmp_path, poster, capsys):
    ref = tmp_path / "dot.png"
    ref.write_bytes(encode_png(np.zeros((1, 1, 4), np.uint8)))
    code, err = _run(["detect", str(poster), "--logo", str(ref)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "1x1" in err
