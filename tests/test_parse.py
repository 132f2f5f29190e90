"""Parsing hostile and malformed feeds: never crash, never hang, stay bounded."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest

from bot.errors import ParseError
from bot.feeds.parse import ParsedFeed, ParserPool, parse_feed_bytes
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
        assert pool._pool is not None
        for proc in list(pool._pool._processes.values()):  # type: ignore[union-attr]
            proc.kill()
        with pytest.raises(ParseError, match="died"):
            await pool.parse(rss([item(2, "x")]), "u", "n")
        parsed = await pool.parse(rss([item(3, "after a crash")]), "u", "n")
    assert parsed.items[0].title == "after a crash"


async def test_deadline_counts_parsing_not_waiting_in_the_queue() -> None:
    """A burst of documents larger than the pool can take at once all parse."""
    body = rss([item(n, f"Story {n}", "word " * 40) for n in range(60)])
    async with ParserPool(workers=1, timeout=1.5) as pool:
        results = await asyncio.gather(*(pool.parse(body, f"u{i}", "n") for i in range(90)))
    assert all(len(r.items) == 60 for r in results)
