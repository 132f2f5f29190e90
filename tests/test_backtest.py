"""Backtesting a candidate term: on hand-made items, on real storage, from the command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.backtest import MAX_EXAMPLES, backtest, backtest_items, format_result
from bot.models import Entity, Item
from tests.feedserver import FeedServer, item, rss

ROOT = Path(__file__).resolve().parent.parent
TEST_WATCHLIST = ROOT / "tests" / "data" / "watchlists" / "test.toml"
WHEN = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def news(n: int, title: str, summary: str = "", published: datetime | None = WHEN) -> Item:
    return Item(
        "https://feeds.example/a.xml",
        f"g{n}",
        f"https://news.example/{n}",
        title,
        summary,
        published,
        "Example News",
    )


ITEMS = [
    news(1, "Tadzhikistan closes border"),
    news(2, "Weather is mild"),
    news(3, "Talks in Dushanbe", "Tajikistan hosts the summit"),
    news(4, "Tajik Air resumes flights", "Tajikistan's airline said"),
    news(5, "Markets rise"),
    news(6, "TAJIKISTAN: floods"),
    news(7, "Tajikistan and Kyrgyzstan"),
    news(8, "New road in Tajikistan"),
    news(9, "Tajikistan again", published=None),
    news(10, "Kabul airport"),
]


# -- backtest_items ---------------------------------------------------------------------------


def test_counts_and_examples():
    result = backtest_items("Tajikistan", ITEMS)
    assert (result.term, result.items_checked, result.matched) == ("Tajikistan", 10, 7)
    assert result.warnings == []
    assert len(result.examples) == MAX_EXAMPLES == 5
    # the first five matching items, in the order given
    assert [it.guid for it, _ in result.examples] == ["g1", "g3", "g4", "g6", "g7"]
    for it, m in result.examples:
        source = it.title if m.field == "title" else it.summary
        assert source[m.start : m.end] == m.text
    first = result.examples[0][1]
    assert (first.text, first.how, first.alias) == ("Tadzhikistan", "variant", "Tajikistan")
    assert result.examples[1][1].field == "summary"


def test_fewer_matches_than_examples():
    result = backtest_items("Kabul", ITEMS, days=2)
    assert (result.matched, result.items_checked, result.days) == (1, 10, 2)
    assert [it.guid for it, _ in result.examples] == ["g10"]


def test_no_items_and_no_matches():
    empty = backtest_items("Tajikistan", [])
    assert (empty.items_checked, empty.matched, empty.examples) == (0, 0, [])
    none = backtest_items("Kyrgyz Republic", ITEMS)
    assert (none.items_checked, none.matched, none.examples) == (10, 0, [])


@pytest.mark.parametrize(
    ("term", "reason"),
    [("KP", "only 2 letters"), ("the government", "common words"), ("2024", "only digits")],
)
def test_risky_term_carries_warnings(term, reason):
    result = backtest_items(term, ITEMS)
    assert any(reason in w for w in result.warnings), result.warnings


def test_entity_exclusions_apply():
    tajikistan = Entity(
        "tajikistan", "Tajikistan", "region", ("Tadzhikistan",), exclude=("Tajik Air",)
    )
    alone = backtest_items("Tajikistan", ITEMS)
    with_entity = backtest_items("Tajikistan", ITEMS, entity=tajikistan)
    assert with_entity.matched == alone.matched - 1  # item 4 names Tajik Air
    assert "g4" not in [it.guid for it, _ in with_entity.examples]
    m = with_entity.examples[0][1]
    assert (m.entity_id, m.kind, m.alias) == ("tajikistan", "region", "Tajikistan")


def test_only_the_candidate_term_counts_not_the_entitys_aliases():
    tajikistan = Entity("tajikistan", "Tajikistan", "region", ("Tadzhikistan",))
    result = backtest_items("Dushanbe", ITEMS, entity=tajikistan)
    assert result.matched == 1
    ((it, m),) = result.examples
    assert (it.guid, m.text, m.entity_id) == ("g3", "Dushanbe", "tajikistan")


def test_threshold_is_used():
    items = [news(1, "Clashes in Nangrahar")]
    assert backtest_items("Nangarhar", items).matched == 1
    assert backtest_items("Nangarhar", items, threshold=100).matched == 0


def test_format_result():
    text = format_result(
        backtest_items("KP", [news(1, "KP police"), news(2, "KP", published=None)])
    )
    lines = text.splitlines()
    assert lines[0] == '"KP" would have matched 2 of 2 items from the last 7 days'
    assert lines[1].startswith("  warning: only 2 letters")
    assert "  - KP police (Example News, 2026-11-24)" in lines
    assert "  - KP (Example News, undated)" in lines
    assert '      matched "KP" (exact, score 100, title)' in lines


# -- backtest over real storage ----------------------------------------------------------------


async def test_backtest_reads_items_stored_by_the_pipeline(
    feed_server: FeedServer, make_settings
) -> None:
    url = feed_server.feed(
        "/a.xml",
        [
            item(1, "ISKP claims attack in Kabul"),
            item(2, "Tadzhikistan border talks"),
            item(3, "Weather in Paris"),
            item(4, "ISKP threat to ISKCON temple"),
        ],
    )
    fetched = datetime.now(UTC) - timedelta(days=3)
    async with App.open(make_settings([{"url": url, "name": "A"}]), clock=lambda: fetched) as app:
        report = await app.run_once()
        assert report.alerts == 2
        now = datetime.now(UTC)

        result = await backtest(app.storage, "Kabul", now)
        assert (result.items_checked, result.matched) == (4, 1)
        ((stored, m),) = result.examples
        assert (stored.title, stored.feed_name, stored.feed_url) == (
            "ISKP claims attack in Kabul",
            "A",
            url,
        )
        assert stored.published == datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
        assert m.text == "Kabul"

        iskp = next(e for e in app.matcher.entities if e.id == "iskp")
        assert (await backtest(app.storage, "ISKP", now)).matched == 2
        assert (await backtest(app.storage, "ISKP", now, entity=iskp)).matched == 1

        # stored three days ago: outside a one-day window
        recent = await backtest(app.storage, "Kabul", now, days=1)
        assert (recent.items_checked, recent.matched, recent.days) == (0, 0, 1)


# -- the command line ---------------------------------------------------------------------------


def bot(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONUTF8": "1"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
        check=False,
    )


def make_config(directory: Path, database: str = "db.sqlite3") -> Path:
    """bot.toml with a local feed file, the test watchlist and a console channel."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "wl").mkdir(exist_ok=True)
    shutil.copy(TEST_WATCHLIST, directory / "wl" / "test.toml")
    (directory / "feed.rss").write_bytes(
        rss(
            [
                item(1, "ISKP claims attack in Kabul"),
                item(2, "Tadzhikistan border talks"),
                item(3, "Weather report for Kabul"),
                item(4, "ISKP threat to ISKCON temple"),
                item(5, "Kabul airport reopens"),
            ]
        )
    )
    config = directory / "bot.toml"
    config.write_text(
        f'[bot]\ndatabase = "{database}"\nwatchlists = "wl"\n'
        '[[feeds]]\nurl = "feed.rss"\nfirst_poll = "all"\n'
        '[[channels]]\nplatform = "console"\n',
        encoding="utf-8",
    )
    return config


@pytest.fixture(scope="module")
def filled_config(tmp_path_factory) -> Path:
    config = make_config(tmp_path_factory.mktemp("backtest"))
    done = bot("once", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "2 alerts queued" in done.stderr
    return config


def test_cli_backtest_counts_and_examples(filled_config: Path) -> None:
    done = bot("backtest", "--config", str(filled_config), "--term", "Kabul")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == '"Kabul" would have matched 3 of 5 items from the last 7 days'
    titles = [line for line in lines if line.startswith("  - ")]
    assert sorted(titles) == [
        "  - ISKP claims attack in Kabul (feed.rss, 2026-11-24)",
        "  - Kabul airport reopens (feed.rss, 2026-11-24)",
        "  - Weather report for Kabul (feed.rss, 2026-11-24)",
    ]
    assert done.stdout.count('matched "Kabul" (exact, score 100, title)') == 3
    assert "no stored items" not in done.stdout


def test_cli_backtest_with_entity_and_days(filled_config: Path) -> None:
    # Without --entity "ISKP" matches 2 of 5; iskp's exclusion (ISKCON) drops one.
    done = bot(
        "backtest", "-c", str(filled_config), "--term", " ISKP ", "--entity", "iskp", "--days", "2"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == '"ISKP" would have matched 1 of 5 items from the last 2 days'
    assert lines[1:] == [
        "  - ISKP claims attack in Kabul (feed.rss, 2026-11-24)",
        '      matched "ISKP" (exact, score 100, title)',
    ]


def test_cli_backtest_unknown_entity(filled_config: Path) -> None:
    done = bot("backtest", "--config", str(filled_config), "--term", "X", "--entity", "nope")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: --entity: no entity 'nope' in {filled_config.parent / 'wl'}"
        " — use an entity id from the watchlist files"
    )


def test_cli_backtest_on_an_empty_database(tmp_path: Path) -> None:
    config = make_config(tmp_path, database="empty.sqlite3")
    done = bot("backtest", "--config", str(config), "--term", "Kabul")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        '"Kabul" would have matched 0 of 0 items from the last 7 days',
        "  (no stored items in that period: run the bot first)",
    ]


def test_cli_match_explain_prints_a_table(tmp_path: Path) -> None:
    wl = tmp_path / "wl"
    wl.mkdir()
    shutil.copy(TEST_WATCHLIST, wl / "test.toml")
    records = [
        {"id": 1, "title": "Tadzhikistan border talks", "summary": "ISKP claims attack"},
        {"id": "b", "title": "Weather report"},
    ]
    stdin = "".join(json.dumps(r) + "\n" for r in records)
    done = bot("match", "--explain", "--watchlists", str(wl), stdin=stdin)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "[1] Tadzhikistan border talks"
    rows = {line.split()[0]: line for line in lines[1:3]}
    assert set(rows) == {"iskp", "tajikistan"}
    assert rows["tajikistan"].split()[1:4] == ["region", "variant", "100"]
    assert rows["tajikistan"].endswith('"Tajikistan" ~ "Tadzhikistan" in title[0:12]')
    assert rows["iskp"].split()[1:4] == ["group", "exact", "100"]
    assert rows["iskp"].endswith('"ISKP" ~ "ISKP" in summary[0:4]')
    assert lines[3:] == ["[b] Weather report", "    (no match)"]
