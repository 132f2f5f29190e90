"""Which aliases would match far too much, and why: the rules behind `check`'s
warnings and the matcher's case-exact treatment of such aliases.

Kept apart from lint.py (which needs the matcher's rules) so that the matcher
itself can ask, without an import cycle.
"""

from __future__ import annotations

import re

from bot.matching.common import COMMON_WORDS, NAME_WORDS
from bot.matching.normalize import letter_count, phrase_words

# Words so frequent in news copy that an alias made only of them matches
# nearly every item. Not a dictionary: the words that actually hurt.
PHRASE_WORDS = frozenset(
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
# A one-word alias is risky when it is an everyday word: common.py's few
# hundred most frequent words of news copy, plus given names that are words.
RISKY_WORDS = COMMON_WORDS | NAME_WORDS | PHRASE_WORDS

# Characters that normalisation drops but that a term may depend on: C++, C#,
# .NET, AT&T is fine ("&" is kept as "and"); hyphens, apostrophes, dots between
# letters and spaces only separate words.
_DROPPED_SYMBOL = re.compile(r"[^\w\s\-'’‘ʼ`&.]|(?<!\w)\.(?=\w)")


# The ASCII characters _DROPPED_SYMBOL never matches on their own (letters, digits,
# "_", white space, - ' ` & and "."; a dot matches only before a word character,
# when no word character is before it). An ASCII alias made only of them and
# without a dot has no dropped symbol: most aliases, answered by one translation.
_KEPT_ASCII = bytes(b for b in range(128) if chr(b) != "." and not _DROPPED_SYMBOL.match(chr(b)))


def dropped_symbols(alias: str) -> str:
    """The symbols of an alias that word matching would ignore ("++" for "C++").

    Most aliases have none, which the checks before the regular expression answer."""
    if alias.isascii() and "." not in alias:
        if not alias.encode("ascii").translate(None, _KEPT_ASCII):
            return ""
    elif _DROPPED_SYMBOL.search(alias) is None:
        return ""
    return "".join(dict.fromkeys(m.group() for m in _DROPPED_SYMBOL.finditer(alias)))


def risk_reasons(alias: str) -> list[str]:
    """Reasons an alias would match far more than it should; empty if none.

    Not cached: a watchlist's load and index read each alias's reasons from its
    record (alias_forms.forms), which is."""
    tokens = phrase_words(alias)
    return list(
        reasons_of(tokens.folded, tokens.cased, letter_count(alias), dropped_symbols(alias), alias)
    )


def reasons_of(
    folded: tuple[str, ...], cased: tuple[str, ...], letters: int, symbols: str, alias: str
) -> tuple[str, ...]:
    """risk_reasons from the alias's words, letter count and dropped symbols, which the
    caller has at hand (alias_forms.forms computes them once for every reader)."""
    reasons = []
    words = RISKY_WORDS if len(folded) == 1 else PHRASE_WORDS
    common = bool(folded) and words.issuperset(folded)
    if symbols and (letters <= 3 or common):  # "26/11 Mumbai" is distinctive without its "/"
        bare = " ".join(cased)
        reasons.append(
            f"contains {symbols!r}, which word matching ignores: "
            f"it would also fire on a plain {bare!r}"
        )
    elif letters <= 2 and alias.isalnum():  # "J&K", "K-P" are deliberate forms
        reasons.append(
            f"only {letters} letter{'s' * (letters != 1)}: fires on every standalone {alias!r}"
        )
    if common:
        if len(folded) == 1:
            reasons.append(f"{folded[0]!r} is a common word: would match ordinary prose")
        else:
            reasons.append("made only of common words: would match most news items")
    elif folded and all(map(str.isdigit, folded)):
        reasons.append("only digits: would match any item with that number")
    return tuple(reasons)


def literal_pattern(alias: str) -> re.Pattern[str]:
    """The alias as written, case-exact; no letter, digit or one of its own symbols
    may touch it, so "C++" matches "C++," but not "C", "c++" or "C+++"."""
    symbols = re.escape(dropped_symbols(alias))
    words = [re.escape(w) for w in alias.split()]
    return re.compile(rf"(?<![\w{symbols}])" + r"\s+".join(words) + rf"(?![\w{symbols}])")
