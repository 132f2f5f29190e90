"""Text normalisation shared by the matcher, dedup and (later) stories.

Text is split into word tokens that keep their character offsets in the
original, so a match can always quote the words it fired on. Each token has
a *cased* ASCII form (accents and other scripts transliterated, case kept,
for acronyms such as "HuM") and a *folded* form (also lower-cased).
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

from anyascii import anyascii


def _mark_class() -> str:
    """A regex class of every combining mark (Unicode category M) in the BMP.

    Marks are not word characters to `re`, yet they belong inside words:
    decomposed accents (NFD "Tokáyev") and the vowel signs of Devanagari and
    Arabic script. Without them a word would split at every mark.
    """
    ranges: list[tuple[int, int]] = []
    for cp in range(0x300, 0x10000):
        if unicodedata.category(chr(cp)).startswith("M"):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "".join(f"\\u{a:04x}-\\u{b:04x}" if a != b else f"\\u{a:04x}" for a, b in ranges)


_MARK = _mark_class()
_LETTERS = rf"[^\W_](?:[^\W_]|[{_MARK}])*"
# A word is letters/digits (with their marks), optionally joined by apostrophes
# (Shi'ite, Rahmon's); "&" is its own token so "Trade & Development" meets
# "Trade and Development".
_WORD = re.compile(rf"{_LETTERS}(?:['’‘ʼ`]{_LETTERS})*|&")
_APOSTROPHES = re.compile(r"['’‘ʼ`]")
_POSSESSIVE = re.compile(r"['’‘ʼ`]s$", re.IGNORECASE)
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
_TAG = re.compile(r"<[^>]*>")
_BLOCK_TAG = re.compile(r"<\s*(?:br|/p|p|/div|div|li|/li|h[1-6]|/h[1-6])\b[^>]*>", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Token:
    folded: str
    cased: str
    start: int
    end: int


def strip_html(text: str) -> str:
    """Turn feed HTML into plain text: tags dropped, entities decoded, spaces collapsed."""
    if "<" in text:
        text = _BLOCK_TAG.sub(" ", text)
        text = _TAG.sub("", text)
    text = html.unescape(text)
    return _SPACE.sub(" ", text).strip()


def _ascii(word: str) -> str:
    if word.isascii():
        return word
    word = unicodedata.normalize("NFKC", word)
    return anyascii(word)


def tokenize(text: str) -> list[Token]:
    """Split text into normalised word tokens with their offsets in `text`."""
    tokens: list[Token] = []
    for m in _WORD.finditer(text):
        word = m.group()
        if word == "&":
            tokens.append(Token("and", "and", m.start(), m.end()))
            continue
        word = _POSSESSIVE.sub("", word)
        word = _APOSTROPHES.sub("", word)
        ascii_word = _ascii(word)
        if ascii_word.isalnum():
            tokens.append(Token(ascii_word.lower(), ascii_word, m.start(), m.end()))
            continue
        # Transliteration can yield several words or punctuation; each part
        # keeps the span of the original word.
        for part in _ASCII_WORD.findall(ascii_word):
            tokens.append(Token(part.lower(), part, m.start(), m.end()))
    return tokens


def fold(text: str) -> str:
    """One normalised string: lower-case ASCII words separated by single spaces."""
    return " ".join(t.folded for t in tokenize(text))
