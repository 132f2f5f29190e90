"""Each alias's forms, computed once and read by everything that asks about the alias.

Why a module of its own: loading a watchlist asks about every alias several times:
its collision keys and risk reasons for the warnings (lint.py, risk.py, logged with
the index build or printed by `check`), its strictness, its words and their
skeletons for the match index (alias_index.py). Each of those used to compute
its own forms from the alias text (scan, letters, skeletons, dropped symbols),
through caches of their own: at 10,000 aliases those checks were about a third
of loading plus building (issue 13). `forms(alias)` makes one record per alias
text and every reader takes what it needs from it; the rules themselves still
live where they did (name_rules.strict_rule, risk.reasons_of, lint's keys).

Only what depends on the text alone is here: whether the alias is risky for an
entity (its `loose` list) and how many edits it allows (the threshold) are the
index's to decide.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from bot.matching.name_rules import strict_rule
from bot.matching.normalize import letter_count, phrase_words
from bot.matching.risk import dropped_symbols, reasons_of
from bot.matching.spelling import skeleton

# Every ASCII character that is not a letter or a digit: deleted from an ASCII
# alias's bytes, what is left is its letter count, in one C call.
_NOT_ALNUM = bytes(b for b in range(128) if not chr(b).isalnum())


def letters(text: str) -> int:
    """normalize.letter_count, with ASCII text counted by a byte translation (about a
    tenth of its regular expression's cost: each alias is counted once per load)."""
    if text.isascii():
        return len(text.encode("ascii").translate(None, _NOT_ALNUM))
    return letter_count(text)


class AliasForms(NamedTuple):
    """One alias text's words and what the rules say about it. A named tuple: made
    for every alias of every load, and a frozen dataclass's __init__ (a call per
    field) was a sixth of the record's cost."""

    text: str
    folded: tuple[str, ...]  # phrase_words: folded and cased tokens
    cased: tuple[str, ...]
    skel: tuple[str, ...]  # skeleton of each folded token
    letters: int  # letter_count(text)
    strict: bool  # is_strict(text): matched case-exact (acronyms, short aliases)
    symbols: str  # risk.dropped_symbols(text)
    risks: tuple[str, ...]  # risk.risk_reasons(text), before an entity's `loose`
    keys: frozenset[str]  # lint.alias_keys(text): the forms two colliding aliases share


@lru_cache(maxsize=100_000)
def forms(text: str) -> AliasForms:
    """The record of `text`, cached by the text: a load asks for each alias from the
    warnings, the exclusion check and the index build; a reload (a term added from
    chat) finds every unchanged alias here. Bounded like phrase_words' cache."""
    tokens = phrase_words(text)
    folded, cased = tokens.folded, tokens.cased
    skel = tuple(map(skeleton, folded))
    count = letters(text)
    strict = strict_rule(cased, count)
    symbols = dropped_symbols(text)
    # lint.alias_keys: an acronym is found by its exact letters; a longer all-capitals
    # alias ("TALIBAN") also by its words. The skeletons are joined as written (no
    # seam merge), as the collision check always has.
    words = "".join(skel)
    if not strict:
        keys = frozenset((words,))
    elif count > 4:
        keys = frozenset({"strict:" + "".join(cased), words})
    else:
        keys = frozenset(("strict:" + "".join(cased),))
    risks = reasons_of(folded, cased, count, symbols, text)
    return AliasForms(text, folded, cased, skel, count, strict, symbols, risks, keys)
