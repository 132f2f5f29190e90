"""Contract: digests — history per channel and day, the counts a digest is built from."""

from __future__ import annotations

from datetime import date, timedelta

from bot.storage.base import Storage
from bot.storage.digests import DigestStore
from tests.contract.conftest import NOW, alert_to, ingest, item, match


async def test_digest_history_per_channel_and_day(store: DigestStore) -> None:
    d1, d2 = date(2026, 11, 24), date(2026, 11, 25)
    assert await store.digest_status("slack:C1", d1) is None
    assert await store.last_digest_day("slack:C1") is None
    await store.record_digest("slack:C1", d1, "skipped", NOW)
    await store.record_digest("slack:C1", d2, "sent", NOW, message_id="m2")
    await store.record_digest("slack:C1", d2, "sent", NOW, message_id="m2")  # idempotent
    assert await store.digest_status("slack:C1", d1) == "skipped"
    assert await store.digest_status("slack:C1", d2) == "sent"
    assert await store.last_digest_day("slack:C1") == d2
    assert await store.last_digest_day("slack:C2") is None


async def test_mentions_and_first_sightings_of_entities(store: Storage) -> None:
    iskp, ttp = match(), match("ttp", "TTP")
    await ingest(store, [item(1)], plan=alert_to(matches=(iskp,)))
    later = NOW + timedelta(hours=3)
    await ingest(store, [item(2)], later, plan=alert_to(matches=(iskp, ttp)))
    await ingest(store, [item(3)], later)  # no matches: no mentions
    assert sorted(await store.mentions_since(NOW)) == [
        ("iskp", NOW),
        ("iskp", later),
        ("ttp", later),
    ]
    assert sorted(await store.mentions_since(later)) == [("iskp", later), ("ttp", later)]
    assert await store.entity_first_seen() == {"iskp": NOW, "ttp": later}


async def test_recording_a_skip_never_downgrades_a_queued_sent_or_dead_digest(
    store: Storage,
) -> None:
    """Instances decide about a day independently: one deciding to skip it must not
    overwrite the digest another just queued, sent or gave up on."""
    queued, sent, dead, late = (date(2026, 11, d) for d in (21, 22, 23, 24))
    for day in (queued, sent, dead):
        await store.queue_digest("jsonl:alerts", day, NOW, "UTC", NOW)
    await store.mark_digest("jsonl:alerts", sent, "sent", NOW, message_id="m1")
    await store.mark_digest("jsonl:alerts", dead, "dead", NOW, error="HTTP 404")
    await store.record_digest("jsonl:alerts", late, "skipped", NOW)
    for day in (queued, sent, dead, late):
        await store.record_digest("jsonl:alerts", day, "skipped", NOW + timedelta(minutes=1))
    assert [await store.digest_status("jsonl:alerts", d) for d in (queued, sent, dead, late)] == [
        "queued",
        "sent",
        "dead",
        "skipped",
    ]
    job = await store.next_digest_job("jsonl:alerts")
    assert job is not None and job.day == queued  # still waiting to be sent
