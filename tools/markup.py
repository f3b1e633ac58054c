"""Text that is not ours (what a learner typed, what a model wrote, what a run produced) shown as
text inside the Markdown the chat renders, never as HTML or formatting.

`plain` backslash-escapes every ASCII punctuation character (CommonMark makes each a literal, so
`<img onerror=...>` shows as typed); `unplain` undoes it, for history sent back to a model.
`code` quotes a short string as an inline code span, for messages also printed in a terminal;
`code_block` shows a whole program as a fenced block (literal: Markdown inside it is not rendered).
"""

from __future__ import annotations

import re

PUNCTUATION = r"!-/:-@\[-`{-~"  # every ASCII punctuation character, as regex ranges
_ESCAPE = re.compile(f"([{PUNCTUATION}])")
_UNESCAPE = re.compile(f"\\\\([{PUNCTUATION}])")


def plain(text: object) -> str:
    """`text` as literal characters in Markdown (line breaks kept)."""
    return _ESCAPE.sub(r"\\\1", str(text))


def no_html(text: object) -> str:
    """Model prose kept as Markdown, but with its angle brackets and ampersands literal (no HTML)."""
    return re.sub(r"([<>&])", r"\\\1", str(text))


def unplain(text: str) -> str:
    """The original of a `plain` string."""
    return _UNESCAPE.sub(r"\1", text)


def code(text: object, limit: int = 80) -> str:
    """A short inline code span of `text` (one line, at most `limit` characters): literal in Markdown
    and readable in a terminal. The fence is longer than any run of backticks inside."""
    line = " ".join(str(text).split())
    line = line if len(line) <= limit else line[: limit - 1] + "…"
    fence = "`" * (max((len(r) for r in re.findall(r"`+", line)), default=0) + 1)
    pad = " " if line.startswith("`") or line.endswith("`") or not line else ""
    return f"{fence}{pad}{line}{pad}{fence}"


def code_block(text: str, language: str = "python") -> str:
    """`text` as a fenced code block whose fence is longer than any run of backticks inside it."""
    fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}{language}\n{text}\n{fence}"
