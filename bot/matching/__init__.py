"""Watchlist matching: normalise text, index aliases, find and explain mentions."""

from bot.matching.matcher import Matcher
from bot.matching.watchlists import load_watchlists

__all__ = ["Matcher", "load_watchlists"]
