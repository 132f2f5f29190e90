"""Every cache of per-word matching results stays within its bound however many
distinct words a long-running bot meets (issue 13: steady RSS <= 250 MB; the bounds'
cost when full is printed by bench/match_memory.py)."""

from __future__ import annotations

import random

from bot.matching import normalize, spelling
from bot.matching.matcher import Matcher
from bot.matching.name_rules import CACHE_LIMIT, WORD_CACHE_LIMIT
from tests.test_match_prefilter import ENTITIES

_LETTERS = "bcdfghjklmnprstvz"
_VOWELS = "aeiou"


def _fresh_word(rng: random.Random) -> str:
    syllables = rng.randint(2, 4)
    word = "".join(rng.choice(_LETTERS) + rng.choice(_VOWELS) for _ in range(syllables))
    return word.capitalize() if rng.random() < 0.6 else word


def test_per_word_caches_stay_bounded_over_an_endless_vocabulary() -> None:
    matcher = Matcher(ENTITIES)
    index = matcher._index
    rng = random.Random(3)
    distinct = max(WORD_CACHE_LIMIT, normalize.TEXT_WORD_CACHE) + 5_000
    words = [_fresh_word(rng) for _ in range(distinct * 2)]
    assert len(set(words)) > max(WORD_CACHE_LIMIT, normalize.TEXT_WORD_CACHE)
    for start in range(0, len(words), 40):
        matcher.match_text(" ".join(words[start : start + 40]) + ".")
    assert 0 < len(index.words) <= WORD_CACHE_LIMIT
    for cache in (index.anchor_cache, index.vowel_cache, index.foreign_forms):
        assert len(cache) <= CACHE_LIMIT + 1
    assert len(normalize._FOLDED) <= normalize.TEXT_WORD_CACHE
    for cached in (spelling.skeleton, spelling.consonants):
        info = cached.cache_info()
        assert info.maxsize == normalize.TEXT_WORD_CACHE
        assert info.currsize <= normalize.TEXT_WORD_CACHE


_TO_CYRILLIC = str.maketrans(
    "bcdfghjklmnprstvzaeiouBCDFGHJKLMNPRSTVZ", "бцдфгхжклмнпрствзаеиоуБЦДФГХЖКЛМНПРСТВЗ"
)


def test_the_transliterated_word_cache_stays_bounded() -> None:
    """exact.foreign keeps each transliterated word's stems: bounded like the others, and
    a matcher whose cache was just cleared finds what a fresh one finds."""
    matcher = Matcher(ENTITIES)
    index = matcher._index
    rng = random.Random(5)
    words = [_fresh_word(rng).translate(_TO_CYRILLIC) for _ in range(CACHE_LIMIT + 3_000)]
    assert len(set(words)) > CACHE_LIMIT
    for start in range(0, len(words), 60):
        matcher.match_text(" ".join(words[start : start + 60]))
        assert len(index.foreign_forms) <= CACHE_LIMIT
    text = "Встреча в Кабуле, Исламабаде и Душанбе"
    assert matcher.match_text(text) == Matcher(ENTITIES).match_text(text)
