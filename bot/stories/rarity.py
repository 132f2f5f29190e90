"""How telling a word is among recent items (step 2 of story grouping).

Kept apart from the comparison: the index counts words as members come and go,
and every comparison reads the weights.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from bot.stories.profile import StoryItem

if TYPE_CHECKING:
    from bot.stories.member import Member
from bot.stories.words import _PRIOR_COMMON

# --- Rarity --------------------------------------------------------------

# The prior: as if this many typical news items had been seen, in which a
# common word appears in COMMON_SHARE of them and any other word in RARE_SHARE.
PRIOR_ITEMS = 50
COMMON_SHARE = 0.3
RARE_SHARE = 0.02


class Rarity:
    """How telling a term or entity is: inverse document frequency among recent items.

    Counts are kept up to date as items come and go (`add`, `remove`); a
    built-in prior keeps the weights sensible while few items are known.
    """

    def __init__(self, items: Iterable[StoryItem | Member] = ()) -> None:
        self.documents = 0
        self.counts: Counter[str] = Counter()
        self.entity_counts: Counter[str] = Counter()
        # Weights computed since the counts last changed: one `find` compares
        # the new item with many members, mostly about the same words.
        self._weights: dict[str, float] = {}
        for item in items:
            self.add(item)

    def add(self, item: StoryItem | Member) -> None:
        self.documents += 1
        self.counts.update(item.terms)
        self.entity_counts.update(item.entities)
        self._weights.clear()

    def remove(self, item: StoryItem | Member) -> None:
        self.documents -= 1
        for counts, keys in (
            (self.counts, item.terms),
            (self.entity_counts, item.entities),
        ):
            for k in keys:
                counts[k] -= 1
                if counts[k] <= 0:
                    del counts[k]  # a long-running bot must not keep every word ever seen
        self._weights.clear()

    def weight(self, term: str) -> float:
        """log(items / items with the term), prior included: 0.1 for "killed", 3+ for "Razmak"."""
        weight = self._weights.get(term)
        if weight is None:
            share = COMMON_SHARE if term in _PRIOR_COMMON else RARE_SHARE
            seen = self.counts[term] + PRIOR_ITEMS * share
            weight = self._weights[term] = math.log((self.documents + PRIOR_ITEMS) / (seen + 1))
        return weight

    def entity_weight(self, entity: str) -> float:
        """Rarity of a watched entity: a district says more than a province."""
        return math.log((self.documents + 1) / (self.entity_counts[entity] + 0.5))
