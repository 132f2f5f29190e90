"""PostgreSQL: several instances on one database — locks, announcements, outbox races.

Each test opens two storages on one fresh database (two "instances" of the bot,
each with its own pool and coordination session) and checks what only a shared
database can get wrong: a lock held twice, a lock outliving its holder, an
announcement not reaching the other instance, a digest or delivery recorded
twice. SQLite has one `run` per database (bot/storage/runlock.py), so these
have no SQLite counterpart; what both engines share is in test_coordination.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import date, timedelta

import asyncpg
import pytest

from bot.storage.coordination import OUTBOX_CHANGED
from bot.storage.postgres import PostgresStorage, open_postgres
from bot.storage.postgres.coordination import lock_key
from tests.contract.conftest import NOW, alert_to, ingest, item

CH = ("jsonl", "alerts")
TIMEOUT = 10.0  # generous: the machine is shared; a pass never waits this long


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `check` until it is true (PostgreSQL ends a closed session's backend
    asynchronously, so a freed lock is free a moment after the close returns)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {TIMEOUT} s: {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def pair(postgres_url: str) -> AsyncIterator[tuple[PostgresStorage, PostgresStorage]]:
    """Two instances on one database."""
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(open_postgres(postgres_url))
        b = await stack.enter_async_context(open_postgres(postgres_url))
        yield a, b


async def kill_session(url: str, storage: PostgresStorage) -> None:
    """What a crashed instance's host or a DBA does to its coordination session:
    end the backend (and wait until it has gone, with its locks)."""
    admin = await asyncpg.connect(url)
    try:
        pid = storage._coord.get_server_pid()
        assert await admin.fetchval("SELECT pg_terminate_backend($1, 10000)", pid)
    finally:
        await admin.close()


def test_lock_keys_are_stable_across_versions() -> None:
    """Two versions of the bot in one deployment must map a name to the same lock."""
    assert lock_key("listener") == lock_key("listener")
    assert lock_key("listener") == -7749105122307309776
    assert lock_key("channel:discord:1") != lock_key("channel:discord:2")


async def test_a_lock_held_by_one_instance_is_refused_to_another(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    a, b = pair
    assert a.shared and b.shared
    assert await a.try_lock("listener")
    assert await a.try_lock("listener")  # held already: granted, not taken twice
    assert not await b.try_lock("listener")
    assert await a.holds_lock("listener") and not await b.holds_lock("listener")
    assert await b.try_lock("channel:discord:1")  # other names are independent
    await a.unlock("listener")  # one unlock frees it, however often it was taken
    assert not await a.holds_lock("listener")
    assert await b.try_lock("listener")
    await a.unlock("never-held")  # nothing happens


async def test_the_server_probes_the_lock_session(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    """If an instance's host vanishes without closing its connection, the server
    finds out by keepalive in about 25 s and frees its locks (not in 2 hours)."""
    a, _ = pair
    assert await a.try_lock("listener")
    assert await a._coord.fetchval("SHOW tcp_keepalives_idle") == "10"


async def test_a_cancelled_lock_call_never_leaves_a_lock_held_unknowingly(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    """Cancelled at any point (a shutdown, a caller's timeout), try_lock either took
    the lock and knows it, or did not take it: unlock always frees it."""
    a, b = pair
    for yields in range(10_000):
        attempt = asyncio.ensure_future(a.try_lock("listener"))
        for _ in range(yields):
            await asyncio.sleep(0)  # let it get that far: every step of the call in turn
        finished = attempt.done()
        attempt.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await attempt
        await a.unlock("listener")
        assert await b.try_lock("listener"), f"cancelled after {yields} steps"
        await b.unlock("listener")
        if finished:
            break
    else:
        raise AssertionError("try_lock never finished")


async def test_a_lock_is_freed_when_its_holder_closes(postgres_url: str) -> None:
    async with open_postgres(postgres_url) as b:
        async with open_postgres(postgres_url) as a:
            assert await a.try_lock("listener")
            assert not await b.try_lock("listener")
        await until(lambda: b.try_lock("listener"), "the closed holder's lock is free")


async def test_a_lock_is_freed_when_its_holders_session_dies(
    postgres_url: str, pair: tuple[PostgresStorage, PostgresStorage]
) -> None:
    a, b = pair
    assert await a.try_lock("listener")
    assert await a.try_lock("channel:slack:C1")
    await kill_session(postgres_url, a)
    assert not await a.holds_lock("listener")  # it must stop acting as the holder
    assert not await a.holds_lock("channel:slack:C1")
    assert await b.try_lock("listener")
    # The old holder reconnects and competes again like any instance.
    assert not await a.try_lock("listener")
    assert await a.try_lock("channel:slack:C1")
    assert await a.holds_lock("channel:slack:C1")


async def test_an_instance_hears_what_another_queues(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    a, b = pair
    heard = asyncio.Event()
    a.subscribe(OUTBOX_CHANGED, heard.set)
    await a.try_lock("x")  # any coordination call returns once the subscription listens

    await ingest(b, [item(1)], plan=alert_to())
    await asyncio.wait_for(heard.wait(), TIMEOUT)

    heard.clear()
    await b.queue_digest("jsonl:alerts", date(2026, 11, 24), NOW, "UTC", NOW)
    await asyncio.wait_for(heard.wait(), TIMEOUT)


async def test_a_subscription_survives_a_lost_session(
    postgres_url: str, pair: tuple[PostgresStorage, PostgresStorage]
) -> None:
    a, b = pair
    heard = asyncio.Event()
    a.subscribe(OUTBOX_CHANGED, heard.set)
    await a.try_lock("x")
    await kill_session(postgres_url, a)
    await a.try_lock("x")  # reconnects, and listens again on the new session
    await b.queue_digest("jsonl:alerts", date(2026, 11, 24), NOW, "UTC", NOW)
    await asyncio.wait_for(heard.wait(), TIMEOUT)


async def test_the_same_digest_queued_by_two_instances_at_once_is_one_row(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    a, b = pair
    days = [date(2026, 11, d) for d in range(1, 21)]
    await asyncio.gather(
        *(
            s.queue_digest("jsonl:alerts", day, NOW, "UTC", NOW + timedelta(seconds=n))
            for n, day in enumerate(days)
            for s in (a, b)
        )
    )
    taken = []
    while (job := await b.next_digest_job("jsonl:alerts")) is not None:
        taken.append(job.day)
        await a.mark_digest("jsonl:alerts", job.day, "sent", NOW, message_id=str(job.day))
    assert taken == days


async def test_two_instances_recording_one_delivery_keep_one_record(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    """A sender that lost its channel lock mid-send and the one that took over both
    record the same alert: the first record stands, the story counts it once."""
    a, b = pair
    plan = alert_to(story=lambda _: "s1")
    await ingest(a, [item(1), item(2)], plan=plan)
    parent = await a.next_alert(*CH)
    assert parent is not None and parent == await b.next_alert(*CH)
    await asyncio.gather(a.claim_alert(parent.id, NOW), b.claim_alert(parent.id, NOW))
    await asyncio.gather(a.mark_sent(parent.id, "m-a", NOW), b.mark_sent(parent.id, "m-b", NOW))
    reply = await b.next_alert(*CH)
    assert reply is not None and reply.reply_to in ("m-a", "m-b")
    later = NOW + timedelta(minutes=1)
    await asyncio.gather(
        a.mark_sent(reply.id, "r-a", later, reply.reply_to),
        b.mark_sent(reply.id, "r-b", later, reply.reply_to),
    )
    rows = await a.outbox_rows()
    assert [(r["id"], r["status"], r["attempts"]) for r in rows] == [
        (parent.id, "sent", 1),
        (reply.id, "sent", 1),
    ]
    (update,) = await b.stale_story_posts(*CH, 50)
    assert update.message_id == reply.reply_to and update.revision == 2


async def test_two_instances_summarising_one_flood_make_one_summary(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    a, b = pair
    await ingest(a, [item(n) for n in range(1, 4)], plan=alert_to())
    await a.set_flood_window(*CH, NOW)
    while (held := await a.next_alert(*CH)) is not None:
        await a.hold_alert(held.id, NOW)
    end = NOW + timedelta(minutes=10)
    made = await asyncio.gather(
        a.create_summary(*CH, NOW, end, NOW), b.create_summary(*CH, NOW, end, NOW)
    )
    (summary_id,) = [m for m in made if m is not None]
    pending = await b.next_summary(*CH)
    assert pending is not None and pending[0].id == summary_id and len(pending[0].alerts) == 3
    await b.mark_summary(summary_id, "sent", NOW, message_id="s1")
    assert await a.next_summary(*CH) is None and await a.pending_count() == 0
