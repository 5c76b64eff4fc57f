"""RefineAnything cost on one GPU: full-size architecture, random weights, bf16.

One command on a CUDA machine (no weights, no network needed)::

    python benchmarks/bench_refineanything_gpu.py

(``--cfg-steps 28`` adds the 28-step true-CFG figure, ~2 more minutes), and the same
code path at toy size on a CPU (the figures are meaningless; it proves the script runs)::

    python benchmarks/bench_refineanything_gpu.py --tiny --device cpu

What it builds: ``QwenImageEditPlusPipeline`` from :func:`refiner.backends.qwen_parts.
build_components` — the Qwen-Image-Edit-2511 transformer (20.4 B parameters, 60 layers,
24 heads x 128, joint dim 3584, ``zero_cond_t=True``), a Qwen2.5-VL-7B-sized text
encoder (8.3 B) and the published VAE config (127 M), with random weights in bf16,
constructed on the ``meta`` device, ``to_empty`` on the GPU and initialised there (rotary
tables re-created). The tokenizer is byte-level (one token per UTF-8 byte), so prompts
come out a little longer in tokens than with the real Qwen tokenizer.

What it reports, for a 1024² focus crop (4096 latent tokens per image) with a reference
image (``[crop, reference, mask]``: 4 x 4096 image tokens in the transformer, output
included) and without (3 x 4096):

- seconds per transformer forward (CUDA events, median of ``--repeats``), on exactly the
  inputs the pipeline gave the transformer (captured with a forward pre-hook), and the
  achieved TFLOP/s. FLOPs are counted per stream: each token passes only its own
  stream's weights (image tokens the image-stream QKV/out/MLP, text tokens the text
  stream's), plus joint attention over all tokens (4·S²·D); the count of
  ``torch.utils.flop_counter`` on one forward is printed beside it as a check;
- VAE encode (one 1024² image) and decode, text-encoder time (prompt + condition
  images at 384²);
- end-to-end seconds per region through the project's own backend
  (:class:`refiner.backends.refineanything.RefineAnythingBackend.refine`) at 8 and 4
  steps with true CFG 1.0 (the Lightning setting: the LoRA, fused, costs nothing per
  step; the Lightning scheduler costs nothing either), warm, median; and one region
  through :meth:`refiner.core.Refiner.repair` (focus crop, backend, paste-back,
  verification) on a 2048x1536 poster;
- the ratio end-to-end / (steps x forward): the goal is <= 1.10 (the rest of the
  pipeline — text encoder, VAE encodes and decode — within 10 % of the transformer);
- peak GPU memory (allocated and reserved).

``--cfg-steps 28`` adds a 28-step true-CFG-4 run (two forwards per step). Before any
timing, a random rank-256 LoRA on ``to_q/to_k/to_v/to_out.0`` (the RefineAnything LoRA's
shape) is written in diffusers format, loaded and fused through the backend, as the
real one is (``--lora-rank 0`` skips it); fused, it costs nothing per step.

Reference figures (DESIGN.md, one H100, full-size architecture, bf16, random weights):
one transformer forward at a 1024² focus crop 1.0-1.14 s with a reference image and
0.76 s without; per block the GEMMs 5.1 ms (~760 TFLOP/s) and attention 6.0 ms
(~600 TFLOP/s); VAE encode + decode of 1024² ~0.13 s; whole pipeline call, warm:
8.74 s for 8 steps with a reference, 4.56 s for 4 steps, 6.10 s for 8 steps without a
reference, 58.0 s for 28 steps with true CFG 4; peak GPU memory 58 GB; the first call
of a process costs ~6 s more.

Measured here (2026-11-27, one H200, torch 2.11.0+cu130, diffusers 0.42.1, transformers
5.24.0; ``--cfg-steps 28``, one run): forward 0.970 s with a reference and 0.680 s
without (471 / 444 TFLOP/s; ``flop_counter`` agrees with the per-stream count within
0.1 %); VAE encode 0.043 s, decode 0.066 s; text encoder 0.128 / 0.098 s; region at
8 steps 8.20 / 5.73 s (ratio to steps x forward 1.057 / 1.054: goal met), at 4 steps
4.31 / 3.11 s (1.110 / 1.143: not met, the fixed ~0.3 s of text encoder and VAE weighs
more on 4 steps), 28 steps true CFG 4 55.1 s; ``Refiner.repair`` on a 2048x1536 poster
8.78 s; peak 62.3 GB allocated, 65.4 GB reserved; first call of the process 5.5 s. The
random rank-256 LoRA loaded and fused through the backend in 0.7 s.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

REF_FIGURES = {
    "forward_with_ref_s": 1.14,
    "forward_without_ref_s": 0.76,
    "e2e_8_steps_with_ref_s": 8.74,
    "e2e_4_steps_with_ref_s": 4.56,
    "e2e_8_steps_without_ref_s": 6.10,
    "e2e_28_steps_cfg4_with_ref_s": 58.0,
    "vae_enc_plus_dec_s": 0.13,
    "peak_gpu_gb": 58.0,
}


@dataclass
class Sizes:
    """Sizes of one benchmark run."""

    size: str  # "full" or "tiny"
    crop: int  # side of the square focus crop, pixels
    condition: int  # pixels of each condition image for the vision-language encoder
    poster: tuple[int, int]  # (w, h) of the poster for the Refiner.repair run


FULL = Sizes("full", 1024, 384 * 384, (2048, 1536))
TINY = Sizes("tiny", 64, 56 * 56, (256, 192))


@dataclass
class Report:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, with_ref: Any, without_ref: Any, note: str = "") -> None:
        self.rows.append((name, _fmt(with_ref), _fmt(without_ref), note))

    def print(self) -> None:
        widths = [max(len(r[i]) for r in self.rows + [_HEADER]) for i in range(4)]
        for i, row in enumerate([_HEADER] + self.rows):
            print("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
            if i == 0:
                print("  ".join("-" * w for w in widths))


_HEADER = ("metric", "with reference", "without reference", "note")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


class Timer:
    """Median wall time of a callable: CUDA events on a GPU, perf_counter on a CPU."""

    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.cuda = device.startswith("cuda")

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def measure(self, fn: Callable[[], Any], repeats: int, warmup: int = 1) -> list[float]:
        for _ in range(warmup):
            fn()
        self.sync()
        times = []
        for _ in range(repeats):
            if self.cuda:
                start = self.torch.cuda.Event(enable_timing=True)
                end = self.torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) / 1000.0)
            else:
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        return times

    def wall(self, fn: Callable[[], Any], repeats: int, warmup: int = 1) -> list[float]:
        """Host wall clock around a synchronised call (for whole pipeline calls)."""
        for _ in range(warmup):
            fn()
        self.sync()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            self.sync()
            times.append(time.perf_counter() - t0)
        return times


def transformer_flops(config: Any, n_img: int, n_txt: int) -> float:
    """FLOPs of one forward, counted per stream (see the module docstring).

    Per block and stream of ``n`` tokens: QKV ``2·n·D·3D``, output ``2·n·D·D``, MLP
    ``2·n·D·4D·2``; joint attention ``4·S²·D`` with ``S = n_img + n_txt``. Plus the
    input projections and the output projection of the image tokens. Modulation,
    norms and RoPE (a few per cent of the FLOPs, more of the time) are not counted.
    """
    d = config.num_attention_heads * config.attention_head_dim
    per_token = 2 * d * 3 * d + 2 * d * d + 2 * 2 * d * 4 * d
    seq = n_img + n_txt
    blocks = config.num_layers * (per_token * seq + 4 * seq * seq * d)
    patch = config.patch_size * config.patch_size
    io = 2 * n_img * config.in_channels * d + 2 * n_txt * config.joint_attention_dim * d
    io += 2 * n_img * d * patch * (config.out_channels or config.in_channels)
    return float(blocks + io)


def attention_flops(config: Any, n_img: int, n_txt: int) -> float:
    """The joint-attention part of :func:`transformer_flops` (``4·S²·D`` per block)."""
    d = config.num_attention_heads * config.attention_head_dim
    seq = n_img + n_txt
    return float(config.num_layers * 4 * seq * seq * d)


def _count(n: int) -> str:
    return f"{n / 1e9:.3f} B" if n >= 1e8 else f"{n / 1e6:.3f} M"


def counted_flops(fn: Callable[[], Any]) -> float | None:
    """FLOPs of ``fn`` as ``torch.utils.flop_counter`` counts them (None if unsupported)."""
    try:
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            fn()
        return float(counter.get_total_flops())
    except Exception as exc:  # noqa: BLE001 - a check only
        logging.getLogger(__name__).warning("flop counter failed: %s", exc)
        return None


def write_random_lora(transformer: Any, rank: int, path: Path) -> Path:
    """A random LoRA on every block's to_q/to_k/to_v/to_out.0, in diffusers format."""
    import torch
    from safetensors.torch import save_file

    gen = torch.Generator(device="cpu").manual_seed(0)
    tensors = {}
    for name, module in transformer.named_modules():
        if not name.endswith(("attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0")):
            continue
        out_f, in_f = module.weight.shape
        a = torch.randn(rank, in_f, generator=gen) / in_f ** 0.5
        b = torch.randn(out_f, rank, generator=gen) * 1e-3
        tensors[f"transformer.{name}.lora_A.weight"] = a.to(torch.bfloat16).contiguous()
        tensors[f"transformer.{name}.lora_B.weight"] = b.to(torch.bfloat16).contiguous()
    save_file(tensors, str(path))
    return path


def _poster(w: int, h: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1),
                    (xx + yy) * 255 // max(1, w + h - 2)], axis=2)
    return img.astype(np.uint8)


def _crop_inputs(side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    crop = _poster(side, side)
    crop[side // 3: side // 2, side // 8: 7 * side // 8] = rng.integers(
        0, 256, (side // 2 - side // 3, 7 * side // 8 - side // 8, 3), dtype=np.uint8)
    mask = np.zeros((side, side), np.uint8)
    mask[side // 3: side // 2, side // 8: 7 * side // 8] = 255
    ref = np.zeros((side // 2, side // 2, 4), np.uint8)
    ref[..., 0], ref[..., 3] = 200, 255
    return crop, mask, ref


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="toy-size components (CPU check)")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per figure")
    parser.add_argument("--e2e-repeats", type=int, default=2, help="timed whole-region calls")
    parser.add_argument("--steps", type=int, nargs="+", default=[8, 4])
    parser.add_argument("--cfg-steps", type=int, default=0,
                        help="also time this many steps with true CFG 4 (e.g. 28)")
    parser.add_argument("--lora-rank", type=int, default=None,
                        help="first load and fuse a random LoRA of this rank on "
                             "to_q/to_k/to_v/to_out.0 through the backend; default 256 "
                             "(published) at full size, 4 with --tiny, 0 = none")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    import diffusers
    import torch
    import transformers

    from posterqa.settings import Settings
    from refiner.backends.qwen_parts import build_components
    from refiner.backends.refineanything import RefineAnythingBackend

    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    sizes = TINY if args.tiny else FULL
    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA GPU visible: run on a GPU machine, or use --tiny --device cpu",
              file=sys.stderr)
        return 2
    cuda = device.startswith("cuda")
    dtype = torch.bfloat16 if cuda else torch.float32
    timer = Timer(device)
    report = Report()

    # 1. Build the components (meta -> to_empty -> init on the device) and the pipeline
    t0 = time.perf_counter()
    components = build_components(sizes.size, device=device, dtype=dtype, via_meta=True)
    timer.sync()
    build_s = time.perf_counter() - t0
    from diffusers import QwenImageEditPlusPipeline

    pipeline = QwenImageEditPlusPipeline(**components)
    pipeline.set_progress_bar_config(disable=True)
    transformer = pipeline.transformer
    n_params = {k: sum(p.numel() for p in getattr(pipeline, k).parameters())
                for k in ("transformer", "text_encoder", "vae")}

    def backend_for(steps: int, true_cfg: float = 1.0, **extra: Any) -> RefineAnythingBackend:
        settings = Settings(refineanything_device=device, refineanything_allow_cpu=not cuda,
                            refineanything_steps=steps, refineanything_true_cfg=true_cfg,
                            refiner_pixel_budget=sizes.crop * sizes.crop, **extra)
        return RefineAnythingBackend(settings, pipeline=pipeline,
                                     condition_image_size=sizes.condition)

    # 1b. Optionally load + fuse a random LoRA the way the backend loads RefineAnything's
    lora_s: float | None = None
    lora_error: str | None = None
    if args.lora_rank is None:
        args.lora_rank = 4 if args.tiny else 256
    if args.lora_rank:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            try:
                lora_path = write_random_lora(transformer, args.lora_rank,
                                              Path(tmp) / "lora.safetensors")
                t0 = time.perf_counter()
                backend_for(2, refineanything_lora=lora_path).load()
                timer.sync()
                lora_s = time.perf_counter() - t0
            except Exception as exc:  # noqa: BLE001 - report it, time the rest anyway
                lora_error = f"{type(exc).__name__}: {exc}".splitlines()[0]

    crop, mask, ref = _crop_inputs(sizes.crop)
    prompt = "refine the text '鼎好商城 SALE 50%'"

    # 2. Capture the transformer's inputs of a real call, with and without reference
    captured: dict[bool, dict[str, Any]] = {}
    current: dict[str, Any] = {}

    def grab(_module: Any, args_in: tuple, kwargs_in: dict) -> None:
        if "kw" not in current:
            current["kw"] = dict(kwargs_in)

    handle = transformer.register_forward_pre_hook(grab, with_kwargs=True)
    first_call_s: dict[bool, float] = {}
    try:
        for with_ref in (True, False):
            current.clear()
            t0 = time.perf_counter()
            # 2 steps: one step with the base scheduler's shift_terminal divides by zero
            backend_for(2).refine(crop, mask, prompt, reference=ref if with_ref else None,
                                  seed=0)
            timer.sync()
            first_call_s[with_ref] = time.perf_counter() - t0
            captured[with_ref] = current["kw"]
    finally:
        handle.remove()

    # 3. Transformer forward: time, FLOPs
    forward_s: dict[bool, float] = {}
    tflops: dict[bool, float] = {}
    flops: dict[bool, float] = {}
    counted: dict[bool, float | None] = {}
    tokens: dict[bool, tuple[int, int]] = {}
    split: dict[bool, tuple[float, float]] = {}
    for with_ref, kw in captured.items():
        def forward(kw: dict[str, Any] = kw) -> Any:
            with torch.no_grad():
                return transformer(**kw)

        times = timer.measure(forward, args.repeats)
        forward_s[with_ref] = statistics.median(times)
        n_img = int(kw["hidden_states"].shape[1])
        n_txt = int(kw["encoder_hidden_states"].shape[1])
        tokens[with_ref] = (n_img, n_txt)
        flops[with_ref] = transformer_flops(transformer.config, n_img, n_txt)
        split[with_ref] = (flops[with_ref] - attention_flops(transformer.config, n_img, n_txt),
                           attention_flops(transformer.config, n_img, n_txt))
        tflops[with_ref] = flops[with_ref] / forward_s[with_ref] / 1e12
        counted[with_ref] = counted_flops(forward)

    # 4. VAE encode / decode of one crop, text encoder
    from diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus import calculate_dimensions
    from PIL import Image

    crop_pil = Image.fromarray(crop)
    vae_in = pipeline.image_processor.preprocess(crop_pil, sizes.crop, sizes.crop)
    vae_in = vae_in.unsqueeze(2).to(device=device, dtype=pipeline.vae.dtype)
    with torch.no_grad():
        latents = pipeline.vae.encode(vae_in).latent_dist.mode()

    def vae_encode() -> Any:
        with torch.no_grad():
            return pipeline.vae.encode(vae_in).latent_dist.mode()

    def vae_decode() -> Any:
        with torch.no_grad():
            return pipeline.vae.decode(latents).sample

    enc_s = statistics.median(timer.measure(vae_encode, args.repeats))
    dec_s = statistics.median(timer.measure(vae_decode, args.repeats))

    text_s: dict[bool, float] = {}
    for with_ref in (True, False):
        pil_images = [crop_pil] + ([Image.fromarray(ref[..., :3])] if with_ref else [])
        pil_images.append(Image.fromarray(np.repeat(mask[..., None], 3, axis=2)))
        cond = []
        for im in pil_images:
            w, h = calculate_dimensions(sizes.condition, im.width / im.height)
            cond.append(pipeline.image_processor.resize(im, h, w))

        def encode(cond: list[Any] = cond) -> Any:
            with torch.no_grad():
                return pipeline.encode_prompt(prompt=prompt, image=cond, device=device)

        text_s[with_ref] = statistics.median(timer.measure(encode, args.repeats))

    # 5. End to end through the backend, warm, per step count (true CFG 1.0)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    e2e: dict[tuple[int, bool], float] = {}
    step_list = list(args.steps)
    for steps in step_list:
        backend = backend_for(steps)
        for with_ref in (True, False):
            def region(backend: RefineAnythingBackend = backend, with_ref: bool = with_ref) -> Any:
                return backend.refine(crop, mask, prompt, reference=ref if with_ref else None,
                                      seed=1)

            e2e[(steps, with_ref)] = statistics.median(
                timer.wall(region, args.e2e_repeats, warmup=1))
    cfg_s: float | None = None
    if args.cfg_steps:
        cfg_backend = backend_for(args.cfg_steps, true_cfg=4.0)
        cfg_s = statistics.median(timer.wall(
            lambda: cfg_backend.refine(crop, mask, prompt, reference=ref, seed=1),
            max(1, args.e2e_repeats - 1), warmup=0))

    # 6. One region through Refiner.repair (crop, backend, paste-back, verify)
    from refiner.core import Refiner

    pw, ph = sizes.poster
    poster = _poster(pw, ph)
    box_w, box_h = sizes.crop * 3 // 4, sizes.crop // 6
    x0, y0 = pw // 3, ph // 2
    from detectors.types import Box

    refiner = Refiner(backend_for(step_list[0]), pixel_budget=sizes.crop * sizes.crop,
                      margin=max(4, sizes.crop // 16), require_region_check=False)
    repair_s = statistics.median(timer.wall(
        lambda: refiner.repair(poster, Box(x0, y0, x0 + box_w, y0 + box_h),
                               "Refine the text.", reference=ref, seed=1),
        max(1, args.e2e_repeats - 1), warmup=0))
    peak_alloc = torch.cuda.max_memory_allocated() / 1e9 if cuda else None
    peak_reserved = torch.cuda.max_memory_reserved() / 1e9 if cuda else None

    # 7. Report
    dev_name = torch.cuda.get_device_name() if cuda else platform.processor() or "cpu"
    title = "TINY (figures meaningless)" if args.tiny else "full size"
    print(f"RefineAnything GPU benchmark — {title}")
    print(f"device: {device} ({dev_name}), dtype {str(dtype).replace('torch.', '')}, "
          f"torch {torch.__version__}, diffusers {diffusers.__version__}, "
          f"transformers {transformers.__version__}")
    print("parameters: " + ", ".join(f"{k} {_count(v)}" for k, v in n_params.items())
          + f"; built in {build_s:.1f} s (meta -> to_empty -> init on {device})")
    last = refiner.backend.last_call
    print(f"offload in use: {last.offload if last else '?'}"
          f"{' (after an out-of-memory retry)' if last and last.oom_retried else ''}"
          + (f"; random rank-{args.lora_rank} LoRA loaded + fused in {lora_s:.1f} s"
             if lora_s is not None else
             f"; LoRA load FAILED: {lora_error}" if lora_error else "; no LoRA"))
    print(f"focus crop {sizes.crop}x{sizes.crop}, condition images {sizes.condition} px, "
          f"repeats {args.repeats} (forward), {args.e2e_repeats} (region), medians")
    print()
    report.add("image tokens / text tokens", "{} / {}".format(*tokens[True]),
               "{} / {}".format(*tokens[False]))
    report.add("transformer forward, s", forward_s[True], forward_s[False],
               f"DESIGN H100: {REF_FIGURES['forward_with_ref_s']} / "
               f"{REF_FIGURES['forward_without_ref_s']}")
    report.add("forward TFLOP (per stream)", flops[True] / 1e12, flops[False] / 1e12,
               "GEMMs {:.4g} + attention {:.4g} / {:.4g} + {:.4g}".format(
                   *(x / 1e12 for r in (True, False) for x in split[r])))
    report.add("forward TFLOP (flop_counter)",
               None if counted[True] is None else counted[True] / 1e12,
               None if counted[False] is None else counted[False] / 1e12,
               "check; counts attention only for kernels torch knows")
    report.add("achieved TFLOP/s", tflops[True], tflops[False])
    report.add("VAE encode (1 image), s", enc_s, enc_s)
    report.add("VAE decode, s", dec_s, dec_s,
               f"enc+dec {enc_s + dec_s:.3g} s; DESIGN {REF_FIGURES['vae_enc_plus_dec_s']}")
    report.add("text encoder, s", text_s[True], text_s[False])
    report.add("first call of the process, s (2 steps)", first_call_s[True], first_call_s[False],
               "cold")
    for steps in step_list:
        design = {8: ("e2e_8_steps_with_ref_s", "e2e_8_steps_without_ref_s"),
                  4: ("e2e_4_steps_with_ref_s", None)}.get(steps, (None, None))
        note = "DESIGN H100: " + " / ".join(
            str(REF_FIGURES[k]) if k else "-" for k in design) if any(design) else ""
        report.add(f"region via backend, {steps} steps, s", e2e[(steps, True)],
                   e2e[(steps, False)], note)
        predicted = {r: steps * forward_s[r] for r in (True, False)}
        parts = {r: text_s[r] + (3 if r else 2) * enc_s + steps * forward_s[r] + dec_s
                 for r in (True, False)}
        report.add("  steps x forward, s", predicted[True], predicted[False])
        report.add("  sum of parts, s", parts[True], parts[False],
                   "text enc + VAE encodes + steps x forward + decode")
        ratio = {r: e2e[(steps, r)] / predicted[r] for r in (True, False)}
        report.add("  ratio region / (steps x forward)", ratio[True], ratio[False],
                   "goal <= 1.10 " + ("MET" if max(ratio.values()) <= 1.10 else "NOT MET"))
        report.data[f"ratio_{steps}"] = ratio
    if cfg_s is not None:
        report.add(f"region, {args.cfg_steps} steps true CFG 4, s", cfg_s, None,
                   f"DESIGN H100: {REF_FIGURES['e2e_28_steps_cfg4_with_ref_s']} (28 steps)")
    report.add(f"region via Refiner.repair, {step_list[0]} steps, s", repair_s, None,
               f"poster {pw}x{ph}: crop, backend, paste-back, verify")
    report.add("peak GPU memory allocated / reserved, GB",
               None if peak_alloc is None else f"{peak_alloc:.1f} / {peak_reserved:.1f}", None,
               f"DESIGN: {REF_FIGURES['peak_gpu_gb']} GB")
    report.print()

    if args.json:
        out = {
            "tiny": args.tiny, "device": device, "device_name": dev_name,
            "forward_s": {str(k): v for k, v in forward_s.items()},
            "tflops": {str(k): v for k, v in tflops.items()},
            "vae_encode_s": enc_s, "vae_decode_s": dec_s,
            "text_encoder_s": {str(k): v for k, v in text_s.items()},
            "region_s": {f"{s}_{'ref' if r else 'noref'}": v for (s, r), v in e2e.items()},
            "repair_s": repair_s, "peak_alloc_gb": peak_alloc, "reference": REF_FIGURES,
        }
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
