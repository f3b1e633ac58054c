"""The knowledge store: lesson chunks in Chroma, synced by content hash, searched by meaning.

Each chunk's id is its place in a lesson (lesson/section/part) and its metadata keeps a hash of its
content, so re-ingesting embeds only chunks whose text changed and deletes chunks (and lessons)
that no longer exist.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

import chromadb
from chromadb.errors import NotFoundError

from knowledge import LESSONS_DIR
from knowledge.embedder import Embedder
from knowledge.lessons import load_lessons, split_lesson
from knowledge.teaching import load_teaching, teaching_chunks

COLLECTION = "lessons"
# Sources from one lesson at most this often in a result list: a question touching two topics then
# gets both lessons, and the best lesson still supplies its two most relevant sections.
PER_LESSON = 2


@dataclass(frozen=True)
class Hit:
    lesson_id: str
    title: str
    section: str
    concepts: list[str]
    score: float  # cosine similarity, 1 = same meaning
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


MAX_K = 20  # results per query


class StoreUnreachable(RuntimeError):
    """The Chroma server named by TUTOR_CHROMA_URL did not answer."""


def open_client(home: Path, chroma_url: str | None = None, wait_s: float = 30.0):
    """The embedded store under `home`, or a Chroma server when `chroma_url` is set (waited for up to
    `wait_s`: app processes and the server may start together)."""
    settings = chromadb.Settings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return chromadb.HttpClient(
                    host=url.hostname, port=url.port or 8000, ssl=url.scheme == "https", settings=settings
                )
            except ValueError as e:  # the client checks the server as it is made
                if "Could not connect" not in str(e):
                    raise  # not the server being away: a bad setting, shown as it is
                if time.monotonic() > deadline:
                    raise StoreUnreachable(
                        f"No Chroma server answers at {chroma_url} (TUTOR_CHROMA_URL): start it "
                        "(`chroma run --path DIR --host 127.0.0.1 --port N`), or unset the variable to "
                        "use the embedded store."
                    ) from e
                time.sleep(0.5)
    path = home / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


class KnowledgeStore:
    def __init__(self, client, embedder: Embedder, lessons_dir: Path = LESSONS_DIR):
        self.client = client
        self.embedder = embedder
        self.lessons_dir = lessons_dir
        self.collection = self._collection()

    def _collection(self):
        return self.client.get_or_create_collection(
            COLLECTION, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def _call(self, method: str, **kwargs):
        """A call on the collection. Another process sharing the server may have rebuilt it (`ingest
        --rebuild`), which leaves this handle pointing at a deleted collection: fetch it again, once."""
        try:
            return getattr(self.collection, method)(**kwargs)
        except NotFoundError:
            self.collection = self._collection()
            return getattr(self.collection, method)(**kwargs)

    def ingest(self, rebuild: bool = False) -> dict:
        """Bring the store in line with the lesson files (and the teaching layers); returns the counts
        `ingest --json` prints."""
        start = time.perf_counter()
        if rebuild:
            self.client.delete_collection(COLLECTION)
            self.collection = self._collection()
        lessons = load_lessons(self.lessons_dir)
        chunks = {c.id: c for lesson in lessons for c in split_lesson(lesson)}
        if self.lessons_dir == LESSONS_DIR:  # the tutor's own lessons come with their teaching layers
            chunks.update((c.id, c) for c in teaching_chunks(load_teaching()))
        stored = self._call("get", include=["metadatas"])
        stored_hash = {i: m.get("hash") for i, m in zip(stored["ids"], stored["metadatas"], strict=True)}

        changed = [c for c in chunks.values() if stored_hash.get(c.id) != c.hash]
        removed = [i for i in stored_hash if i not in chunks]
        if removed:
            self._call("delete", ids=removed)
        if changed:
            self._call(
                "upsert",
                ids=[c.id for c in changed],
                embeddings=self.embedder.embed([c.embed_text for c in changed]),
                documents=[c.text for c in changed],
                metadatas=[
                    {
                        "lesson_id": c.lesson_id,
                        "title": c.title,
                        "section": c.section,
                        "concepts": list(c.concepts),
                        "hash": c.hash,
                    }
                    for c in changed
                ],
            )
        added = sum(1 for c in changed if c.id not in stored_hash)
        return {
            "lessons": len(lessons),
            "chunks": len(chunks),
            "added": added,
            "updated": len(changed) - added,
            "removed": len(removed),
            "seconds": round(time.perf_counter() - start, 3),
        }

    def count(self) -> int:
        return self._call("count")

    def search(self, query: str, k: int = 3, per_lesson: int = PER_LESSON) -> list[Hit]:
        return self.search_many([query], k, per_lesson)[0]

    def search_many(self, queries: list[str], k: int = 3, per_lesson: int = PER_LESSON) -> list[list[Hit]]:
        """The k best chunks for each query, best first, at most `per_lesson` from one lesson."""
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k must be between 1 and {MAX_K}, not {k}")
        count = self.count()
        if not count:
            return [[] for _ in queries]
        res = self._call(
            "query",
            query_embeddings=self.embedder.embed(queries),
            n_results=min(count, k * 4),  # room to skip a lesson's third, fourth... section
            include=["documents", "metadatas", "distances"],
        )
        results = []
        for docs, metas, dists in zip(res["documents"], res["metadatas"], res["distances"], strict=True):
            hits: list[Hit] = []
            for doc, m, d in zip(docs, metas, dists, strict=True):
                if sum(h.lesson_id == m["lesson_id"] for h in hits) < per_lesson:
                    hits.append(
                        Hit(
                            m["lesson_id"],
                            m["title"],
                            m["section"],
                            list(m["concepts"]),
                            round(1 - d, 4),
                            doc,
                        )
                    )
            results.append(hits[:k])
        return results
