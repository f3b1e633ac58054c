"""The tutor's knowledge: lessons (markdown), the concept map, ingestion into Chroma, retrieval."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).parent
LESSONS_DIR = PACKAGE_DIR / "lessons"
CONCEPTS_FILE = PACKAGE_DIR / "concepts.yaml"
