"""PostgreSQL only: what several instances on one database rely on, and its start-up checks.

The engine-parametrised contract tests hold PostgreSQL to SQLite's behaviour
for one instance; these cover what only a shared server has: concurrent claims
and starters, cross-instance dedup and announcements, and the messages an
operator reads when the database is wrong.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bot.config_values import database_label
from bot.errors import StorageError, StorageUnavailable
from bot.models import ChatTerm, FeedState
from bot.storage.postgres import MIGRATIONS, PostgresStorage, open_postgres
from bot.storage.postgres.connection import DRIVER_ERRORS, NOTIFY_CHANNELS, storage_error
from bot.storage.postgres.migrations import APPLICATION
from tests.contract.conftest import FEED, NOW, alert_to, item
from tests.postgres import free_port

LEASE = timedelta(seconds=20)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))


async def test_concurrent_claims_from_several_instances_never_share_a_feed(
    postgres_url: str,
) -> None:
    feeds = [
        FeedState(f"https://f{n}.example/rss", f"https://f{n}.example/rss") for n in range(200)
    ]
    async with open_postgres(postgres_url) as setup:
        await setup.ensure_feeds(feeds)
    stores = [await PostgresStorage.open(postgres_url) for _ in range(4)]
    try:
        # Each instance claims once before any goes on, so "every instance got some"
        # does not depend on how the event loop happens to schedule them under load;
        # after that they claim concurrently until nothing is left.
        started = asyncio.Barrier(len(stores))

        async def claimer(store: PostgresStorage, owner: str) -> list[str]:
            got = [s.feed_url for s in await store.claim_due_feeds(owner, NOW, NOW + LEASE, 7)]
            await started.wait()
            while batch := await store.claim_due_feeds(owner, NOW, NOW + LEASE, 7):
                got += [s.feed_url for s in batch]
            return got

        claims = await asyncio.gather(*(claimer(s, f"i{n}") for n, s in enumerate(stores)))
    finally:
        for s in stores:
            await s.close()
    every = [url for got in claims for url in got]
    assert len(every) == len(set(every)) == 200  # each feed once, none left out
    assert all(claims), "every instance got some feeds"


async def test_a_dead_instances_leases_pass_to_a_survivor_once_expired(postgres_url: str) -> None:
    async with open_postgres(postgres_url) as survivor:
        dead = await PostgresStorage.open(postgres_url)
        await dead.ensure_feeds([FeedState(FEED, FEED)])
        assert [s.feed_url for s in await dead.claim_due_feeds("dead", NOW, NOW + LEASE, 5)] == [
            FEED
        ]
        await dead._terminate()  # killed: no release, no clean close
        assert await survivor.claim_due_feeds("alive", NOW + LEASE / 2, NOW + LEASE, 5) == []
        later = NOW + LEASE + timedelta(seconds=1)
        (claimed,) = await survivor.claim_due_feeds("alive", later, later + LEASE, 5)
        assert claimed.feed_url == FEED


async def test_four_instances_starting_at_once_on_a_new_database_all_start(
    postgres_url: str,
) -> None:
    stores = await asyncio.gather(*(PostgresStorage.open(postgres_url) for _ in range(4)))
    try:
        for store in stores:
            assert await store.feed_states() == {}
        version = await stores[0]._fetchval(
            "SELECT version FROM schema_version WHERE application = $1", APPLICATION
        )
        assert version == len(MIGRATIONS)
    finally:
        for store in stores:
            await store.close()


async def test_the_same_story_from_two_instances_is_stored_once(postgres_url: str) -> None:
    """Two instances poll two feeds carrying the same items at the same moment."""
    async with open_postgres(postgres_url) as a, open_postgres(postgres_url) as b:
        for round_ in range(5):
            batch = [item(n) for n in range(round_ * 10, round_ * 10 + 10)]
            first, second = await asyncio.gather(
                a.ingest(FeedState(FEED, FEED), batch, NOW, alert_to()),
                b.ingest(
                    FeedState("https://b.example/", "https://b.example/"), batch, NOW, alert_to()
                ),
            )
            assert first.new_items + second.new_items == 10
            assert first.alerts + second.alerts == 10
        assert len(await a.items_since(NOW)) == 50


async def test_queued_alerts_and_term_changes_are_announced_at_commit(postgres_url: str) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(postgres_url)
    try:
        for channel in NOTIFY_CHANNELS.values():
            await listener.add_listener(channel, lambda _c, _p, ch, _m: heard.put_nowait(ch))
        async with open_postgres(postgres_url) as store:
            await store.ingest(FeedState(FEED, FEED), [item(1)], NOW, alert_to())
            assert await asyncio.wait_for(heard.get(), 10) == "newswatch_outbox"
            await store.add_chat_term(ChatTerm("iskp", "Khorasan Province", "group"), "ana", NOW)
            assert await asyncio.wait_for(heard.get(), 10) == "newswatch_terms"
            await store.set_mute("ttp", None, "ana", NOW)
            assert await asyncio.wait_for(heard.get(), 10) == "newswatch_terms"
            await store.add_feed("https://added.example/rss", "Added", "ana", NOW)
            assert await asyncio.wait_for(heard.get(), 10) == "newswatch_terms"
            # Nothing new (a repeat; an existing term): nothing announced. The marker
            # notification proves the queue holds nothing before it.
            await store.ingest(FeedState(FEED, FEED), [item(1)], NOW, alert_to())
            await store.add_chat_term(ChatTerm("iskp", "Khorasan Province", "group"), "ana", NOW)
            await store._execute("SELECT pg_notify('newswatch_outbox', 'marker')")
            assert await asyncio.wait_for(heard.get(), 10) == "newswatch_outbox"
            assert heard.empty()
    finally:
        await listener.close()


# -- start-up checks: the operator's messages ------------------------------------------


async def test_a_missing_database_is_named_with_the_fix(postgres_url: str) -> None:
    url = with_database(postgres_url, "no_such_db")
    with pytest.raises(StorageError, match="database 'no_such_db' does not exist — create it"):
        await PostgresStorage.open(url)


async def test_an_unknown_user_is_refused_with_the_fix(postgres_url: str) -> None:
    parts = urlsplit(postgres_url)
    url = urlunsplit(
        (parts.scheme, f"nobody:s3cret-pw@{parts.hostname}:{parts.port}", parts.path, "", "")
    )
    with pytest.raises(StorageError, match="refused user 'nobody'") as e:
        await PostgresStorage.open(url)
    assert "s3cret-pw" not in str(e.value)


async def test_an_unreachable_server_is_reported_without_the_password() -> None:
    # One redaction style: the URL as `check`, /healthz and the config's errors show it
    # (bot.redact.redact_url), "[redacted]" in the password's place.
    url = f"postgresql://bot:s3cret-pw@127.0.0.1:{free_port()}/newswatch?password=pw2"
    with pytest.raises(StorageUnavailable, match="cannot reach the PostgreSQL server") as e:
        await PostgresStorage.open(url)
    assert "s3cret-pw" not in str(e.value) and "pw2" not in str(e.value)
    assert str(e.value).startswith(database_label(url) + ": ")
    assert "postgresql://bot:[redacted]@127.0.0.1:" in str(e.value)
    assert "password=[redacted]" in str(e.value)


async def test_a_database_of_another_program_is_refused(postgres_url: str) -> None:
    con = await asyncpg.connect(postgres_url)
    try:
        await con.execute("CREATE TABLE invoices (id int)")
    finally:
        await con.close()
    with pytest.raises(StorageError, match="tables of another program"):
        await PostgresStorage.open(postgres_url)


async def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    async with open_postgres(postgres_url) as store:
        await store._execute("UPDATE schema_version SET version = version + 1")
    with pytest.raises(StorageError, match="newer than this bot knows"):
        await PostgresStorage.open(postgres_url)


async def test_lost_connections_fail_as_storage_errors_and_are_replaced(
    postgres_url: str,
) -> None:
    """A server restart or a killed backend: each use fails at most once, as an error the
    loops back off on (StorageUnavailable), and the pool reconnects by itself."""
    async with open_postgres(postgres_url) as store:
        admin = await asyncpg.connect(postgres_url)
        try:
            killed = [
                r[0]
                for r in await admin.fetch(
                    "SELECT pid, pg_terminate_backend(pid) FROM (SELECT pid FROM "
                    "pg_stat_activity WHERE datname = current_database() "
                    "AND pid != pg_backend_pid() OFFSET 0) AS ours"
                )
            ]
            assert len(killed) == 5  # the pool's four and the coordination connection
            for _ in range(500):  # until they are gone (polled, not slept on)
                alive = await admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", killed
                )
                if not alive:
                    break
                await asyncio.sleep(0.01)
            assert not alive
        finally:
            await admin.close()
        failures = 0
        for _ in range(6):
            try:
                assert await store.feed_states() == {}
                break
            except StorageUnavailable:
                failures += 1
        else:
            pytest.fail("the pool never reconnected")
        assert failures <= 4


def test_an_internal_client_error_counts_as_a_lost_connection() -> None:
    """asyncpg raises InternalClientError (not an InterfaceError) when its protocol state
    breaks, as after pg_terminate_backend mid-statement: it may pass, like any lost
    connection, so the loops back off instead of failing for good."""
    error = asyncpg.InternalClientError("waiter is not done while handling critical error")
    assert isinstance(error, DRIVER_ERRORS)
    assert isinstance(storage_error("postgresql://db/news", error), StorageUnavailable)
