"""The rules storage used to decide, now pure functions every engine shares (issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.dedup import item_keys, slides_when_seen_again, split_repeats, still_seen
from bot.feeds.schedule import next_mean_gap
from bot.models import Item, Match
from bot.stories.rules import new_entities, source_count

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
HOUR = 3600.0


def test_guid_and_url_keys_stay_seen_title_keys_only_within_the_window() -> None:
    old = NOW - timedelta(days=30)
    sightings = {
        "guid:a": old,
        "url:b": old,
        "title:old": NOW - timedelta(hours=3),
        "title:fresh": NOW - timedelta(hours=1),
        "title:edge": NOW - timedelta(hours=2),
    }
    assert still_seen(sightings, NOW, 2 * HOUR) == {"guid:a", "url:b", "title:fresh", "title:edge"}
    assert still_seen({}, NOW, 2 * HOUR) == set()


def test_only_title_keys_slide_when_seen_again() -> None:
    item = Item("f", "g", "https://x.example/a", "A long enough headline for keys")
    assert [slides_when_seen_again(k) for k in item_keys(item)] == [False, False, True]


def test_a_repeat_is_any_key_seen_before_or_earlier_in_the_batch() -> None:
    a = Item("f", "g1", "https://x.example/a", "t")
    b = Item("f", "g2", "https://x.example/b", "t")
    keys = [["guid:1", "url:a"], ["guid:2", "url:a"], ["guid:3"], ["guid:4"]]
    new, repeats = split_repeats([a, b, a, b], keys, {"guid:4"})
    assert [(i.guid, k) for i, k in new] == [("g1", keys[0]), ("g1", keys[2])]
    assert repeats == [keys[1], keys[3]]


@given(st.lists(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=3), max_size=8))
def test_split_repeats_partitions_the_batch_in_order(keys: list[list[str]]) -> None:
    items = [Item("f", str(n), "", "") for n in range(len(keys))]
    new, repeats = split_repeats(items, keys, set())
    # New: no key shared with any earlier item of the batch (new or repeat).
    expected = [
        n for n in range(len(keys)) if not set(keys[n]) & {k for ks in keys[:n] for k in ks}
    ]
    assert [int(i.guid) for i, _ in new] == expected
    assert len(new) + len(repeats) == len(items)


def test_new_entities_are_the_ones_no_earlier_item_had_once_each() -> None:
    def m(entity: str, name: str) -> Match:
        return Match(entity, name, "group", "medium", name, name, 100.0)

    matches = [m("iskp", "ISKP"), m("ttp", "TTP"), m("ttp", "TTP"), m("kabul", "Kabul")]
    assert new_entities(matches, {"iskp"}) == ("TTP", "Kabul")
    assert new_entities(matches, {"iskp", "ttp", "kabul"}) == ()


def test_a_story_has_one_source_per_distinct_feed_and_at_least_one() -> None:
    assert source_count(frozenset({"https://a/rss", "https://b/rss"})) == 2
    assert source_count(frozenset()) == 1


def test_the_usual_gap_between_news_is_a_moving_average() -> None:
    assert next_mean_gap(None, None, NOW) is None  # first news: no gap yet
    assert next_mean_gap(NOW - timedelta(hours=1), None, NOW) == HOUR
    assert next_mean_gap(NOW - timedelta(hours=2), HOUR, NOW) == 0.7 * HOUR + 0.3 * 2 * HOUR


def test_a_delivery_problem_reads_the_same_from_every_engine() -> None:
    from datetime import date

    from bot.models import DeliveryProblem

    assert DeliveryProblem("slack:C1", "channel", "not_in_channel", NOW).line() == (
        "channel refused, alerts queued: not_in_channel"
    )
    digest = DeliveryProblem("slack:C1", "digest", "", NOW, day=date(2026, 11, 25))
    assert digest.line() == "digest for 2026-11-25 not posted"
    assert DeliveryProblem("slack:C1", "alerts", "403", NOW, count=1).what == "1 alert not posted"
    assert DeliveryProblem("slack:C1", "alerts", "403", NOW, count=3).what == "3 alerts not posted"
