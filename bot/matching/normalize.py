"""Text normalisation shared by the matcher, dedup and (later) stories.

Text is split into word tokens that keep their character offsets in the
original, so a match can always quote the words it fired on. Each token has
a *cased* ASCII form (accents and other scripts transliterated, case kept,
for acronyms such as "HuM") and a *folded* form (also lower-cased).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, TypeVar, cast

from anyascii import anyascii

from bot.matching.unicode_marks import mark_class

# Entries of each cache of per-word results (skeletons, stems, folded forms …). A
# long-running bot meets an endless vocabulary of names; news is Zipfian, so a day's
# common words fit and every cache stays bounded: with name_rules' limits, all the
# matching caches full add about 24 MiB to the process (issue 13's 250 MB budget).
TEXT_WORD_CACHE: Final = 25_000


_MARK: Final = mark_class()
_LETTERS: Final = rf"[^\W_](?:[^\W_]|[{_MARK}])*"
# A word is letters/digits (with their marks), optionally joined by apostrophes
# (Shi'ite, Rahmon's); "&" is its own token so "Trade & Development" meets
# "Trade and Development". The definition of a word: `words` finds the same without
# compiling it (its 2,000-character mark class took ~7 ms to compile, in every process
# whose watchlists or feeds hold a non-ASCII word with punctuation inside).
_WORD_PATTERN: Final = rf"{_LETTERS}(?:['’‘ʼ`]{_LETTERS})*|&"
_WORD_APOSTROPHES: Final = "'’‘ʼ`"


_APOSTROPHES: Final = re.compile(r"['’‘ʼ`]")
_POSSESSIVE: Final = re.compile(r"['’‘ʼ`]s$", re.IGNORECASE)
_ASCII_WORD: Final = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True, slots=True)
class Token:
    folded: str
    cased: str
    start: int
    end: int


class Tokens:
    """Tokens of one text as parallel lists: the matcher's hot path avoids objects.

    Offsets (`starts`, `ends`) are computed on first use: the fast paths keep the
    words as they stand in the text (from_words) and find them only when asked,
    and most texts never are (offsets are read where a name is found, or where
    a fuzzy window or a family name written first meets the punctuation between
    two words).
    """

    __slots__ = ("_ends", "_foreign_any", "_raw", "_starts", "_text", "cased", "folded", "foreign")

    def __init__(
        self,
        folded: list[str] | None = None,
        cased: list[str] | None = None,
        starts: list[int] | None = None,
        ends: list[int] | None = None,
        foreign: list[int] | None = None,
        raw: list[str] | None = None,
        text: str = "",
    ) -> None:
        self.folded: list[str] = [] if folded is None else folded
        self.cased: list[str] = [] if cased is None else cased
        # 0 Latin script; LETTERED: transliterated from a script that writes its
        # vowels (Cyrillic); CONSONANTAL: from one that mostly does not (Arabic, Indic).
        self.foreign: list[int] = [] if foreign is None else foreign
        self._foreign_any = -1  # any_foreign's answer once asked (-1: not yet)
        # With `raw` (from_words: the words as they stand in `text`), the offsets are
        # found when first asked for.
        self._raw = raw
        self._text = text
        self._starts: list[int] | None = None
        self._ends: list[int] | None = None
        if raw is None:
            self._starts = [] if starts is None else starts
            self._ends = [] if ends is None else ends

    @classmethod
    def from_words(
        cls,
        text: str,
        raw: list[str],
        cased: list[str],
        folded: list[str],
        foreign: list[int] | None = None,
    ) -> Tokens:
        """Tokens from the words of `text` as they stand in it (ascii_words, words), one
        token each; offsets are found when first asked for (word_offsets)."""
        if foreign is not None:
            return cls(folded, cased, None, None, foreign, raw, text)
        out = cls(folded, cased, None, None, [0] * len(cased), raw, text)
        out._foreign_any = 0
        return out

    def _offsets(self) -> None:
        self._starts, self._ends = word_offsets(self._text, self._raw or [])

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            self._offsets()
        return self._starts  # type: ignore[return-value]

    @property
    def ends(self) -> list[int]:
        if self._ends is None:
            self._offsets()
        return self._ends  # type: ignore[return-value]

    def any_foreign(self) -> bool:
        """Is any token transliterated from another script? Asked of every field; ASCII
        text knows the answer, other text works it out once."""
        if self._foreign_any < 0:
            self._foreign_any = 1 if any(self.foreign) else 0
        return self._foreign_any == 1

    def between(self, k: int, text: str) -> str:
        """The text between token k and token k + 1 of `text` (the text scanned)."""
        return text[self.ends[k] : self.starts[k + 1]]

    def hyphen_after(self, k: int, text: str) -> bool:
        """Is token k joined to token k + 1 by one hyphen (K-P, ISKP-linked)?

        between(k, text) == "-", without working out offsets for ASCII text whose
        two words stand nowhere written with a hyphen between them (most texts).
        """
        raw = self._raw
        if raw is not None and self._ends is None and raw[k] + "-" + raw[k + 1] not in text:
            return False
        return self.between(k, text) == "-"

    def __len__(self) -> int:
        return len(self.folded)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tokens):
            return NotImplemented
        return self.rows() == other.rows()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Tokens{self.rows()!r}"

    def rows(self) -> tuple[list[str], list[str], list[int], list[int], list[int]]:
        """Every field, offsets included: what two equal scans agree on."""
        return self.folded, self.cased, self.starts, self.ends, self.foreign

    def add(self, cased: str, start: int, end: int, foreign: int = 0) -> None:
        self._foreign_any = -1
        self.folded.append(cased.lower())
        self.cased.append(cased)
        self.starts.append(start)
        self.ends.append(end)
        self.foreign.append(foreign)


def _ascii(word: str) -> str:
    if word.isascii():
        return word
    word = unicodedata.normalize("NFKC", word)
    return anyascii(word)


# ASCII text (most of what feeds carry) is split without a regular expression:
# every byte that cannot be part of a word becomes a space (bytes.translate) and
# str.split cuts the rest, 4-5 times faster than re.split with _ASCII_WORDS. A piece
# with an apostrophe or "&" in it is then cut by _ASCII_WORDS itself.
_ASCII_WORDS: Final = re.compile(r"[A-Za-z0-9]++(?:['`][A-Za-z0-9]++)*+|&")
_WORD_BYTES: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'`&")
_ASCII_SEPARATORS: Final = bytes(b if b in _WORD_BYTES else 0x20 for b in range(256))
# _POSSESSIVE and "&" for the words of ASCII text joined one per line.
_ASCII_POSSESSIVE: Final = re.compile(r"['`][sS]$", re.MULTILINE)
_ASCII_AMPERSAND: Final = re.compile(r"^&$", re.MULTILINE)


def word_offsets(text: str, raw: list[str]) -> tuple[list[int], list[int]]:
    """Where each of the words of `text` (`raw`: ascii_words or words) starts and ends.

    Each word is the first occurrence of its letters after the word before it: what
    lies between two words holds no letter, digit or "&", and a word begins with one.
    (str.find called as a method of `text`, which mypyc compiles to a direct call.)
    """
    end = 0
    starts, ends = [0] * len(raw), [0] * len(raw)
    for k in range(len(raw)):
        word = raw[k]
        start = text.find(word, end)
        end = start + len(word)
        starts[k], ends[k] = start, end
    return starts, ends


def ascii_words(text: str) -> list[str]:
    """The words of ASCII text as they stand in it: _ASCII_WORDS.findall(text), faster."""
    pieces = text.encode("ascii").translate(_ASCII_SEPARATORS).decode("ascii").split()
    if "'" not in text and "`" not in text and "&" not in text:
        return pieces
    words: list[str] = []
    for piece in pieces:
        if piece.isalnum():
            words.append(piece)
        else:  # Rahmon's, rock'n'roll, 'quoted', AT&T
            words.extend(_ASCII_WORDS.findall(piece))
    return words


_T = TypeVar("_T")


def _per_word(cache: dict[str, _T], words: list[str], make: Callable[[str], _T]) -> list[_T]:
    """Each word's entry in `cache`, made by `make` for a word not seen before.

    One dict lookup per word, in C (map): news repeats its words, so most texts
    make nothing. Bounded: the cache is cleared when it holds TEXT_WORD_CACHE.
    """
    found = list(map(cache.get, words))
    if None in found:
        if len(cache) > TEXT_WORD_CACHE:
            cache.clear()
        for k, word in enumerate(words):
            if found[k] is None:
                found[k] = cache[word] = make(word)
    return cast(list[_T], found)


# Folded form of each distinct ASCII word, instead of a str.lower call per word.
_FOLDED: dict[str, str] = {}


def _scan_ascii(text: str) -> Tokens:
    """scan() of ASCII text, in C loops: lower() keeps offsets in ASCII text."""
    raw = ascii_words(text)
    cased = raw
    if cased and ("&" in text or "'" in text or "`" in text):
        # The words one per line, so possessives, apostrophes and "&" are
        # rewritten by a few substitutions instead of a Python loop per word.
        lines = _ASCII_AMPERSAND.sub("and", _ASCII_POSSESSIVE.sub("", "\n".join(cased)))
        lines = lines.replace("'", "").replace("`", "")
        cased = lines.split("\n")
    return Tokens.from_words(text, raw, cased, _per_word(_FOLDED, cased, str.lower))


def ascii_word(word: str) -> str:
    """The cased token of one word ascii_words found (as _scan_ascii rewrites it):
    "&" is "and"; a possessive 's and the apostrophes go (Rahmon's -> Rahmon).

    For callers that look a text's words up in a cache of their own and need
    the rewrite only for a word not seen before (matcher.field).
    """
    if word == "&":
        return "and"
    if "'" in word or "`" in word:
        word = _ASCII_POSSESSIVE.sub("", word).replace("'", "").replace("`", "")
    return word


# A word of non-ASCII text: its cased ASCII tokens (one, most often) and script class.
WordForms = tuple[tuple[str, ...], int]

# _word_forms of each distinct word of non-ASCII text: NFKC, anyascii and the script
# lookup per character were most of what scan() cost on such text.
_FORMS: dict[str, WordForms] = {}


def _word_forms(word: str) -> WordForms:
    """The cased ASCII parts of one matched word of non-ASCII text and its script class."""
    if word == "&":
        return ("and",), 0
    if "'" in word or "’" in word or "‘" in word or "ʼ" in word or "`" in word:
        word = _APOSTROPHES.sub("", _POSSESSIVE.sub("", word))
    if word.isascii():
        return (word,), 0
    ascii_word = _ascii(word)
    foreign = _script_class(word)
    if ascii_word.isalnum():
        return (ascii_word,), foreign
    # Transliteration can yield several words or punctuation; each part
    # keeps the span of the original word.
    return tuple(_ASCII_WORD.findall(ascii_word)), foreign


# Characters that are never part of a word (_WORD_PATTERN): words.strip() takes them
# off a piece's ends. Apostrophes count: the pattern takes one only between letters.
_EDGE_PUNCTUATION: Final = ".,;:!?()[]{}<>\"'`«»“”„‘’‚‹›–—‐-…·/\\|*#@%^+=~_"


def words(text: str) -> list[str]:
    """The words of any text as they stand in it: what _WORD_PATTERN finds, faster.

    No word spans white space, and a piece between spaces that is all letters and
    digits (str.isalnum, the pattern's own letter class) is one word: only pieces
    with punctuation in them are searched with the pattern (its 2,000-character
    mark class makes a search of the whole text the slow part of scan()).
    """
    found: list[str] = []
    for piece in text.split():
        if piece.isalnum():
            found.append(piece)
            continue
        # Punctuation around a word ("Кабуле," «Душанбе») can be no part of one.
        word = piece.strip(_EDGE_PUNCTUATION)
        if word.isalnum():
            found.append(word)
        else:
            found.extend(word_runs(piece))
    return found


def _is_mark(c: str) -> bool:
    """In _MARK: a combining mark (category M) of the Basic Multilingual Plane."""
    return "\u0300" <= c <= "\uffff" and unicodedata.category(c)[0] == "M"


def word_runs(text: str) -> list[str]:
    """_WORD_PATTERN's findall, by one pass over the characters: a word starts at a letter
    or digit (str.isalnum, the pattern's `[^\\W_]`), goes on over letters, digits and
    marks, and over an apostrophe that has a letter or digit after it; "&" alone is a
    word. No backtracking can change what the pattern finds (an apostrophe is neither a
    letter nor a mark), so the longest run is its match. tests/test_scan_reference.py
    holds it to the pattern on arbitrary text."""
    found: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "&":
            found.append(c)
            i += 1
            continue
        if not c.isalnum():
            i += 1
            continue
        j = i + 1
        while True:
            while j < n and (text[j].isalnum() or _is_mark(text[j])):
                j += 1
            if j + 1 < n and text[j] in _WORD_APOSTROPHES and text[j + 1].isalnum():
                j += 2
                continue
            break
        found.append(text[i:j])
        i = j
    return found


def transliterated(text: str) -> tuple[list[str], list[WordForms]]:
    """The words of non-ASCII text as they stand in it, and each one's cased ASCII
    tokens and script class (_word_forms, cached per distinct word)."""
    raw = words(text)
    return raw, _per_word(_FORMS, raw, _word_forms)


def one_token_each(forms: list[WordForms]) -> tuple[list[str], list[int]] | None:
    """The cased tokens and script classes when every word is one token (most texts),
    else None. One compiled loop."""
    n = len(forms)
    cased: list[str] = [""] * n
    foreign: list[int] = [0] * n
    for k in range(n):
        parts, script = forms[k]
        if len(parts) != 1:
            return None
        cased[k] = parts[0]
        foreign[k] = script
    return cased, foreign


def scan(text: str) -> Tokens:
    """Split text into normalised word tokens with their offsets in `text`."""
    if text.isascii():
        return _scan_ascii(text)
    raw, forms = transliterated(text)
    single = one_token_each(forms)
    if single is not None:  # one token per word: lazy offsets
        return Tokens.from_words(text, raw, single[0], list(map(str.lower, single[0])), single[1])
    return spanned_tokens(text, raw, forms)


def spanned_tokens(text: str, raw: list[str], forms: list[WordForms]) -> Tokens:
    """The tokens of non-ASCII text where some word transliterates to several tokens
    (or none: Правительство is "Pravitel'stvo", two), each with its word's span."""
    out = Tokens()
    folded, cased, starts, ends, foreigns = (
        out.folded, out.cased, out.starts, out.ends, out.foreign
    )  # fmt: skip
    word_starts, word_ends = word_offsets(text, raw)
    for k, (word_parts, foreign) in enumerate(forms):
        start, end = word_starts[k], word_ends[k]
        for part in word_parts:
            folded.append(part.lower())
            cased.append(part)
            starts.append(start)
            ends.append(end)
            foreigns.append(foreign)
    return out


LETTERED: Final = 1
CONSONANTAL: Final = 2
_CONSONANTAL_SCRIPTS: Final = ("ARABIC", "HEBREW", "SYRIAC", "DEVANAGARI", "GURMUKHI", "BENGALI")


def _script_class(word: str) -> int:
    """0 for Latin script (accents allowed: Dushanbé), else how it was transliterated."""
    for c in word:
        if ord(c) <= 0x24F or 0x1E00 <= ord(c) <= 0x1EFF or not c.isalpha():
            continue
        return CONSONANTAL if unicodedata.name(c, "").startswith(_CONSONANTAL_SCRIPTS) else LETTERED
    return 0


_ALNUM: Final = re.compile(r"[^\W_]")  # \w is str.isalnum() plus "_"


def letter_count(text: str) -> int:
    """Letters and digits in `text` (str.isalnum), counted in C: the strictness and risk
    rules ask it of every alias of a watchlist, and a Python loop per character showed."""
    return len(_ALNUM.findall(text))


@dataclass(frozen=True, slots=True)
class Words:
    """The word forms of a watchlist phrase (alias, exclusion), without offsets: immutable,
    so one scan can be shared by everything that asks about the phrase."""

    folded: tuple[str, ...]
    cased: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.folded)


@lru_cache(maxsize=100_000)
def phrase_words(text: str) -> Words:
    """scan() of a watchlist phrase, cached: loading a watchlist asks about each alias
    five times (validation, strictness, risk, collisions, index), 10,000s of them."""
    t = scan(text)
    return Words(tuple(t.folded), tuple(t.cased))


def tokenize(text: str) -> list[Token]:
    """Tokens as objects: for callers off the hot path."""
    t = scan(text)
    return [Token(*row) for row in zip(t.folded, t.cased, t.starts, t.ends, strict=True)]


def fold(text: str) -> str:
    """One normalised string: lower-case ASCII words separated by single spaces."""
    return " ".join(scan(text).folded)
