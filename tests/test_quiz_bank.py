"""The quiz item bank validates, covers every concept, and names the file and item when broken."""

from __future__ import annotations

from collections import defaultdict

import pytest

from knowledge.lessons import load_concepts
from knowledge.quizbank import QUIZ_DIR, QuizBankError, load_bank


def test_bank_covers_every_concept_with_enough_items():
    items = load_bank()
    assert len(items) >= 150
    by_concept = defaultdict(list)
    for item in items:
        by_concept[item.concept].append(item)
    for slug in load_concepts():
        mine = by_concept[slug]
        assert len(mine) >= 4, slug
        assert len({i.difficulty for i in mine}) >= 2, slug
    assert {i.type for i in items} == {"multiple_choice", "true_false", "short_answer"}


BROKEN = {
    "exactly one correct option": """
- id: x-1
  concept: tokenization
  difficulty: 1
  type: multiple_choice
  question: "Which is a token?"
  options:
    - {text: "a", misconception: "m", feedback: "f"}
    - {text: "b", misconception: "m", feedback: "f"}
  explanation: "Because."
  lesson: tokenization
""",
    "needs a misconception and feedback": """
- id: x-2
  concept: tokenization
  difficulty: 1
  type: multiple_choice
  question: "Which is a token?"
  options:
    - {text: "a", correct: true}
    - {text: "b"}
  explanation: "Because."
  lesson: tokenization
""",
    "does not teach tokenization": """
- id: x-3
  concept: tokenization
  difficulty: 2
  type: true_false
  question: "Tokens are always words."
  answer: false
  misconception: "tokens are words"
  feedback: "They are often pieces of words."
  explanation: "Subword tokenizers split words."
  lesson: gans-convolutions
""",
    "unknown concept": """
- id: x-4
  concept: not-a-concept
  difficulty: 2
  type: short_answer
  question: "What is a token?"
  reference: "A piece of text."
  key_points: ["piece of text"]
  explanation: "Tokens are pieces."
  lesson: tokenization
""",
}


@pytest.mark.parametrize("problem", BROKEN)
def test_a_broken_item_is_named(tmp_path, problem):
    (tmp_path / "broken.yaml").write_text(BROKEN[problem])
    with pytest.raises(QuizBankError, match=rf"broken\.yaml: item x-\d.*{problem}"):
        load_bank(tmp_path)


def test_duplicate_ids_across_files(tmp_path):
    item = (QUIZ_DIR / "foundations.yaml").read_text()
    (tmp_path / "a.yaml").write_text(item)
    (tmp_path / "b.yaml").write_text(item)
    with pytest.raises(QuizBankError, match=r"b\.yaml: item .* id already used in a\.yaml"):
        load_bank(tmp_path)
