"""``posterqa refine IMAGE (--box|--mask) --prompt P [--ref REF] --out OUT``: one region.

Repairs one region with a refiner backend, prints the verification figures, and
writes OUT (atomically: temp file + rename) only when the repair is verified. The
input image is never overwritten. OUT is the input file, repaired
(:func:`refiner.asset.write_repaired`): same format, ICC profile, EXIF and DPI, and
outside the repair the input's own pixels (JPEG: untouched MCUs, as far as a re-encode
keeps them; the ``asset`` figures say how many changed).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import typer

from posterqa.errors import InputError

_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF",
            ".tiff": "TIFF"}


def _input_format(data: bytes) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(io.BytesIO(data)).format
    except (UnidentifiedImageError, OSError, ValueError):
        return None  # load_image names the problem


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def refine(
    image: Path = typer.Argument(..., help="poster to repair (PNG/JPEG/WebP)"),
    prompt: str = typer.Option(..., "--prompt", "-p",
                               help="\"refine the text '<expected>'\" or \"Refine the LOGO.\""),
    out: Path = typer.Option(..., "--out", "-o", help="where to write the repaired poster"),
    box: str | None = typer.Option(None, "--box", help="region x0,y0,x1,y1 in image pixels"),
    mask: Path | None = typer.Option(None, "--mask", help="mask image, white = repaint"),
    ref: Path | None = typer.Option(None, "--ref", help="reference image (the brand logo)"),
    backend: str | None = typer.Option(None, "--backend",
                                       help="refiner backend (default from settings)"),
    font: Path | None = typer.Option(None, "--font", help="brand font for text repairs"),
    color_correct: bool = typer.Option(False, "--color-correct",
                                       help="match the blend band's colours when shifted"),
    as_json: bool = typer.Option(False, "--json", help="print the figures as JSON"),
) -> None:
    """Repair one region, verify it, and write OUT only when verified."""
    from detectors.types import Box
    from posterqa.imaging import load_image, load_mask
    from posterqa.settings import get_settings
    from refiner.core import Refiner, parse_prompt

    settings = get_settings()
    # 1. Check inputs (before any work)
    if (box is None) == (mask is None):
        raise InputError("give exactly one of --box x0,y0,x1,y1 or --mask MASK")
    if _same_file(image, out):
        raise InputError(f"--out {out} is the input image; originals are never overwritten")
    if out.suffix.lower() not in _FORMATS:
        raise InputError(f"--out {out} must end in one of {', '.join(sorted(_FORMATS))}")
    try:
        source = image.read_bytes()
    except OSError:
        source = b""
    poster = load_image(image, max_pixels=settings.max_image_pixels)
    fmt = _input_format(source)
    if fmt is not None and _FORMATS[out.suffix.lower()] != fmt:
        wanted = ", ".join(sorted(k for k, v in _FORMATS.items() if v == fmt)) or "its own"
        raise InputError(f"--out {out}: the repaired file keeps the input's format ({fmt}); "
                         f"use {wanted}")
    region = Box.parse(box) if box is not None else load_mask(mask, name=str(mask))
    kind, expected = parse_prompt(prompt)
    if kind == "logo" and ref is None:
        raise InputError(f"prompt {prompt!r} asks for a logo repair: give the logo with --ref")
    hints = {"font_path": str(font)} if font is not None else {}
    if font is not None and not font.is_file():
        raise InputError(f"font file not found: {font}")

    # 2. Repair and verify
    refiner = Refiner(backend or settings.refiner_backend,
                      pixel_budget=settings.refiner_pixel_budget,
                      margin=settings.refiner_margin, color_correct=color_correct)
    result = refiner.repair(poster, region, prompt, reference=ref, hints=hints,
                            seed=settings.refiner_seed, expected=expected, kind=kind)
    v = result.verification

    # 3. Write only on success
    written = False
    asset = None
    if v.ok:
        from refiner.asset import write_repaired

        asset = write_repaired(source, result.image, name=str(image),
                               max_pixels=settings.max_image_pixels)
        if asset.fidelity.lossless and asset.fidelity.outside_changed:
            from posterqa.errors import BackgroundChangedError

            raise BackgroundChangedError(
                f"writing {out} changed {asset.fidelity.outside_changed} pixels of {image} "
                f"outside the repair: {asset.fidelity.reason}")
        write_atomic(out, asset.data)
        written = True
    if as_json:
        typer.echo(json.dumps({
            "image": str(image), "out": str(out) if written else None, "kind": kind,
            "expected": expected, "backend": result.backend,
            "focus": result.focus.to_json(), "seconds": round(result.seconds, 3),
            "verification": v.to_json(),
            "asset": None if asset is None else asset.fidelity.to_json(),
        }, ensure_ascii=False, indent=2))
    else:
        lines = [
            f"verdict           {v.verdict}" + (f" ({', '.join(v.reasons)})" if v.reasons else ""),
            f"backend           {result.backend} ({result.seconds:.2f} s)",
            f"crop              {result.focus.box.as_list()} -> {list(result.focus.target)}",
            f"bg changed pixels {v.bg_changed_pixels} (max abs diff {v.bg_max_abs_diff})",
            f"MSE_bg / SSIM_bg  {v.mse_bg:.6f} / {v.ssim_bg:.6f}",
            f"band colour shift {v.band_color_shift:.2f} dE over {v.band_pixels} px",
        ]
        if v.region is not None:
            r = v.region
            seen = f" read {r.observed!r}" if r.kind == "text" else ""
            lines.append(f"region re-check   {'match' if r.matches else 'MISMATCH'}{seen} "
                         f"(score {r.score:.3f})")
        lines += [f"note              {n}" for n in v.notes]
        if asset is not None:
            f = asset.fidelity
            lines.append(f"file              {f.format} {f.mode}, kept {', '.join(f.kept) or '-'}; "
                         + ("outside the repair identical to the input" if f.meets_bar
                            else f"NOT identical: {f.reason}"))
        lines.append(f"wrote             {out}" if written else "wrote             nothing")
        typer.echo("\n".join(lines))
    if not written:
        typer.echo(f"posterqa: error: repair of {image} failed verification: "
                   f"{', '.join(v.reasons)}; {out} not written", err=True)
        raise SystemExit(1)  # verification failed: not bad input (exit 2), not a crash


def register(app: typer.Typer) -> None:
    app.command("refine")(refine)
