"""``posterqa detect IMAGE [--expect TEXT]... [--manifest FILE] [--logo REF] [--json]``.

Runs the text detector (and, with ``--logo``, the logo detector) on one poster and prints
the defects: a table, or with ``--json`` an object whose ``defects`` list holds
``Defect.to_json()`` values (kind, category, bbox ``[x0, y0, x1, y1]``, quad, repair_quad,
expected, observed, score, reasons, details). Without ``--expect`` or ``--manifest`` the
text detector runs reference-free (unreadable and collapsed text only). Bad input (an
unreadable or oversized image, a bad manifest) is one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from posterqa.errors import InputError


def _read_manifest(path: Path):
    from posterqa.manifest import parse_manifest

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"manifest file not found: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read manifest file {path}: {exc.strerror}") from None
    return parse_manifest(data, name=str(path))


def detect(
    image: Path = typer.Argument(..., help="poster image (PNG/JPEG/WebP)"),
    expect: list[str] = typer.Option(None, "--expect", "-e",
                                     help="a string the poster must carry (repeatable)"),
    manifest: Path | None = typer.Option(None, "--manifest", "-m",
                                         help="poster manifest JSON (its 'copy' is expected)"),
    logo: Path | None = typer.Option(None, "--logo",
                                     help="reference logo image (PNG with alpha preferred)"),
    font: list[Path] = typer.Option(None, "--font",
                                    help="brand font file(s) for the glyph check (repeatable)"),
    report_unexpected: bool = typer.Option(False, "--report-unexpected",
                                           help="also report text no expected string claims"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Detect defective text (and logo, with --logo) on one poster."""
    from detectors.text import TextDetector
    from posterqa.imaging import load_image, load_rgba
    from posterqa.settings import get_settings

    settings = get_settings()
    # 1. Check inputs (all of them before any work)
    rgb = load_image(image, max_pixels=settings.max_image_pixels)
    h, w = rgb.shape[:2]
    if w < 8 or h < 8:
        raise InputError(f"image {image} is {w}x{h} pixels: too small to hold text (min 8x8)")
    expected: list[str] | None = None
    logo_required = True
    if manifest is not None:
        parsed = _read_manifest(manifest)
        expected = list(parsed.copy_lines)
        logo_required = parsed.logo_required or logo is not None
    if expect:
        expected = (expected or []) + list(expect)
    for f in font or []:
        if not f.is_file():
            raise InputError(f"font file not found: {f}")
    reference = load_rgba(logo, max_pixels=settings.max_image_pixels) if logo else None

    # 2. Detect
    defects = TextDetector(settings).detect(
        rgb, expected, font_path=[str(f) for f in font or []] or None,
        report_unexpected=report_unexpected, logo=reference,
    )
    if reference is not None:
        # --logo: the logo detector (engineer L's detectors.logo)
        from detectors.logo import LogoDetector

        defects += LogoDetector(settings).detect(rgb, reference, required=logo_required)

    # 3. Report
    mode = "reference-free" if expected is None else "expected-copy"
    if as_json:
        typer.echo(json.dumps({
            "image": str(image), "width": w, "height": h, "mode": mode,
            "expected": expected, "defects": [d.to_json() for d in defects],
        }, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{image}: {w}x{h}, {mode}, {len(defects)} defect(s)")
    if not defects:
        return
    typer.echo(f"{'kind':<5} {'category':<11} {'bbox':<24} {'score':>5}  "
               f"{'expected':<24} {'observed':<24} reasons")
    for d in defects:
        bbox = ",".join(str(v) for v in d.box.as_list())
        typer.echo(f"{d.kind:<5} {d.category:<11} {bbox:<24} {d.score:>5.2f}  "
                   f"{_cut(d.expected):<24} {_cut(d.observed):<24} {' '.join(d.reasons)}")


def _cut(text: str | None, n: int = 24) -> str:
    if text is None:
        return "-"
    return text if len(text) <= n else text[: n - 1] + "…"


def register(app: typer.Typer) -> None:
    app.command("detect")(detect)
