"""Which story does a newly matched item belong to? The pipeline's side of bot/stories/.

The decision itself is pure (bot/stories/grouping.py, index.py); this keeps the recent story
members in memory, rebuilt from the database at start-up so threading
survives restarts, and gives each matched item its story key: an existing
story's, or its own key when it starts a new story.

An item is added to the index when it is planned, before it is stored, so two
feeds polled at the same moment still find each other's items; if the item
then turns out to be a repeat and is not stored, it is taken out again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import TypeVar

from bot.dedup import guid_key
from bot.heap import cycle_collection_paused
from bot.models import Item, Match
from bot.storage.base import IngestPlan, StoryMember
from bot.stories import features
from bot.stories.index import StoryIndex
from bot.stories.profile import Profile, StoryItem

T = TypeVar("T")


def story_item(
    key: str,
    item: Item,
    entity_ids: Iterable[str],
    seen_at: datetime,
    profile: Profile | None = None,
) -> StoryItem:
    """The item as story grouping sees it; `profile`, if known (stored), saves reading it."""
    published = item.published or seen_at
    if profile is None:
        return StoryItem.of(key, item.title, item.summary, published, entity_ids)
    return StoryItem(
        key, item.title, item.summary, published, frozenset(entity_ids), profile=profile
    )


class BareMembers(Exception):
    """`loading` met a bare member (`StoryMember.bare`) it must make, not pass over: the
    caller reads the members whole and loads again (bot/app_warmup.py)."""


class StoryTracker:
    def __init__(self, window: float) -> None:
        self.window = timedelta(seconds=window)
        self.index = StoryIndex(self.window)
        # The profiles of the items `assign` put in stories, until `features` or `settle`
        # takes them: the index keeps members compact, without what storage keeps.
        self._profiles: dict[str, Profile] = {}

    def load(self, members: Iterable[StoryMember], now: datetime) -> None:
        """Rebuild the index from stored story members (oldest first).

        Members stored with their profile (`features`) are not read again: that reading
        was most of the start-up time. Older members, or ones stored by other rules, are.
        """
        for _ in self.loading(members, now, 0):
            pass

    def loading(self, members: Iterable[StoryMember], now: datetime, step: int) -> Iterator[int]:
        """`load`, `step` members at a time (all at once for 0): yields the count added after
        each step, so a caller can let other work run in between (bot/app_warmup.py). The
        index is only complete once this is exhausted. Members are let go of as they are
        added (`draining`), so the stored rows and the index they make are never all held
        at once; a list passed in is left as it was."""
        self.index = StoryIndex(self.window)
        listed = list(members)
        keys = [guid_key(m.item) for m in listed]
        # Members dated before the window are expired at the end, so they are passed over
        # (`StoryIndex.pass_over`) instead of made; exact unless a key comes twice (a
        # second member of a key replaces the first), which then makes them all.
        cutoff = now - self.window if len(set(keys)) == len(keys) else None
        if cutoff is None and any(m.bare for m in listed):
            raise BareMembers("a key comes twice: every member must be read whole")
        rows = draining(list(zip(keys, listed, strict=True)))
        del listed, keys
        added = 0
        while True:
            with cycle_collection_paused():
                count = self._load(itertools.islice(rows, step) if step > 0 else rows, cutoff)
            added += count
            if count == 0:
                break
            yield added
        self.index.expire(now)

    def _load(
        self, members: Iterable[tuple[str, StoryMember]], cutoff: datetime | None = None
    ) -> int:
        count = 0
        for key, m in members:
            when = m.item.published or m.fetched_at
            if cutoff is not None and when < cutoff:
                self.index.pass_over(m.story, when)
            elif m.bare:  # storage leaves bare only members dated over a second earlier
                raise BareMembers(f"member {key} is in the window but was read bare")
            else:
                self._add_stored(key, m)
            count += 1
        return count

    def _add_stored(self, key: str, m: StoryMember) -> None:
        """Add a stored member: straight from its stored profile (no `Profile` or
        `StoryItem` made), or read from its text if it has none."""
        when = m.item.published or m.fetched_at
        member = features.member(m.features, key, m.story, when, m.entity_ids)
        if member is None:
            item = story_item(key, m.item, m.entity_ids, m.fetched_at)
            self.index.add(item, m.story)
        else:
            self.index.add_member(member)

    def merge(self, members: Iterable[StoryMember]) -> int:
        """Add stored members the index lacks (other instances stored them); how many.

        With several instances on one database each keeps its own index; merging
        what the others stored since the last look, before grouping new items,
        keeps one story one thread. Members already known are skipped, so the
        look-back windows may overlap.
        """
        added = 0
        for m in members:
            key = guid_key(m.item)
            if key in self.index:
                continue
            self._add_stored(key, m)
            added += 1
        return added

    def assign(self, item: Item, matches: tuple[Match, ...], now: datetime) -> str | None:
        """The item's story (its own key for a new one); items without matches have none."""
        if not matches:
            return None
        key = guid_key(item)
        candidate = story_item(key, item, {m.entity_id for m in matches}, now)
        story = self.index.find(candidate) or key
        self.index.add(candidate, story)
        self._profiles[key] = candidate.profile
        return story

    def features(self, item: Item) -> str | None:
        """The stored form of the profile of an item `assign` put in a story, for storage to
        keep with it (bot/stories/features.py); None if it is in none."""
        key = guid_key(item)
        profile = self._profiles.pop(key, None)
        if profile is None or key not in self.index:
            return None
        return features.dump(profile)

    def settle(self, planned: Iterable[IngestPlan], stored: Iterable[IngestPlan]) -> None:
        """Take out of the index the planned items that were not stored (repeats)."""
        kept = {guid_key(p.item) for p in stored if p.story is not None}
        self._profiles.clear()  # the plans have their features (or will never need them)
        for p in planned:
            if p.story is not None and (key := guid_key(p.item)) not in kept:
                self.index.discard(key)

    def expire(self, now: datetime) -> None:
        self.index.expire(now)


def draining(members: list[T]) -> Iterator[T]:
    """The members oldest first, each let go of by the list as it is taken (the list ends
    empty): a rebuild then holds the stored rows and the index it makes from them only a
    slice at a time, not all of both at once (~40 MB fewer at 13,000 members)."""
    members.reverse()
    while members:
        yield members.pop()
