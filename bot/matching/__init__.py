"""Watchlist matching: normalise text, index aliases, find and explain mentions."""

# First, before any matching module is imported: use the mypyc-compiled modules
# only if they were built from the sources on disk (bot/matching/compiled.py).
from bot.matching.compiled import guard

guard()


from bot.matching.matcher import Matcher  # noqa: E402
from bot.matching.watchlists import load_watchlists  # noqa: E402

__all__ = ["Matcher", "load_watchlists"]
