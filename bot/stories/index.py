"""The index of recent story members: which story does a new item continue? (step 4)

In memory and pure (no storage, no clock): the tracker (bot/stories/tracker.py)
feeds it and rebuilds it at start-up.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from operator import itemgetter

from bot.stories.grouping import _SLACK, DEFAULT_THRESHOLD, DEFAULT_WINDOW, Evidence, _Comparison
from bot.stories.member import Member
from bot.stories.profile import StoryItem
from bot.stories.rarity import Rarity

# --- The index of recent stories ------------------------------------------

# A term in more than this share of members (and more than _INDEX_MIN) is too
# common to find candidates by: a pair that shares only such words would not
# reach the threshold anyway, and its posting list would make `find` slow.
_INDEX_SHARE = 0.05
_INDEX_MIN = 50
# At most this many candidates are compared in full for one `find`.
_MAX_COMPARED = 50
# A word's posting (the members that say it) is a list, oldest first: a set costs 216
# bytes empty, 728 from 5 members and ~30 a member beyond, a list 56 + 8 a member, and
# sets of postings were the largest part of the index once members were compact. What
# reads them (`_sharing`) intersects them with a set, which iterates the list in C;
# `expire` drops the oldest, at the front.
Posting = list[str]


@dataclass(frozen=True, slots=True)
class StoryHit:
    """The story an item continues: its key, the member it matched best, and why."""

    story: str
    member: Member
    evidence: Evidence


class StoryIndex:
    """Recent story members in memory: which story does a new item continue?

    Candidates for a new item are the members that share a telling word
    (through an inverted index of such words) and a watched entity with it,
    within the window; each is then compared in full (`compare`). The story
    of the best-scoring member wins if it reaches the threshold; ties go to
    the oldest story, then the smallest member key, so the answer does not
    depend on insertion order. Word rarity is counted over the members.
    """

    def __init__(
        self, window: timedelta = DEFAULT_WINDOW, threshold: float = DEFAULT_THRESHOLD
    ) -> None:
        self.window = window
        self.threshold = threshold
        self.rarity = Rarity()
        self._members: dict[str, Member] = {}  # compact: bot/stories/member.py
        self._by_term: dict[str, Posting] = {}
        self._by_entity: dict[str, set[str]] = {}
        self._without_entities: set[str] = set()
        self._story_size: Counter[str] = Counter()
        self._story_started: dict[str, tuple[datetime | None, int]] = {}
        self._added = 0
        self._by_time: list[tuple[datetime, int, str]] = []  # a heap, for `expire`
        self._latest: datetime | None = None  # the latest time of a member ever added
        # The starts that members passed over at a rebuild leave to their stories (`pass_over`).
        self._passed: dict[str, tuple[datetime, int]] = {}

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, key: object) -> bool:
        return key in self._members

    def member(self, key: str) -> Member | None:
        return self._members.get(key)

    def story_of(self, key: str) -> str | None:
        member = self._members.get(key)
        return member.story if member else None

    def candidates(self, item: StoryItem) -> list[Member]:
        """Members worth comparing with the item in full, most promising first.

        They share a telling word and a watched entity with it and are within
        the window; of those, the _MAX_COMPARED that share the most word
        rarity (headline words count double). The true story shares the rarest
        words, the place and the headline, so it is among them.
        """
        return self._most_promising(item, self._sharing(item))

    def _sharing(self, item: StoryItem) -> dict[str, Collection[str]]:
        """Members that share an indexed word with the item, and a watched entity unless one
        of the two has none: for each word, their keys (the item's own may be among them)."""
        limit = max(_INDEX_MIN, int(len(self._members) * _INDEX_SHARE))
        postings: dict[str, Collection[str]] = {
            t: posting
            for t in item.profile.telling_said
            if (posting := self._by_term.get(t)) and len(posting) <= limit
        }
        if not item.entities:
            return postings
        # Intersecting each posting list with the members of each entity touches
        # fewer members than intersecting their union.
        entities = [self._by_entity[e] for e in item.entities if e in self._by_entity]
        if self._without_entities:
            entities.append(self._without_entities)
        if not entities:
            return {}
        sharing: dict[str, Collection[str]] = {}
        for t, said_by in postings.items():
            keys = entities[0].intersection(said_by)
            for members in entities[1:]:
                keys |= members.intersection(said_by)
            if keys:
                sharing[t] = keys
        return sharing

    def _most_promising(self, item: StoryItem, sharing: dict[str, Collection[str]]) -> list[Member]:
        """Of the members `_sharing` found, those within the window, most shared rarity first,
        at most _MAX_COMPARED."""
        shared: dict[str, float] = {}
        fields = item.profile.field_weights
        for t, keys in sharing.items():
            weight = self.rarity.weight(t) * fields[t]
            for key in keys:
                shared[key] = shared.get(key, 0.0) + weight
        shared.pop(item.key, None)
        out: list[Member] = []
        check_window = not self._all_within_window(item.when)
        by_rarity = sorted(shared, key=shared.__getitem__, reverse=True)
        for _, tied in groupby(by_rarity, key=shared.__getitem__):
            for key in sorted(tied):  # equal rarity: by key
                member = self._members[key]
                if check_window and not self._within_window(item.when, member.when):
                    continue
                out.append(member)
                if len(out) == _MAX_COMPARED:
                    return out
        return out

    def _within_window(self, when: datetime | None, other_when: datetime | None) -> bool:
        return not (when and other_when and abs(when - other_when) > self.window)

    def _all_within_window(self, when: datetime | None) -> bool:
        """Are all members surely within the window of `when` (so none need checking)?

        The earliest time in `_by_time` is at most the earliest member's (it may
        still hold members discarded since), `_latest` at least the latest one's.
        Compared by differences, which always fit in a timedelta: `when - window`
        would overflow for a date near year 1 (or 9999 plus the window).
        """
        if not when or not self._by_time:
            return True  # undated: close to everything; or no member is dated
        assert self._latest is not None
        return when - self._by_time[0][0] <= self.window and self._latest - when <= self.window

    def match(self, item: StoryItem) -> StoryHit | None:
        """The story the item continues, with the best member and the evidence; None if new.

        The best member is the candidate with the highest score, at least the
        threshold; of equal scores, the oldest story's, then the smallest key.
        Most candidates are not the item's story, and a cheap ceiling on their
        score rules them out (`_Comparison`); taking candidates by their
        ceiling, highest first, the best score found so far rules out the rest.
        """
        sharing = self._sharing(item)
        keys = set().union(*sharing.values())
        keys.discard(item.key)
        if len(keys) > _MAX_COMPARED:
            candidates = self._most_promising(item, sharing)
        else:  # all of them are candidates: no need to rank them
            candidates = [self._members[key] for key in keys]
            if not self._all_within_window(item.when):
                candidates = [m for m in candidates if self._within_window(item.when, m.when)]
        comparison = _Comparison(item, self.rarity)
        ceilings = sorted(comparison.ceilings(candidates), key=itemgetter(0), reverse=True)
        best: tuple[float, Member, dict[str, float]] | None = None
        for ceiling, member in ceilings:
            cutoff = self.threshold if best is None else max(self.threshold, best[0])
            if ceiling < cutoff - _SLACK:
                break  # and so are all the rest, whose ceilings are lower
            if comparison.closer_ceiling(member, ceiling, cutoff) < cutoff - _SLACK:
                continue
            values = comparison.values(member, cutoff)
            if values is None:
                continue
            score = Evidence(values).score
            if score < self.threshold or (best is not None and score < best[0]):
                continue
            if best is None or score > best[0] or self._age(member) < self._age(best[1]):
                best = (score, member, values)
        if best is None:
            return None
        _, member, values = best
        evidence = Evidence(values, comparison.shared_words(member))
        return StoryHit(member.story, member, evidence)

    def _age(self, member: Member) -> tuple[float, int, str]:
        started, order = self._story_started[member.story]
        return (started.timestamp() if started else math.inf, order, member.key)

    def find(self, item: StoryItem) -> str | None:
        """The key of the story the item continues, or None for a new story. A pure read."""
        found = self.match(item)
        return found.story if found else None

    def add(self, item: StoryItem, story: str) -> None:
        """Record the item as a member of `story` (again: its story is updated)."""
        self.add_member(Member.of(item, story))

    def add_member(self, item: Member) -> None:
        """`add` for a member made already (from its stored profile: bot/stories/features.py)."""
        if item.key in self._members:
            self.discard(item.key)
        story = item.story
        self._members[item.key] = item
        self._story_size[story] += 1
        started = self._story_started.get(story)
        if started is None or (item.when and (started[0] is None or item.when < started[0])):
            self._story_started[story] = (item.when, self._added)
        self._added += 1
        self.rarity.add(item)
        by_term = self._by_term
        for t in item.telling_said:
            posting = by_term.get(t)
            if posting is None:
                by_term[t] = [item.key]
            else:
                posting.append(item.key)
        for entity in item.entities:
            self._by_entity.setdefault(entity, set()).add(item.key)
        if not item.entities:
            self._without_entities.add(item.key)
        if item.when:
            heapq.heappush(self._by_time, (item.when, self._added, item.key))
            if self._latest is None or item.when > self._latest:
                self._latest = item.when

    def discard(self, key: str) -> None:
        """Forget an item (it turned out not to be stored)."""
        item = self._forget(key)
        if item is None:
            return
        for t in item.telling_said:
            posting = self._by_term.get(t)
            if posting is not None and key in posting:
                posting.remove(key)
                if not posting:
                    del self._by_term[t]

    def _discard_many(self, keys: list[str]) -> None:
        """`discard` of each key, with each word's posting list filtered once.

        Postings are lists (compact), so removing members one by one costs the
        length of each posting per member: expiring the 2,500 members a restart
        loaded from outside the window was 0.2 s of list.remove. The result is
        the same lists in the same order.
        """
        gone: dict[str, set[str]] = {}
        for key in keys:
            item = self._forget(key)
            if item is not None:
                for t in item.telling_said:
                    gone.setdefault(t, set()).add(key)
        for t, removed in gone.items():
            posting = self._by_term.get(t)
            if posting is None:
                continue
            kept = [k for k in posting if k not in removed]
            if kept:
                self._by_term[t] = kept
            else:
                del self._by_term[t]

    def _forget(self, key: str) -> Member | None:
        """Drop a member from everything but the word postings; the member, if it was one."""
        item = self._members.pop(key, None)
        if item is None:
            return None
        story = item.story
        self.rarity.remove(item)
        for entity in item.entities:
            members = self._by_entity.get(entity)
            if members is not None:
                members.discard(key)
                if not members:
                    del self._by_entity[entity]
        self._without_entities.discard(key)
        self._story_size[story] -= 1
        if self._story_size[story] <= 0:
            del self._story_size[story]
            del self._story_started[story]
        return item

    def expire(self, now: datetime) -> None:
        """Drop members older than the window (undated ones stay until discarded)."""
        cutoff = now - self.window
        expired: list[str] = []
        while self._by_time and self._by_time[0][0] < cutoff:
            when, _, key = heapq.heappop(self._by_time)
            member = self._members.get(key)
            if member is not None and member.when == when:
                expired.append(key)
        self._discard_many(expired)
        passed, self._passed = self._passed, {}
        for story, start in passed.items():
            started = self._story_started.get(story)  # None: the story has no member left
            if started is not None and (started[0] is None or start < started):
                self._story_started[story] = start

    def pass_over(self, story: str, when: datetime) -> None:
        """Leave what `add_member` of a member of `story` dated `when` leaves once the next
        `expire` has dropped it, without making the member: its number in the order of
        addition and, should the story keep other members, its part in the story's start.

        A restart reads every member fetched within the window, and those dated before it
        (a first poll's old items) are expired at once: in bench/pipeline.py all 2,500 of
        them, 0.15 s of CPU in every `once` that had news, for an empty index. The caller
        (StoryTracker.loading) guarantees what makes this exact: the next `expire` drops a
        member dated `when`, and no member with the member's key is added meanwhile.

        `add_member` sets a story's start to its first member's (time, number) and then
        to any member's dated strictly earlier, so it ends as the smallest (time, number)
        of its dated members (its first member's if none is dated); `expire` keeps it while
        the story has members. So the smallest (time, number) of the members passed over
        is kept per story and taken by `expire` where it is smaller.
        """
        started = self._passed.get(story)
        if started is None or when < started[0]:
            self._passed[story] = (when, self._added)
        self._added += 1
        if self._latest is None or when > self._latest:
            self._latest = when
