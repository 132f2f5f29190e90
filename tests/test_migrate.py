"""`python -m bot migrate`: a SQLite deployment's state moved into PostgreSQL, as a user runs it.

Against a real PostgreSQL server (the `postgres_url` fixture: a fresh database
per test) and a SQLite file filled the way the bot fills it: `once` against the
local feed server, then what chat commands and the delivery loop store.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.models import ChatTerm
from bot.storage.runlock import RunLock, try_lock
from bot.storage.sqlite import open_storage
from bot.storage.transfer import NOT_CARRIED, copy_sqlite_to_postgres
from tests.feedserver import FeedServer, item
from tests.postgres import free_port
from tests.run_bot import alert_records, cli, run_once, write_config

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def sqlite_rows(path: Path, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as db:
        columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        columns = [c for c in columns if c not in NOT_CARRIED.get(table, ())]
        rows = db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
    return columns, rows


def same(rows: list[Any]) -> list[tuple[Any, ...]]:
    """Rows in one order with numbers in one form: SQLite may keep 5.0 in a REAL column
    as the integer 5, PostgreSQL's DOUBLE PRECISION gives 5.0."""

    def norm(v: Any) -> Any:
        return int(v) if isinstance(v, float) and v.is_integer() else v

    return sorted((tuple(norm(v) for v in r) for r in rows), key=repr)


def tables_of(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]


async def fill_the_rest(database: Path, jsonl_channel: str) -> None:
    """What chat commands, a broken channel, the flood cap and the digest store."""
    async with open_storage(database) as storage:
        await storage.add_chat_term(ChatTerm("iskp", "Wilayat Khorasan", "alias"), "u1", NOW)
        await storage.remove_file_term("iskp", "ISIS-K", "u1", NOW)
        await storage.set_mute("tajikistan", NOW + timedelta(days=1), "u1", NOW)
        await storage.add_feed("https://example.org/chat.xml", "Chat feed", "u1", NOW)
        await storage.set_channel_broken("discord", "123456789012345678", "Missing Access", NOW)
        await storage.queue_digest(jsonl_channel, date(2026, 11, 30), NOW, "UTC", NOW)
        await storage.start_heartbeat(4242, "old-host", NOW, 300.0)
        await storage.stop_heartbeat(NOW)
    # One console alert held by the flood cap and summarised: a flood_summaries row.
    with sqlite3.connect(database) as db:
        (held,) = db.execute(
            "SELECT id FROM outbox WHERE platform = 'console' AND status = 'pending' LIMIT 1"
        ).fetchone()
    async with open_storage(database) as storage:
        await storage.hold_alert(held, NOW)
        assert await storage.create_summary("console", "stdout", NOW, NOW, NOW) is not None


async def test_migrate_copies_everything_and_the_bot_carries_on_from_it(
    tmp_path: Path, feed_server: FeedServer, postgres_url: str
) -> None:
    # 1. A SQLite deployment: item 1 alerted and delivered; items 2 and 3 queued while
    #    another process held the file (so their alerts are still pending).
    items = [item(1, "ISKP claims attack in Kabul")]
    url = feed_server.feed("/wire.xml", items)
    config = write_config(tmp_path, url)
    database = tmp_path / "db.sqlite3"
    code, _, err = await run_once(config)
    assert code == 0, err
    items += [item(2, "Tajikistan closes border crossing"), item(3, "ISKP names new leader")]
    feed_server.feed("/wire.xml", items)
    lock = try_lock(database, "test")
    assert isinstance(lock, RunLock)
    with lock:
        code, _, err = await run_once(config)
    assert code == 0, err
    jsonl = f"jsonl:{tmp_path.resolve() / 'alerts.jsonl'}"
    await fill_the_rest(database, jsonl)
    with sqlite3.connect(database) as db:
        pending = db.execute(
            "SELECT id FROM outbox WHERE status = 'pending' AND platform = 'jsonl'"
        ).fetchall()
    assert len(pending) == 2
    delivered_before = {r["alert_id"] for r in alert_records(tmp_path)}
    assert len(delivered_before) == 1

    # 2. migrate
    code, out, err = await cli("migrate", "--from", str(database), "--to", postgres_url)
    assert code == 0, err
    assert "every count verified" in out

    # 3. Every table arrived whole: same rows, column by column by name.
    con = await asyncpg.connect(postgres_url)
    try:
        for table in tables_of(database):
            columns, rows = sqlite_rows(database, table)
            assert rows, f"the fill left {table} empty: the test would prove nothing there"
            copied = await con.fetch(f"SELECT {', '.join(columns)} FROM {table}")
            assert same(copied) == same(rows), table
            assert f"\n{table} " in f"\n{out}", f"{table} missing from the printed counts"
        assert await con.fetchval("SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL") == 0
        # New ids continue after the copied ones (several instances allocate them now).
        for table in ("items", "outbox", "watch_terms", "flood_summaries"):
            top = await con.fetchval(f"SELECT max(id) FROM {table}")
            nxt = await con.fetchval(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))")
            assert nxt == top + 1, table
        # The feed is due again now, so `once` polls it (it was polled a moment ago).
        await con.execute("UPDATE feeds SET next_poll_at = 0")
    finally:
        await con.close()

    # 4. The bot on PostgreSQL: the pending alerts go out once, the migrated items are
    #    known (item 1 is not alerted again), only the new item 4 is new.
    feed_server.feed("/wire.xml", [*items, item(4, "ISKP attack on a convoy")])
    pg_config = tmp_path / "pg.toml"
    pg_config.write_text(
        config.read_text().replace('database = "db.sqlite3"', f'database = "{postgres_url}"')
    )
    code, _, err = await run_once(pg_config)
    assert code == 0, err
    records = alert_records(tmp_path)
    ids = [r["alert_id"] for r in records]
    assert len(ids) == len(set(ids)), "an alert was delivered twice"
    by_link = [r["url"] for r in records]
    assert sorted(by_link) == sorted(f"https://example.org/news/{n}" for n in (1, 2, 3, 4))
    assert {int(r["alert_id"]) for r in records} >= {int(p[0]) for p in pending}


async def test_a_target_with_rows_is_refused_and_left_alone(
    tmp_path: Path, postgres_url: str
) -> None:
    database = tmp_path / "db.sqlite3"
    async with open_storage(database) as storage:
        await storage.add_chat_term(ChatTerm("iskp", "Wilayat Khorasan"), "u1", NOW)
    code, _, err = await cli("migrate", "--from", str(database), "--to", postgres_url)
    assert code == 0, err
    async with open_storage(database) as storage:
        await storage.add_chat_term(ChatTerm("iskp", "Another"), "u1", NOW)

    code, _out, err = await cli("migrate", "--from", str(database), "--to", postgres_url)

    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "not empty" in errors[0] and "watch_terms (1 rows)" in errors[0]
    con = await asyncpg.connect(postgres_url)
    try:
        assert await con.fetchval("SELECT count(*) FROM watch_terms") == 1
    finally:
        await con.close()


async def test_a_column_in_one_engine_only_is_refused_before_anything_is_copied(
    tmp_path: Path, postgres_url: str
) -> None:
    database = tmp_path / "db.sqlite3"
    async with open_storage(database) as storage:
        await storage.add_chat_term(ChatTerm("iskp", "Wilayat Khorasan"), "u1", NOW)
    with sqlite3.connect(database) as db:
        db.execute("ALTER TABLE watch_terms ADD COLUMN note TEXT")

    code, _, err = await cli("migrate", "--from", str(database), "--to", postgres_url)

    assert code == 1
    assert "column watch_terms.note only in SQLite" in err and "please report" in err
    con = await asyncpg.connect(postgres_url)
    try:
        assert await con.fetchval("SELECT count(*) FROM watch_terms") == 0
    finally:
        await con.close()


async def test_text_postgresql_cannot_hold_is_cleaned_and_counted(
    tmp_path: Path, postgres_url: str
) -> None:
    database = tmp_path / "db.sqlite3"
    async with open_storage(database) as storage:
        await storage.add_chat_term(ChatTerm("iskp", "Wilayat\x00Khorasan"), "u1", NOW)
    report = await copy_sqlite_to_postgres(database, postgres_url)
    assert report.nul_removed == 1
    con = await asyncpg.connect(postgres_url)
    try:
        assert await con.fetchval("SELECT term FROM watch_terms") == "WilayatKhorasan"
    finally:
        await con.close()


async def test_a_file_a_bot_is_running_on_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    async with open_storage(database):
        pass
    lock = try_lock(database, "run")
    assert isinstance(lock, RunLock)
    with lock:
        code, _, err = await cli(
            "migrate", "--from", str(database), "--to", f"postgresql://u@127.0.0.1:{free_port()}/x"
        )
    assert code == 1
    assert "is in use by `python -m bot run`, pid" in err and "stop it first" in err


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("{db}", "{tmp}/copy.sqlite3", "--to: '{tmp}/copy.sqlite3' is not a PostgreSQL URL"),
        ("postgresql://u@h/db", "postgresql://u@h/db2", "--from: postgresql://u@h/db is a URL"),
        ("{tmp}/missing.sqlite3", "postgresql://u@h/db", "--from: {tmp}/missing.sqlite3: no such"),
        ("{db}", "postgresql://u:pw@h:99999/db", "--to: 'postgresql://u:[redacted]@h:99999/db'"),
        ("{db}", "mysql://u@h/db", "is not a PostgreSQL URL"),
    ],
)
async def test_wrong_kinds_of_argument_are_refused_in_one_line(
    tmp_path: Path, source: str, target: str, message: str
) -> None:
    database = tmp_path / "db.sqlite3"
    async with open_storage(database):
        pass

    def fill(text: str) -> str:
        return text.format(db=database, tmp=tmp_path)

    code, _out, err = await cli("migrate", "--from", fill(source), "--to", fill(target))

    assert code == 2
    assert err.count("error:") == 1 and fill(message) in err, err
    assert "pw" not in err.replace("[redacted]", "")
