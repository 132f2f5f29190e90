"""Which alerts are the same story? Pure functions over item text, entities and time.

Two items are one story when they are close in time (the window, 48 h by
default), share at least one watched entity, and their words overlap enough,
each word weighted by how rare it is among recent items: a syndicated copy
shares almost everything, a rewrite shares the rare words (the place, the
group, the numbers), while two different attacks in one province share only
the common ones ("blast", "killed", the province itself).

This module decides; storing stories and threading alerts is the caller's job.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.matching.common import COMMON_WORDS
from bot.matching.normalize import scan, skeleton

DEFAULT_WINDOW = timedelta(hours=48)
DEFAULT_THRESHOLD = 0.10

# Words of news copy that say nothing about which event it is.
_FILLER = COMMON_WORDS | frozenset(
    """
    news report reports reported says said say told tells statement spokesman spokesperson
    according official officials sources source local media agency agencies update updated
    live latest breaking monday tuesday wednesday thursday friday saturday sunday today
    yesterday tomorrow morning evening night week month year
    """.split()
)


_SUFFIXES = ("ings", "ing", "ers", "ies", "ed", "es", "er", "s")


def stem(word: str) -> str:
    """A crude English stem, enough for news verbs and plurals: kills/killed → kill."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words(text: str) -> frozenset[str]:
    """The telling words of a text: folded, stemmed, transliteration-neutral, filler dropped."""
    out = set()
    for w in scan(text).folded:
        if w in _FILLER or (len(w) < 3 and not w.isdigit()):
            continue
        out.add(skeleton(stem(w)))
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class StoryItem:
    """What story grouping needs to know about an item."""

    key: str
    title: str
    summary: str
    published: datetime | None
    entities: frozenset[str]
    words: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        key: str,
        title: str,
        summary: str,
        published: datetime | None,
        entities: Iterable[str],
    ) -> StoryItem:
        # The title counts twice: it carries the event; the summary, context.
        return cls(
            key, title, summary, published, frozenset(entities), words(f"{title} {title} {summary}")
        )


class Rarity:
    """Inverse document frequency of words among the items seen in the window."""

    def __init__(self, items: Iterable[StoryItem] = ()) -> None:
        self.documents = 0
        self.counts: Counter[str] = Counter()
        for item in items:
            self.add(item)

    def add(self, item: StoryItem) -> None:
        self.documents += 1
        self.counts.update(item.words)

    def weight(self, word: str) -> float:
        return math.log((self.documents + 1) / (self.counts[word] + 0.5)) + 0.1


def similarity(a: StoryItem, b: StoryItem, rarity: Rarity) -> float:
    """Rarity-weighted Jaccard overlap of two items' telling words, 0..1.

    (On the labelled set it beat an overlap coefficient and title-only
    similarity: bench/story_quality.py.)
    """
    union = a.words | b.words
    if not union:
        return 0.0
    shared = sum(rarity.weight(w) for w in a.words & b.words)
    return shared / sum(rarity.weight(w) for w in union)


def same_story(
    a: StoryItem,
    b: StoryItem,
    rarity: Rarity,
    *,
    window: timedelta = DEFAULT_WINDOW,
    threshold: float = DEFAULT_THRESHOLD,
) -> bool:
    if a.published and b.published and abs(a.published - b.published) > window:
        return False
    if a.entities and b.entities and not a.entities & b.entities:
        return False
    return similarity(a, b, rarity) >= threshold


def assign(
    item: StoryItem,
    stories: dict[str, list[StoryItem]],
    rarity: Rarity,
    *,
    window: timedelta = DEFAULT_WINDOW,
    threshold: float = DEFAULT_THRESHOLD,
) -> str | None:
    """The story (key of its first item) this item continues, or None for a new story.

    The best-scoring story wins; ties go to the older story, so the result
    does not depend on dictionary order.
    """
    best: tuple[float, str] | None = None
    for story_key in sorted(stories):
        members = stories[story_key]
        score = max(
            (
                similarity(item, m, rarity)
                for m in members
                if same_story(item, m, rarity, window=window, threshold=threshold)
            ),
            default=None,
        )
        if score is not None and (best is None or score > best[0]):
            best = (score, story_key)
    return best[1] if best else None
