"""`python -m bot feeds import/export/list` as an operator runs them, against the local
feed server: real OPML files, real SQLite, real subprocesses."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

from bot.ops.opml import parse_opml
from tests.feedserver import FeedServer, Route, item
from tests.run_bot import ROOT, alert_records, cli

WATCHLISTS = ROOT / "tests" / "data" / "watchlists"


def config(tmp_path: Path, feeds: str = "", name: str = "bot.toml") -> Path:
    """A config whose chat guard is ON (allow_private_feeds = false): imported feeds on
    127.0.0.1 work only because the operator imported them."""
    path = tmp_path / name
    path.write_text(
        f'[bot]\ndatabase = "{path.stem}.sqlite3"\nwatchlists = "{WATCHLISTS}"\n'
        'parser_workers = 1\ntimeout = "5s"\n'
        + feeds
        + '[[channels]]\nplatform = "jsonl"\nid = "alerts.jsonl"\nflood_cap = 0\n'
    )
    return path


def opml(path: Path, outlines: str) -> Path:
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n'
        f"<head><title>subs</title></head>\n<body>\n{outlines}\n</body>\n</opml>\n"
    )
    return path


def added_rows(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT url, name, source FROM added_feeds ORDER BY url").fetchall()


def wire(server: FeedServer, path: str, n: int, title: str) -> str:
    return server.feed(path, [item(f"{path}-{n}", title)])


async def test_import_adds_good_feeds_and_reports_each_bad_one(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    in_toml = wire(feed_server, "/toml", 1, "Configured")
    deep = wire(feed_server, "/deep", 2, "Deep")
    top = wire(feed_server, "/top", 3, "Top")
    feed_server.routes["/page"] = Route(
        body=b"<!doctype html><html><head><title>Home</title></head><body><p>hi</p></body></html>",
        headers={"Content-Type": "text/html"},
    )
    page = feed_server.url("/page")
    missing = feed_server.url("/missing")
    cfg = config(tmp_path, f'[[feeds]]\nurl = "{in_toml}"\nname = "Configured"\n')
    upper = in_toml.replace("http://", "HTTP://")  # the same feed, spelt differently
    endless = "https://x.example/" + "a" * 5000
    file = opml(
        tmp_path / "subs.opml",
        f"""<outline text="Security"><outline text="Asia">
  <outline type="rss" text="Deep wire" xmlUrl="{deep}"/>
</outline></outline>
<outline type="rss" text="Top wire" xmlUrl="{top}"/>
<outline type="rss" text="Again" xmlUrl="{top}"/>
<outline type="rss" text="In toml" xmlUrl="{upper}"/>
<outline type="rss" text="Spaced" xmlUrl="http://bad host/feed"/>
<outline type="rss" text="Gone" xmlUrl="{missing}"/>
<outline type="rss" text="Home page" xmlUrl="{page}"/>
<outline type="rss" text="Endless" xmlUrl="{endless}"/>""",
    )

    code, out, err = await cli("feeds", "import", str(file), "--config", str(cfg))

    assert code == 1, out + err  # some entries failed
    assert "Traceback" not in err
    lines = out.splitlines()

    def line_for(url: str, status: str) -> str:
        found = [line for line in lines if url in line and f" {status}" in line]
        assert len(found) == 1, f"no single {status} line for {url} in:\n{out}"
        return found[0]

    assert "Deep wire" in line_for(deep, "added")
    assert "Top wire" in line_for(top, "added")
    assert "listed twice in the file (first at line" in line_for(top, "duplicate:")
    assert "already in bot.toml" in line_for(upper, "duplicate:")
    assert "contains a space" in line_for("http://bad host/feed", "invalid:")
    assert "HTTP 404" in line_for(missing, "unreachable:")
    assert "not a readable RSS/Atom feed" in line_for(page, "not a feed:")
    assert "the limit is 2048" in line_for(endless[:100], "invalid:")
    assert "8 entries: 2 added, 2 duplicate, 2 invalid, 1 not a feed, 1 unreachable" in out
    assert added_rows(tmp_path / "bot.sqlite3") == sorted(
        [(deep, "Deep wire", "operator"), (top, "Top wire", "operator")]
    )

    # Importing the same file again adds nothing and says why, per entry.
    code, out, _ = await cli("feeds", "import", str(file), "--config", str(cfg))
    assert "already in the database (imported before)" in out
    assert len(added_rows(tmp_path / "bot.sqlite3")) == 2


async def test_imported_feeds_are_polled_by_once_like_bot_toml_feeds(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    alerting = feed_server.feed("/alerting", [item(1, "ISKP claims attack in Kabul")])
    skipped = feed_server.feed("/skipped", [item(2, "ISKP claims second attack")])
    cfg = config(tmp_path)
    first = opml(tmp_path / "a.opml", f'<outline text="Alerting" xmlUrl="{alerting}"/>')
    second = opml(tmp_path / "b.opml", f'<outline text="Skipped" xmlUrl="{skipped}"/>')

    assert (await cli("feeds", "import", str(first), "--first-poll", "all", "--config", str(cfg)))[
        0
    ] == 0
    assert (await cli("feeds", "import", str(second), "--config", str(cfg)))[0] == 0
    code, _, err = await cli("once", "--config", str(cfg))

    assert code == 0, err
    # 127.0.0.1 with the chat guard on: polled because the operator imported it.
    assert "not allowed" not in err and "refused" not in err, err
    records = alert_records(tmp_path)
    assert [r["title"] for r in records] == ["ISKP claims attack in Kabul"]
    assert records[0]["feed"] == "Alerting"
    with sqlite3.connect(tmp_path / "bot.sqlite3") as con:
        seen = dict(con.execute("SELECT url, items_seen FROM feeds").fetchall())
    assert seen == {alerting: 1, skipped: 1}  # the skipped feed's item is marked seen


async def test_export_round_trips_through_import(tmp_path: Path, feed_server: FeedServer) -> None:
    toml_url = feed_server.feed("/toml", [item(1, "Configured")])
    imported = feed_server.feed("/imported", [item(2, "Imported")])
    tricky = 'Wire & "Co" <3>'
    first = config(
        tmp_path, f"[[feeds]]\nurl = \"{toml_url}\"\nname = '{tricky}'\n", name="one.toml"
    )
    subs = opml(
        tmp_path / "subs.opml",
        f'<outline text="Imported &amp; co" xmlUrl="{imported}" htmlUrl="https://site.example/"/>',
    )
    assert (await cli("feeds", "import", str(subs), "--config", str(first)))[0] == 0
    assert (await cli("once", "--config", str(first)))[0] == 0  # learns the channel links

    code, out, err = await cli("feeds", "export", "--config", str(first))

    assert code == 0, err
    assert out.startswith("<?xml"), "stdout must hold the OPML document only"
    assert "exported 2 feeds" in err
    exported = tmp_path / "exported.opml"
    exported.write_text(out)
    feeds = [(f.url, f.title, f.html_url) for f in parse_opml(out.encode(), "stdout")]
    assert feeds == [
        (toml_url, tricky, "https://example.org/"),  # the channel <link> the poll found
        (imported, "Imported & co", "https://site.example/"),
    ]

    second = config(tmp_path, name="two.toml")  # a fresh bot with no feeds of its own
    code, out, err = await cli("feeds", "import", str(exported), "--config", str(second))
    assert code == 0, out + err
    assert "2 entries: 2 added" in out
    code, again, _ = await cli("feeds", "export", "--config", str(second))
    assert [(f.url, f.title, f.html_url) for f in parse_opml(again.encode(), "again")] == feeds


async def test_feeds_list_shows_every_feed_with_its_last_success_and_error(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    good = feed_server.feed("/good", [item(1, "Fine")])
    bad = feed_server.feed("/bad", [item(2, "Soon gone")])
    cfg = config(tmp_path, f'[[feeds]]\nurl = "{good}"\nname = "Good wire"\n')
    subs = opml(tmp_path / "s.opml", f'<outline text="Bad wire" xmlUrl="{bad}"/>')
    assert (await cli("feeds", "import", str(subs), "--config", str(cfg)))[0] == 0
    feed_server.set("/bad", status=500)
    assert (await cli("once", "--config", str(cfg)))[0] == 0

    code, out, err = await cli("feeds", "list", "--config", str(cfg))

    assert code == 0, err
    header, first, second, total = out.splitlines()
    assert header.split() == ["NAME", "URL", "SOURCE", "LAST", "SUCCESS", "LAST", "ERROR"]
    assert first.startswith("Good wire") and good in first and "bot.toml" in first
    assert first.rstrip().endswith("-") and "never" not in first  # polled fine, no error
    assert second.startswith("Bad wire") and bad in second and "import" in second
    assert "never" in second and "HTTP 500" in second
    assert total == "2 feeds"


async def test_hostile_and_oversized_opml_files_are_refused_cleanly(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    bomb = tmp_path / "bomb.opml"
    bomb.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10 if i else "&a;" * 10}">' for i in range(9))
        + ']>\n<opml version="2.0"><body><outline text="&a8;" xmlUrl="http://x/&a8;"/>'
        "</body></opml>\n"
    )
    huge = tmp_path / "huge.opml"
    with huge.open("wb") as f:  # sparse: 11 MB that cost no time to write
        f.write(b'<opml version="2.0"><body>')
        f.truncate(11 * 1024 * 1024)

    for path, message in ((bomb, "declares XML entities"), (huge, "larger than 10 MB")):
        code, _out, err = await cli("feeds", "import", str(path), "--config", str(cfg))
        assert code != 0
        assert message in err and str(path) in err
        assert "Traceback" not in err
    assert not (tmp_path / "bot.sqlite3").exists() or added_rows(tmp_path / "bot.sqlite3") == []


async def test_a_terminal_gets_a_progress_bar_and_the_problems_as_lines(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    import os
    import pty

    good = feed_server.feed("/good", [item(1, "Fine")])
    cfg = config(tmp_path)
    subs = opml(
        tmp_path / "s.opml",
        f'<outline text="Good" xmlUrl="{good}"/><outline text="Bad" xmlUrl="ftp://x.example/"/>',
    )
    controller, terminal = pty.openpty()  # stderr is a terminal, as for an operator
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "feeds",
        "import",
        str(subs),
        "--config",
        str(cfg),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    screen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        screen += chunk
    os.close(controller)

    assert proc.returncode == 1
    text = screen.decode(errors="replace")
    assert "checking feeds" in text  # the bar was drawn on the terminal
    assert "invalid: ftp://x.example/" in text  # problems stay as lines
    assert "[1/2]" not in out.decode()  # no per-entry lines on stdout under a bar
    assert "2 entries: 1 added, 1 invalid" in out.decode()


async def test_a_running_bot_starts_polling_imported_feeds_without_a_restart(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    from tests.botproc import BotProcess

    later = feed_server.feed("/later", [item(1, "ISKP claims attack in Kabul")])
    cfg = config(tmp_path)
    cfg.write_text(
        cfg.read_text().replace("[bot]\n", '[bot]\nwatchlist_check = "1s"\n')
        + '[[channels]]\nplatform = "console"\nflood_cap = 0\n'  # alerts on stdout
    )
    subs = opml(tmp_path / "s.opml", f'<outline text="Later" xmlUrl="{later}"/>')
    bot = BotProcess("run", "--config", str(cfg))
    try:
        await asyncio.to_thread(bot.wait_for, r"running: 0 feeds")
        code, out, _ = await cli(
            "feeds", "import", str(subs), "--first-poll", "all", "--config", str(cfg)
        )
        assert code == 0, out
        await asyncio.to_thread(
            bot.wait_for, r"Later: imported with `feeds import`; polling it now"
        )
        await asyncio.to_thread(bot.wait_for, r"claims attack in Kabul", "out")
    finally:
        await asyncio.to_thread(bot.stop)
    assert [r["title"] for r in alert_records(tmp_path)] == ["ISKP claims attack in Kabul"]


async def test_a_bad_first_poll_value_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    subs = opml(tmp_path / "s.opml", '<outline text="X" xmlUrl="https://x.example/feed"/>')
    code, _out, err = await cli(
        "feeds", "import", str(subs), "--first-poll", "soon", "--config", str(cfg)
    )
    assert code == 2
    assert "--first-poll: unknown value 'soon'" in err and '"24h"' in err
    assert not (tmp_path / "bot.sqlite3").exists()
