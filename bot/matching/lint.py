"""Checks on watchlist terms: which aliases collide, and which would fire on almost anything.

Used when watchlists load (and by `backtest` for a candidate term), so an
analyst hears about a risky alias before it floods a channel.
"""

from __future__ import annotations

from bot.matching.matcher import is_strict
from bot.matching.normalize import scan, skeleton

# Words so frequent in news copy that an alias made only of them matches
# nearly every item. Not a dictionary: the words that actually hurt.
COMMON_WORDS = frozenset(
    """
    a about after against all also an and any are as at attack attacks be been before
    border both but by can city country court day days deal did does down during each
    east election even first for from government group had has have he her his how if
    in into is it its last leader leaders least local made man many may men minister
    more most move new news north not now of office official officials on one only or
    other our out over party people police power president report said says security
    she should since so some south state states still such than that the their them
    there these they this those three through time to today two under up us was water
    way we week were west what when where which while who will with women world would
    year years
    """.split()
)


def alias_keys(alias: str) -> set[str]:
    """Forms under which the matcher finds an alias: two aliases sharing one collide.

    An acronym is found by its exact letters; a longer all-capitals alias
    ("TALIBAN") also by its words, since "Taliban" elsewhere matches them too.
    """
    tokens = scan(alias)
    words = "".join(skeleton(w) for w in tokens.folded)
    if not is_strict(alias):
        return {words}
    keys = {"strict:" + "".join(tokens.cased)}
    if sum(c.isalnum() for c in alias) > 4:
        keys.add(words)
    return keys


def alias_warnings(alias: str) -> list[str]:
    """Reasons an alias would match far more than it should; empty if none."""
    tokens = scan(alias)
    letters = sum(c.isalnum() for c in alias)
    reasons = []
    if letters <= 2 and alias.isalnum():  # "J&K", "K-P" are deliberate forms
        reasons.append(
            f"only {letters} letter{'s' * (letters != 1)}: fires on every standalone {alias!r}"
        )
    if tokens.folded and all(w in COMMON_WORDS for w in tokens.folded):
        reasons.append("made only of common words: would match most news items")
    elif tokens.folded and all(w.isdigit() for w in tokens.folded):
        reasons.append("only digits: would match any item with that number")
    return reasons
