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
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bot.storage.coordination import OUTBOX_CHANGED, TERMS_CHANGED
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


async def kill_session(url: str, storage: PostgresStorage, wait: bool = True) -> None:
    """What a crashed instance's host or a DBA does to its coordination session:
    end the backend (and by default wait until it has gone, with its locks)."""
    admin = await asyncpg.connect(url)
    try:
        pid = storage._coord.get_server_pid()
        timeout = 10_000 if wait else 0
        assert await admin.fetchval("SELECT pg_terminate_backend($1, $2)", pid, timeout)
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


async def cancelled_after(yields: int, call: Awaitable[object]) -> bool:
    """Start `call`, let it run `yields` event-loop steps, cancel it; True if it had
    finished by then (later steps would only repeat this one)."""
    attempt = asyncio.ensure_future(call)
    for _ in range(yields):
        await asyncio.sleep(0)  # one step of the loop, not a wait for time to pass
    finished = attempt.done()
    attempt.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await attempt
    return finished


async def test_a_cancelled_lock_call_never_leaves_a_lock_held_unknowingly(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    """Cancelled at any point (a shutdown, a caller's timeout), try_lock either took
    the lock and knows it, or did not take it, and unlock either freed it or still
    holds it knowingly: what this instance believes is what the other one sees."""
    a, b = pair
    for call in ("try_lock", "unlock"):
        for yields in range(10_000):
            if call == "unlock":
                assert await a.try_lock("listener")
            finished = await cancelled_after(yields, getattr(a, call)("listener"))
            held = await a.holds_lock("listener")
            assert await b.try_lock("listener") is not held, f"{call}, {yields} steps"
            await a.unlock("listener")
            await b.unlock("listener")
            if finished:
                break
        else:
            raise AssertionError(f"{call} never finished")


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


async def test_a_lock_check_right_after_the_session_died_says_lost(
    postgres_url: str, pair: tuple[PostgresStorage, PostgresStorage]
) -> None:
    """Checked while the server's "terminating connection" is still on its way (the
    client cannot know yet), the holder still never acts on a lock it may have lost:
    it answers False or, at worst, True once more, never raises; next time False."""
    a, b = pair
    for _ in range(5):
        assert await a.try_lock("listener")
        await kill_session(postgres_url, a, wait=False)
        answers = [await a.holds_lock("listener")]
        await until(lambda: b.try_lock("listener"), "the killed session's lock is free")
        answers.append(await a.holds_lock("listener"))
        assert answers[-1] is False, answers
        await b.unlock("listener")


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

    terms = asyncio.Event()
    a.subscribe(TERMS_CHANGED, terms.set)
    await a.try_lock("x")
    heard.clear()
    await b.set_mute("iskp", None, "ana", NOW)
    await asyncio.wait_for(terms.wait(), TIMEOUT)
    assert not heard.is_set()  # each topic hears only its own announcements


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


# -- the network between an instance and the server ------------------------------------


class Link:
    """A TCP relay on 127.0.0.1 between one instance and the server: the network that
    a test cuts (`cut`: every connection reset, new ones refused), stalls (`stall`:
    connections stay open, nothing passes) and restores (`restore`)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.url = url
        self.server: asyncio.Server | None = None
        self.port = 0
        self.stalled = False
        self.sockets: set[asyncio.StreamWriter] = set()

    async def start(self) -> str:
        """Listen (on the same port as before, after a cut); the URL through the link."""
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        parts = urlsplit(self.url)
        netloc = parts.netloc.rsplit("@", 1)[0] + f"@127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self.sockets |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    if not self.stalled:
                        dst.write(data)
                        await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def stall(self) -> None:
        self.stalled = True

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.sockets:
            w.transport.abort()
        self.sockets.clear()
        await self.server.wait_closed()

    async def restore(self) -> None:
        self.stalled = False
        await self.start()


async def test_an_instance_cut_off_from_the_server_gives_its_locks_up_and_comes_back(
    postgres_url: str,
) -> None:
    link = Link(postgres_url)
    async with open_postgres(await link.start()) as a, open_postgres(postgres_url) as b:
        assert await a.try_lock("listener")
        await link.cut()
        assert not await a.holds_lock("listener")
        await until(lambda: b.try_lock("listener"), "the cut-off holder's lock is free")
        await b.unlock("listener")
        assert not await a.try_lock("listener")  # free, but unreachable: no lock, no error
        await link.restore()
        await until(lambda: a.try_lock("listener"), "the holder reconnected and took it")
        assert not await b.try_lock("listener")


async def test_an_instance_whose_session_stops_answering_gives_its_locks_up(
    postgres_url: str,
) -> None:
    """A stalled network (nothing answers, nothing is closed): holds_lock gives up after
    its short timeout and ends the session itself, so the server frees the locks."""
    link = Link(postgres_url)
    async with open_postgres(await link.start()) as a, open_postgres(postgres_url) as b:
        assert await a.try_lock("listener")
        link.stall()
        assert not await a.holds_lock("listener")
        await until(lambda: b.try_lock("listener"), "the stalled holder's lock is free")
        await link.cut()  # the pool's connections too, so closing `a` need not wait on them


async def test_only_the_last_running_instance_to_leave_is_told_it_is_the_last(
    postgres_url: str,
) -> None:
    async with open_postgres(postgres_url) as a, open_postgres(postgres_url) as b:
        await a.join_running()
        await a.join_running()  # again: still one hold
        await b.join_running()
        assert await a.leave_running() is False  # b still runs
        assert await b.leave_running() is True
        # While the last one records its stop, an instance starting cannot count itself.
        admin = await asyncpg.connect(postgres_url)
        try:
            shared = "SELECT pg_try_advisory_lock_shared($1)"
            assert await admin.fetchval(shared, lock_key("running")) is False
            await b.unlock("running")
            assert await admin.fetchval(shared, lock_key("running")) is True
        finally:
            await admin.close()
