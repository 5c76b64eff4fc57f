"""Minimal ICC v2 matrix/TRC RGB profiles built in-process (no profile files on disk).

Colorants are the published D50-adapted primaries of Display P3 and Adobe RGB (1998);
the tone curve is a pure gamma (P3's sRGB curve approximated by gamma 2.2). Enough for
LittleCMS to convert with, and distinct from sRGB.
"""

from __future__ import annotations

import struct

D50 = (0.9642, 1.0, 0.8249)
DISPLAY_P3 = ((0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841))
ADOBE_RGB = ((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))


def _s15(v: float) -> bytes:
    return struct.pack(">i", int(round(v * 65536)))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + b"\0" * 4 + _s15(x) + _s15(y) + _s15(z)


def _desc(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return (b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_)) + ascii_
            + b"\0" * 8 + b"\0" * 3 + b"\0" * 67)


def _curv(gamma: float) -> bytes:
    return b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", int(round(gamma * 256)))


def _pad(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def rgb_profile(name: str, colorants: tuple[tuple[float, float, float], ...],
                gamma: float) -> bytes:
    """ICC v2 display profile bytes for RGB ``colorants`` (D50 XYZ) and a gamma curve."""
    curve = _curv(gamma)
    tags = [(b"desc", _desc(name)), (b"wtpt", _xyz(*D50)), (b"rXYZ", _xyz(*colorants[0])),
            (b"gXYZ", _xyz(*colorants[1])), (b"bXYZ", _xyz(*colorants[2])),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
            (b"cprt", b"text" + b"\0" * 4 + b"no copyright, test profile\0")]
    offset = 128 + 4 + 12 * len(tags)
    table, body = [], b""
    for sig, data in tags:
        table.append(struct.pack(">4sII", sig, offset + len(body), len(data)))
        body += _pad(data)
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntr" + b"RGB "
              + b"XYZ " + b"\0" * 12 + b"acsp" + b"\0" * 4 + b"\0" * 4 + b"\0" * 8 + b"\0" * 8
              + struct.pack(">I", 0) + _s15(D50[0]) + _s15(D50[1]) + _s15(D50[2])
              + b"\0" * 4 + b"\0" * 44)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + b"".join(table) + body


def display_p3() -> bytes:
    return rgb_profile("Display P3 (test)", DISPLAY_P3, 2.2)


def adobe_rgb() -> bytes:
    return rgb_profile("Adobe RGB (1998) (test)", ADOBE_RGB, 563 / 256)
