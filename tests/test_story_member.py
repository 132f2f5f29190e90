"""The compact story index decides exactly as the index it replaced (issue 13).

Members are kept as `Member`s (tuples of interned words, bot/stories/member.py) instead
of whole `StoryItem`s, and postings as lists; the warm-up builds members straight from
stored profiles. tests/story_reference.py is the index and comparison as they were: both
are fed the same items (new ones, and ones loaded from stored features), and every
`match` must find the same story and member with the same evidence, to the last bit.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.stories import StoryIndex, StoryItem, features
from bot.stories.member import Member, profile_sets
from tests import story_reference as reference

DATA = Path(__file__).parent / "data" / "stories"
T0 = datetime(2026, 11, 10, 6, tzinfo=UTC)

# Pieces of news copy: places after place words, names, kinds of event and their
# synonyms, numbers spelled and written, context clauses, briefings, filler.
_WORDS = [
    "blast",
    "bomb",
    "IED",
    "explosion",
    "attack",
    "attackers",
    "killed",
    "dead",
    "wounded",
    "gunmen",
    "shooting",
    "arrested",
    "raid",
    "flood",
    "rains",
    "earthquake",
    "meeting",
    "talks",
    "met",
    "executed",
    "soldiers",
    "police",
    "militants",
    "convoy",
    "checkpost",
    "mosque",
    "market",
    "bus",
    "school",
    "claims",
    "responsibility",
    "toll",
    "rises",
    "seven",
    "7",
    "12",
    "twelve",
    "2",
    "40",
    "1500",
    "Razmak",
    "Kunduz",
    "Mir",
    "Ali",
    "Kabul",
    "Beijing",
    "China",
    "Chinese",
    "TTP",
    "ISKP",
    "Doval",
    "Tehran",
    "Iran",
    "in",
    "near",
    "at",
    "district",
    "village",
    "North",
    "Waziristan",
    "Lakki",
    "Marwat",
    "the",
    "a",
    "of",
    "on",
    "said",
    "officials",
    "told reporters",
    "press conference",
    ", hours after a separate attack in Kabul",
    ", a day before talks in Tehran",
]
_ENTITIES = ["north_waziristan", "kunduz", "ttp", "iskp", "lakki_marwat", "iran", "china"]

_STORY = st.tuples(
    st.lists(st.sampled_from(_WORDS), min_size=1, max_size=10),  # headline
    st.lists(st.sampled_from(_WORDS), max_size=30),  # summary
    st.frozensets(st.sampled_from(_ENTITIES), max_size=3),
    st.integers(min_value=0, max_value=120),  # hours after T0
    st.booleans(),  # loaded from its stored features, as at start-up
)


def _item(n: int, story: tuple[list[str], list[str], frozenset[str], int, bool]) -> StoryItem:
    title, summary, entities, hours, _ = story
    text = " ".join(summary)
    return StoryItem.of(
        f"k{n}",
        " ".join(title).capitalize(),
        text.capitalize() + "." if text else "",
        T0 + timedelta(hours=hours),
        entities,
    )


def _same_hit(new: StoryIndex, old: reference.StoryIndex, item: StoryItem) -> str | None:
    hit, ref = new.match(item), old.match(item)
    assert (hit is None) == (ref is None), item.key
    if hit is None or ref is None:
        return None
    assert (hit.story, hit.member.key) == (ref.story, ref.member.key), item.key
    assert hit.evidence.values == ref.evidence.values, item.key  # to the last bit
    assert hit.evidence.shared == ref.evidence.shared
    assert hit.evidence.score == ref.evidence.score
    return hit.story


def _add_both(
    new: StoryIndex, old: reference.StoryIndex, item: StoryItem, story: str, loaded: bool
) -> None:
    if not loaded:
        new.add(item, story)
        old.add(item, story)
        return
    # As after a restart: the old index read the stored profile into a `StoryItem`,
    # the new one builds its member straight from the stored text.
    text = features.dump(item.profile)
    stored = features.load(text)
    assert stored is not None
    old.add(StoryItem(item.key, "", "", item.when, item.entities, profile=stored), story)
    member = features.member(text, item.key, story, item.when, item.entities)
    assert member is not None
    new.add_member(member)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_STORY, min_size=1, max_size=40), st.floats(min_value=-2.0, max_value=3.0))
def test_the_compact_index_decides_as_the_reference(stories: list, threshold: float) -> None:
    new = StoryIndex(threshold=threshold)
    old = reference.StoryIndex(threshold=threshold)
    items = [_item(n, s) for n, s in enumerate(stories)]
    for n, (item, story) in enumerate(zip(items, stories, strict=True)):
        found = _same_hit(new, old, item)
        _add_both(new, old, item, found or item.key, loaded=story[4])
        if n % 7 == 6:  # members come and go
            new.discard(items[n - 3].key)
            old.discard(items[n - 3].key)
        if n % 11 == 10:
            when = item.when or T0
            new.expire(when)
            old.expire(when)
        assert len(new) == len(old)
        assert {k: new.story_of(k) for k in old._members} == {
            k: old.story_of(k) for k in old._members
        }


def _labelled() -> list[StoryItem]:
    items = []
    for name in ("items", "heldout", "blind"):
        for line in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            when = datetime.fromisoformat(d["published"].replace("Z", "+00:00"))
            items.append(StoryItem.of(d["id"], d["title"], d["summary"], when, d["entities"]))
    return sorted(items, key=lambda i: (i.when, i.key))


def test_the_labelled_sets_are_grouped_as_by_the_reference() -> None:
    for loaded in (False, True):
        new, old = StoryIndex(), reference.StoryIndex()
        for item in _labelled():
            found = _same_hit(new, old, item)
            _add_both(new, old, item, found or item.key, loaded)


# The member's tuples that sums iterate: their order is the order of the sums.
_ORDERED = {"terms", "fields", "title_words", "names"}


def test_a_member_from_stored_features_is_the_member_of_the_stored_profile() -> None:
    """`Member.stored` derives what `Profile` and `StoryItem` derive, in the same order."""
    for item in _labelled():
        text = features.dump(item.profile)
        stored = features.load(text)
        assert stored is not None
        read = Member.of(StoryItem(item.key, "", "", item.when, item.entities, profile=stored))
        direct = features.member(text, item.key, "", item.when, item.entities)
        assert direct is not None
        for name in Member.__slots__:
            a, b = getattr(direct, name), getattr(read, name)
            if name in _ORDERED or not isinstance(a, tuple):
                assert a == b, (item.key, name)
            else:  # only asked whether a word is among them
                assert sorted(a) == sorted(b), (item.key, name)
        assert set(profile_sets(stored)) <= set(json.loads(text))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_STORY, min_size=1, max_size=40), st.integers(min_value=0, max_value=200))
def test_expiring_many_members_at_once_leaves_what_discarding_each_leaves(
    stories: list, hours: int
) -> None:
    """`expire` filters each posting list once; the index left is the one that
    discarding the expired members one by one leaves, postings in the same order."""
    batched, single = StoryIndex(), StoryIndex()
    for n, story in enumerate(stories):
        item = _item(n, story)
        for index in (batched, single):
            index.add(item, f"s{n % 5}")
    now = T0 + timedelta(hours=hours)
    expired = [m.key for m in single._members.values() if m.when and m.when < now - single.window]
    batched.expire(now)
    for key in expired:
        single.discard(key)
    assert {k: m.story for k, m in batched._members.items()} == {
        k: m.story for k, m in single._members.items()
    }
    assert batched._by_term == single._by_term
    assert batched._by_entity == single._by_entity
    assert batched._story_size == single._story_size
    assert batched.rarity.counts == single.rarity.counts
