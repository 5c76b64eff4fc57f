"""RefineAnything backend on tiny random-weight Qwen-Image-Edit components, on the CPU.

Everything is built in-process (2-layer transformer, small VAE, 2-layer Qwen2.5-VL,
byte-level tokenizer); nothing touches a model hub. The pipeline is the real diffusers
``QwenImageEditPlusPipeline``; the recording subclass below only notes its call
arguments before running it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from diffusers import QwenImageEditPlusPipeline  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from detectors.types import Box  # noqa: E402
from posterqa.errors import (  # noqa: E402
    BackendError,
    ConfigError,
    InputError,
    ModelWeightsMissingError,
)
from posterqa.settings import Settings  # noqa: E402
from refiner.backends import get_backend  # noqa: E402
from refiner.backends import refineanything as ra  # noqa: E402
from refiner.backends.qwen_parts import build_components  # noqa: E402
from refiner.core import Refiner  # noqa: E402

BUDGET = 64 * 64
COND = 56 * 56


class RecordingPipeline(QwenImageEditPlusPipeline):
    """The real pipeline; notes each call's arguments, optionally raises OOM first."""

    def __init__(self, scheduler: Any, vae: Any, text_encoder: Any, tokenizer: Any,
                 processor: Any, transformer: Any) -> None:
        super().__init__(scheduler=scheduler, vae=vae, text_encoder=text_encoder,
                         tokenizer=tokenizer, processor=processor, transformer=transformer)
        self.recorded: list[dict[str, Any]] = []
        self.fail_with_oom = 0
        self.events: list[str] = []

    def to(self, *args: Any, **kwargs: Any) -> Any:
        self.events.append("to")
        return super().to(*args, **kwargs)

    def load_lora_weights(self, *args: Any, **kwargs: Any) -> Any:
        self.events.append(f"load_lora:{kwargs.get('adapter_name')}")
        return super().load_lora_weights(*args, **kwargs)

    def __call__(self, **kwargs: Any) -> Any:
        images = [np.asarray(im.convert("RGB")).copy() for im in kwargs["image"]]
        self.recorded.append({**kwargs, "image": images})
        if self.fail_with_oom > 0:
            self.fail_with_oom -= 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return super().__call__(**kwargs)


def _settings(**kw: Any) -> Settings:
    base = {"refineanything_allow_cpu": True, "refineanything_steps": 2, "refiner_seed": 7}
    base.update(kw)
    return Settings(**base)


def _backend(settings: Settings | None = None, *, recording: bool = False,
             **kw: Any) -> ra.RefineAnythingBackend:
    comps = build_components("tiny")
    settings = settings or _settings()
    if recording:
        return ra.RefineAnythingBackend(settings, pipeline=RecordingPipeline(**comps),
                                        pixel_budget=BUDGET, condition_image_size=COND, **kw)
    return ra.RefineAnythingBackend(settings, components=comps, pixel_budget=BUDGET,
                                    condition_image_size=COND, **kw)


def _poster() -> np.ndarray:
    """A 160x240 poster: gradient, a panel, and a line of text."""
    yy, xx = np.mgrid[0:160, 0:240]
    img = np.stack([xx * 255 // 239, yy * 255 // 159, np.full_like(xx, 90)], axis=2)
    pil = Image.fromarray(img.astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    draw.rectangle((20, 20, 110, 60), fill=(240, 230, 200))
    draw.text((40, 90), "SALE 50%", fill=(255, 255, 255), font=ImageFont.load_default(18))
    return np.asarray(pil).copy()


def _crop_and_mask(h: int = 32, w: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    crop = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = 255
    return crop, mask


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Any:
    """Tiny models gain nothing from threads; on a busy 2-core box they lose 3x."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def lora_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random rank-4 LoRA on to_q/to_k/to_v/to_out.0, saved in diffusers format.

    Scale 256 so that its effect shows through the tiny random VAE.
    """
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    comps = build_components("tiny", seed=3)
    transformer = comps["transformer"]
    transformer.add_adapter(LoraConfig(r=4, lora_alpha=1024, init_lora_weights=False,
                                       target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    folder = tmp_path_factory.mktemp("lora")
    QwenImageEditPlusPipeline.save_lora_weights(
        folder, transformer_lora_layers=get_peft_model_state_dict(transformer),
        weight_name="refineany.safetensors")
    return folder / "refineany.safetensors"


def test_refine_end_to_end_through_refiner_keeps_background_bit_identical() -> None:
    poster = _poster()
    before = poster.copy()
    checked: list[tuple[Box, str]] = []

    def reread(image: np.ndarray, box: Box, expected: str) -> tuple[bool, str, float]:
        checked.append((box, expected))  # random weights cannot write text: no match
        return (False, "", 0.0)

    backend = _backend(recording=True)
    refiner = Refiner(backend, pixel_budget=BUDGET, margin=8, text_checker=reread)
    result = refiner.repair(poster, Box(36, 86, 130, 112), "refine the text 'SALE 50%'",
                            seed=11)

    assert np.array_equal(poster, before)
    assert result.backend == "refineanything" and result.seed == 11
    assert result.crop.shape[0] % 32 == 0 and result.crop.shape[1] % 32 == 0
    call = backend.pipeline.recorded[-1]
    assert call["prompt"] == "refine the text 'SALE 50%'"
    assert (call["width"], call["height"]) == (result.crop.shape[1], result.crop.shape[0])
    assert backend.last_call is not None and backend.last_call.seed == 11
    v = result.verification
    assert v.bg_changed_pixels == 0 and "background_changed" not in v.reasons
    weight = result.full_weight()
    assert np.array_equal(result.image[weight == 0], poster[weight == 0])
    inside = result.mask > 0
    assert np.abs(result.image[inside].astype(int) - poster[inside].astype(int)).mean() > 1.0
    assert checked and checked[0][1] == "SALE 50%"
    assert v.verdict == "failed" and "text_mismatch" in v.reasons


def test_pipeline_gets_crop_reference_mask_in_order_and_the_prompt() -> None:
    backend = _backend(recording=True)
    crop, mask = _crop_and_mask()
    ref = np.zeros((40, 30, 4), np.uint8)
    ref[..., 0] = 200
    ref[:, :15, 3] = 255  # left half opaque red, right half transparent -> white
    out = backend.refine(crop, mask, "Refine the LOGO.", reference=ref, seed=5)
    assert out.shape == crop.shape and out.dtype == np.uint8

    call = backend.pipeline.recorded[-1]
    images = call["image"]
    assert len(images) == 3
    assert np.array_equal(images[0], crop)
    assert images[1].shape == (40, 30, 3)
    assert tuple(images[1][0, 0]) == (200, 0, 0) and tuple(images[1][0, 29]) == (255, 255, 255)
    assert np.array_equal(images[2], np.repeat(mask[..., None], 3, axis=2))
    assert call["prompt"] == "Refine the LOGO."
    assert call["negative_prompt"] == " " and call["true_cfg_scale"] == 4.0
    assert call["num_inference_steps"] == 2
    assert (call["width"], call["height"]) == (64, 32)

    seen: list[int] = []
    hook = backend.pipeline.transformer.register_forward_pre_hook(
        lambda _m, _a, kw: seen.append(kw["hidden_states"].shape[1]), with_kwargs=True)
    backend.refine(crop, mask, "refine the text '鼎好商城'", seed=5)
    hook.remove()
    # the crop's latent grid is the output's: 64x32 px / 4 (tiny VAE) / 2 (packing) = 32
    # tokens each for output, crop and mask
    assert seen and set(seen) == {3 * 32}
    images = backend.pipeline.recorded[-1]["image"]
    assert len(images) == 2 and np.array_equal(images[0], crop)
    assert backend.pipeline.recorded[-1]["prompt"] == "refine the text '鼎好商城'"
    assert backend.last_call.with_reference is False and backend.last_call.n_images == 2


def test_lightning_lora_means_few_steps_and_no_cfg(lora_file: Path) -> None:
    settings = _settings(refineanything_lightning_lora=lora_file,
                         refineanything_lightning_steps=4)
    backend = _backend(settings, recording=True)
    crop, mask = _crop_and_mask()
    backend.refine(crop, mask, "refine the text 'A'", seed=1)
    call = backend.pipeline.recorded[-1]
    assert call["num_inference_steps"] == 4
    assert call["true_cfg_scale"] == 1.0 and call["negative_prompt"] is None
    assert backend.pipeline.scheduler.config.base_shift == pytest.approx(np.log(3))


def test_published_scheduler_is_used_without_lightning_too() -> None:
    backend = _backend(recording=True)
    backend.refine(*_crop_and_mask(), "refine the text 'A'", seed=1)
    config = backend.pipeline.scheduler.config
    assert config.use_dynamic_shifting and config.time_shift_type == "exponential"
    assert config.base_shift == pytest.approx(np.log(3))
    assert config.max_shift == pytest.approx(np.log(3))
    assert config.shift_terminal is None
    call = backend.pipeline.recorded[-1]
    assert call["num_inference_steps"] == 2 and call["true_cfg_scale"] == 4.0


def test_lora_is_loaded_after_placing_and_kept_unfused_by_default(lora_file: Path) -> None:
    backend = _backend(_settings(refineanything_lora=lora_file), recording=True)
    assert backend.fuse_lora is False
    pipeline = backend.pipeline
    assert pipeline.events.index("to") < pipeline.events.index("load_lora:refineanything")
    assert pipeline.get_list_adapters()["transformer"] == ["refineanything"]
    backend.set_adapter_weights(refineanything=0.5)  # possible only when unfused


def _save_lora(folder: Path, state: dict[str, Any], name: str) -> Path:
    from safetensors.torch import save_file

    save_file({k: v.clone().contiguous() for k, v in state.items()}, str(folder / name))
    return folder / name


def test_lora_with_keys_the_model_lacks_is_an_error_naming_file_and_keys(
    lora_file: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    state = load_file(str(lora_file))
    # a block the 2-layer model does not have: the keys find no module
    extra = {k.replace("transformer_blocks.0.", "transformer_blocks.7."): v
             for k, v in state.items() if "transformer_blocks.0." in k}
    bad = _save_lora(tmp_path, {**state, **extra}, "extra.safetensors")
    with pytest.raises(ra.LoraMismatchError) as err:
        _backend(_settings(refineanything_lora=bad)).load()
    text = str(err.value)
    assert str(bad) in text and "unexpected" in text and "transformer_blocks.7." in text

    # keys of another model entirely (no transformer module matches any of them)
    other = {k.replace("transformer.", "transformer.unet_mid."): v for k, v in state.items()}
    bad2 = _save_lora(tmp_path, other, "other.safetensors")
    with pytest.raises(ra.LoraMismatchError, match="other.safetensors"):
        _backend(_settings(refineanything_lora=bad2)).load()


def test_seed_is_recorded_and_reproducible() -> None:
    backend = _backend()
    crop, mask = _crop_and_mask()
    a = backend.refine(crop, mask, "refine the text 'A'", seed=3)
    b = backend.refine(crop, mask, "refine the text 'A'", seed=3)
    c = backend.refine(crop, mask, "refine the text 'A'", seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert [call.seed for call in backend.calls] == [3, 3, 4]
    backend.refine(crop, mask, "refine the text 'A'")  # no seed: the settings' seed
    assert backend.last_call.seed == 7


def test_odd_crop_size_is_worked_at_a_multiple_of_32_and_returned_at_crop_size() -> None:
    backend = _backend(recording=True)
    crop, mask = _crop_and_mask(40, 50)
    out = backend.refine(crop, mask, "refine the text 'A'", seed=1)
    assert out.shape == (40, 50, 3)
    call = backend.pipeline.recorded[-1]
    assert (call["width"], call["height"]) == (64, 32)
    assert all(im.shape == (32, 64, 3) for im in call["image"])


def test_lora_in_diffusers_format_changes_output_and_weight_zero_restores_it(
    lora_file: Path,
) -> None:
    crop, mask = _crop_and_mask()
    plain = _backend().refine(crop, mask, "refine the text 'A'", seed=2)

    with_lora = _backend(_settings(refineanything_lora=lora_file), fuse_lora=False)
    assert with_lora.pipeline.get_list_adapters()["transformer"] == ["refineanything"]
    changed = with_lora.refine(crop, mask, "refine the text 'A'", seed=2)
    # the tiny random VAE compresses any latent change to a few grey levels
    assert np.abs(changed.astype(int) - plain.astype(int)).max() >= 2

    with_lora.set_adapter_weights(refineanything=0.0)
    assert np.array_equal(with_lora.refine(crop, mask, "refine the text 'A'", seed=2), plain)

    fused = _backend(_settings(refineanything_lora=lora_file), fuse_lora=True)
    assert fused.pipeline.get_list_adapters() == {}
    out = fused.refine(crop, mask, "refine the text 'A'", seed=2)
    assert np.abs(out.astype(int) - changed.astype(int)).max() <= 1
    assert not np.array_equal(out, plain)
    with pytest.raises(ConfigError, match="fused"):
        fused.set_adapter_weights(refineanything=0.0)


def test_loads_from_a_local_folder_once_per_process_and_releases(
    tmp_path: Path, lora_file: Path
) -> None:
    folder = tmp_path / "qwen-image-edit"
    QwenImageEditPlusPipeline(**build_components("tiny")).save_pretrained(folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["processor"] = ["transformers", "Qwen2VLProcessor"]  # as in the published folder
    (folder / "model_index.json").write_text(json.dumps(index))

    settings = _settings(refineanything_base=str(folder), refineanything_lora=lora_file)
    first = get_backend("refineanything", settings=settings, pixel_budget=BUDGET,
                        condition_image_size=COND)
    second = ra.RefineAnythingBackend(settings, pixel_budget=BUDGET, condition_image_size=COND)
    crop, mask = _crop_and_mask()
    out = first.refine(crop, mask, "refine the text 'A'", seed=1)
    assert out.shape == crop.shape
    assert second.pipeline is first.pipeline and ra.loaded_pipelines() == 1
    assert np.array_equal(second.refine(crop, mask, "refine the text 'A'", seed=1), out)
    first.close()
    assert ra.loaded_pipelines() == 1  # still used by `second`
    second.close()
    assert ra.loaded_pipelines() == 0


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({}, "POSTERQA_REFINEANYTHING_BASE"),
        ({"refineanything_base": "/nowhere/qwen-image-edit-2511"},
         "/nowhere/qwen-image-edit-2511"),
        ({"refineanything_base": "."}, "model_index.json not found"),
    ],
)
def test_missing_base_weights_give_one_clear_line(overrides: dict[str, Any], needle: str) -> None:
    with pytest.raises(ModelWeightsMissingError) as info:
        ra.RefineAnythingBackend(_settings(**overrides))
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_incomplete_base_folder_names_the_missing_part(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text("{}")
    for part in ("transformer", "text_encoder", "tokenizer", "processor", "scheduler"):
        (tmp_path / part).mkdir()
    with pytest.raises(ModelWeightsMissingError) as info:
        ra.RefineAnythingBackend(_settings(refineanything_base=str(tmp_path)))
    assert str(tmp_path / "vae") in str(info.value) and "\n" not in str(info.value)


def test_missing_lora_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text("{}")
    for part in ra.BASE_SUBFOLDERS:
        (tmp_path / part).mkdir()
    missing = tmp_path / "Qwen-Image-Edit-2511-RefineAny.safetensors"
    for kw in ({"refineanything_lora": missing},
               {"refineanything_lora": None}):
        with pytest.raises(ModelWeightsMissingError) as info:
            ra.RefineAnythingBackend(_settings(refineanything_base=str(tmp_path), **kw))
        text = str(info.value)
        assert "\n" not in text
        assert (str(missing) in text) if kw["refineanything_lora"] else "LORA" in text
    with pytest.raises(ModelWeightsMissingError, match="LIGHTNING_LORA"):
        _backend(_settings(refineanything_lightning_lora=tmp_path / "lightning.safetensors"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_no_gpu_is_a_clear_config_error_unless_cpu_is_allowed() -> None:
    with pytest.raises(ConfigError) as info:
        ra.RefineAnythingBackend(_settings(refineanything_allow_cpu=False),
                                 components=build_components("tiny"))
    assert "CUDA GPU" in str(info.value) and "ALLOW_CPU" in str(info.value)
    with pytest.raises(ConfigError, match="ALLOW_CPU"):
        ra.RefineAnythingBackend(_settings(refineanything_allow_cpu=False,
                                           refineanything_device="cpu"),
                                 components=build_components("tiny"))


def test_out_of_memory_retries_once_with_offload_then_fails_the_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crop, mask = _crop_and_mask()
    # On the CPU there is no offload to switch to: the region fails at once.
    backend = _backend(recording=True)
    backend.pipeline.fail_with_oom = 1
    with pytest.raises(BackendError, match="ran out of GPU memory on a 64x32 crop"):
        backend.refine(crop, mask, "refine the text 'A'", seed=1)

    # Fault injection: pretend the switch to model CPU offload worked (GPU-only path).
    switched: list[bool] = []
    monkeypatch.setattr(ra.RefineAnythingBackend, "_switch_to_offload",
                        lambda self: switched.append(True) or True)
    backend.pipeline.fail_with_oom = 1
    out = backend.refine(crop, mask, "refine the text 'A'", seed=1)
    assert out.shape == crop.shape and backend.last_call.oom_retried and switched == [True]

    backend.pipeline.fail_with_oom = 2
    with pytest.raises(BackendError, match="ran out of GPU memory") as info:
        backend.refine(crop, mask, "refine the text 'A'", seed=1)
    assert "\n" not in str(info.value) and len(switched) == 2


def test_bad_input_is_an_input_error() -> None:
    backend = _backend()
    crop, mask = _crop_and_mask()
    with pytest.raises(InputError, match="empty"):
        backend.refine(crop, np.zeros_like(mask), "refine the text 'A'")
    with pytest.raises(InputError, match="does not match"):
        backend.refine(crop, mask[:10], "refine the text 'A'")
    with pytest.raises(InputError, match="prompt"):
        backend.refine(crop, mask, "  ")
    with pytest.raises(InputError, match="reference"):
        backend.refine(crop, mask, "x", reference=np.zeros((4, 4), np.uint8))
    with pytest.raises(ConfigError, match="at least 1 step"):
        _backend(_settings(refineanything_steps=0))
    # the published scheduler has no terminal shift: one step samples (the base
    # scheduler's terminal shift divided by zero there)
    one = _backend(_settings(refineanything_steps=1))
    assert one.refine(crop, mask, "refine the text 'A'", seed=1).shape == crop.shape


def test_import_refiner_stays_torch_free() -> None:
    import subprocess
    import sys

    code = ("import sys, refiner, refiner.backends, refiner.core, refiner.best_of; "
            "print('torch' in sys.modules, 'diffusers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False False"


def test_meta_device_build_matches_a_normal_build_and_runs() -> None:
    """The GPU benchmark's construction path (meta -> to_empty -> init), at tiny size."""
    normal = build_components("tiny", via_meta=False)
    meta = build_components("tiny", via_meta=True)
    for name in ("transformer", "text_encoder", "vae"):
        a, b = dict(normal[name].named_buffers()), dict(meta[name].named_buffers())
        assert sorted(a) == sorted(b)
        assert all(torch.equal(a[k], b[k]) for k in a), name
        assert all(torch.isfinite(p).all() for p in meta[name].parameters())
    assert torch.equal(normal["transformer"].pos_embed.pos_freqs,
                       meta["transformer"].pos_embed.pos_freqs)
    backend = ra.RefineAnythingBackend(_settings(), components=meta, pixel_budget=BUDGET,
                                       condition_image_size=COND)
    crop, mask = _crop_and_mask()
    assert backend.refine(crop, mask, "refine the text 'A'", seed=1).shape == crop.shape


def test_full_size_configs_have_the_published_parameter_counts() -> None:
    from diffusers import AutoencoderKLQwenImage, QwenImageTransformer2DModel
    from transformers import Qwen2_5_VLForConditionalGeneration

    from refiner.backends import qwen_parts as qp

    tokenizer = qp.build_byte_tokenizer()
    with torch.device("meta"):
        transformer = QwenImageTransformer2DModel(**qp.transformer_kwargs("full"))
        encoder = Qwen2_5_VLForConditionalGeneration(qp.text_encoder_config("full", tokenizer))
        vae = AutoencoderKLQwenImage(**qp.vae_kwargs("full"))

    def count(module: Any) -> float:
        return sum(p.numel() for p in module.parameters()) / 1e9

    assert count(transformer) == pytest.approx(20.43, abs=0.01)
    assert transformer.config.zero_cond_t and transformer.config.num_layers == 60
    assert count(encoder) == pytest.approx(8.29, abs=0.01)
    assert count(vae) == pytest.approx(0.127, abs=0.001)
    assert 2 ** len(vae.temperal_downsample) == 8 and vae.config.z_dim == 16
