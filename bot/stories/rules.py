"""What a story's stored items mean for its alerts: plain functions over loaded data.

Storage loads the facts (the entities earlier items of a story had, the feeds
whose items of a story were delivered in a channel); these rules decide what
they mean, once for every storage engine. (Kept apart from bot/stories.py,
the grouping decision, so storage-facing rules stay small and pure.)
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import replace

from bot.models import Alert, Match, StoryUpdate


def new_entities(matches: Iterable[Match], earlier_entity_ids: Set[str]) -> tuple[str, ...]:
    """Names of the entities a reply adds to its story: matched now, by no earlier item.

    In first-matched order, each once, so the thread says "adds: TTP" only for news.
    """
    return tuple(
        dict.fromkeys(m.entity_name for m in matches if m.entity_id not in earlier_entity_ids)
    )


def source_count(delivered_feeds: Set[str]) -> int:
    """How many sources a story has in a channel: distinct feeds among its delivered items.

    Three updates from one paper are one source, not three; a story shown at all
    has at least its parent's source.
    """
    return max(len(delivered_feeds), 1)


def with_new_entities(alert: Alert) -> Alert:
    """The alert as its sink should show it: a reply in a story's thread names what it adds."""
    if alert.reply_to is None or alert.story is None:
        return alert
    return replace(alert, new_entities=new_entities(alert.matches, alert.earlier_entity_ids))


def with_sources(update: StoryUpdate) -> StoryUpdate:
    """The story edit with its source count decided from the feeds storage loaded."""
    return replace(update, sources=source_count(update.delivered_feeds))
