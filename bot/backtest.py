"""Try a candidate watch term on stored items before adding it.

An analyst asks "what would 'Khurasan Province' have caught this week?" and
gets a count with examples, so a term that fires on everything is caught
before it reaches a channel. Chat commands (/watch test) call the same
function.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.matching.lint import alias_warnings
from bot.matching.matcher import Matcher
from bot.models import Entity, Item, Match
from bot.storage.base import Storage

MAX_EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class BacktestResult:
    term: str
    days: float
    items_checked: int
    matched: int
    examples: list[tuple[Item, Match]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def backtest_items(
    term: str,
    items: list[Item],
    *,
    entity: Entity | None = None,
    threshold: float = 90.0,
    days: float = 7.0,
) -> BacktestResult:
    """Match `term` alone (with `entity`'s kind and exclusions, if given) over items."""
    base = entity or Entity("candidate", term, "topic")
    # Only the candidate term counts: the entity's own aliases would hide what it adds.
    probe = replace(base, name=term, aliases=())
    matcher = Matcher([probe], threshold)
    matched = 0
    examples: list[tuple[Item, Match]] = []
    for item in items:
        hits = matcher.match(item)
        if hits:
            matched += 1
            if len(examples) < MAX_EXAMPLES:
                examples.append((item, hits[0]))
    return BacktestResult(term, days, len(items), matched, examples, alias_warnings(term))


async def backtest(
    storage: Storage,
    term: str,
    now: datetime,
    *,
    days: float = 7.0,
    entity: Entity | None = None,
    threshold: float = 90.0,
) -> BacktestResult:
    items = await storage.items_since(now - timedelta(days=days))
    return backtest_items(term, items, entity=entity, threshold=threshold, days=days)


def format_result(result: BacktestResult) -> str:
    """Plain text for the terminal (chat adapters render their own)."""
    lines = [
        f'"{result.term}" would have matched {result.matched} of {result.items_checked} '
        f"items from the last {result.days:g} days"
    ]
    lines += [f"  warning: {w}" for w in result.warnings]
    for item, m in result.examples:
        when = item.published.strftime("%Y-%m-%d") if item.published else "undated"
        lines.append(f"  - {item.title} ({item.feed_name or item.feed_url}, {when})")
        lines.append(f'      matched "{m.text}" ({m.how}, score {m.score:g}, {m.field})')
    return "\n".join(lines)
