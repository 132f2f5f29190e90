"""Parsing hostile and malformed feeds: never crash, never hang, stay bounded."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import ParseError
from bot.feeds import parse
from bot.feeds.parse import ParsedFeed, ParserPool, parse_feed_bytes
from bot.heap import frozen_for_fork
from tests.feedserver import item, rss

CORPUS = Path(__file__).parent / "data" / "corpus"
MANIFEST = list(csv.DictReader((CORPUS / "manifest.tsv").open(), delimiter="\t"))

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>bomb</title>
<item><title>&lol9;</title><link>https://example.org/x</link></item></channel></rss>
"""


@pytest.mark.parametrize("row", MANIFEST, ids=[r["path"] for r in MANIFEST])
def test_corpus_document_parses_or_fails_cleanly(row: dict[str, str]) -> None:
    body = (CORPUS / row["path"]).read_bytes()
    try:
        parsed = parse_feed_bytes(body, "https://example.org/feed", "corpus")
    except ParseError:
        assert row["entries"] == "0", "a document feedparser reads must not be rejected"
        return
    assert isinstance(parsed, ParsedFeed)
    assert len(parsed.items) <= int(row["entries"])
    for it in parsed.items:
        assert isinstance(it.title, str) and isinstance(it.summary, str)
        assert "<script" not in it.summary.lower()
        assert it.guid


def test_entity_expansion_bomb_is_not_expanded() -> None:
    parsed = parse_feed_bytes(BILLION_LAUGHS, "u", "n")
    assert all(len(i.title) < 1000 for i in parsed.items)


def test_html_is_stripped_and_entities_decoded() -> None:
    body = rss([item(1, "Kabul &amp; beyond", "<p>Talks in <b>Dushanbe</b> &mdash; today</p>")])
    parsed = parse_feed_bytes(body, "u", "n")
    assert parsed.items[0].title == "Kabul & beyond"
    assert parsed.items[0].summary == "Talks in Dushanbe — today"


def test_plain_text_titles_keep_every_word() -> None:
    """An RSS title is plain text unless it looks like HTML: "<5" and "<!channel>" are words."""
    body = rss(
        [
            item(1, "Casualties <5 in Kabul, >10 injured"),
            item(2, "Casualties <5 reported <!channel> and x > y"),
            item(3, "@everyone **bold** <@U0BOT>"),
        ]
    )
    titles = [i.title for i in parse_feed_bytes(body, "u", "n").items]
    assert titles == [
        "Casualties <5 in Kabul, >10 injured",
        "Casualties <5 reported <!channel> and x > y",
        "@everyone **bold** <@U0BOT>",
    ]


def test_html_titles_are_decoded_exactly_once() -> None:
    # On the wire "AT&amp;amp;T &amp;lt;b&amp;gt;": feedparser reads HTML "AT&amp;T &lt;b&gt;".
    body = rss([item(1, "AT&amp;T &lt;b&gt; in Kabul")])
    assert parse_feed_bytes(body, "u", "n").items[0].title == "AT&T <b> in Kabul"


def test_text_no_reader_sees_is_not_kept() -> None:
    summary = (
        "<p>Talks in Dushanbe</p><script>var x = 'ISKP';</script>"
        "<style>.ISKP{}</style><!-- ISKP --><template>ISKP</template><noscript>ISKP</noscript>"
    )
    parsed = parse_feed_bytes(rss([item(1, "Talks", summary)]), "u", "n")
    assert parsed.items[0].summary == "Talks in Dushanbe"


def test_content_takes_its_own_type_when_there_is_no_summary() -> None:
    body = b"""<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>T</title><item><title>x</title><link>https://e.org/1</link>
<content:encoded>&lt;p&gt;Kabul&lt;/p&gt;&lt;p&gt;Herat&lt;/p&gt;&lt;script&gt;ISKP&lt;/script&gt;</content:encoded>
</item></channel></rss>"""
    assert parse_feed_bytes(body, "u", "n").items[0].summary == "Kabul Herat"


def test_atom_fields_follow_their_declared_type() -> None:
    body = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
<title type="html">Wire &amp;amp; more</title>
<entry><id>1</id><title type="text">A &lt;5 B &lt;!channel&gt;</title>
<summary type="text">s &lt;b&gt;kept&lt;/b&gt;</summary></entry>
<entry><id>2</id>
<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">X <b>y</b></div></title>
<summary type="html">&lt;p&gt;a&lt;/p&gt;&lt;p&gt;b&lt;/p&gt;</summary></entry>
</feed>"""
    parsed = parse_feed_bytes(body, "u", "n")
    assert parsed.title == "Wire & more"
    first, second = parsed.items
    assert (first.title, first.summary) == ("A <5 B <!channel>", "s <b>kept</b>")
    assert (second.title, second.summary) == ("X y", "a b")


@pytest.mark.parametrize(
    ("date", "note"),
    [
        ("0000-01-01T00:00:00Z", "date '0000-01-01T00:00:00Z' is impossible (beyond the calendar)"),
        ("9999-12-31T23:59:59-14:00", "date '9999-12-31T23:59:59-14:00' is impossible"),
        ("2026-11-24T12:00:00Z", ""),
        ("not a date", ""),
    ],
)
def test_a_date_beyond_the_calendar_is_noted_not_dropped(date: str, note: str) -> None:
    body = rss([{"title": "x", "link": "https://e.org/1", "pubDate": date}])
    it = parse_feed_bytes(body, "u", "n").items[0]
    assert it.date_note.startswith(note)
    assert (it.published is None) == (date != "2026-11-24T12:00:00Z")


def test_an_impossible_published_date_gives_way_to_a_possible_updated_one() -> None:
    body = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
<entry><id>1</id><title>x</title><published>0000-01-01T00:00:00Z</published>
<updated>2026-11-24T12:00:00Z</updated></entry></feed>"""
    (it,) = parse_feed_bytes(body, "u", "n").items
    assert it.published == datetime(2026, 11, 24, 12, tzinfo=UTC) and it.date_note == ""


def test_not_a_feed_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not"):
        parse_feed_bytes(b"<html><body>Hello</body></html>", "u", "n")


async def test_pool_parses_in_worker_processes() -> None:
    body = rss([item(n, f"Story {n}") for n in range(20)])
    async with ParserPool(workers=1, timeout=30) as pool:
        parsed = await pool.parse(body, "u", "n")
    assert [i.title for i in parsed.items][:2] == ["Story 0", "Story 1"]


async def test_pool_kills_an_overrunning_parse_and_recovers() -> None:
    big = rss([item(n, f"Story {n}", "word " * 200) for n in range(3000)])
    async with ParserPool(workers=1, timeout=0.001) as pool:
        with pytest.raises(ParseError, match="longer than"):
            await pool.parse(big, "u", "n")
        pool.timeout = 60
        parsed = await pool.parse(rss([item(1, "after restart")]), "u", "n")
    assert parsed.items[0].title == "after restart"


async def test_pool_survives_a_worker_dying() -> None:
    async with ParserPool(workers=1, timeout=60) as pool:
        await pool.parse(rss([item(1, "warm up")]), "u", "n")
        assert pool._lanes
        for lane in pool._lanes:
            assert lane.process is not None
            lane.process.kill()
        with pytest.raises(ParseError, match="died"):
            await pool.parse(rss([item(2, "x")]), "u", "n")
        parsed = await pool.parse(rss([item(3, "after a crash")]), "u", "n")
    assert parsed.items[0].title == "after a crash"


def _in_executors(pool: ParserPool) -> int:
    """Documents handed to the workers (calls in flight there)."""
    return sum(lane.busy for lane in pool._lanes)


async def _burst(pool: ParserPool, count: int) -> list[int]:
    """Parse `count` documents at once; the documents in the workers at each completion."""
    body = rss([item(n, f"Story {n}", "word " * 40) for n in range(60)])
    tasks = [asyncio.ensure_future(pool.parse(body, f"u{i}", "n")) for i in range(count)]
    in_executor: list[int] = []
    pending: set[asyncio.Future[ParsedFeed]] = set(tasks)
    while pending:
        for _ in range(5):  # let every task reach the pool, and a worker's call start
            await asyncio.sleep(0)
        in_executor.append(_in_executors(pool))
        _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    assert all(len(t.result().items) == 60 for t in tasks)
    return in_executor


async def test_deadline_counts_parsing_not_waiting_in_the_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A burst larger than the pool is handed over a worker's worth at a time, so each
    document's deadline runs only while it is being parsed.

    Bounded by counts, not the clock: documents in the executor (running or queued
    there) never outnumber the workers. The timeout is generous so machine load
    cannot fail the test; how long parsing takes is measured in bench/. The second
    worker starts as soon as the first has parsed a document here (GROW_AFTER 0).
    """
    monkeypatch.setattr(parse, "GROW_AFTER", 0.0)
    async with ParserPool(workers=2, timeout=120) as pool:
        in_executor = await _burst(pool, 30)
        assert len(pool._lanes) == 2
    assert max(in_executor) <= 2
    assert in_executor[0] == 1  # the first worker is starting: none started beside it


async def test_a_second_worker_starts_only_once_a_document_waited_for_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers start when needed: one document at a time never starts a second one, nor
    does a burst whose documents never wait GROW_AFTER (an hour here, so the clock
    cannot decide); the bound on documents in the workers holds throughout."""
    monkeypatch.setattr(parse, "GROW_AFTER", 3600.0)
    async with ParserPool(workers=2, timeout=120) as pool:
        for n in range(3):
            await pool.parse(rss([item(n, f"Story {n}")]), "u", "n")
        assert len(pool._lanes) == 1
        in_executor = await _burst(pool, 10)
        assert len(pool._lanes) == 1
    assert max(in_executor) == 1


async def test_an_overrunning_document_costs_only_its_own_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The overrun kills the worker that parsed it; the other worker keeps its process."""
    monkeypatch.setattr(parse, "GROW_AFTER", 0.0)
    big = rss([item(n, f"Story {n}", "word " * 200) for n in range(3000)])
    async with ParserPool(workers=2, timeout=60) as pool:
        await pool.parse(rss([item(0, "x")]), "u", "n")  # the first worker is ready
        await asyncio.gather(*(pool.parse(rss([item(n, "x")]), "u", "n") for n in range(2)))
        assert len(pool._lanes) == 2
        before = {lane.process.pid for lane in pool._lanes if lane.process}
        pool.timeout = 0.001
        with pytest.raises(ParseError, match="longer than"):
            await pool.parse(big, "u", "n")
        after = {lane.process.pid for lane in pool._lanes if lane.process}
        assert len(after) == 1 and after < before
        pool.timeout = 60
        parsed = await pool.parse(rss([item(1, "after the overrun")]), "u", "n")
    assert parsed.items[0].title == "after the overrun"


def _nothing() -> None:
    """A worker initializer that does nothing."""


def _frozen_here() -> int:
    import gc

    return gc.get_freeze_count()


def test_a_worker_is_forked_with_the_bots_objects_frozen_for_the_collector() -> None:
    """The worker's collections skip what it inherited (no copy-on-write of the bot's heap);
    the bot's own objects are unfrozen at once."""
    import gc

    from bot.feeds.worker import Worker

    lane = Worker(_nothing, ())
    with frozen_for_fork(True):
        lane.start()  # forks the worker
    assert gc.get_freeze_count() == 0
    try:
        assert asyncio.run(lane.call(_frozen_here)) > 1000
    finally:
        lane.stop(5)


async def test_the_pool_leaves_nothing_frozen_in_the_bot() -> None:
    import gc

    async with ParserPool(workers=1, timeout=60) as pool:
        await pool.parse(rss([item(1, "x")]), "u", "n")
        assert gc.get_freeze_count() == 0
