"""Spellings of a word that transliterations share: skeletons, stems, consonants.

Why a module of its own: normalize.py turns text into tokens; this turns one folded
token into the forms the matcher compares (Tehreek and Tehrik share a skeleton,
Кабуле is Kabul less a case ending, Usama and Osama share a vowel class), so each
spelling rule lives in one place, whatever text the token came from.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from bot.matching.normalize import TEXT_WORD_CACHE

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
