"""Lossless JPEG block patching in pure Python (what ``jpegtran -drop`` does).

A baseline JPEG (one scan, Huffman coded, 8-bit) is read down to its quantised DCT
coefficients, the coefficients of chosen MCUs are replaced by those of another JPEG with
the same geometry, quantisation tables and sampling, and the file is written back with
every other segment (APPn: EXIF, ICC, ...; DQT; SOF; COM) byte for byte. Only the
Huffman tables are rebuilt (optimal for the new coefficients, JPEG Annex K.2) and
restart markers dropped; neither changes a decoded pixel, so every MCU that was not
replaced decodes exactly as in the original.

Progressive, arithmetic-coded, 12-bit and multi-scan files raise
:class:`UnsupportedJpeg`; the caller falls back to a re-encode and says so.

Speed: a Python loop per coded symbol, ~1-2 s per megapixel at quality 90.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from posterqa.errors import InputError

_SOF_BASELINE = (0xC0, 0xC1)
_SOF_OTHER = (0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)


class UnsupportedJpeg(InputError):
    """A JPEG this module cannot patch losslessly (progressive, arithmetic, multi-scan)."""


@dataclass
class _Component:
    cid: int
    h: int
    v: int
    tq: int
    td: int = 0
    ta: int = 0


@dataclass
class JpegCoefficients:
    """A baseline JPEG's segments and quantised coefficients (zig-zag order).

    ``coefs[i]``: ``int32 [blocks_high, blocks_wide, 64]`` of component ``i`` (in frame
    order), MCU padding blocks included; ``mcu``: ``(width, height)`` of an MCU in
    pixels; ``mcus``: ``(across, down)``.
    """

    width: int
    height: int
    components: list[_Component]
    qtables: dict[int, tuple[int, ...]]
    coefs: list[np.ndarray]
    mcu: tuple[int, int]
    mcus: tuple[int, int]
    segments: list[tuple[int, bytes]] = field(default_factory=list)  # before SOS, no DHT/DRI
    sos_header: bytes = b""


def _segments(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """Marker segments up to and including the first SOS; returns them and the offset
    of the entropy-coded data."""
    if data[:2] != b"\xff\xd8":
        raise UnsupportedJpeg("not a JPEG (no SOI marker)")
    pos, out = 2, []
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise UnsupportedJpeg(f"bad marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        payload = data[pos + 4:pos + 2 + length]
        out.append((marker, payload))
        pos += 2 + length
        if marker == 0xDA:
            return out, pos
    raise UnsupportedJpeg("no scan (SOS) found")


def _huffman_lookup(bits: bytes, values: bytes) -> list[tuple[int, int]]:
    """16-bit peek table: entry ``code << (16 - len)`` -> ``(symbol, length)``."""
    table: list[tuple[int, int]] = [(-1, 0)] * 65536
    code, k = 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            sym = values[k]
            k += 1
            start = code << (16 - length)
            span = 1 << (16 - length)
            table[start:start + span] = [(sym, length)] * span
            code += 1
        code <<= 1
    return table


def _unstuff_intervals(data: bytes, start: int) -> list[bytes]:
    """Entropy-coded data from ``start`` to the next non-RST marker, split at RSTn and
    with 0xFF00 stuffing removed."""
    chunks, buf, pos, n = [], bytearray(), start, len(data)
    while pos < n:
        nxt = data.find(b"\xff", pos)
        if nxt < 0 or nxt + 1 >= n:
            buf += data[pos:]
            break
        buf += data[pos:nxt]
        marker = data[nxt + 1]
        if marker == 0x00:
            buf.append(0xFF)
            pos = nxt + 2
        elif 0xD0 <= marker <= 0xD7:
            chunks.append(bytes(buf))
            buf = bytearray()
            pos = nxt + 2
        elif marker == 0xFF:
            pos = nxt + 1
        else:
            break
    chunks.append(bytes(buf))
    return chunks


def read(data: bytes) -> JpegCoefficients:
    """Decode a baseline JPEG down to its quantised coefficients."""
    segments, entropy_start = _segments(data)
    qtables: dict[int, tuple[int, ...]] = {}
    dc_tables: dict[int, list[tuple[int, int]]] = {}
    ac_tables: dict[int, list[tuple[int, int]]] = {}
    comps: list[_Component] = []
    width = height = 0
    restart = 0
    kept: list[tuple[int, bytes]] = []
    sos = b""
    for marker, payload in segments:
        if marker in _SOF_OTHER:
            raise UnsupportedJpeg(f"SOF{marker - 0xC0} JPEG (progressive, lossless or "
                                  "arithmetic coded)")
        if marker in _SOF_BASELINE:
            precision, height, width, n = struct.unpack(">BHHB", payload[:6])
            if precision != 8:
                raise UnsupportedJpeg(f"{precision}-bit JPEG")
            for i in range(n):
                cid, hv, tq = payload[6 + 3 * i:9 + 3 * i]
                comps.append(_Component(cid, hv >> 4, hv & 15, tq))
        elif marker == 0xDB:
            pos = 0
            while pos < len(payload):
                pq, tq = payload[pos] >> 4, payload[pos] & 15
                if pq:
                    qtables[tq] = struct.unpack(">64H", payload[pos + 1:pos + 129])
                    pos += 129
                else:
                    qtables[tq] = tuple(payload[pos + 1:pos + 65])
                    pos += 65
        elif marker == 0xC4:
            pos = 0
            while pos < len(payload):
                tc, th = payload[pos] >> 4, payload[pos] & 15
                bits = payload[pos + 1:pos + 17]
                count = sum(bits)
                values = payload[pos + 17:pos + 17 + count]
                (ac_tables if tc else dc_tables)[th] = _huffman_lookup(bits, values)
                pos += 17 + count
        elif marker == 0xDD:
            restart = struct.unpack(">H", payload[:2])[0]
        elif marker == 0xDA:
            sos = payload
        if marker not in (0xC4, 0xDD, 0xDA):
            kept.append((marker, payload))
    if not comps or width == 0 or height == 0:
        raise UnsupportedJpeg("no baseline frame header (SOF0/SOF1)")
    ns = sos[0]
    if ns != len(comps):
        raise UnsupportedJpeg("JPEG with several scans")
    by_id = {c.cid: c for c in comps}
    for i in range(ns):
        cid, t = sos[1 + 2 * i], sos[2 + 2 * i]
        by_id[cid].td, by_id[cid].ta = t >> 4, t & 15
    hmax, vmax = max(c.h for c in comps), max(c.v for c in comps)
    if len(comps) == 1:  # non-interleaved: one block per MCU, no padding to hmax
        comps[0].h = comps[0].v = 1
        mcu = (8, 8)
    else:
        mcu = (8 * hmax, 8 * vmax)
    mcux, mcuy = -(-width // mcu[0]), -(-height // mcu[1])
    coefs = [np.zeros((mcuy * c.v, mcux * c.h, 64), np.int32) for c in comps]
    # flat lists per component for speed; filled block by block in MCU order
    order = [(ci, by, bx) for ci, c in enumerate(comps) for by in range(c.v) for bx in range(c.h)]
    chunks = _unstuff_intervals(data, entropy_start)
    per_interval = restart if restart else mcux * mcuy
    mcu_index = 0
    for chunk in chunks:
        if mcu_index >= mcux * mcuy:
            break
        buf = chunk + b"\xff\xff\xff\xff"
        bitpos = 0
        pred = [0] * len(comps)
        for _ in range(per_interval):
            if mcu_index >= mcux * mcuy:
                break
            my, mx = divmod(mcu_index, mcux)
            for ci, by, bx in order:
                c = comps[ci]
                dct, act = dc_tables[c.td], ac_tables[c.ta]
                block = [0] * 64
                p = bitpos >> 3
                peek = ((buf[p] << 16 | buf[p + 1] << 8 | buf[p + 2]) >> (8 - (bitpos & 7))) \
                    & 0xFFFF
                s, length = dct[peek]
                if length == 0:
                    raise UnsupportedJpeg(f"bad Huffman code in MCU {mcu_index}")
                bitpos += length
                diff = 0
                if s:
                    p = bitpos >> 3
                    val = ((buf[p] << 24 | buf[p + 1] << 16 | buf[p + 2] << 8 | buf[p + 3])
                           >> (32 - (bitpos & 7) - s)) & ((1 << s) - 1)
                    bitpos += s
                    diff = val if val >= (1 << (s - 1)) else val - (1 << s) + 1
                pred[ci] += diff
                block[0] = pred[ci]
                k = 1
                while k < 64:
                    p = bitpos >> 3
                    peek = ((buf[p] << 16 | buf[p + 1] << 8 | buf[p + 2])
                            >> (8 - (bitpos & 7))) & 0xFFFF
                    rs, length = act[peek]
                    if length == 0:
                        raise UnsupportedJpeg(f"bad Huffman code in MCU {mcu_index}")
                    bitpos += length
                    r, s = rs >> 4, rs & 15
                    if s == 0:
                        if r == 15:
                            k += 16
                            continue
                        break
                    k += r
                    p = bitpos >> 3
                    val = ((buf[p] << 24 | buf[p + 1] << 16 | buf[p + 2] << 8 | buf[p + 3])
                           >> (32 - (bitpos & 7) - s)) & ((1 << s) - 1)
                    bitpos += s
                    if k < 64:
                        block[k] = val if val >= (1 << (s - 1)) else val - (1 << s) + 1
                    k += 1
                coefs[ci][my * c.v + by, mx * c.h + bx] = block
            mcu_index += 1
    return JpegCoefficients(width=width, height=height, components=comps, qtables=qtables,
                            coefs=coefs, mcu=mcu, mcus=(mcux, mcuy), segments=kept,
                            sos_header=sos)


# ------------------------------------------------------------------ writing
def _category(v: int) -> int:
    return abs(v).bit_length()


def _optimal_table(freq: dict[int, int]) -> tuple[bytes, bytes]:
    """JPEG Annex K.2/K.3: ``(BITS[16], HUFFVAL)`` for symbol frequencies, max 16 bits."""
    freq = {s: f for s, f in freq.items() if f > 0}
    if not freq:
        freq = {0: 1}
    f = dict(freq)
    f[256] = 1  # reserved: no code of all ones
    codesize = {s: 0 for s in f}
    others = {s: -1 for s in f}
    while True:
        live = [s for s in f if f[s] > 0]
        if len(live) < 2:
            break
        v1 = min(live, key=lambda s: (f[s], -s))
        live.remove(v1)
        v2 = min(live, key=lambda s: (f[s], -s))
        f[v1] += f[v2]
        f[v2] = 0
        codesize[v1] += 1
        while others[v1] != -1:
            v1 = others[v1]
            codesize[v1] += 1
        others[v1] = v2
        codesize[v2] += 1
        while others[v2] != -1:
            v2 = others[v2]
            codesize[v2] += 1
    bits = [0] * 33
    for size in codesize.values():
        if size:
            bits[size] += 1
    i = 32
    while i > 16:
        while bits[i] > 0:
            j = i - 2
            while bits[j] == 0:
                j -= 1
            bits[i] -= 2
            bits[i - 1] += 1
            bits[j + 1] += 2
            bits[j] -= 1
        i -= 1
    while bits[i] == 0:
        i -= 1
    bits[i] -= 1  # drop the reserved symbol's code
    values = sorted((s for s in codesize if s != 256 and codesize[s]),
                    key=lambda s: (codesize[s], s))
    return bytes(bits[1:17]), bytes(values)


def _codes(bits: bytes, values: bytes) -> dict[int, tuple[int, int]]:
    out, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            out[values[k]] = (code, length)
            k += 1
            code += 1
        code <<= 1
    return out


def _symbols(jc: JpegCoefficients) -> list[tuple[int, int, int, int]]:
    """The coded stream as ``(component, is_ac, symbol, extra bits value)`` in order."""
    comps = jc.components
    mcux, mcuy = jc.mcus
    order = [(ci, by, bx) for ci, c in enumerate(comps) for by in range(c.v) for bx in range(c.h)]
    lists = [a.tolist() for a in jc.coefs]
    out: list[tuple[int, int, int, int]] = []
    pred = [0] * len(comps)
    append = out.append
    for my in range(mcuy):
        for mx in range(mcux):
            for ci, by, bx in order:
                c = comps[ci]
                block = lists[ci][my * c.v + by][mx * c.h + bx]
                diff = block[0] - pred[ci]
                pred[ci] = block[0]
                append((ci, 0, _category(diff), diff))
                run = 0
                for k in range(1, 64):
                    v = block[k]
                    if v == 0:
                        run += 1
                        continue
                    while run > 15:
                        append((ci, 1, 0xF0, 0))
                        run -= 16
                    append((ci, 1, (run << 4) | _category(v), v))
                    run = 0
                if run:
                    append((ci, 1, 0x00, 0))
    return out


def write(jc: JpegCoefficients) -> bytes:
    """The JPEG of ``jc``: original segments, optimal Huffman tables, no restarts."""
    comps = jc.components
    stream = _symbols(jc)
    freq: dict[tuple[int, int], dict[int, int]] = {}
    for ci, is_ac, sym, _ in stream:
        key = (is_ac, comps[ci].ta if is_ac else comps[ci].td)
        table = freq.setdefault(key, {})
        table[sym] = table.get(sym, 0) + 1
    dht = bytearray()
    codes: dict[tuple[int, int], dict[int, tuple[int, int]]] = {}
    for (is_ac, tid), counts in sorted(freq.items()):
        bits, values = _optimal_table(counts)
        dht += bytes([(is_ac << 4) | tid]) + bits + values
        codes[(is_ac, tid)] = _codes(bits, values)
    out = bytearray(b"\xff\xd8")
    for marker, payload in jc.segments:
        if marker == 0xD8:
            continue
        out += bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload
    out += b"\xff\xc4" + struct.pack(">H", len(dht) + 2) + dht
    out += b"\xff\xda" + struct.pack(">H", len(jc.sos_header) + 2) + jc.sos_header
    acc, nbits = 0, 0
    body = bytearray()
    table_of = [((0, c.td), (1, c.ta)) for c in comps]
    for ci, is_ac, sym, value in stream:
        code, length = codes[table_of[ci][is_ac]][sym]
        size = sym & 15 if is_ac else sym
        extra = value if value >= 0 else value + (1 << size) - 1
        acc = (acc << (length + size)) | (code << size) | (extra & ((1 << size) - 1))
        nbits += length + size
        while nbits >= 8:
            nbits -= 8
            byte = (acc >> nbits) & 0xFF
            body.append(byte)
            if byte == 0xFF:
                body.append(0)
        acc &= (1 << nbits) - 1
    if nbits:
        byte = ((acc << (8 - nbits)) | ((1 << (8 - nbits)) - 1)) & 0xFF
        body.append(byte)
        if byte == 0xFF:
            body.append(0)
    out += body + b"\xff\xd9"
    return bytes(out)


def mcus_touching(changed: np.ndarray, mcu: tuple[int, int],
                  mcus: tuple[int, int]) -> np.ndarray:
    """``bool [down, across]``: MCUs holding at least one pixel of ``changed [H, W]``."""
    mw, mh = mcu
    across, down = mcus
    pad = np.zeros((down * mh, across * mw), bool)
    h, w = changed.shape
    pad[:h, :w] = changed
    return pad.reshape(down, mh, across, mw).any(axis=(1, 3))


def patch(original: bytes, replacement: bytes, changed: np.ndarray) -> bytes:
    """``original`` with every MCU that holds a pixel of ``changed`` (``bool [H, W]``,
    the file's orientation) taken from ``replacement`` (same size, sampling and
    quantisation tables); all other MCUs keep their coefficients, so they decode
    exactly as in ``original``."""
    a, b = read(original), read(replacement)
    if (a.width, a.height, a.mcu) != (b.width, b.height, b.mcu):
        raise UnsupportedJpeg("replacement JPEG has another size or sampling")
    for ca, cb in zip(a.components, b.components, strict=True):
        if (ca.h, ca.v) != (cb.h, cb.v) or a.qtables.get(ca.tq) != b.qtables.get(cb.tq):
            raise UnsupportedJpeg("replacement JPEG has other quantisation tables or sampling")
    if changed.shape != (a.height, a.width):
        raise InputError(f"changed mask {changed.shape} does not match the JPEG's "
                         f"{a.height}x{a.width} pixels")
    mcus = mcus_touching(changed, a.mcu, a.mcus)
    for ci, c in enumerate(a.components):
        sel = np.repeat(np.repeat(mcus, c.v, axis=0), c.h, axis=1)
        a.coefs[ci][sel] = b.coefs[ci][sel]
    return write(a)
