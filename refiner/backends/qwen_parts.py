"""Components of the Qwen-Image-Edit pipeline built in-process, without a model hub.

Two sizes share one code path:

- ``"tiny"``: a 2-layer transformer, a small VAE, a 2-layer Qwen2.5-VL text encoder. Random
  weights, builds in well under a second on a CPU; used by the tests and by the GPU
  benchmark's ``--tiny`` mode.
- ``"full"``: the published architecture (transformer 20.4 B parameters, 60 layers,
  24 heads x 128, joint dim 3584, ``zero_cond_t=True``; a Qwen2.5-VL-7B-sized text
  encoder; the real VAE config), random weights. Only the GPU benchmark builds it, on the
  ``meta`` device first and then materialised on the GPU (see :func:`build_components`).

The tokenizer is a byte-level BPE without merges (one token per UTF-8 byte) plus the
Qwen chat and vision special tokens; the processor is :func:`image_only_processor`, which
needs no video processor (transformers 5's ``Qwen2VLProcessor`` insists on one, and the
video processor needs torchvision). Real weights load through
:mod:`refiner.backends.refineanything` instead.

This module imports torch, diffusers and transformers at the top: import it lazily.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import torch
from diffusers import (
    AutoencoderKLQwenImage,
    FlowMatchEulerDiscreteScheduler,
    QwenImageTransformer2DModel,
)
from transformers import (
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2Tokenizer,
    Qwen2VLProcessor,
)
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

log = logging.getLogger(__name__)

Size = Literal["tiny", "full"]

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
# the real Qwen2.5 vocabulary size; the full-size text encoder keeps it
QWEN_VOCAB_SIZE = 152064


class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):
    """``Qwen2VLProcessor`` with an image processor and a tokenizer only (no video)."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)


def image_only_processor(image_processor: Any, tokenizer: Any) -> ImageOnlyQwen2VLProcessor:
    """The processor the pipeline calls, from an image processor and a tokenizer."""
    return ImageOnlyQwen2VLProcessor(image_processor=image_processor, tokenizer=tokenizer)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table (the byte-level alphabet)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def build_byte_tokenizer() -> Qwen2Tokenizer:
    """A Qwen2 tokenizer over the 256-byte alphabet plus the Qwen special tokens.

    Ids 0-255 are the bytes, 256+ the specials in :data:`SPECIAL_TOKENS` order. Any text
    tokenizes (one token per UTF-8 byte); nothing is read from disk or the hub.
    """
    vocab = {ch: i for i, ch in enumerate(_bytes_to_unicode().values())}
    for token in SPECIAL_TOKENS:
        vocab[token] = len(vocab)
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=[], errors="replace")
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS[1:])})
    for token in SPECIAL_TOKENS:
        if tokenizer.convert_tokens_to_ids(token) != vocab[token]:  # pragma: no cover
            raise RuntimeError(f"tokenizer gave {token} an unexpected id")
    return tokenizer


def _token_ids(tokenizer: Qwen2Tokenizer) -> dict[str, int]:
    ids = tokenizer.convert_tokens_to_ids
    return {
        "image_token_id": ids("<|image_pad|>"),
        "video_token_id": ids("<|video_pad|>"),
        "vision_start_token_id": ids("<|vision_start|>"),
        "vision_end_token_id": ids("<|vision_end|>"),
    }


def text_encoder_config(size: Size, tokenizer: Qwen2Tokenizer) -> Qwen2_5_VLConfig:
    """Qwen2.5-VL config: 2 tiny layers, or the 7B model's sizes (8.3 B parameters)."""
    special = _token_ids(tokenizer)
    if size == "tiny":
        return Qwen2_5_VLConfig(
            text_config={
                "hidden_size": 16,
                "intermediate_size": 32,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "num_key_value_heads": 2,
                "vocab_size": len(tokenizer),
                "bos_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
                "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>"),
                "rope_parameters": {
                    "mrope_section": [1, 1, 2],
                    "rope_type": "default",
                    "rope_theta": 1000000.0,
                },
            },
            vision_config={
                "depth": 2,
                "hidden_size": 16,
                "intermediate_size": 16,
                "num_heads": 2,
                "out_hidden_size": 16,
                "fullatt_block_indexes": [1],
            },
            **special,
        )
    return Qwen2_5_VLConfig(
        text_config={
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "max_position_embeddings": 128000,
            "rms_norm_eps": 1e-6,
            "vocab_size": QWEN_VOCAB_SIZE,
            "rope_parameters": {
                "mrope_section": [16, 24, 24],
                "rope_type": "default",
                "rope_theta": 1000000.0,
            },
        },
        vision_config={
            "depth": 32,
            "hidden_size": 1280,
            "intermediate_size": 3420,
            "num_heads": 16,
            "out_hidden_size": 3584,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "fullatt_block_indexes": [7, 15, 23, 31],
            "tokens_per_second": 2,
        },
        **special,
    )


def transformer_kwargs(size: Size) -> dict[str, Any]:
    """``QwenImageTransformer2DModel`` arguments (full = Qwen-Image-Edit-2511)."""
    if size == "tiny":
        return {
            "patch_size": 2,
            "in_channels": 16,
            "out_channels": 4,
            "num_layers": 2,
            "attention_head_dim": 16,
            "num_attention_heads": 3,
            "joint_attention_dim": 16,
            "guidance_embeds": False,
            "axes_dims_rope": (8, 4, 4),
            "zero_cond_t": True,
        }
    return {
        "patch_size": 2,
        "in_channels": 64,
        "out_channels": 16,
        "num_layers": 60,
        "attention_head_dim": 128,
        "num_attention_heads": 24,
        "joint_attention_dim": 3584,
        "guidance_embeds": False,
        "axes_dims_rope": (16, 56, 56),
        "zero_cond_t": True,
    }


def vae_kwargs(size: Size) -> dict[str, Any]:
    """``AutoencoderKLQwenImage`` arguments (full = the published VAE, 8x down, 16 ch)."""
    if size == "tiny":
        z_dim = 4
        return {
            "base_dim": 8,
            "z_dim": z_dim,
            "dim_mult": [1, 2, 4],
            "num_res_blocks": 1,
            "temperal_downsample": [False, True],
            "latents_mean": [0.0] * z_dim,
            "latents_std": [1.0] * z_dim,
        }
    return {}  # the class defaults are the published config


def image_processor(size: Size) -> Qwen2VLImageProcessorPil:
    """The vision preprocessor (14 px patches, 2x2 merge) with the pipeline's limits."""
    if size == "tiny":
        return Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=112 * 112)
    return Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=28 * 28 * 1280)


def scheduler() -> FlowMatchEulerDiscreteScheduler:
    """The base model's scheduler config (dynamic shift on the image sequence length)."""
    return FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000,
        shift=1.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=0.9,
        base_image_seq_len=256,
        max_image_seq_len=8192,
        shift_terminal=0.02,
        time_shift_type="exponential",
    )


def published_scheduler() -> FlowMatchEulerDiscreteScheduler:
    """The scheduler RefineAnything's published ``fast_inference.py`` builds, always.

    Dynamic shifting with base and max shift log 3 (so shift log 3 at every resolution),
    exponential time shift, no terminal shift; the same with or without the Lightning
    LoRA (which is distilled for it).
    """
    return FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000,
        shift=1.0,
        use_dynamic_shifting=True,
        base_shift=math.log(3),
        max_shift=math.log(3),
        base_image_seq_len=256,
        max_image_seq_len=8192,
        shift_terminal=None,
        time_shift_type="exponential",
    )


def _reinit_on_device_(module: torch.nn.Module, seed: int) -> None:
    """Like :func:`_reinit_`, drawing the noise on the module's device (fast on a GPU)."""
    with torch.no_grad():
        params = list(module.named_parameters())
        device = params[0][1].device if params else torch.device("cpu")
        gen = torch.Generator(device=device).manual_seed(seed)
        for name, param in params:
            if param.ndim >= 2:
                fan_in = param.shape[-1] if param.ndim == 2 else param[0].numel()
                param.normal_(0.0, 1.0 / math.sqrt(fan_in), generator=gen)
            elif "norm" in name or name.endswith(".scale"):
                param.fill_(1.0)
            else:
                param.zero_()


def _move(module: torch.nn.Module, device: str, dtype: torch.dtype) -> torch.nn.Module:
    """``module.to(device, dtype)``, skipping the cast when the dtype is already right."""
    if next(module.parameters()).dtype != dtype:
        module.to(dtype)
    return module.to(device)


def _materialise(module: torch.nn.Module, device: str, dtype: torch.dtype, seed: int) -> None:
    module.to(dtype).to_empty(device=device)
    _reinit_on_device_(module, seed)


def build_components(
    size: Size = "tiny",
    *,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
    via_meta: bool | None = None,
) -> dict[str, Any]:
    """The six components ``QwenImageEditPlusPipeline(**components)`` takes.

    Random weights, deterministic for a given ``seed`` and device. With ``via_meta``
    (the default for ``"full"``) the transformer and text encoder are constructed under
    ``torch.device("meta")``, then ``to_empty`` on ``device`` and initialised there, so a
    20 B transformer never exists in host memory; the rotary tables (the transformer's
    ``pos_embed`` holds plain tensors, the text encoder's are non-persistent buffers) are
    re-created outside the meta context. Otherwise the models are built on the CPU and
    moved. The VAE (127 M) is always built directly.
    """
    if via_meta is None:
        via_meta = size == "full"
    tokenizer = build_byte_tokenizer()
    processor = image_only_processor(image_processor(size), tokenizer)
    te_config = text_encoder_config(size, tokenizer)
    torch.manual_seed(seed)
    if via_meta:
        with torch.device("meta"):
            transformer = QwenImageTransformer2DModel(**transformer_kwargs(size))
            text_encoder = Qwen2_5_VLForConditionalGeneration(te_config)
        _materialise(transformer, device, dtype, seed)
        _materialise(text_encoder, device, dtype, seed + 1)
    else:
        transformer = QwenImageTransformer2DModel(**transformer_kwargs(size))
        text_encoder = Qwen2_5_VLForConditionalGeneration(te_config)
        for module in (transformer, text_encoder):
            _move(module, device, dtype)
    _rebuild_rotary_(transformer, device)
    _rebuild_rotary_(text_encoder, device)
    torch.manual_seed(seed + 2)
    vae = _move(AutoencoderKLQwenImage(**vae_kwargs(size)), device, dtype)
    for module in (transformer, vae, text_encoder):
        module.eval()
    return {
        "transformer": transformer,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "processor": processor,
        "scheduler": scheduler(),
    }


def _rebuild_rotary_(model: torch.nn.Module, device: str) -> None:
    """Re-create every rotary-embedding module on ``device``.

    Their frequency tables are computed in ``__init__`` (plain tensors or non-persistent
    buffers), so a model built on the meta device and ``to_empty``-ed has none; rebuilding
    them from their own config gives exactly what a normal construction gives.
    """
    targets = [
        (name, module)
        for name, module in model.named_modules()
        if type(module).__name__.endswith("RotaryEmbedding")
        or type(module).__name__ == "QwenEmbedRope"
    ]
    for name, module in targets:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        with torch.device(device):
            if type(module).__name__ == "QwenEmbedRope":
                fresh = type(module)(
                    theta=module.theta, axes_dim=list(module.axes_dim), scale_rope=module.scale_rope
                )
            else:
                fresh = type(module)(module.config)
        setattr(parent, attr, fresh)
