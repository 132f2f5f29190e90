"""bot.delivery.routing: channel filters, route() and the first-poll policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import ChannelSettings, FirstPoll
from bot.delivery.routing import accepts, first_poll_allows, route
from bot.models import Item, Match
from bot.storage.base import Delivery

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
FEED = "https://feeds.example/dawn.rss"

ITEM = Item(
    feed_url=FEED,
    guid="g1",
    url="https://news.example/1",
    title="ISKP attack in Kunar",
    feed_name="Dawn",
)


def match(entity_id: str, kind: str, severity: str) -> Match:
    return Match(
        entity_id=entity_id,
        entity_name=entity_id.title(),
        kind=kind,
        severity=severity,
        alias=entity_id,
        text=entity_id,
        score=100.0,
    )


ISKP = match("iskp", "group", "high")
KUNAR = match("kunar", "region", "medium")
HERAT = match("herat", "region", "low")
DOVAL = match("ajit_doval", "person", "medium")


def channel(**kw) -> ChannelSettings:
    kw.setdefault("platform", "console")
    kw.setdefault("id", "stdout")
    return ChannelSettings(**kw)


# -- accepts -------------------------------------------------------------------------------


def test_no_filters_accepts_any_match():
    assert accepts(channel(), ITEM, [HERAT])


def test_no_matches_never_accepted():
    assert not accepts(channel(), ITEM, [])


@pytest.mark.parametrize(
    ("kinds", "matches", "accepted"),
    [
        (("group",), [ISKP], True),
        (("group",), [KUNAR], False),
        (("group",), [KUNAR, ISKP], True),
        (("person", "region"), [KUNAR], True),
        (("person",), [ISKP, KUNAR], False),
    ],
)
def test_kinds_filter(kinds, matches, accepted):
    assert accepts(channel(kinds=kinds), ITEM, matches) is accepted


@pytest.mark.parametrize(
    ("entities", "matches", "accepted"),
    [
        (("iskp",), [ISKP], True),
        (("iskp",), [KUNAR], False),
        (("iskp", "kunar"), [HERAT, KUNAR], True),
        (("ttp",), [ISKP, KUNAR, HERAT], False),
    ],
)
def test_entities_filter(entities, matches, accepted):
    assert accepts(channel(entities=entities), ITEM, matches) is accepted


@pytest.mark.parametrize(
    ("feeds", "accepted"),
    [
        ((FEED,), True),  # by configured URL
        (("Dawn",), True),  # by name
        (("Other", "Dawn"), True),
        (("Other",), False),
        (("https://feeds.example/other.rss",), False),
        (("dawn",), False),  # names are exact
    ],
)
def test_feeds_filter(feeds, accepted):
    assert accepts(channel(feeds=feeds), ITEM, [ISKP]) is accepted


@pytest.mark.parametrize(
    ("minimum", "matches", "accepted"),
    [
        ("low", [HERAT], True),
        ("medium", [HERAT], False),
        ("medium", [KUNAR], True),
        ("medium", [ISKP], True),
        ("high", [KUNAR], False),
        ("high", [HERAT, KUNAR, ISKP], True),
    ],
)
def test_severity_filter_is_a_minimum(minimum, matches, accepted):
    assert accepts(channel(severity=minimum), ITEM, matches) is accepted


def test_filters_must_hold_for_the_same_match():
    ch = channel(kinds=("region",), severity="high")
    # a high group and a medium region: no single match is a high region
    assert not accepts(ch, ITEM, [ISKP, KUNAR])
    assert accepts(ch, ITEM, [ISKP, match("kabul", "region", "high")])
    ch = channel(kinds=("group",), entities=("ttp",))
    assert not accepts(ch, ITEM, [ISKP, match("ttp", "region", "high")])


def test_feed_filter_applies_before_match_filters():
    ch = channel(feeds=("Other",), kinds=("group",))
    assert not accepts(ch, ITEM, [ISKP])


# -- route ---------------------------------------------------------------------------------


def test_route_one_delivery_per_accepting_channel_in_order():
    channels = [
        channel(),
        channel(platform="jsonl", id="alerts/groups.jsonl", kinds=("group",)),
        channel(platform="jsonl", id="alerts/people.jsonl", kinds=("person",)),
        channel(platform="jsonl", id="alerts/high.jsonl", severity="high"),
    ]
    deliveries = route(ITEM, [KUNAR, ISKP], channels)
    assert deliveries == (
        Delivery("console", "stdout", (KUNAR, ISKP)),
        Delivery("jsonl", "alerts/groups.jsonl", (KUNAR, ISKP)),
        Delivery("jsonl", "alerts/high.jsonl", (KUNAR, ISKP)),
    )


def test_route_carries_every_match_for_context():
    (delivery,) = route(ITEM, [HERAT, ISKP], [channel(entities=("iskp",))])
    assert delivery.matches == (HERAT, ISKP)


def test_route_without_matches_or_channels():
    assert route(ITEM, [], [channel()]) == ()
    assert route(ITEM, [ISKP], []) == ()


# -- first_poll_allows -------------------------------------------------------------------------


def dated(published: datetime | None) -> Item:
    return Item(FEED, "g", "https://news.example/x", "Title", published=published)


@pytest.mark.parametrize(
    "published", [None, NOW, NOW - timedelta(days=400), NOW + timedelta(hours=1)]
)
def test_first_poll_skip_and_all(published):
    item = dated(published)
    assert not first_poll_allows(FirstPoll(), item, NOW)
    assert not first_poll_allows(FirstPoll("skip"), item, NOW)
    assert first_poll_allows(FirstPoll("all"), item, NOW)


@pytest.mark.parametrize(
    ("age", "allowed"),
    [
        (timedelta(hours=-1), False),  # dated after the fetch: says nothing about its age
        (timedelta(0), True),
        (timedelta(hours=23, minutes=59), True),
        (timedelta(hours=24), True),  # boundary: newer-or-equal
        (timedelta(hours=24, seconds=1), False),
        (timedelta(days=30), False),
    ],
)
def test_first_poll_newer_than(age, allowed):
    policy = FirstPoll("newer", 86400.0)
    assert first_poll_allows(policy, dated(NOW - age), NOW) is allowed


def test_first_poll_newer_treats_undated_items_as_old():
    assert not first_poll_allows(FirstPoll("newer", 86400.0), dated(None), NOW)
