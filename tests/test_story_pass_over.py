"""A rebuild passes over the members dated before the window instead of making them (issue 13).

`StoryTracker.loading` used to make every stored member and then expire those dated
before the window; it now leaves only what they leave behind (`StoryIndex.pass_over`).
The reference here is the old way, spelt out: every member added, then `expire`. Both
must leave the same index, field by field, and group every probe the same way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app_warmup import StoryWarmUp
from bot.dedup import guid_key
from bot.models import Item
from bot.storage.models import StoryMember
from bot.stories import StoryTracker
from bot.stories.index import StoryIndex
from bot.stories.tracker import BareMembers
from tests.test_story_features import _candidate, _members

WINDOW = 48 * 3600


@cache
def _stored() -> tuple[tuple[StoryMember, ...], tuple[StoryMember, ...]]:
    return tuple(_members(True)), tuple(_members(False))


def _reference(members: list[StoryMember], now_: object) -> StoryTracker:
    """The rebuild as it was: every member made and added, then the expired ones dropped."""
    tracker = StoryTracker(WINDOW)
    for m in members:
        tracker._add_stored(guid_key(m.item), m)
    tracker.index.expire(now_)  # type: ignore[arg-type]
    return tracker


def _state(index: StoryIndex) -> dict[str, object]:
    return {
        "members": {k: (m.story, m.when) for k, m in index._members.items()},
        "by_term": index._by_term,
        "by_entity": index._by_entity,
        "without_entities": index._without_entities,
        "story_size": +index._story_size,
        "story_started": index._story_started,
        "added": index._added,
        "latest": index._latest,
        "by_time": sorted(index._by_time),
        "rarity": (index.rarity.documents, +index.rarity.counts, +index.rarity.entity_counts),
    }


_CHOICE = st.tuples(
    st.integers(min_value=0, max_value=159),  # which labelled item
    st.integers(min_value=0, max_value=6),  # its story: a few, so stories span the cutoff
    st.booleans(),  # with its stored profile, or without (read from its text)
    st.integers(min_value=-72, max_value=72),  # hours moved
)


def _chosen(choices: list[tuple[int, int, bool, int]], twice: bool) -> list[StoryMember]:
    """Stored members as `choices` pick them: labelled item, story, with or without its
    stored profile, hours moved. A fresh guid per member, unless `twice`: then repeats
    of a labelled item share it."""
    with_features, without = _stored()
    members = []
    for n, (which, story, stored, moved) in enumerate(choices):
        m = (with_features if stored else without)[which % len(with_features)]
        item = m.item
        published = item.published + timedelta(hours=moved) if item.published else None
        guid = item.guid if twice else f"{item.guid}-{n}"
        item = Item(item.feed_url, guid, item.url, item.title, item.summary, published)
        members.append(replace(m, item=item, story=f"s{story}"))
    return members


# The generated cases of both rebuild comparisons: the members chosen, hours from the
# first fetch to `now`, the slice size, whether keys repeat.
_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_MEMBER_CASES = given(
    st.lists(_CHOICE, min_size=1, max_size=40),
    st.integers(min_value=0, max_value=240),
    st.integers(min_value=1, max_value=9),
    st.booleans(),
)


@_SETTINGS
@_MEMBER_CASES
def test_passing_over_expired_members_leaves_the_index_adding_and_expiring_them_leaves(
    choices: list[tuple[int, int, bool, int]], hours: int, step: int, twice: bool
) -> None:
    members = _chosen(choices, twice)
    now = min(m.fetched_at for m in members) + timedelta(hours=hours)
    passed = StoryTracker(WINDOW)
    for _ in passed.loading(members, now, step):
        pass
    reference = _reference(members, now)
    assert _state(passed.index) == _state(reference.index)
    for m in members:
        probe = Item(
            m.item.feed_url,
            m.item.guid + "-again",
            m.item.url + "?again",
            m.item.title,
            m.item.summary,
            m.item.published,
        )
        for later in (now, m.fetched_at + timedelta(hours=1)):
            candidate = _candidate(probe, sorted(m.entity_ids), later)
            assert passed.index.find(candidate) == reference.index.find(candidate)


def test_a_rebuild_of_old_members_only_makes_none_of_them() -> None:
    """What the bench's `once` met: every member dated before the window, none made."""
    with_features, _ = _stored()
    members = list(with_features)
    now = max(m.item.published or m.fetched_at for m in members) + timedelta(days=3)
    tracker = StoryTracker(WINDOW)
    made: list[str] = []
    original = tracker._add_stored
    tracker._add_stored = lambda key, m: (made.append(key), original(key, m))  # type: ignore[method-assign]
    tracker.load(members, now)
    assert made == [] and len(tracker.index) == 0
    assert _state(tracker.index) == _state(_reference(members, now).index)


def _bare(members: list[StoryMember], cut: datetime) -> list[StoryMember]:
    """What `story_members_since(since, cut)` reads: members dated over a second before
    `cut` with their key, story and dates only (tests/contract checks both engines)."""
    return [
        StoryMember(
            Item(m.item.feed_url, m.item.guid, "", "", "", m.item.published),
            m.fetched_at,
            m.story,
            frozenset(),
            None,
            bare=True,
        )
        if (m.item.published or m.fetched_at) < cut - timedelta(seconds=1)
        else m
        for m in members
    ]


@_SETTINGS
@_MEMBER_CASES
def test_a_rebuild_from_bare_members_leaves_the_index_whole_members_leave(
    choices: list[tuple[int, int, bool, int]], hours: int, step: int, twice: bool
) -> None:
    """Bare members are only ever passed over: the index is the same field by field, or,
    when a key comes twice (then every member is made), loading refuses (BareMembers) and
    the warm-up reads them whole (next test)."""
    members = _chosen(choices, twice)
    now = min(m.fetched_at for m in members) + timedelta(hours=hours)
    bare = _bare(members, now - timedelta(seconds=WINDOW))
    whole = StoryTracker(WINDOW)
    for _ in whole.loading(members, now, step):
        pass
    read = StoryTracker(WINDOW)
    keys = [guid_key(m.item) for m in members]
    if len(set(keys)) < len(keys) and any(m.bare for m in bare):
        with pytest.raises(BareMembers):
            for _ in read.loading(bare, now, step):
                pass
        return
    for _ in read.loading(bare, now, step):
        pass
    assert _state(read.index) == _state(whole.index)


def test_a_bare_member_in_the_window_is_refused_not_made() -> None:
    with_features, _ = _stored()
    m = with_features[0]
    now = (m.item.published or m.fetched_at) + timedelta(hours=1)
    with pytest.raises(BareMembers):
        StoryTracker(WINDOW).load([replace(m, bare=True)], now)


async def test_the_warm_up_reads_bare_members_and_reads_again_whole_when_a_key_repeats() -> None:
    with_features, _ = _stored()
    old = list(with_features[:6])
    now = max(m.item.published or m.fetched_at for m in old) + timedelta(days=3)
    since = now - timedelta(seconds=WINDOW)
    for members, reads in ((old, 1), (old + old[:1], 2)):  # unique keys; a key twice
        asked: list[datetime | None] = []

        async def read(
            since_: datetime,
            dated_before: datetime | None = None,
            members: list[StoryMember] = members,
            asked: list[datetime | None] = asked,
        ) -> list[StoryMember]:
            assert since_ == since
            asked.append(dated_before)
            return _bare(members, dated_before) if dated_before else list(members)

        warm = StoryWarmUp(StoryTracker(WINDOW))
        await warm.start(read, since, now, background=True)
        await warm.wait()
        assert asked == [since, None][:reads]
        assert _state(warm.tracker.index) == _state(_reference(members, now).index)


def _needed(members: list[StoryMember]) -> list[StoryMember]:
    """What storage reads with a `dated_before` (bot/storage/rows.py story_members_sql):
    the bare members only of stories that have a member read whole, or whose key (feed
    and guid) comes twice."""
    kept = {m.story for m in members if not m.bare}
    keys = Counter((m.item.feed_url, m.item.guid) for m in members)
    return [
        m
        for m in members
        if not m.bare or m.story in kept or keys[m.item.feed_url, m.item.guid] > 1
    ]


def _loaded(members: list[StoryMember], whole: list[StoryMember], now: datetime) -> StoryTracker:
    """The warm-up's load: the members read, or all of them whole if one must be made."""
    tracker = StoryTracker(WINDOW)
    try:
        tracker.load(members, now)
    except BareMembers:
        tracker = StoryTracker(WINDOW)
        tracker.load(whole, now)
    return tracker


def _ranked(index: StoryIndex) -> dict[str, object]:
    """`_state` with each member's number in the order of addition replaced by its rank:
    members left out shift the numbers after them, never their order, which is all
    `_age` compares (the next member added still gets a number above every one kept).
    A story's start holds its member's number, the time heap that number plus one."""
    state = _state(index)
    starts = index._story_started.values()
    numbers = sorted({n for _, n in starts} | {n - 1 for _, n, _ in index._by_time})
    rank = {n: r for r, n in enumerate(numbers)}
    state["story_started"] = {s: (w, rank[n]) for s, (w, n) in index._story_started.items()}
    state["by_time"] = sorted((w, rank[n - 1], k) for w, n, k in index._by_time)
    del state["added"], state["latest"]  # `latest` only bounds `_all_within_window`
    return state


@_SETTINGS
@_MEMBER_CASES
def test_leaving_out_bare_members_of_stories_without_a_whole_one_groups_alike(
    choices: list[tuple[int, int, bool, int]], hours: int, step: int, twice: bool
) -> None:
    """The rebuild from what storage now reads leaves the index the full read leaves, up
    to numbering, and groups every probe, and every probe added after it, alike."""
    members = _chosen(choices, twice)
    now = min(m.fetched_at for m in members) + timedelta(hours=hours)
    bare = _bare(members, now - timedelta(seconds=WINDOW))
    full, read = _loaded(bare, members, now), _loaded(_needed(bare), members, now)
    assert _ranked(read.index) == _ranked(full.index)
    for n, m in enumerate(members):
        probe = Item(
            m.item.feed_url,
            f"{m.item.guid}-probe-{n}",
            m.item.url + "?again",
            m.item.title,
            m.item.summary,
            m.item.published,
        )
        candidate = _candidate(probe, sorted(m.entity_ids), now)
        story = full.index.find(candidate)
        assert read.index.find(candidate) == story
        full.index.add(candidate, story or f"new-{n}")
        read.index.add(candidate, story or f"new-{n}")
    assert _ranked(read.index) == _ranked(full.index)
