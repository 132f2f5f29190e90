"""Story grouping (pure): copies, rewrites and follow-ups join; different events stay apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.stories import Rarity, StoryItem, assign, same_story, similarity, words

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def it(key: str, title: str, summary: str = "", hours: float = 0, entities=("nw",)) -> StoryItem:
    return StoryItem.of(key, title, summary, T0 + timedelta(hours=hours), entities)


# A small news day in North Waziristan and elsewhere, as the bot would see it.
CONVOY = it(
    "a1",
    "Seven soldiers killed as IED hits army convoy in North Waziristan",
    "A roadside bomb struck a military convoy near Mir Ali, killing seven soldiers, ISPR said.",
)
CONVOY_COPY = it(
    "a2",
    "Seven soldiers killed as IED hits army convoy in North Waziristan",
    "A roadside bomb struck a military convoy near Mir Ali, killing seven soldiers.",
    hours=1,
)
CONVOY_REWRITE = it(
    "a3",
    "Roadside bomb near Mir Ali kills 7 troops",
    "Seven Pakistani soldiers died when their convoy was hit by an IED in Mir Ali.",
    hours=2,
)
CONVOY_FOLLOW_UP = it(
    "a4",
    "TTP claims Mir Ali convoy bombing; toll rises to nine",
    "The Tehrik-i-Taliban Pakistan said it planted the IED that hit the army convoy near Mir Ali.",
    hours=20,
)
POLICE_POST = it(
    "b1",
    "Gunmen storm police post in Miranshah, North Waziristan; two policemen killed",
    "Attackers armed with rifles raided a police checkpoint in Miranshah overnight.",
    hours=3,
)
OTHER_PLACE = it(
    "c1",
    "Seven soldiers killed as IED hits army convoy in North Waziristan",
    "Archive story.",
    hours=80,
)
ELSEWHERE = it(
    "d1",
    "Floods cut the Karakoram Highway",
    "Landslides blocked the road in Gilgit.",
    hours=1,
    entities=("gb",),
)
DAY = [CONVOY, CONVOY_COPY, CONVOY_REWRITE, CONVOY_FOLLOW_UP, POLICE_POST, OTHER_PLACE, ELSEWHERE]
RARITY = Rarity(DAY)


def test_copies_rewrites_and_follow_ups_are_one_story() -> None:
    for other in (CONVOY_COPY, CONVOY_REWRITE, CONVOY_FOLLOW_UP):
        assert same_story(CONVOY, other, RARITY), other.title


def test_another_attack_in_the_same_province_is_another_story() -> None:
    assert not same_story(CONVOY, POLICE_POST, RARITY)


def test_outside_the_window_or_without_shared_entities_never_joins() -> None:
    assert not same_story(CONVOY, OTHER_PLACE, RARITY)  # same words, 80 h later
    assert not same_story(CONVOY, ELSEWHERE, RARITY)


def test_assign_groups_a_day_in_time_order() -> None:
    stories: dict[str, list[StoryItem]] = {}
    for item in DAY:
        key = assign(item, stories, RARITY) or item.key
        stories.setdefault(key, []).append(item)
    assert {k: [m.key for m in v] for k, v in stories.items()} == {
        "a1": ["a1", "a2", "a3", "a4"],
        "b1": ["b1"],
        "c1": ["c1"],
        "d1": ["d1"],
    }


def test_filler_words_do_not_count() -> None:
    assert words("Officials said on Monday that the report was updated") == frozenset()


@given(st.text(max_size=300), st.text(max_size=300))
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    x, y = it("x", a), it("y", b)
    s = similarity(x, y, RARITY)
    assert 0.0 <= s <= 1.0
    assert s == similarity(y, x, RARITY)
