"""The tutor's example coding tasks: the words a learner's request uses, the function's signature and
docstring (the prompt the model continues, as in HumanEval), and tests the tutor wrote for it.

`match(description)` finds the task a request means by its key words (stems), or None: a request the
tutor has no tests for still runs, and the learner may give tests of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    name: str  # the function's name
    words: tuple[str, ...]  # stems (word beginnings) a request for it contains
    signature: str  # the def line
    doc: str  # what the function does, in its docstring
    tests: tuple[str, ...]  # asserts, run in the sandbox

    @property
    def prompt(self) -> str:
        """The def line and docstring: what the model continues."""
        return f'{self.signature}\n    """{self.doc}"""\n'


TASKS = (
    Task(
        "reverse_string",
        ("revers", "backward"),
        "def reverse_string(s: str) -> str:",
        "Return the string s reversed.",
        ("assert reverse_string('abc') == 'cba'", "assert reverse_string('') == ''",
         "assert reverse_string('racecar') == 'racecar'", "assert reverse_string('ab cd') == 'dc ba'"),
    ),
    Task(
        "is_palindrome",
        ("palindrom",),
        "def is_palindrome(s: str) -> bool:",
        "Return True if s reads the same forwards and backwards.",
        ("assert is_palindrome('level') is True", "assert is_palindrome('abc') is False",
         "assert is_palindrome('') is True", "assert is_palindrome('ab') is False"),
    ),
    Task(
        "sum_list",
        ("sum", "total", "add up"),
        "def sum_list(numbers: list[int]) -> int:",
        "Return the sum of the numbers in the list.",
        ("assert sum_list([1, 2, 3]) == 6", "assert sum_list([]) == 0", "assert sum_list([-1, 1]) == 0"),
    ),
    Task(
        "add",
        ("add", "sum of two", "two number", "plus"),
        "def add(a: int, b: int) -> int:",
        "Return the sum of a and b.",
        ("assert add(2, 3) == 5", "assert add(-1, 1) == 0", "assert add(0, 0) == 0"),
    ),
    Task(
        "maximum",
        ("max", "largest", "biggest", "greatest"),
        "def maximum(numbers: list[int]) -> int:",
        "Return the largest number in a non-empty list.",
        ("assert maximum([1, 5, 3]) == 5", "assert maximum([-4, -2, -9]) == -2", "assert maximum([7]) == 7"),
    ),
    Task(
        "count_vowels",
        ("vowel",),
        "def count_vowels(s: str) -> int:",
        "Return how many vowels (a, e, i, o, u) are in s.",
        ("assert count_vowels('hello') == 2", "assert count_vowels('xyz') == 0",
         "assert count_vowels('aeiou') == 5"),
    ),
    Task(
        "factorial",
        ("factorial",),
        "def factorial(n: int) -> int:",
        "Return n! (the product 1 * 2 * ... * n; 0! is 1).",
        ("assert factorial(0) == 1", "assert factorial(1) == 1", "assert factorial(5) == 120"),
    ),
    Task(
        "fizzbuzz",
        ("fizz",),
        "def fizzbuzz(n: int) -> str:",
        'Return "Fizz" if n is divisible by 3, "Buzz" if by 5, "FizzBuzz" if by both, else str(n).',
        ("assert fizzbuzz(3) == 'Fizz'", "assert fizzbuzz(10) == 'Buzz'", "assert fizzbuzz(15) == 'FizzBuzz'",
         "assert fizzbuzz(7) == '7'"),
    ),
    Task(
        "is_even",
        ("even",),
        "def is_even(n: int) -> bool:",
        "Return True if n is even.",
        ("assert is_even(4) is True", "assert is_even(7) is False", "assert is_even(0) is True"),
    ),
    Task(
        "fibonacci",
        ("fibonacci",),
        "def fibonacci(n: int) -> int:",
        "Return the n-th Fibonacci number: fibonacci(0) = 0, fibonacci(1) = 1.",
        ("assert fibonacci(0) == 0", "assert fibonacci(1) == 1", "assert fibonacci(10) == 55"),
    ),
)  # fmt: skip


def match(description: str) -> Task | None:
    """The task with the most of its stems at word beginnings in the request (the first listed wins a
    tie); None when no task's stems are there."""
    text = " ".join(re.findall(r"[a-z]+", description.lower()))
    scores = [sum(bool(re.search(rf"\b{w}", text)) for w in t.words) for t in TASKS]
    best = max(range(len(TASKS)), key=lambda i: (scores[i], -i))
    return TASKS[best] if scores[best] else None


def by_name(name: str) -> Task | None:
    return next((t for t in TASKS if t.name == name), None)
