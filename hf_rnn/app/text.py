"""The app's input text: cleaned of control characters and cut to ``MAX_CHARS``, and split into words.

How a text splits into words (:func:`split_words`) is the tagging kind's, in ``hf_rnn.tokenization``; it is
re-exported here for the app's callers.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from hf_rnn.tokenization import split_words

MAX_CHARS = 50_000  # read at most this much of an input (a 20,000-character paste is fine)


def clean_text(text: Any) -> tuple[str, list[str]]:
    """The text with control characters removed (tabs and newlines kept), stripped, and cut to
    ``MAX_CHARS``; plus notices saying what changed. Right-to-left text, emoji and other scripts are kept."""
    notices: list[str] = []
    if text is None:
        return "", notices
    if not isinstance(text, str):
        text = str(text)
    if len(text) > MAX_CHARS:
        notices.append(f"The input has {len(text):,} characters; only the first {MAX_CHARS:,} were read.")
        text = text[:MAX_CHARS]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = []
    removed = 0
    for ch in text:
        category = unicodedata.category(ch)
        if (category == "Cc" and ch not in "\n\t") or category == "Cs":  # control characters, lone surrogates
            removed += 1
            kept.append(" ")
        else:
            kept.append(ch)
    if removed:
        notices.append(f"Removed {removed} control character{'s' if removed != 1 else ''} from the input.")
        text = re.sub(r" {2,}", " ", "".join(kept))
    return text.strip(), notices


__all__ = ["MAX_CHARS", "clean_text", "split_words"]
