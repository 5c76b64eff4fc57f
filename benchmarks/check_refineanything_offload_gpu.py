"""RefineAnything on a GPU that runs out of memory: the backend's retry with model offload.

One command on a CUDA machine (no weights, no network needed)::

    python benchmarks/check_refineanything_offload_gpu.py [--headroom-gb 2] [--sequential]

It builds the full-size pipeline with random bf16 weights, exactly as
``bench_refineanything_gpu.py`` does, and then checks what no CPU test can:

1. **everything on the GPU** (offload ``none``): one region at 8 steps with a reference
   image, warm; seconds and peak memory;
2. **a real CUDA out-of-memory**: a ballast tensor fills the GPU until only
   ``--headroom-gb`` are free, and one region is refined. The first try must run out of
   memory, and :meth:`RefineAnythingBackend.refine` must move the pipeline to the CPU,
   switch on model CPU offload and finish the region (``RefineCall.oom_retried``,
   offload ``model``), returning RGB uint8 of the crop's shape;
3. **model CPU offload** with the ballast freed: seconds per region, warm, and the peak
   GPU memory, i.e. the smallest GPU it would run on;
4. with ``--sequential``, one region at 2 steps with sequential CPU offload (layer by
   layer), on a fresh pipeline.

Measured on one H200 (2026-11-27, torch 2.11, diffusers 0.42.1, transformers 5.24; one run):

    weights on the GPU: 57.8 GB
    1. offload none: 8.23 s/region (8 steps, reference), peak allocated 62.3 GB
    2. ballast 89.4 GB; free now 2.0 GB
    2. OK: oom_retried=True, offload=model, output uint8 (1024, 1024, 3), 92.32 s for
       the region with its retry
    3. offload model: 46.84 s/region, peak allocated 42.9 GB, reserved 44.0 GB
    4. offload sequential: 44.2 s for one region at 2 steps (cold)

Model CPU offload is 5.7x slower per region than offload ``none``: every region copies
all three models (~58 GB) host -> GPU again. That run's stage-4 peak (57.8 GB) was wrong:
the pipeline was still on the GPU when the peak was reset; fixed since, not rerun.

Each stage prints its line as soon as it is done. Exit status 1 when stage 2 does not
retry or does not finish, 2 without a CUDA GPU.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_refineanything_gpu import FULL, _crop_inputs  # noqa: E402


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--headroom-gb", type=float, default=2.0,
                        help="GPU memory left free by the ballast in stage 2")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2, help="timed regions per stage")
    parser.add_argument("--sequential", action="store_true",
                        help="also run one region with sequential CPU offload (slow)")
    args = parser.parse_args(argv)

    import torch
    from diffusers import QwenImageEditPlusPipeline

    from posterqa.settings import Settings
    from refiner.backends.qwen_parts import build_components
    from refiner.backends.refineanything import RefineAnythingBackend

    if not torch.cuda.is_available():
        print("no CUDA GPU visible: this check needs one", file=sys.stderr)
        return 2
    device = "cuda"
    crop, mask, ref = _crop_inputs(FULL.crop)
    prompt = "refine the text '鼎好商城 SALE 50%'"

    def backend(pipeline: Any, offload: str = "none", steps: int = args.steps) -> Any:
        settings = Settings(refineanything_device=device, refineanything_steps=steps,
                            refineanything_true_cfg=1.0, refineanything_offload=offload,
                            refiner_pixel_budget=FULL.crop * FULL.crop)
        return RefineAnythingBackend(settings, pipeline=pipeline,
                                     condition_image_size=FULL.condition)

    def region(b: Any) -> tuple[float, np.ndarray]:
        t0 = time.perf_counter()
        out = b.refine(crop, mask, prompt, reference=ref, seed=1)
        torch.cuda.synchronize()
        return time.perf_counter() - t0, out

    print(f"device: {torch.cuda.get_device_name()}, "
          f"{_gb(torch.cuda.get_device_properties(0).total_memory)}", flush=True)
    pipeline = QwenImageEditPlusPipeline(**build_components("full", device=device,
                                                            dtype=torch.bfloat16))
    pipeline.set_progress_bar_config(disable=True)
    weights = torch.cuda.memory_allocated()
    print(f"weights on the GPU: {_gb(weights)}", flush=True)

    # 1. everything on the GPU
    b = backend(pipeline)
    region(b)  # warm-up
    torch.cuda.reset_peak_memory_stats()
    times = [region(b)[0] for _ in range(args.repeats)]
    print(f"1. offload none: {statistics.median(times):.2f} s/region ({args.steps} steps, "
          f"reference), peak allocated {_gb(torch.cuda.max_memory_allocated())}", flush=True)

    # 2. a real OOM: ballast up to the headroom, then one region
    gc.collect()
    torch.cuda.empty_cache()
    free, _total = torch.cuda.mem_get_info()
    ballast_bytes = int(free - args.headroom_gb * 1e9)
    ballast = torch.empty(max(0, ballast_bytes), dtype=torch.uint8, device=device)
    print(f"2. ballast {_gb(ballast.numel())}; free now "
          f"{_gb(torch.cuda.mem_get_info()[0])}", flush=True)
    try:
        seconds, out = region(b)
    except Exception as exc:  # noqa: BLE001 - the check's verdict
        print(f"2. FAILED: the region raised {type(exc).__name__}: {exc}", flush=True)
        return 1
    call = b.last_call
    ok = (call is not None and call.oom_retried and call.offload == "model"
          and out.dtype == np.uint8 and out.shape == crop.shape)
    print(f"2. {'OK' if ok else 'FAILED'}: oom_retried={call.oom_retried if call else None}, "
          f"offload={call.offload if call else None}, output {out.dtype} {out.shape}, "
          f"{seconds:.2f} s for the region with its retry", flush=True)
    if not ok:
        return 1
    del ballast
    gc.collect()
    torch.cuda.empty_cache()

    # 3. model CPU offload, warm, ballast freed
    region(b)  # warm-up after the switch
    torch.cuda.reset_peak_memory_stats()
    times = [region(b)[0] for _ in range(args.repeats)]
    print(f"3. offload model: {statistics.median(times):.2f} s/region, peak allocated "
          f"{_gb(torch.cuda.max_memory_allocated())}, reserved "
          f"{_gb(torch.cuda.max_memory_reserved())}", flush=True)
    b.close()
    del b, pipeline
    gc.collect()
    torch.cuda.empty_cache()

    # 4. sequential offload (optional, slow)
    if args.sequential:
        # built on the GPU as above; the backend moves it to the CPU for the offload
        pipeline = QwenImageEditPlusPipeline(**build_components("full", device=device,
                                                                dtype=torch.bfloat16))
        pipeline.set_progress_bar_config(disable=True)
        s = backend(pipeline, offload="sequential", steps=2)
        s.load()  # moves the weights to the CPU before the peak is counted
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        seconds, out = region(s)
        print(f"4. offload sequential: {seconds:.1f} s for one region at 2 steps (cold), "
              f"peak allocated {_gb(torch.cuda.max_memory_allocated())}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
