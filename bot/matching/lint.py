"""Checks on watchlist terms: which aliases collide, and which would fire on almost anything.

Used when watchlists load (and by `backtest` for a candidate term), so an
analyst hears about a risky alias before it floods a channel. Both answers are
fields of the alias's one record (alias_forms.forms), which the index build
reads too.
"""

from __future__ import annotations

from bot.matching.alias_forms import forms


def alias_keys(alias: str) -> set[str]:
    """Forms under which the matcher finds an alias: two aliases sharing one collide.

    An acronym is found by its exact letters; a longer all-capitals alias
    ("TALIBAN") also by its words, since "Taliban" elsewhere matches them too.
    """
    return set(forms(alias).keys)


def alias_warnings(alias: str) -> list[str]:
    """Reasons an alias would match far more than it should; empty if none."""
    return list(forms(alias).risks)
