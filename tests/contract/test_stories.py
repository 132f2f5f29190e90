"""Contract: stories — members, threads per channel, what a reply and an edit load."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.models import Item
from bot.storage.base import IngestPlan, Storage
from tests.contract.conftest import NOW, alert_to, ingest, item, match

CH = ("jsonl", "alerts")
OTHER_FEED = "https://other.example/rss"


def in_story(_: Item) -> str:
    return "s1"


async def test_a_reply_loads_the_entities_earlier_items_of_its_story_had(store: Storage) -> None:
    iskp, ttp = match(), match("ttp", "TTP")
    await ingest(store, [item(1)], plan=alert_to(story=in_story, matches=(iskp,)))
    await ingest(store, [item(2)], plan=alert_to(story=in_story, matches=(iskp, ttp)))
    parent = await store.next_alert(*CH)
    assert parent is not None and parent.reply_to is None and parent.story == "s1"
    assert parent.story_title == "Story number 1 reported here today"
    await store.mark_sent(parent.id, "p1", NOW)
    reply = await store.next_alert(*CH)
    assert reply is not None and reply.reply_to == "p1"
    assert reply.earlier_entity_ids == {"iskp"}


async def test_stale_story_posts_carry_the_feeds_delivered_in_the_channel(
    store: Storage,
) -> None:
    plan = alert_to(story=in_story)
    await ingest(store, [item(1), item(2)], plan=plan)
    await ingest(store, [item(3, feed=OTHER_FEED)], plan=plan, feed=OTHER_FEED)
    parent = await store.next_alert(*CH)
    assert parent is not None
    await store.mark_sent(parent.id, "p1", NOW)
    assert await store.stale_story_posts(*CH, 50) == []  # nothing to show yet
    while (reply := await store.next_alert(*CH)) is not None:
        await store.mark_sent(reply.id, f"r{reply.id}", NOW + timedelta(minutes=1), "p1")
    (update,) = await store.stale_story_posts(*CH, 50)
    assert update.message_id == "p1" and update.parent.id == parent.id
    assert update.delivered_feeds == {item(1).feed_url, OTHER_FEED}
    assert update.revision == 3 and update.last_update == NOW + timedelta(minutes=1)
    await store.mark_story_shown("s1", *CH, update.revision)
    assert await store.stale_story_posts(*CH, 50) == []


async def test_story_members_and_records_since(store: Storage) -> None:
    await ingest(store, [item(1)], plan=alert_to(story=in_story))
    await ingest(
        store,
        [item(2, feed=OTHER_FEED)],
        NOW + timedelta(hours=1),
        plan=alert_to(story=in_story, matches=(match("ttp", "TTP"),)),
        feed=OTHER_FEED,
    )
    await ingest(store, [item(3)], NOW + timedelta(hours=2))  # in no story
    members = await store.story_members_since(NOW)
    assert [(m.item.guid[-2:], m.story, m.entity_ids) for m in members] == [
        ("g1", "s1", frozenset({"iskp"})),
        ("g2", "s1", frozenset({"ttp"})),
    ]
    assert [m.fetched_at for m in members] == [NOW, NOW + timedelta(hours=1)]
    (record,) = await store.stories_since(NOW)
    assert (record.key, record.items, record.first_seen) == ("s1", 2, NOW)
    assert record.feeds == {item(1).feed_url, OTHER_FEED}
    assert record.entity_ids == {"iskp", "ttp"}
    (late,) = await store.stories_since(NOW + timedelta(minutes=30))
    assert late.items == 1 and late.feeds == {OTHER_FEED}


async def test_stale_story_posts_come_longest_waiting_first_up_to_the_limit(
    store: Storage,
) -> None:
    for story, n in (("s1", 1), ("s2", 3)):
        plan = alert_to(story=lambda _, s=story: s)
        await ingest(store, [item(n), item(n + 1)], plan=plan)
    at = NOW
    while (alert := await store.next_alert(*CH)) is not None:
        at += timedelta(minutes=1)
        await store.mark_sent(alert.id, f"m{alert.id}", at, alert.reply_to)
    # s1's reply went out at minute 2, s2's at minute 4.
    (first,) = await store.stale_story_posts(*CH, 1)
    assert first.parent.story == "s1"
    assert [u.parent.story for u in await store.stale_story_posts(*CH, 50)] == ["s1", "s2"]


async def test_story_members_come_with_the_features_stored_with_them(store: Storage) -> None:
    """Storage keeps the story features text as given (bot/stories/features.py decides
    what it means); items in no story keep none, even if a planner gave some."""

    def plan(items: list[Item]) -> list[IngestPlan]:
        return [
            IngestPlan(i, (match(),), (), "s1" if n else None, f'{{"n":{n}}}')
            for n, i in enumerate(items)
        ]

    await ingest(store, [item(1), item(2)], plan=plan)
    await ingest(store, [item(3)], plan=alert_to(story=in_story))  # stored without features
    members = await store.story_members_since(NOW)
    assert [(m.item.guid[-2:], m.features) for m in members] == [("g2", '{"n":1}'), ("g3", None)]


async def test_story_members_dated_over_a_second_before_the_cut_come_back_bare(
    store: Storage,
) -> None:
    """`dated_before` (the story rebuild's window start): members dated, published else
    fetched, over a second before it come with their key, story and dates only; the
    others exactly as without it. Undated members count by their fetch time."""
    cut = NOW + timedelta(hours=1)
    dated = {
        1: NOW,  # an hour before: bare
        2: cut - timedelta(seconds=1.5),  # bare
        3: cut - timedelta(seconds=0.5),  # within the second: whole, the rebuild decides
        4: cut + timedelta(minutes=5),  # in the window: whole
        5: None,  # undated, fetched at NOW: bare
    }
    items = [replace(item(n), published=at) for n, at in dated.items()]
    await ingest(
        store, items, plan=alert_to(story=in_story, matches=(match(), match("ttp", "TTP")))
    )
    whole = await store.story_members_since(NOW)
    assert all(not m.bare for m in whole) and len(whole) == 5
    assert await store.story_members_since(NOW, None) == whole
    read = await store.story_members_since(NOW, cut)
    assert [m.bare for m in read] == [True, True, False, False, True]
    for m, w in zip(read, whole, strict=True):
        if not m.bare:
            assert m == w
            continue
        assert (m.item.feed_url, m.item.guid, m.item.published) == (
            w.item.feed_url,
            w.item.guid,
            w.item.published,
        )
        assert (m.fetched_at, m.story) == (w.fetched_at, w.story)
        assert (m.item.title, m.item.summary, m.item.url, m.entity_ids, m.features) == (
            "",
            "",
            "",
            frozenset(),
            None,
        )


async def test_bare_members_come_back_only_for_stories_with_a_member_read_whole(
    store: Storage,
) -> None:
    """A rebuild only passes bare members over, and what that leaves goes with a story
    that keeps no member: such a story's members are left out altogether (`None`, the
    whole read, still gives them all)."""
    cut = NOW + timedelta(hours=1)
    stories = {1: "old", 2: "mixed", 3: "old", 4: "mixed", 5: "new"}
    dated = {1: NOW, 2: NOW, 3: NOW, 4: cut + timedelta(minutes=5), 5: cut + timedelta(hours=1)}
    items = [replace(item(n), published=dated[n]) for n in stories]
    by_guid = {i.guid: stories[n] for n, i in zip(stories, items, strict=True)}
    await ingest(store, items, plan=alert_to(story=lambda i: by_guid[i.guid]))
    read = await store.story_members_since(NOW, cut)
    assert [(m.story, m.bare) for m in read] == [("mixed", True), ("mixed", False), ("new", False)]
    assert len(await store.story_members_since(NOW)) == 5
