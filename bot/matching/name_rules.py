"""The rules of what a name is: which words mean little, which must agree, how skeletons join.

Why a module of its own: the index (alias_index.py) and the finders (exact.py,
fuzzy.py) must apply the very same word lists and thresholds, or an alias
would be indexed under one rule and looked up under another. Everything here
is a constant or a pure function of strings; nothing holds state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Final

from bot.matching.common import COMMON_WORDS
from bot.matching.normalize import letter_count, phrase_words
from bot.matching.spelling import CONNECTOR_WORDS, LINK_WORDS, skeleton

PERSON: Final = "person"

# Words too common in names to locate a candidate by: they never anchor a
# fuzzy window (exact matching still uses them).
GENERIC_WORDS: Final = frozenset(
    """
    al el ul ud ur e i the of and in for de da bin ibn abu bint ben von van
    islamic islami state states province provinces region regional city district
    valley army front party movement group groups network liberation national
    people peoples republic union council force forces brigade brigades battalion
    organisation organization north south east west northern southern eastern
    western central upper lower great greater new old jamaat jamiat tehrik tehreek
    lashkar jaish hizb harakat mujahideen mujahidin minister president prime
    general chief mohammad mohammed muhammad ahmad ahmed khan ali syed sayed shah
    mullah maulana haji sheikh emirate islamist militant militants border
    abdul abd sharif governor commander amir emir saif hussain husain hassan hasan
    rahman ullah allah gul mir malik qari mawlawi maulvi sardar sahib sultan
    """.split()
)

# Words whose difference changes the meaning of a name however close the
# spelling: they must agree exactly in a fuzzy match.
DIRECTIONS: Final = {
    "north": ("north",),
    "south": ("south",),
    "east": ("east",),
    "west": ("west",),
    "northern": ("north",),
    "southern": ("south",),
    "eastern": ("east",),
    "western": ("west",),
    "northeast": ("north", "east"),
    "northwest": ("north", "west"),
    "southeast": ("south", "east"),
    "southwest": ("south", "west"),
    "northeastern": ("north", "east"),
    "northwestern": ("north", "west"),
    "southeastern": ("south", "east"),
    "southwestern": ("south", "west"),
    "central": ("central",),
    "upper": ("upper",),
    "lower": ("lower",),
}

# A trailing word that only says what sort of thing a name is: "Islamic State
# Sahel Province" is also written "Islamic State's Sahel branch".
TRAILING_GENERIC: Final = frozenset(
    "province network group party army front movement organisation organization "
    "brigade brigades battalion faction wing branch".split()
)
# Names of the Islamic State in other languages and acronyms, so every branch
# alias ("Islamic State Khorasan") also meets "Daesh Khorasan", "ISIS-Khorasan"
# and Russian "ИГИЛ-Хорасан".
SYNONYMS: Final = {"islamicstate": ("daesh", "daish", "isis", "isil", "igil")}
# Words that name a part of an organisation, not another one: "Islamic State's
# Sahel branch" is still the Sahel Province; "...Liberation Front" is not "...Army".
SUBUNIT_WORDS: Final = frozenset("branch wing faction cell unit chapter affiliate".split())
# Press abbreviations of directions before a place name: N Waziristan.
DIRECTION_ABBREVIATIONS: Final = {"N": "north", "S": "south", "W": "west"}

DROPPABLE: Final = CONNECTOR_WORDS | LINK_WORDS

MIN_ANCHOR_LEN: Final = 4
ANCHORS_PER_ALIAS: Final = 2
MAX_INSERTED: Final = 2  # capitalised words allowed inside a multi-word name
# An alias's consonants must be this distinctive to match vowel-less script.
MIN_CONSONANTS: Final = 4
MIN_FUZZY_CONSONANTS: Final = 7  # ...and this long to allow one consonant edit
# Consonants a name needs before its vowels may differ (Usama bin Laden = Osama
# bin Laden; Pashtun = Pukhtun), for one word and for a longer name: Karim is
# not Karam, nor Doval Duval.
MIN_VOWEL_CLASS_CONSONANTS: Final = (4, 6)
MIN_VOWEL_CLASS_WORD: Final = 7  # letters of a one-word name: Khost is not Khust
CACHE_LIMIT = 20_000
# The per-word records (AliasIndex.word) hold more per entry; news is Zipfian, so
# fewer entries keep nearly every hit and bound the memory for a bot that runs for
# weeks (with the other caches, about 24 MiB when all are full: bench/match_memory.py).
WORD_CACHE_LIMIT = 20_000


def is_strict(alias: str) -> bool:
    """Acronyms and short aliases match exactly and case-sensitively.

    Short means four letters or fewer; an acronym has a capital after the
    first letter of a word (ISKP, IS-KP, HuM, LeT). Not cached: a watchlist's
    load and index read it from each alias's record (alias_forms.forms), which is.
    """
    return strict_rule(phrase_words(alias).cased, letter_count(alias))


def strict_rule(cased: tuple[str, ...], letters: int) -> bool:
    """is_strict from the alias's cased words and letter count, for a caller that has
    them (alias_forms.forms). A capital after a word's first letter: tokens are ASCII
    (scan transliterates), so that is a tail whose lower() differs, tested in C rather
    than per character."""
    if letters <= 4:
        return True
    for t in cased:
        tail = t[1:]
        if tail != tail.lower():
            return True
    return False


def fuzzy_score(distance: int, length: int) -> float:
    """The reported score of a variant `distance` edits from an alias of `length` letters."""
    return round(100.0 - 80.0 * distance / max(length, 1), 1)


@lru_cache(maxsize=4_096)
def allowed_edits(length: int, threshold: float) -> int:
    """Edits a variant may differ by, for an alias skeleton of `length` letters.

    At the default threshold of 90 that is one edit per 8 letters: none for
    "Kunar" or "Khost" (5 letters), one for "Tashkent" or "Turkmenistan",
    two from 16 letters on. 100 allows none; 80 allows one per 4 letters.
    """
    edits = 0
    while fuzzy_score(edits + 1, length) >= threshold:
        edits += 1
    return edits


def signature(words: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Direction words and numbers of a phrase, which a fuzzy match must keep."""
    if DIRECTIONS.keys().isdisjoint(words) and "".join(words).isalpha():
        return ()  # most names: no direction, and letters only, so no number
    parts: list[str] = []
    for w in words:
        if w in DIRECTIONS:
            parts.extend(DIRECTIONS[w])
        elif w.isdigit():
            parts.append(w)
    return tuple(sorted(parts))


def join_skeleton(head: str, word: str) -> str:
    """Concatenate skeletons, merging a letter doubled across the seam (Siraj-ud-Din)."""
    if head and word and head[-1] == word[0] and word[0].isalpha():
        return head + word[1:]
    return head + word


def join_skeletons(words: Iterable[str]) -> str:
    """Skeletons joined into one string, doubled letters at the seams merged.

    A loop rather than reduce(join_skeleton, ...): no call per word, and the
    index build joins every alias several ways.
    """
    out = ""
    for word in words:
        if out and word and out[-1] == word[0] and word[0].isalpha():
            out += word[1:]
        else:
            out += word
    return out


def without_connectors(folded: tuple[str, ...], skel: tuple[str, ...]) -> str:
    """Joined skeletons with the interior connecting words (al, ul, e) left out."""
    last = len(folded) - 1
    return join_skeletons(
        sk
        for k, (w, sk) in enumerate(zip(folded, skel, strict=True))
        if not (0 < k < last and w in DROPPABLE)
    )


def without_trailing_generic(folded: tuple[str, ...], skel: tuple[str, ...]) -> str:
    """The name without its last word when that word is generic and enough is left.

    What is left must be two words or more with a distinctive one, so
    "Haqqani Network" never shrinks to "Haqqani".
    """
    if len(folded) < 3 or folded[-1] not in TRAILING_GENERIC:
        return ""
    rest = folded[:-1]
    if not any(len(w) >= MIN_ANCHOR_LEN and w not in GENERIC_WORDS for w in rest):
        return ""
    return join_skeletons(skel[:-1])


def deletions(word: str) -> set[str]:
    """The word with each one letter left out (SymSpell-style keys)."""
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


# A name does not run across these (full stop, comma, bracket, quote).
BREAK: Final = re.compile(r"[.,;:!?()\[\]{}|/\"“”]")
VOWELS: Final = frozenset("aeiou")

_COMMON_SKELETONS: Final = frozenset(COMMON_WORDS | {skeleton(w) for w in COMMON_WORDS})


def distinctive(skel: str) -> bool:
    """May this word anchor a fuzzy match? Not if it spells like everyday news English.

    Decided on the skeleton alone, so the per-skeleton cache cannot make a
    result depend on which spelling came first.
    """
    return skel not in _COMMON_SKELETONS


def head(word: str) -> str:
    """A word's first letter for same_start: "a" for any vowel, "" for no word.

    same_start(x, y) holds exactly when head(x) == head(y) or either is "",
    so the fuzzy pass can compare precomputed heads instead of calling it.
    """
    if not word:
        return ""
    return "a" if word[0] in VOWELS else word[0]


def capitalised(word: str) -> bool:
    """word[:1].isupper() for a token, which is ASCII (transliterated if need be): one
    compiled test instead of a method call (the fuzzy pass asks it of the words either
    side of every anchor)."""
    return word != "" and 65 <= ord(word[0]) <= 90


def same_start(a: str, b: str) -> bool:
    """Two spellings of one name word start alike (or both with a vowel: Usman/Osman)."""
    return not a or not b or a[0] == b[0] or (a[0] in VOWELS and b[0] in VOWELS)
