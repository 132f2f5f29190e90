"""Checks on watchlist terms: which aliases collide, and which would fire on almost anything.

Used when watchlists load (and by `backtest` for a candidate term), so an
analyst hears about a risky alias before it floods a channel.
"""

from __future__ import annotations

from functools import lru_cache

from bot.matching.name_rules import is_strict
from bot.matching.normalize import letter_count, phrase_words, skeleton
from bot.matching.risk import risk_reasons


def alias_keys(alias: str) -> set[str]:
    """Forms under which the matcher finds an alias: two aliases sharing one collide.

    An acronym is found by its exact letters; a longer all-capitals alias
    ("TALIBAN") also by its words, since "Taliban" elsewhere matches them too.
    """
    return set(_alias_keys(alias))


@lru_cache(maxsize=100_000)
def _alias_keys(alias: str) -> frozenset[str]:
    """alias_keys, cached: a load asks twice per alias (collisions, exclusions)."""
    tokens = phrase_words(alias)
    words = "".join(skeleton(w) for w in tokens.folded)
    if not is_strict(alias):
        return frozenset((words,))
    keys = {"strict:" + "".join(tokens.cased)}
    if letter_count(alias) > 4:
        keys.add(words)
    return frozenset(keys)


def alias_warnings(alias: str) -> list[str]:
    """Reasons an alias would match far more than it should; empty if none."""
    return risk_reasons(alias)
