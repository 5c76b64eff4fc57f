"""RefineAnything: Focus-and-Refine on Qwen-Image-Edit-2511 + the RefineAnything LoRA.

The backend turns a focus crop into a refined crop with diffusers'
``QwenImageEditPlusPipeline``:

- **images** given to the pipeline, in this order: ``[crop, reference (optional), crop
  mask as RGB]``; the prompt is passed unchanged (``refine the text '鼎好商城'``,
  ``Refine the LOGO.``). Inputs arrive as sRGB ``uint8`` arrays: posterqa converts
  colour once, on load (:mod:`posterqa.imaging` applies the ICC profile and EXIF
  orientation), so the backend does no colour management of its own. A reference with
  alpha is composited over white; the mask is binarised at 128 and replicated to RGB
  (white = repaint).
- **size**: the crop is refined at its own size. The pipeline resizes every input image
  to a module-level pixel budget (``VAE_IMAGE_SIZE``); the backend sets it to the crop's
  area for the call, so the crop's latent grid is the output's grid, pixel for pixel.
  Sides must be multiples of 32 (the pipeline's rounding, and ``2 x vae_scale_factor``);
  the refiner core resizes crops to such sizes (:attr:`size_multiple`); any other size
  is resized to the nearest multiple and the result resized back to the crop's size.
  The vision-language encoder sees each image at ``condition_image_size`` pixels
  (384² as published).
- **sampling**: the published scheduler always (FlowMatchEuler, dynamic shift with base
  and max shift log 3, exponential, no terminal shift: :func:`qwen_parts.published_scheduler`).
  With the Lightning LoRA (``POSTERQA_REFINEANYTHING_LIGHTNING_LORA``) 8 or 4 steps
  (``..._LIGHTNING_STEPS``) and true CFG 1.0; otherwise ``..._STEPS`` steps (28) with
  true CFG ``..._TRUE_CFG`` (4.0)
  and the negative prompt ``" "`` (CFG is silently off without a negative prompt).
  The seed of each call (``seed`` argument, else ``POSTERQA_REFINER_SEED``) feeds a CPU
  ``torch.Generator``, so a seed gives the same noise on any device; it is recorded in
  :attr:`RefineAnythingBackend.last_call`.
- **weights**: ``POSTERQA_REFINEANYTHING_BASE`` is a local folder in the diffusers layout
  (``model_index.json``, ``transformer/``, ``text_encoder/``, ``vae/``, ``tokenizer/``,
  ``processor/``, ``scheduler/``); a hub id only when ``..._ALLOW_HUB=true``.
  ``..._LORA`` is the RefineAnything LoRA ``.safetensors`` (required when loading from
  the base folder), in diffusers or PEFT-with-``transformer.``-prefix format. As
  published, the pipeline is moved to the device first and the LoRAs are loaded there
  as unfused adapters (switchable: :meth:`RefineAnythingBackend.set_adapter_weights`);
  ``fuse_lora=True`` (or a ``refineanything_fuse_lora`` setting) fuses them on the
  device afterwards, so a step costs one base forward. A LoRA whose keys do not match
  the transformer (unexpected or missing keys) raises :class:`LoraMismatchError`
  naming the file and a few keys.
- **device and memory**: bf16 on CUDA. ``..._OFFLOAD``: ``none`` (everything on the
  GPU: 57.8 GB of weights, 62.3 GB peak at 1024², 8.2 s a region at 8 steps on an H200),
  ``model`` (diffusers' model CPU offload: one model on the GPU at a time, 42.9 GB peak,
  but 47 s a region, since every region copies the models to the GPU again),
  ``sequential`` (layer by layer; fits small GPUs, 44 s for 2 steps). Figures from
  ``benchmarks/check_refineanything_offload_gpu.py`` (random weights, one run). Without
  a GPU the backend refuses with :class:`ConfigError` unless ``..._ALLOW_CPU=true``
  (float32 on the CPU: for tests and tiny models). CUDA out of memory retries the
  region once with model CPU offload (kept on for the rest of the process), then raises
  :class:`BackendError` for that region only.
- **lifetime**: the pipeline is loaded once per process and shared by every backend
  built with the same settings (module-level cache); :meth:`close` drops it and empties
  the CUDA cache.

torch and diffusers are imported inside the functions that need them, so importing
:mod:`refiner` stays light.
"""

from __future__ import annotations

import gc
import importlib
import logging
import math
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from posterqa.errors import BackendError, ConfigError, InputError, ModelWeightsMissingError
from posterqa.settings import Settings, get_settings
from refiner.backends.base import RefinerBackend, register

log = logging.getLogger(__name__)

REFINE_ADAPTER = "refineanything"
LIGHTNING_ADAPTER = "lightning"
NEGATIVE_PROMPT = " "
DEFAULT_CONDITION_IMAGE_SIZE = 384 * 384
BASE_SUBFOLDERS = ("transformer", "text_encoder", "vae", "tokenizer", "processor", "scheduler")
# the pipeline rounds every image side to a multiple of 32 (calculate_dimensions)
PIPELINE_ROUNDING = 32

# one pipeline call at a time per process: the pipeline is not thread-safe and the
# backend sets the pipeline module's pixel budgets for the duration of a call
_CALL_LOCK = threading.RLock()
_CACHE: dict[tuple[Any, ...], _Loaded] = {}
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class RefineCall:
    """What one :meth:`RefineAnythingBackend.refine` call did (for audit and tests)."""

    seed: int
    prompt: str
    negative_prompt: str | None
    steps: int
    true_cfg: float
    n_images: int
    with_reference: bool
    size: tuple[int, int]  # (w, h) the pipeline worked at
    crop_size: tuple[int, int]  # (w, h) of the crop given and returned
    seconds: float
    offload: str
    oom_retried: bool


@dataclass
class _Loaded:
    """A pipeline and how it was set up (shared by backends with the same key)."""

    pipeline: Any
    device: str
    offload: str
    adapters: tuple[str, ...]
    fused: bool
    lightning: bool
    users: int = 0


def _torch() -> Any:
    try:
        return importlib.import_module("torch")
    except ImportError as exc:  # pragma: no cover - torch is installed with the extra
        raise ConfigError(
            "the refineanything backend needs torch, diffusers, transformers and peft "
            "(pip install 'posterqa[refineanything]')"
        ) from exc


def resolve_device(settings: Settings) -> str:
    """The torch device to run on, or :class:`ConfigError` when no GPU is usable.

    A CUDA device must be visible to torch; a CPU run must be asked for explicitly with
    ``POSTERQA_REFINEANYTHING_ALLOW_CPU=true``.
    """
    torch = _torch()
    device = settings.refineanything_device
    if device.startswith("cuda"):
        if torch.cuda.is_available():
            return device
        if not settings.refineanything_allow_cpu:
            raise ConfigError(
                f"refineanything needs a CUDA GPU (POSTERQA_REFINEANYTHING_DEVICE={device}) "
                "but torch sees none; set POSTERQA_REFINEANYTHING_ALLOW_CPU=true to run "
                "on the CPU (only practical for tiny test models)"
            )
        log.warning("no CUDA GPU visible: refineanything runs on the CPU (allowed by settings)")
        return "cpu"
    if device == "cpu" and not settings.refineanything_allow_cpu:
        raise ConfigError(
            "refineanything on the CPU must be asked for explicitly: "
            "set POSTERQA_REFINEANYTHING_ALLOW_CPU=true"
        )
    return device


def _dtype_for(device: str) -> Any:
    torch = _torch()
    return torch.bfloat16 if device.startswith("cuda") else torch.float32


def check_weights(settings: Settings) -> None:
    """Raise :class:`ModelWeightsMissingError` (one line, naming the path) if any is missing."""
    base = settings.refineanything_base
    if base is None:
        raise ModelWeightsMissingError(
            "refineanything base model not set: POSTERQA_REFINEANYTHING_BASE must name a "
            "local Qwen-Image-Edit-2511 folder"
        )
    if not Path(base).exists() and not settings.refineanything_allow_hub:
        raise ModelWeightsMissingError(
            f"refineanything base model folder not found: {base} (POSTERQA_REFINEANYTHING_BASE;"
            " set POSTERQA_REFINEANYTHING_ALLOW_HUB=true to treat it as a hub id)"
        )
    if Path(base).exists():
        for part in ("model_index.json", *BASE_SUBFOLDERS):
            if not (Path(base) / part).exists():
                raise ModelWeightsMissingError(
                    f"refineanything base model is incomplete: {Path(base) / part} not found"
                )
    if settings.refineanything_lora is None:
        raise ModelWeightsMissingError(
            "RefineAnything LoRA not set: POSTERQA_REFINEANYTHING_LORA must name the "
            "Qwen-Image-Edit-2511-RefineAny.safetensors file"
        )
    _check_lora_files(settings)


def _check_lora_files(settings: Settings) -> None:
    for env, path in (
        ("POSTERQA_REFINEANYTHING_LORA", settings.refineanything_lora),
        ("POSTERQA_REFINEANYTHING_LIGHTNING_LORA", settings.refineanything_lightning_lora),
    ):
        if path is not None and not Path(path).is_file():
            raise ModelWeightsMissingError(f"LoRA file not found: {path} ({env})")


def _cache_key(settings: Settings, device: str, fuse_lora: bool) -> tuple[Any, ...]:
    return (
        settings.refineanything_base,
        str(settings.refineanything_lora),
        str(settings.refineanything_lightning_lora),
        device,
        settings.refineanything_offload,
        fuse_lora,
    )


def _load_base_pipeline(settings: Settings, device: str) -> Any:
    """``QwenImageEditPlusPipeline`` from the base folder (or hub id), not yet placed."""
    from diffusers import QwenImageEditPlusPipeline
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    from refiner.backends.qwen_parts import image_only_processor

    base = str(settings.refineanything_base)
    local = Path(base).exists()
    kwargs: dict[str, Any] = {"local_files_only": local or not settings.refineanything_allow_hub}
    try:
        # an image-only processor: the stock one wants a video processor (torchvision)
        processor = image_only_processor(
            Qwen2VLImageProcessorPil.from_pretrained(base, subfolder="processor", **kwargs),
            Qwen2Tokenizer.from_pretrained(base, subfolder="tokenizer", **kwargs),
        )
        return QwenImageEditPlusPipeline.from_pretrained(
            base, processor=processor, dtype=_dtype_for(device), **kwargs
        )
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelWeightsMissingError(
            f"cannot load the refineanything base model from {base}: {first}"
        ) from exc


class LoraMismatchError(ModelWeightsMissingError):
    """A LoRA file whose keys do not match the model (missing or unexpected keys)."""


def _lora_keys(keys: Any) -> set[str]:
    """LoRA matrix keys (``...lora_A.weight`` / ``...lora_B.weight``), adapter name dropped."""
    out = set()
    for key in keys:
        if ".lora_A." not in key and ".lora_B." not in key:
            continue
        out.add(re.sub(r"\.(lora_[AB])\.[^.]+\.weight$", r".\1.weight", key))
    return out


def _few(keys: set[str], n: int = 3) -> str:
    shown = sorted(keys)[:n]
    more = f" (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(shown) + more


def _load_lora(pipeline: Any, path: Path, adapter: str) -> None:
    """Load a LoRA as adapter ``adapter`` of the transformer; every key must land.

    The file is read once (in diffusers, PEFT-with-``transformer.``-prefix or any format
    diffusers converts for Qwen-Image), loaded, and its LoRA keys compared with the
    adapter's keys in the transformer: a key of the file that found no module
    (unexpected) or a LoRA module the file has no weights for (missing) raises
    :class:`LoraMismatchError` naming the file and a few keys.
    """
    from peft.utils import get_peft_model_state_dict

    try:
        state = pipeline.lora_state_dict(str(path))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelWeightsMissingError(f"cannot read LoRA {path}: {exc}") from exc
    if isinstance(state, tuple):  # (state_dict, metadata) in some diffusers versions
        state = state[0]
    file_keys = _lora_keys(
        k[len("transformer."):] if k.startswith("transformer.") else f"<not transformer> {k}"
        for k in state
    )
    try:
        pipeline.load_lora_weights(dict(state), adapter_name=adapter)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LoraMismatchError(f"LoRA {path} does not fit the model: {first}") from exc
    loaded = pipeline.get_list_adapters().get("transformer", [])
    if adapter not in loaded:
        raise LoraMismatchError(
            f"LoRA {path} has no weights for the transformer (expected diffusers format "
            "or PEFT keys with a 'transformer.' prefix); keys: "
            f"{_few(set(map(str, state)))}"
        )
    model_keys = _lora_keys(get_peft_model_state_dict(pipeline.transformer, adapter_name=adapter))
    unexpected, missing = file_keys - model_keys, model_keys - file_keys
    if unexpected or missing:
        parts = []
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_few(unexpected)}")
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_few(missing)}")
        raise LoraMismatchError(f"LoRA {path} does not match the model: {'; '.join(parts)}")


def _place(pipeline: Any, device: str, offload: str) -> str:
    """Put the pipeline on ``device`` or switch on CPU offload; return the offload in use.

    Offload only means something on a GPU. When moving everything to the GPU runs out of
    memory, model CPU offload is switched on instead (logged).
    """
    if not device.startswith("cuda"):
        if offload != "none":
            log.info("offload %r has no meaning on %s; ignored", offload, device)
        pipeline.to(device)
        return "none"
    if offload == "none":
        try:
            pipeline.to(device)
            return "none"
        except Exception as exc:  # noqa: BLE001 - only OOM is handled
            if not _is_oom(exc):
                raise
            log.warning("the pipeline does not fit on %s; switching to model CPU offload", device)
            pipeline.to("cpu")
            gc.collect()
            _torch().cuda.empty_cache()
            offload = "model"
    if offload == "model":
        pipeline.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipeline.enable_sequential_cpu_offload(device=device)
    else:  # pragma: no cover - settings validate the literal
        raise ConfigError(f"unknown refineanything offload mode {offload!r}")
    return offload


def _prepare(
    pipeline: Any, settings: Settings, device: str, *, fuse_lora: bool, place: bool
) -> _Loaded:
    """Set the published scheduler, place the pipeline, then load the LoRAs (as published).

    The published code builds its scheduler always (with or without Lightning), moves
    the pipeline to the GPU and only then loads the LoRAs, keeping them as unfused
    adapters; ``fuse_lora`` fuses them afterwards (on the device, so no host-RAM copy of
    the bf16 transformer and no rounding of the deltas on the CPU).
    """
    from refiner.backends.qwen_parts import published_scheduler

    pipeline.scheduler = published_scheduler()
    offload = "none"
    if place:
        offload = _place(pipeline, device, settings.refineanything_offload)
    adapters: list[str] = []
    if settings.refineanything_lora is not None:
        _load_lora(pipeline, Path(settings.refineanything_lora), REFINE_ADAPTER)
        adapters.append(REFINE_ADAPTER)
    lightning = settings.refineanything_lightning_lora is not None
    if lightning:
        _load_lora(pipeline, Path(settings.refineanything_lightning_lora), LIGHTNING_ADAPTER)
        adapters.append(LIGHTNING_ADAPTER)
    if adapters:
        pipeline.set_adapters(adapters, adapter_weights=[1.0] * len(adapters))
    fused = bool(adapters) and fuse_lora
    if fused:
        pipeline.fuse_lora(components=["transformer"], lora_scale=1.0, adapter_names=adapters)
        pipeline.unload_lora_weights()
    pipeline.set_progress_bar_config(disable=True)
    return _Loaded(
        pipeline=pipeline,
        device=device,
        offload=offload,
        adapters=tuple(adapters),
        fused=fused,
        lightning=lightning,
    )


def loaded_pipelines() -> int:
    """How many pipelines this process holds (0 after every backend is closed)."""
    return len(_CACHE)


@contextmanager
def _pipeline_budgets(pipeline_cls: type, vae_pixels: int, condition_pixels: int) -> Iterator[None]:
    """Set the pipeline module's per-image pixel budgets for one call, then restore them."""
    module = importlib.import_module(pipeline_cls.__module__)
    old = (module.VAE_IMAGE_SIZE, module.CONDITION_IMAGE_SIZE)
    module.VAE_IMAGE_SIZE, module.CONDITION_IMAGE_SIZE = vae_pixels, condition_pixels
    try:
        yield
    finally:
        module.VAE_IMAGE_SIZE, module.CONDITION_IMAGE_SIZE = old


def _round_to(value: int, multiple: int) -> int:
    return max(multiple, int(round(value / multiple)) * multiple)


def _reference_rgb(reference: np.ndarray) -> np.ndarray:
    ref = np.asarray(reference)
    if ref.dtype != np.uint8 or ref.ndim != 3 or ref.shape[2] not in (3, 4):
        raise InputError(
            f"reference must be RGB or RGBA uint8 [h, w, 3|4], got {ref.dtype} {ref.shape}"
        )
    if ref.shape[2] == 3:
        return ref
    alpha = ref[..., 3:4].astype(np.float32) / 255.0
    rgb = ref[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


@register("refineanything")
class RefineAnythingBackend(RefinerBackend):
    """RefineAnything on ``QwenImageEditPlusPipeline`` (see the module docstring).

    Build it from settings (the pipeline is loaded on first use and shared per
    process), or hand it ready components / a ready pipeline (tests, benchmarks)::

        backend = RefineAnythingBackend(settings)
        backend = RefineAnythingBackend(settings, components=build_components("tiny"))

    ``crop``: RGB uint8 ``[h, w, 3]`` (sRGB); ``crop_mask``: uint8 ``[h, w]``, 255 =
    repaint; ``reference``: RGB/RGBA uint8 or None; returns RGB uint8 ``[h, w, 3]``.
    """

    size_multiple: ClassVar[int] = PIPELINE_ROUNDING
    wants_resize: ClassVar[bool] = True
    # the output depends on the seed (reproducible for a given seed, device and versions)
    deterministic: ClassVar[bool] = False

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        pixel_budget: int | None = None,
        components: Mapping[str, Any] | None = None,
        pipeline: Any | None = None,
        condition_image_size: int = DEFAULT_CONDITION_IMAGE_SIZE,
        fuse_lora: bool | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        super().__init__(pixel_budget or self.settings.refiner_pixel_budget,
                         settings=self.settings)
        if components is not None and pipeline is not None:
            raise ConfigError("give the refineanything backend components or a pipeline, not both")
        self.condition_image_size = int(condition_image_size)
        # unfused as published unless asked (argument, else POSTERQA_REFINEANYTHING_FUSE_LORA)
        self.fuse_lora = bool(
            self.settings.refineanything_fuse_lora
            if fuse_lora is None else fuse_lora
        )
        self._injected = pipeline if pipeline is not None else None
        self._components = dict(components) if components is not None else None
        if self._injected is None and self._components is None:
            check_weights(self.settings)
        else:
            _check_lora_files(self.settings)
        steps = self.settings.refineanything_steps
        if self.settings.refineanything_lightning_lora is None and steps < 1:
            raise ConfigError(
                f"POSTERQA_REFINEANYTHING_STEPS={steps}: sampling needs at least 1 step"
            )
        self.device = resolve_device(self.settings)
        self._loaded: _Loaded | None = None
        self._key: tuple[Any, ...] | None = None
        self.last_call: RefineCall | None = None
        self.calls: list[RefineCall] = []

    # --- model lifetime -------------------------------------------------------------

    def load(self) -> Any:
        """Load (or reuse) the pipeline and return it; idempotent."""
        if self._loaded is not None:
            return self._loaded.pipeline
        if self._injected is not None or self._components is not None:
            self._loaded = self._prepare_injected()
            return self._loaded.pipeline
        key = _cache_key(self.settings, self.device, self.fuse_lora)
        with _CACHE_LOCK:
            loaded = _CACHE.get(key)
            if loaded is None:
                start = time.perf_counter()
                pipeline = _load_base_pipeline(self.settings, self.device)
                loaded = _prepare(
                    pipeline, self.settings, self.device, fuse_lora=self.fuse_lora, place=True
                )
                _CACHE[key] = loaded
                log.info(
                    "refineanything loaded from %s on %s (offload %s, adapters %s) in %.1f s",
                    self.settings.refineanything_base, self.device, loaded.offload,
                    ",".join(loaded.adapters) or "none", time.perf_counter() - start,
                )
            loaded.users += 1
        self._loaded, self._key = loaded, key
        return loaded.pipeline

    def _prepare_injected(self) -> _Loaded:
        if self._injected is not None:
            pipeline = self._injected
        else:
            from diffusers import QwenImageEditPlusPipeline

            assert self._components is not None
            pipeline = QwenImageEditPlusPipeline(**self._components)
            self._components = None
        return _prepare(pipeline, self.settings, self.device, fuse_lora=self.fuse_lora, place=True)

    @property
    def pipeline(self) -> Any:
        """The loaded pipeline (loads it on first access)."""
        return self.load()

    @property
    def lightning(self) -> bool:
        return self.settings.refineanything_lightning_lora is not None

    def close(self) -> None:
        """Drop this backend's hold on the pipeline; free it when nobody else uses it."""
        loaded, self._loaded = self._loaded, None
        self._injected = None
        if loaded is None:
            return
        if self._key is not None:
            with _CACHE_LOCK:
                loaded.users -= 1
                if loaded.users <= 0:
                    _CACHE.pop(self._key, None)
                else:
                    return
        self._key = None
        loaded.pipeline = None
        del loaded
        gc.collect()
        torch = _torch()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def set_adapter_weights(self, **weights: float) -> None:
        """Change LoRA adapter weights, e.g. ``refineanything=0.0`` (unfused LoRAs only)."""
        self.load()
        loaded = self._loaded
        assert loaded is not None
        if loaded.fused:
            raise ConfigError("LoRA weights are fused; build the backend with fuse_lora=False")
        unknown = set(weights) - set(loaded.adapters)
        if unknown:
            raise ConfigError(
                f"unknown LoRA adapter(s) {sorted(unknown)}; loaded: {list(loaded.adapters)}"
            )
        names = list(loaded.adapters)
        loaded.pipeline.set_adapters(names, adapter_weights=[weights.get(n, 1.0) for n in names])

    # --- sampling parameters ----------------------------------------------------------

    def sampling(self) -> tuple[int, float, str | None]:
        """``(steps, true_cfg, negative_prompt)`` for the current settings."""
        if self.lightning:
            return int(self.settings.refineanything_lightning_steps), 1.0, None
        cfg = float(self.settings.refineanything_true_cfg)
        return int(self.settings.refineanything_steps), cfg, (NEGATIVE_PROMPT if cfg > 1 else None)

    def pipeline_inputs(
        self,
        crop: np.ndarray,
        crop_mask: np.ndarray,
        reference: np.ndarray | None = None,
        *,
        multiple: int = PIPELINE_ROUNDING,
    ) -> tuple[list[Image.Image], tuple[int, int]]:
        """The image list ``[crop, reference?, mask as RGB]`` and the working size (w, h)."""
        crop = np.asarray(crop)
        mask = np.asarray(crop_mask)
        if crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3:
            raise InputError(f"crop must be RGB uint8 [h, w, 3], got {crop.dtype} {crop.shape}")
        if mask.shape != crop.shape[:2]:
            raise InputError(f"crop mask shape {mask.shape} does not match crop {crop.shape[:2]}")
        binary = np.where(mask >= 128, 255, 0).astype(np.uint8)
        if not binary.any():
            raise InputError("crop mask is empty: nothing to refine")
        h, w = crop.shape[:2]
        size = (_round_to(w, multiple), _round_to(h, multiple))
        crop_img = Image.fromarray(crop, "RGB")
        mask_img = Image.fromarray(np.repeat(binary[..., None], 3, axis=2), "RGB")
        if size != (w, h):
            crop_img = crop_img.resize(size, Image.Resampling.BICUBIC)
            mask_img = mask_img.resize(size, Image.Resampling.NEAREST)
        images = [crop_img]
        if reference is not None:
            images.append(Image.fromarray(_reference_rgb(reference), "RGB"))
        images.append(mask_img)
        return images, size

    # --- the call ---------------------------------------------------------------------

    def refine(
        self,
        crop: np.ndarray,
        crop_mask: np.ndarray,
        prompt: str,
        reference: np.ndarray | None = None,
        *,
        seed: int | None = None,
        hints: Mapping[str, Any] | None = None,
    ) -> np.ndarray:
        """Refine ``crop`` where ``crop_mask`` is 255; RGB uint8 of the crop's shape."""
        if not prompt or not prompt.strip():
            raise InputError("refineanything needs a non-empty prompt")
        pipeline = self.load()
        multiple = math.lcm(PIPELINE_ROUNDING, 2 * int(getattr(pipeline, "vae_scale_factor", 8)))
        images, size = self.pipeline_inputs(crop, crop_mask, reference, multiple=multiple)
        seed = int(self.settings.refiner_seed if seed is None else seed)
        steps, true_cfg, negative = self.sampling()
        h, w = np.asarray(crop).shape[:2]

        start = time.perf_counter()
        oom_retried = False
        out = None
        for attempt in (1, 2):
            try:
                out = self._call(pipeline, images, prompt, negative, true_cfg, steps, size, seed)
                break
            except BackendError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below
                if not _is_oom(exc):
                    raise BackendError(
                        f"refineanything failed on a {w}x{h} crop: {type(exc).__name__}: {exc}"
                    ) from exc
                if attempt == 2 or not self._switch_to_offload():
                    raise BackendError(
                        f"refineanything ran out of GPU memory on a {w}x{h} crop "
                        f"(offload {self._loaded.offload if self._loaded else '?'}); "
                        "region skipped"
                    ) from exc
                oom_retried = True
                log.warning("CUDA out of memory on a %dx%d crop; retrying with model CPU offload",
                            w, h)
        assert out is not None
        result = np.asarray(out.convert("RGB"), dtype=np.uint8)
        if result.shape[:2] != (h, w):
            result = np.asarray(
                Image.fromarray(result).resize((w, h), Image.Resampling.BICUBIC), dtype=np.uint8
            )
        record = RefineCall(
            seed=seed,
            prompt=prompt,
            negative_prompt=negative,
            steps=steps,
            true_cfg=true_cfg,
            n_images=len(images),
            with_reference=reference is not None,
            size=size,
            crop_size=(w, h),
            seconds=time.perf_counter() - start,
            offload=self._loaded.offload if self._loaded else "none",
            oom_retried=oom_retried,
        )
        self.last_call = record
        self.calls.append(record)
        return result

    def _call(
        self,
        pipeline: Any,
        images: list[Image.Image],
        prompt: str,
        negative: str | None,
        true_cfg: float,
        steps: int,
        size: tuple[int, int],
        seed: int,
    ) -> Image.Image:
        torch = _torch()
        from diffusers import QwenImageEditPlusPipeline

        generator = torch.Generator(device="cpu").manual_seed(seed)
        with _CALL_LOCK, _pipeline_budgets(
            QwenImageEditPlusPipeline, size[0] * size[1], self.condition_image_size
        ):
            output = pipeline(
                image=images,
                prompt=prompt,
                negative_prompt=negative,
                true_cfg_scale=true_cfg,
                height=size[1],
                width=size[0],
                num_inference_steps=steps,
                generator=generator,
                output_type="pil",
            )
        return output.images[0]

    def _switch_to_offload(self) -> bool:
        """After a CUDA OOM: free memory and switch to model CPU offload (True if done)."""
        loaded = self._loaded
        if loaded is None or not loaded.device.startswith("cuda") or loaded.offload != "none":
            return False
        torch = _torch()
        gc.collect()
        torch.cuda.empty_cache()
        try:
            loaded.pipeline.to("cpu")
            loaded.pipeline.enable_model_cpu_offload(device=loaded.device)
        except Exception as exc:  # noqa: BLE001 - any failure here means no retry
            log.error("could not switch refineanything to model CPU offload: %s", exc)
            return False
        loaded.offload = "model"
        return True


def _is_oom(exc: BaseException) -> bool:
    torch = _torch()
    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, oom) or "CUDA out of memory" in str(exc)
