"""Synthetic catalog generation speed: seconds per brand / poster / PNG encode (one core).

Times are CPU seconds of this process (``time.process_time``) with OpenCV held to one
thread, so a busy shared machine does not inflate them; the last line adds wall time.

Run: ``python benchmarks/catalog_speed.py [--repeats 5]``. Prints medians per poster size,
clean vs. with defects (two text defects + one logo defect), and the PNG encoding that
``write_catalog_dir`` / ``upload_catalog`` add per poster.
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2

from catalog import LOGO_DEFECTS, TEXT_DEFECTS, make_brand, make_poster
from posterqa.imaging import encode_png

SIZES = ((768, 768), (1024, 1536), (1600, 2048), (2048, 2048))


def _median(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for i in range(repeats):
        start = time.process_time()
        fn(i)
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n = args.repeats
    cv2.setNumThreads(1)

    brand_s = _median(lambda i: make_brand(f"bench{i}", i), n)
    brand = make_brand("bench", 1)
    make_poster(brand, 0, size=(768, 768))  # warm the font caches

    print(f"make_brand: {brand_s:.3f} s (median of {n})")
    print()
    header = (f"{'size':>11} | {'clean s':>8} | {'defects s':>9} | {'encode_png s':>12} | "
              f"{'total s':>8} | {'MB':>5}")
    print(header)
    print("-" * len(header))
    for size in SIZES:
        clean_s = _median(lambda i, size=size: make_poster(brand, 10 + i, size=size), n)

        def with_defects(i: int, size: tuple[int, int] = size) -> None:
            make_poster(brand, 10 + i, size=size,
                        text_defects={0: TEXT_DEFECTS[i % 5], 2: TEXT_DEFECTS[(i + 2) % 5]},
                        logo_defect=LOGO_DEFECTS[i % 5])

        bad_s = _median(with_defects, n)
        images = [make_poster(brand, 10 + i, size=size).image for i in range(n)]
        enc_s = _median(lambda i, images=images: encode_png(images[i]), n)
        mb = statistics.median(len(encode_png(img)) for img in images) / 1e6
        print(f"{size[0]:>5}x{size[1]:<5} | {clean_s:>8.3f} | {bad_s:>9.3f} | {enc_s:>12.3f} | "
              f"{bad_s + enc_s:>8.3f} | {mb:>5.2f}")

    sizes = sorted(make_poster(brand, 100 + i).size for i in range(n))
    mixed_s = _median(lambda i: make_poster(brand, 100 + i, text_defects={1: "warp"}), n)
    start = time.perf_counter()
    for i in range(n):
        make_poster(brand, 100 + i, text_defects={1: "warp"})
    wall = (time.perf_counter() - start) / n
    print()
    print(f"random sizes ({min(sizes)} .. {max(sizes)}), one text defect: {mixed_s:.3f} CPU s "
          f"median, {wall:.3f} wall s mean per poster (n={n})")


if __name__ == "__main__":
    main()
