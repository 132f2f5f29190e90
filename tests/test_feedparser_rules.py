"""bot/feeds/feedparser_rules.py against feedparser itself: the fast path reads dates,
links and "looks like HTML" without importing feedparser, and must read them the same."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import feedparser
import feedparser.datetimes
import feedparser.sanitizer
import feedparser.urls
from feedparser.mixin import _FeedParserMixin
from hypothesis import example, given
from hypothesis import strategies as st

from bot.feeds import entry_digests, feedparser_rules
from bot.feeds.feedparser_rules import (
    first_handlers,
    looks_like_html,
    make_safe_absolute_uri,
    parse_date,
    urljoin,
)

ROOT = Path(__file__).resolve().parent.parent

DATES = [
    "Mon, 07 Dec 2026 16:12:17 GMT",
    "Mon, 07 Dec 2026 16:12:17 +0530",
    "07 Dec 26 16:12 EST",
    "Dec 07 2026",
    "2026-12-07T16:12:17Z",
    "2026-12-07T16:12:17.25+05:30",
    "2026-12-07",
    "2026-W49",
    "20261207T161217Z",
    "Sun Jan  4 16:29:06 PST 2004",  # asctime: only feedparser's later handlers read it
    "Fri, 2006/09/15 08:19:53 EDT",  # perforce
    "2004-05-25 오후 11:23:17",  # Korean
    "Κυρ, 11 Ιούλ 2004 12:00:00 EST",  # Greek
    "július-13T9:15-05:00",  # Hungarian
    "Mon, 31 Feb 2026 10:00:00 GMT",
    "Mon, 07 Dec 2026 25:61:61 GMT",
    "Mon, 07 Dec 99999 10:00:00 GMT",
    "not a date",
    "",
    "   ",
    "0",
    "Mon, 07 Dec 2026 10:00:00 GMT-05:00",
    "Mon, 07 Dec 2026 10:00:00 Etc/GMT",
]


def test_the_handlers_loaded_are_the_ones_feedparser_tries_first_in_its_order() -> None:
    handlers = first_handlers()
    assert handlers is not None, "feedparser's date handler files could not be loaded"
    theirs = feedparser.datetimes._date_handlers[: len(handlers)]
    assert [h.__name__ for h in handlers] == [h.__name__ for h in theirs]
    assert [h.__code__.co_filename for h in handlers] == [h.__code__.co_filename for h in theirs]


def test_dates_read_as_feedparser_reads_them() -> None:
    for text in DATES:
        assert parse_date(text) == feedparser.datetimes._parse_date(text), text


@given(st.text(max_size=60))
@example("Tue, 10 Jun 2003 04:00:00 GMT")
@example("2003-12-31T10:14:55-08:00")
def test_any_text_reads_as_feedparser_reads_it(text: str) -> None:
    assert parse_date(text) == feedparser.datetimes._parse_date(text)


_date_parts = st.tuples(
    st.sampled_from(["", "Mon, ", "mon ", "Sunday, "]),
    st.integers(0, 40),
    st.sampled_from(["Jan", "feb", "MAR", "Sept", "Dec", "xyz"]),
    st.integers(0, 3000),
    st.sampled_from(["", " 10:00", " 10:00:00", " 24:60:60", " 1:2:3:4"]),
    st.sampled_from(["", " GMT", " Z", " +0530", " -05:00", " EST", " gmt+2", " etc/utc", " x"]),
)


@given(_date_parts)
def test_rfc822_like_dates_read_as_feedparser_reads_them(parts: tuple) -> None:
    day_name, day, month, year, clock, zone = parts
    text = f"{day_name}{day} {month} {year}{clock}{zone}"
    assert parse_date(text) == feedparser.datetimes._parse_date(text)


@given(
    st.integers(0, 10000),
    st.integers(0, 13),
    st.integers(0, 32),
    st.sampled_from(["", "T10:00", "T10:00:00", "T10:00:00.5", "T25:00"]),
    st.sampled_from(["", "Z", "+05:30", "-0800", "+5"]),
)
def test_w3dtf_like_dates_read_as_feedparser_reads_them(
    year: int, month: int, day: int, clock: str, zone: str
) -> None:
    text = f"{year:04d}-{month:02d}-{day:02d}{clock}{zone}"
    assert parse_date(text) == feedparser.datetimes._parse_date(text)


def test_the_copied_tables_are_feedparsers() -> None:
    assert feedparser_rules.ACCEPTABLE_URI_SCHEMES == feedparser.urls.ACCEPTABLE_URI_SCHEMES
    assert set(feedparser_rules.ACCEPTABLE_ELEMENTS) == set(
        feedparser.sanitizer._HTMLSanitizer.acceptable_elements
    )
    assert feedparser_rules._urifixer.pattern == feedparser.urls._urifixer.pattern


_url_piece = st.sampled_from(
    ["http://", "https://", "HTTP://", "ftp://", "javascript:", "data:", "//", "/", "../", "./",
     "?", "#", "example.org", "[::1", "]", ":8080", "a b", "é", "%20", "x", "", "::", "///"]
)  # fmt: skip
_urls = st.lists(_url_piece, max_size=6).map("".join) | st.text(max_size=30)


@given(_urls, _urls)
@example("http://example.org/feed/", "../item?id=1")
@example("http://[::1", "x")
def test_links_join_as_feedparser_joins_them(base: str, rel: str) -> None:
    assert urljoin(base, rel) == feedparser.urls._urljoin(base, rel)
    assert make_safe_absolute_uri(base, rel) == feedparser.urls.make_safe_absolute_uri(base, rel)
    assert make_safe_absolute_uri(base) == feedparser.urls.make_safe_absolute_uri(base)


_markup = st.lists(
    st.sampled_from(["<b>", "</b>", "<script>", "</script>", "&amp;", "&#38;", "&bogus;",
                     "<p>", "</p>", "</x-y>", "<BR/>", "5 < 6", "a & b", "text", "&nbsp;"]),
    max_size=8,
).map("".join) | st.text(max_size=40)  # fmt: skip


@given(_markup)
@example("Ampersand &amp; co</b>")
def test_looks_like_html_as_feedparser_decides(text: str) -> None:
    assert looks_like_html(text) == _FeedParserMixin.looks_like_html(text)


def test_the_fast_path_reads_a_feed_without_importing_feedparser() -> None:
    """The point of the module: a parser process that reads only well-formed feeds with
    ordinary dates never imports feedparser (the entry digests' version included)."""
    feed = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        b"<link>http://example.org/</link><item><title>ISKP &amp; Kabul</title>"
        b"<link>/a</link><pubDate>Mon, 07 Dec 2026 10:00:00 GMT</pubDate>"
        b"<description>&lt;p&gt;Text&lt;/p&gt;</description></item></channel></rss>"
    )
    code = (
        "import sys\n"
        "from bot.feeds.parse import parse_feed_bytes\n"
        f"parsed = parse_feed_bytes({feed!r}, 'http://example.org/feed', 'x', "
        "'http://example.org/feed')\n"
        "assert parsed.digests, 'read on the fast path'\n"
        "item = parsed.items[0]\n"
        "print(item.url, item.published.isoformat(), 'feedparser' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["http://example.org/a", "2026-12-07T10:00:00+00:00", "False"]


def test_the_digest_version_is_feedparsers_read_without_importing_it() -> None:
    assert entry_digests.feedparser_version() == feedparser.__version__
