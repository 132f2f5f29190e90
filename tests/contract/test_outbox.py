"""Contract: the outbox — order, claims, retries, flood summaries, broken channels, digests."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from bot.storage.base import Storage
from bot.storage.outbox import OutboxStore
from tests.contract.conftest import NOW, alert_to, ingest, item

CH = ("jsonl", "alerts")


async def test_alerts_come_oldest_first_and_leave_when_sent(store: Storage) -> None:
    await ingest(store, [item(1), item(2)], plan=alert_to())
    await ingest(store, [item(3)], NOW + timedelta(minutes=1), plan=alert_to())
    assert await store.pending_count() == 3
    assert await store.outbox_backlog() == (3, NOW)
    order = []
    while (alert := await store.next_alert(*CH)) is not None:
        order.append(alert.item.guid[-2:])
        assert not alert.claimed
        await store.claim_alert(alert.id, NOW)
        assert await store.next_alert(*CH) == replace(alert, claimed=True)
        await store.mark_sent(alert.id, f"m-{alert.id}", NOW)
    assert order == ["g1", "g2", "g3"]
    assert await store.pending_count() == 0
    assert await store.outbox_backlog() == (0, None)


async def test_the_same_delivery_is_queued_once(store: Storage) -> None:
    await ingest(store, [item(1)], plan=alert_to())
    await ingest(store, [item(1)], plan=alert_to())
    assert await store.pending_count() == 1


async def test_a_retry_keeps_its_place_and_a_dead_alert_is_reported(store: Storage) -> None:
    await ingest(store, [item(1), item(2)], plan=alert_to())
    first = await store.next_alert(*CH)
    assert first is not None
    later = NOW + timedelta(minutes=10)
    await store.mark_retry(first.id, "HTTP 503", later, NOW)
    again = await store.next_alert(*CH)
    assert again is not None and again.id == first.id and again.attempts == 1
    assert await store.alert_due_at(first.id) == later
    await store.mark_dead(first.id, "HTTP 403 Missing Access", later)
    nxt = await store.next_alert(*CH)
    assert nxt is not None and nxt.item.guid.endswith("g2")
    (problem,) = await store.delivery_problems(NOW)
    assert (problem.channel, problem.error) == ("jsonl:alerts", "HTTP 403 Missing Access")


async def test_flood_window_holds_and_summarises(store: Storage) -> None:
    await ingest(store, [item(n) for n in range(1, 5)], plan=alert_to())
    assert await store.flood_window(*CH) == (None, 0)
    await store.set_flood_window(*CH, NOW)
    first = await store.next_alert(*CH)
    assert first is not None
    await store.mark_sent(first.id, "m1", NOW + timedelta(seconds=1))
    assert await store.flood_window(*CH) == (NOW, 1)
    while (held := await store.next_alert(*CH)) is not None:
        await store.hold_alert(held.id, NOW + timedelta(seconds=2))
    assert await store.held_count(*CH) == 3
    summary_id = await store.create_summary(*CH, NOW, NOW + timedelta(minutes=10), NOW)
    assert summary_id is not None
    assert await store.create_summary(*CH, NOW, NOW, NOW) is None  # nothing held any more
    assert await store.flood_window(*CH) == (None, 0)
    pending = await store.next_summary(*CH)
    assert pending is not None
    summary, attempts, _ = pending
    assert [a.item.guid[-2:] for a in summary.alerts] == ["g2", "g3", "g4"] and attempts == 0
    await store.mark_summary(summary_id, "sent", NOW, message_id="s1")
    assert await store.next_summary(*CH) is None
    assert await store.pending_count() == 0


async def test_broken_channels_are_marked_and_cleared(store: OutboxStore) -> None:
    await store.set_channel_broken("slack", "C1", "channel_not_found", NOW, "hash-1")
    assert await store.broken_channels() == {("slack", "C1"): "channel_not_found"}
    assert await store.broken_channel_details() == {
        ("slack", "C1"): ("channel_not_found", "hash-1")
    }
    await store.set_channel_broken("slack", "C1", None, NOW)
    assert await store.broken_channels() == {}


async def test_a_digest_is_queued_once_and_taken_in_order(store: OutboxStore) -> None:
    d1, d2 = date(2026, 11, 24), date(2026, 11, 25)
    await store.queue_digest("jsonl:alerts", d2, NOW, "UTC", NOW + timedelta(seconds=1))
    await store.queue_digest("jsonl:alerts", d1, NOW, "UTC", NOW)
    await store.queue_digest("jsonl:alerts", d1, NOW, "UTC", NOW + timedelta(seconds=5))
    job = await store.next_digest_job("jsonl:alerts")
    assert job is not None and job.day == d1 and job.created_at == NOW and not job.claimed
    await store.claim_digest("jsonl:alerts", d1, NOW)
    job = await store.next_digest_job("jsonl:alerts")
    assert job is not None and job.claimed
    await store.mark_digest("jsonl:alerts", d1, "sent", NOW, message_id="d1")
    job = await store.next_digest_job("jsonl:alerts")
    assert job is not None and job.day == d2
    await store.mark_digest("jsonl:alerts", d2, "dead", NOW, error="HTTP 404")
    assert await store.next_digest_job("jsonl:alerts") is None
    (problem,) = await store.delivery_problems(NOW)
    assert problem.channel == "jsonl:alerts" and "2026-11-25" in problem.what


async def test_a_delivered_alert_keeps_its_first_record(store: Storage) -> None:
    """Recording an alert again (a second sender, a late failure report) changes
    nothing: several instances may race to record one delivery (PostgreSQL)."""
    await ingest(store, [item(1), item(2)], plan=alert_to(story=lambda _: "s1"))
    parent = await store.next_alert(*CH)
    assert parent is not None
    await store.mark_sent(parent.id, "m1", NOW)
    await store.mark_sent(parent.id, "m2", NOW + timedelta(seconds=1))
    await store.mark_retry(parent.id, "HTTP 503", NOW + timedelta(minutes=1), NOW)
    await store.mark_dead(parent.id, "HTTP 403", NOW)
    reply = await store.next_alert(*CH)
    assert reply is not None and reply.reply_to == "m1"
    for message_id in ("r1", "r2"):
        await store.mark_sent(reply.id, message_id, NOW + timedelta(minutes=1), "m1")
    assert await store.delivery_problems(NOW) == []
    (update,) = await store.stale_story_posts(*CH, 50)
    assert update.message_id == "m1" and update.revision == 2
