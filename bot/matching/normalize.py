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
from functools import cache, lru_cache
from typing import Final, TypeVar, cast

from anyascii import anyascii

from bot.matching.unicode_marks import mark_class

# Entries of each cache of per-word results (skeletons, stems, folded forms …). A
# long-running bot meets an endless vocabulary of names; news is Zipfian, so a day's
# common words fit and every cache stays bounded: with name_rules' limits, all the
# matching caches full add about 26 MiB to the process (issue 13's 250 MB budget).
TEXT_WORD_CACHE: Final = 25_000


_MARK: Final = mark_class()
_LETTERS: Final = rf"[^\W_](?:[^\W_]|[{_MARK}])*"
# A word is letters/digits (with their marks), optionally joined by apostrophes
# (Shi'ite, Rahmon's); "&" is its own token so "Trade & Development" meets
# "Trade and Development". The patterns over all of Unicode are compiled when first
# needed (non-ASCII text): with their 2,000-character mark class, about 1.5 ms each
# that a process reading only ASCII feeds never pays.
_WORD_PATTERN: Final = rf"{_LETTERS}(?:['’‘ʼ`]{_LETTERS})*|&"


@cache
def _word_split() -> re.Pattern[str]:
    """_WORD_PATTERN capturing, for re.split: separators and words in turn, covering the text."""
    return re.compile(f"({_WORD_PATTERN})")


@cache
def word_split_no_underscore() -> re.Pattern[str]:
    """The same split for text without "_": a word's letters and marks as one character
    class (\\w holds "_", hence the condition), which re scans in one step per character
    instead of trying two alternatives each time: non-ASCII text splits in 0.6 of the time."""
    return re.compile(rf"([^\W_][\w{_MARK}]*+(?:['’‘ʼ`][^\W_][\w{_MARK}]*+)*+|&)")


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
    pattern = _word_split() if "_" in text else word_split_no_underscore()
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
            found.extend(pattern.findall(piece))
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
    # Some word transliterates to several tokens (or none: Правительство is
    # "Pravitel'stvo", two), each with the word's span.
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


# Spelling that varies between transliterations of the same name (Persian,
# Pashto, Urdu, Russian into English): Tehreek/Tehrik, Tadzhikistan/Tajikistan,
# Khurasan/Xurasan, Berdymukhamedov/Berdimuhamedow, Mehsood/Mehsud.
_OW_BEFORE_CONSONANT: Final = re.compile(r"ow(?=[^aeiou])")
# Compass words in one spelling each: northern = north, northwestern = northwest.
COMPASS: Final = {
    "northern": "north",
    "southern": "south",
    "eastern": "east",
    "western": "west",
    "northeastern": "northeast",
    "northwestern": "northwest",
    "southeastern": "southeast",
    "southwestern": "southwest",
}
# Connecting vowels of Arabic/Persian compounds: Lashkar-e-Taiba, Lashkar-i-Taiba.
_CONNECTORS: Final = {"i": "e", "e": "e"}
# Arabic article forms that stand between the words of a name: Hizb ut-Tahrir,
# Hizb al-Tahrir; Lashkar-e-Taiba. Names are also compared with them left out.
CONNECTOR_WORDS: Final = frozenset("e i al el ul ut ud ur us un ad an ar as ash at az".split())
# "in the" and "of" come and go too, but only inside longer names: Islamic State
# (in the) Sahel; never between a first name and a surname. So do the words for
# "and" of the languages names come from: Kohgiluyeh va (wa, -o-, и, &) Boyer-Ahmad.
AND_WORDS: Final = frozenset("and wa va o".split())
LINK_WORDS: Final = frozenset("in the of".split()) | AND_WORDS


@lru_cache(maxsize=TEXT_WORD_CACHE)
def skeleton(folded: str) -> str:
    """A folded word reduced to a transliteration-neutral spelling.

    Two spellings of one name usually share a skeleton ("tehreek" and
    "tehrik" → "tehrik"); different names almost never do. A leading "kh"
    stays (Khost must not become "host"); compass words take one form so
    "northwestern" joins up like "north-west".
    """
    if folded in _CONNECTORS:
        return _CONNECTORS[folded]
    if folded in COMPASS:
        return COMPASS[folded]
    head, s = ("kh", folded[2:]) if folded.startswith("kh") else ("", folded)
    if "ow" in s:  # the test costs less than the regex, and most words have no "ow"
        s = _OW_BEFORE_CONSONANT.sub("o", s)  # Khowst / Khost, but Berdimuhamedow keeps its w
    # The rules, in this order, written out: compiled, a loop over a table of pairs made
    # a tuple per rule and step. The first five all have an "h": a word without one
    # (most) skips them with one test.
    if "h" in s:
        if "dzh" in s:
            s = s.replace("dzh", "j")
        if "zh" in s:
            s = s.replace("zh", "j")
        if "kh" in s:
            s = s.replace("kh", "h")
        if "gh" in s:
            s = s.replace("gh", "g")
        if "ph" in s:
            s = s.replace("ph", "f")
    if "q" in s:
        s = s.replace("q", "k")
    if "x" in s:
        s = s.replace("x", "h")
    if "w" in s:
        s = s.replace("w", "v")
    if "y" in s:
        s = s.replace("y", "i")
    if "ee" in s:
        s = s.replace("ee", "i")
    if "oo" in s:
        s = s.replace("oo", "u")
    if "ou" in s:
        s = s.replace("ou", "u")
    if "au" in s:
        s = s.replace("au", "u")
    return undoubled(head + s)


def undoubled(s: str) -> str:
    """`s` with each run of one letter a-z written once (digits stay: Route 66 is not
    Route 6); what re.sub(r"([a-z])\\1+", r"\\1", s) gives.

    Tested first by a loop over neighbouring characters (compiled, a few
    hundred instructions for a word, a twentieth of a regex search): most
    words have no doubled letter, and on Python 3.11 a sub() with a group
    reference in its template calls back into Python (re._subx) on every call.
    (A loop over the bytes of s.encode() was measured: no fewer instructions.)
    """
    for k in range(1, len(s)):
        if s[k] == s[k - 1]:
            return _undouble(s)
    return s


def _undouble(s: str) -> str:
    """undoubled's rewrite as a compiled loop: the regex, with a group reference in its
    template, called back into Python (re._subx) on every word with a doubled letter."""
    out: list[str] = []
    previous = ""
    for c in s:
        if c == previous and "a" <= c <= "z":
            continue
        out.append(c)
        previous = c
    return "".join(out)


# Case endings of Russian and the Turkic languages of Central Asia, as anyascii
# spells them, longest first: Кабуле → "kabule", Қазақстанның → "qazaqstannyng".
_CASE_ENDINGS: Final = tuple(
    sorted(
        set(
            "e a u i y om oi ei ov ev am ami akh ykh ikh ogo omu oiu eiu iu ia "
            "nyng ning nyn nin dyn din tyn tin ny ni ga ge gha qa ka ke da de ta te "
            "dan den tan ten dagy degi".split()
        ),
        key=len,
        reverse=True,
    )
)


@lru_cache(maxsize=TEXT_WORD_CACHE)
def stems(word: str) -> tuple[str, ...]:
    """A transliterated word without each case ending it may carry (not the word itself)."""
    return tuple(
        word[: -len(ending)]
        for ending in _CASE_ENDINGS
        if word.endswith(ending) and len(word) - len(ending) >= 4
    )


_NOT_CONSONANT: Final = re.compile(r"[aeiouyw]")


@lru_cache(maxsize=TEXT_WORD_CACHE)
def consonants(folded: str) -> str:
    """The consonants of a folded word: how Arabic-script names come out of
    anyascii (پاکستان → "pkstn"), so they can meet their Latin spelling."""
    # Devanagari and Arabic script blur sh/s and z/j in transliteration.
    # Arabic script writes the z of Persian names as dhal (ذبیح → "dhbyh" for Zabih).
    if folded.startswith("dh"):
        folded = "j" + folded[2:]
    folded = folded.replace("q", "k").replace("sh", "s").replace("z", "j")
    bare = _NOT_CONSONANT.sub("", folded)
    return undoubled(bare)


_SH_BEFORE_CONSONANT: Final = re.compile(r"sh(?=[^aeiou])")


def vowel_class(skel: str) -> str:
    """A skeleton with every vowel written "a", and "sh" before a consonant as "h".

    Transliteration of Arabic, Persian and Pashto names varies most in the
    vowels and in the Pashto sh/kh: Usama/Osama, Muhammad/Mohammed/Mukhammad,
    Pashtun/Pakhtun/Pukhtun all share one form ("asama", "mahamad", "pahtan").
    Too coarse for short names (Karim/Karam): the matcher uses it only for
    capitalised words of names with enough consonants. A vowel added or
    dropped (Haibatullah) is left to the fuzzy rule and its threshold.

    Not cached: a text word's class is kept with the word (AliasIndex.word,
    exact's vowel_cache), and a cache of its own here held 25,000 more strings.
    """
    if "sh" in skel:
        skel = _SH_BEFORE_CONSONANT.sub("h", skel)
    # Four replace calls, not str.translate: translate looks each character up in its
    # table through a Python call, and these are short words.
    return skel.replace("e", "a").replace("i", "a").replace("o", "a").replace("u", "a")


# Russian-era surname endings, longest first: Karimov/Karimova/Karim,
# Rahmonov/Rahmonzoda/Rahmon, Aliyev/Aliyeva.
_SURNAME_SUFFIXES: Final = ("zoda", "zade", "zada", "ova", "eva", "ov", "ev")
MIN_SURNAME_STEM: Final = 4


def surname_stem(skel: str) -> str:
    """A surname skeleton without its Russian-era ending, if what is left is long enough.

    "karimov" → "karim", "rahmonzoda" → "rahmon", but "aliev" (Aliyev) keeps
    its ending: "ali" is too short to stand for a family name of its own.
    Not cached, as vowel_class: an endswith test (of all the endings at once) costs
    less than the lookup.
    """
    if not skel.endswith(_SURNAME_SUFFIXES):  # one test for most words
        return skel
    for suffix in _SURNAME_SUFFIXES:
        if skel.endswith(suffix) and len(skel) - len(suffix) >= MIN_SURNAME_STEM:
            return skel[: -len(suffix)]
    return skel


_VOWEL_LETTERS: Final = frozenset("aeiou")
MAX_VOWEL_CHANGES: Final = 2  # per word: Muhammad/Mohammed has two, Tawkurani/Tawkarina three


def vowels_close(words: list[str], alias_words: tuple[str, ...]) -> bool:
    """Words of one vowel class that differ in few vowels, never in their last letter.

    A name's final vowel often marks another name or gender (Rahim/Rahima,
    Tawkurani/Tawkarina), so it must agree; elsewhere a word may differ in
    two vowels at most.
    """
    for word, alias in zip(words, alias_words, strict=True):
        a, b = _SH_BEFORE_CONSONANT.sub("h", word), _SH_BEFORE_CONSONANT.sub("h", alias)
        if len(a) != len(b) or (a[-1:] != b[-1:] and a[-1:] in _VOWEL_LETTERS):
            return False
        if sum(x != y for x, y in zip(a, b, strict=True)) > MAX_VOWEL_CHANGES:
            return False
    return True
