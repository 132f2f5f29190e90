"""`check`, `health` and `backup` on a PostgreSQL `[bot] database`, as a user runs them.

`check` and `health` look at a database another instance may be running on:
they read it (chat additions, the heartbeat) but never create or migrate it,
and a server out of reach is one clear line.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bot.models import ChatTerm
from bot.storage.postgres import open_postgres
from tests.feedserver import FeedServer, item
from tests.postgres import free_port
from tests.run_bot import cli

ROOT = Path(__file__).resolve().parent.parent


def config(tmp_path: Path, database: str, channel_feeds: str = "") -> Path:
    shutil.copytree(ROOT / "tests" / "data" / "watchlists", tmp_path / "wl", dirs_exist_ok=True)
    path = tmp_path / "bot.toml"
    path.write_text(
        f'[bot]\ndatabase = "{database}"\nwatchlists = "wl"\n'
        '[[channels]]\nplatform = "console"\n'
        + (f"feeds = [{channel_feeds}]\n" if channel_feeds else ""),
        encoding="utf-8",
    )
    return path


async def table_count(url: str) -> int:
    con = await asyncpg.connect(url)
    try:
        return int(
            await con.fetchval(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        )
    finally:
        await con.close()


async def test_check_reads_chat_feeds_from_postgres(tmp_path: Path, postgres_url: str) -> None:
    async with open_postgres(postgres_url) as storage:
        await storage.add_feed("https://example.org/chat.xml", "Chat feed", "u1", datetime.now(UTC))

    code, out, err = await cli(
        "check", "--config", str(config(tmp_path, postgres_url, '"Chat feed"'))
    )
    assert code == 0, err
    assert ": OK — " in out

    # A filter naming a feed neither the file nor chat has: found only if chat was read.
    code, _, err = await cli("check", "--config", str(config(tmp_path, postgres_url, '"Nope"')))
    assert code == 2
    assert "'Nope'" in err


async def test_check_and_health_never_create_the_schema(tmp_path: Path, postgres_url: str) -> None:
    path = config(tmp_path, postgres_url)
    code, out, err = await cli("check", "--config", str(path))
    assert code == 0, err
    code, out, _ = await cli("health", "--config", str(path))
    assert code == 1
    assert out.strip() == "unhealthy: no run alive: no `python -m bot run` has used this database"
    assert await table_count(postgres_url) == 0


async def test_check_with_the_server_out_of_reach_says_so_in_one_line(tmp_path: Path) -> None:
    url = f"postgresql://newswatch:pw-not-shown@127.0.0.1:{free_port()}/news"
    code, out, err = await cli("check", "--config", str(config(tmp_path, url)))
    assert code == 0, err  # the config itself is fine
    warnings = [line for line in err.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, err
    assert "cannot reach the PostgreSQL server" in warnings[0]
    assert "terms and feeds added from chat are not checked" in warnings[0]
    assert "pw-not-shown" not in out + err

    code, out, _ = await cli("health", "--config", str(config(tmp_path, url)))
    assert code == 1
    assert out.count("\n") == 1 and out.startswith("unhealthy: database: ")


async def test_check_names_a_database_that_does_not_exist(
    tmp_path: Path, postgres_url: str
) -> None:
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    code, _, err = await cli("check", "--config", str(config(tmp_path, url)))
    assert code == 2
    assert "bot.database: cannot be used: " in err and "does not exist" in err


async def test_check_refuses_a_newer_schema(tmp_path: Path, postgres_url: str) -> None:
    async with open_postgres(postgres_url):
        pass
    con = await asyncpg.connect(postgres_url)
    try:
        await con.execute("UPDATE schema_version SET version = 999")
    finally:
        await con.close()
    code, _, err = await cli("check", "--config", str(config(tmp_path, postgres_url)))
    assert code == 2
    assert "schema version 999, newer than this bot knows" in err


async def test_health_reads_the_heartbeat_from_postgres(tmp_path: Path, postgres_url: str) -> None:
    path = config(tmp_path, postgres_url)
    async with open_postgres(postgres_url) as storage:
        now = datetime.now(UTC)
        await storage.start_heartbeat(4242, "host-a", now, 300.0)
        await storage.beat(now)
    code, out, _ = await cli("health", "--config", str(path))
    assert code == 0, out
    assert out.startswith("healthy: run pid 4242 on host-a, last poll cycle ")

    async with open_postgres(postgres_url) as storage:
        await storage.stop_heartbeat(datetime.now(UTC))
    code, out, _ = await cli("health", "--config", str(path))
    assert code == 1
    assert out.startswith("unhealthy: no run alive: every instance stopped cleanly, the last at ")


async def test_backup_on_postgres_points_to_pg_dump(tmp_path: Path) -> None:
    url = f"postgresql://newswatch:pw-not-shown@127.0.0.1:{free_port()}/news"
    code, out, err = await cli(
        "backup", "--config", str(config(tmp_path, url)), str(tmp_path / "b.sqlite3")
    )
    assert code == 1
    assert out == "" and err.count("\n") == 1
    assert "pg_dump" in err and "pw-not-shown" not in err
    assert not (tmp_path / "b.sqlite3").exists()


async def test_operator_tools_work_on_postgres(
    tmp_path: Path, postgres_url: str, feed_server: FeedServer
) -> None:
    """feeds import/list/export, watchlists export, backtest and digest --dry-run go
    through the storage protocols, so they read and write PostgreSQL like SQLite."""
    wire = feed_server.feed("/wire.xml", [item(1, "ISKP claims attack in Kabul")])
    path = config(tmp_path, postgres_url)
    path.write_text(path.read_text().replace("[bot]\n", "[bot]\nparser_workers = 1\n"))
    (tmp_path / "subs.opml").write_text(
        '<?xml version="1.0"?><opml version="2.0"><head/><body>'
        f'<outline type="rss" text="Wire" xmlUrl="{wire}"/></body></opml>'
    )
    async with open_postgres(postgres_url) as storage:
        await storage.add_chat_term(ChatTerm("iskp", "Wilayat Khorasan"), "u1", datetime.now(UTC))

    code, out, err = await cli(
        "feeds", "import", str(tmp_path / "subs.opml"), "--config", str(path)
    )
    assert code == 0, out + err
    assert "1 added" in out
    code, out, err = await cli("feeds", "list", "--config", str(path))
    assert code == 0 and wire in out and "1 feeds" in out, err
    code, out, err = await cli("feeds", "export", "--config", str(path))
    assert code == 0 and f'xmlUrl="{wire}"' in out, err
    code, out, err = await cli("watchlists", "export", "--config", str(path))
    assert code == 0 and "Wilayat Khorasan" in out, err
    code, out, err = await cli("once", "--config", str(path))
    assert code == 0, err
    code, out, err = await cli("backtest", "--term", "ISKP", "--config", str(path))
    assert code == 0 and "ISKP claims attack in Kabul" in out, out + err
    chart = tmp_path / "d.png"
    code, out, err = await cli("digest", "--dry-run", "--config", str(path), "--chart", str(chart))
    assert code == 0 and "ISKP" in out, out + err
