"""Which of an item's mentions to report: one per entity, the best, and whether
the words that name it also name other entities (a shared alias is ambiguous).

Pure functions over Mention lists, kept apart from the engine that finds them.
"""

from __future__ import annotations

from collections import defaultdict

from bot.matching.mention import Mention


def better(a: Mention, b: Mention) -> bool:
    """Prefer the higher score, then the title, then the earlier mention."""
    return (a.score, a.field == "title", -a.start) > (b.score, b.field == "title", -b.start)


def best_per_entity(mentions: list[Mention]) -> list[Mention]:
    """One match per entity, marked ambiguous when other entities own the same words.

    An entity named anywhere by words of its own is not ambiguous; otherwise
    its best mention lists the other entities found on exactly that text.
    """
    owners: dict[tuple[str, int, int], list[str]] = defaultdict(list)
    for m in mentions:
        key = (m.field, m.start, m.end)
        if m.entity_id not in owners[key]:
            owners[key].append(m.entity_id)
    best: dict[str, Mention] = {}
    for m in mentions:
        others = tuple(e for e in owners[(m.field, m.start, m.end)] if e != m.entity_id)
        candidate = m.with_candidates(others) if others else m
        current = best.get(m.entity_id)
        if current is None or preferred(candidate, current):
            best[m.entity_id] = candidate
    return list(best.values())


def preferred(a: Mention, b: Mention) -> bool:
    """An unambiguous mention beats an ambiguous one; then the usual order."""
    if a.ambiguous != b.ambiguous:
        return not a.ambiguous
    return better(a, b)
