"""Helpers the tests share that are not fixtures: paths, a tiny language model, the sandbox mark and
tiny training settings. Test modules import them from here (conftest.py holds only fixtures, and
pytest loads it under its own name)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"  # ../shared beside the checkout (CI has it)
OUTPUT = ROOT / "test-output"  # screenshots and other things worth keeping from a run

# Each training family at a size that trains in seconds.
TINY = {
    "gan": {"model": "gan", "width": 8, "batch_size": 64},
    "char_gpt": {"model": "char_gpt", "width": 16, "batch_size": 32, "prompt": "The loss "},
    "diffusion": {"model": "diffusion", "width": 8, "batch_size": 128},
    "flow": {"model": "flow", "width": 8, "batch_size": 128},
    "vae": {"model": "vae", "width": 32, "batch_size": 64},
    "lora": {"model": "lora", "width": 16, "batch_size": 32, "rank": 2, "prompt": "def "},
}


def tiny_llama(folder: Path, home: Path, chat_template: bool = True) -> Path:
    """A tiny randomly initialised Llama with the embedded model's tokenizer, saved in from_pretrained's
    layout: the `model` option's path, for any tool that runs a local causal language model."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from tools.embedded_model import cached_model_dir

    tokenizer = AutoTokenizer.from_pretrained(cached_model_dir(home))
    if not chat_template:  # a base model: no chat template
        tokenizer.chat_template = None
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _sandbox_works() -> bool:
    from tools.code_generation import sandbox

    return sandbox.available()


# Tests that need generated code to really run. On a machine where bubblewrap cannot make its
# namespaces the app runs no generated code at all (tested without this mark), so these are skipped,
# visibly, rather than failed: `make test` installs bubblewrap, and where it works they all run.
needs_sandbox = pytest.mark.skipif(
    not _sandbox_works(), reason="bubblewrap cannot make its namespaces here, so no generated code runs"
)
