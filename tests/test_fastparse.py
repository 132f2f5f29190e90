"""The fast lxml parse path yields exactly the Items feedparser's path yields, and stays safe.

Why: which path read a feed must never change an alert. Every document of the
two corpora is parsed both ways and the Items compared field by field; a
document the fast path declines (returns None) is feedparser's, which is
always correct by definition.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import ParseError
from bot.feeds.fastparse import parse_fast
from bot.feeds.parse import ParsedFeed, parse_feed_bytes
from tests.feedserver import item, rss
from tests.test_parse import BILLION_LAUGHS

DATA = Path(__file__).parent / "data"
CORPORA = [DATA / "corpus", DATA / "corpus_shared"]
DOCUMENTS = [
    corpus / row["path"]
    for corpus in CORPORA
    for row in csv.DictReader((corpus / "manifest.tsv").open(), delimiter="\t")
]
BASE = "https://example.org/feeds/feed.xml"


def _both(body: bytes) -> tuple[ParsedFeed | str, ParsedFeed | str]:
    results: list[ParsedFeed | str] = []
    for fast in (True, False):
        try:
            results.append(parse_feed_bytes(body, BASE, "corpus", BASE, fast=fast))
        except ParseError as e:
            results.append(f"ParseError: {e}")
    return results[0], results[1]


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(p.relative_to(DATA)) for p in DOCUMENTS])
def test_fast_path_yields_the_items_feedparser_yields(path: Path) -> None:
    body = path.read_bytes()
    if parse_fast(body, BASE) is None:
        return  # declined: feedparser reads it, nothing to compare
    fast, slow = _both(body)
    assert isinstance(fast, ParsedFeed) and isinstance(slow, ParsedFeed), (fast, slow)
    assert fast.title == slow.title
    assert fast.link == slow.link
    assert len(fast.items) == len(slow.items)
    for mine, theirs in zip(fast.items, slow.items, strict=True):
        for field in ("guid", "url", "title", "summary", "published", "date_note"):
            assert getattr(mine, field) == getattr(theirs, field), (field, mine, theirs)


def test_a_plain_generated_feed_takes_the_fast_path() -> None:
    body = rss(
        [item(i, f"Story {i} in Kabul", "<p>Talks in <b>Dushanbe</b></p>") for i in range(5)]
    )
    assert parse_fast(body, BASE) is not None
    fast, slow = _both(body)
    assert isinstance(fast, ParsedFeed) and isinstance(slow, ParsedFeed)
    assert (fast.title, fast.link, fast.items) == (slow.title, slow.link, slow.items)


def test_entity_bombs_and_external_entities_are_declined() -> None:
    external = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<rss version='2.0'><channel><title>t</title><item><title>&x;</title></item>"
        b"</channel></rss>"
    )
    assert parse_fast(BILLION_LAUGHS, BASE) is None
    assert parse_fast(external, BASE) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_fast_path_never_raises_on_arbitrary_bytes(body: bytes) -> None:
    result = parse_fast(body, BASE)
    assert result is None or isinstance(result, tuple)


_SAMPLE = rss([item(i, f"Story {i}", "<p>x &amp; y</p>") for i in range(3)])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(_SAMPLE) - 1), st.binary(min_size=1, max_size=8))
def test_fast_path_never_raises_on_mutated_feeds(at: int, junk: bytes) -> None:
    body = _SAMPLE[:at] + junk + _SAMPLE[at + len(junk) :]
    result = parse_fast(body, BASE)
    assert result is None or isinstance(result, tuple)


@pytest.mark.parametrize("encoding", ["iso-8859-1", "windows-1252"])
def test_single_byte_encodings_read_like_feedparser(encoding: str) -> None:
    # 0x92 is a C1 control in Latin-1 but feedparser reads it as Windows-1252's "’".
    body = (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
        "<title>Not\xedcias</title><item><title>Caf\xe9 d\x92Ouro</title>"
        "<link>https://example.org/1</link></item></channel></rss>"
    ).encode("latin-1")
    fast, slow = _both(body)
    assert isinstance(fast, ParsedFeed) and isinstance(slow, ParsedFeed)
    assert [i.title for i in fast.items] == [i.title for i in slow.items] == ["Café d’Ouro"]


def test_the_path_taken_is_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    good = rss([item(1, "Story in Kabul", "<p>x</p>")])
    with caplog.at_level(logging.DEBUG, logger="bot.feeds.parse"):
        parse_feed_bytes(good, "https://example.org/good", "n")
        parse_feed_bytes(BILLION_LAUGHS, "https://example.org/bomb", "n")
    messages = [r.getMessage() for r in caplog.records]
    assert "parsed https://example.org/good on the fast path" in messages
    assert "parsed https://example.org/bomb with feedparser (the fast path declined it)" in messages


# Markup pieces feedparser's HTML re-serialisation treats specially: declarations,
# comments, PIs, self-closing tags, entity and character references, stray < and &.
_PIECES = st.sampled_from(
    [
        "Kabul", " ", "<p>", "</p>", "<b>", "</b>", "<br/>", "<script/>", "<p/>",
        "<!channel>", "<!-- c -->", "<![CDATA[x]]>", "<?pi x?>", "<!DOCTYPE html>",
        "&amp;", "&lt;", "&gt;", "&nbsp;", "&foo;", "&#150;", "&#x92;", "&#39;", "&#8217;",
        "&", "& ", "&\t", "AT&T ", "<", ">", "<5", "<@U0BOT>", "'", '"', "\u00c3\u00a9", "é", "\n",
        "<a href='x'>", "</a>", "<span style='display:none'>", "</span>",
        "<a", "< b>", "<p class=x>", "</p x>", "<1>", "<td>", "<style>", "</style>", "<>", "=",
        "<img src=x alt='a>b'>", "<a href='a & b'>", "<img alt='x & y'>",
        "<B>", "</", "<img src=x/>", "<5/>", "<BR/>", "<hr />",
        "&TR", "TIPM&TR,", "&copy2024", "&T.;", "&AT-", "&notit", "&ampx", "&a-b", "&THORNx",
        "&Eacute", "&eacutex", "&T.", "&x", "&x;", "<img src='x?a=1&referrerSource=y'>",
        "<a href='?a=1&copy=2'>", "&lt", "&gt5", "&QUOTx", "&a.b c",
    ]
)  # fmt: skip


_LINK_PIECES = st.sampled_from(["a", "/", "?x=1", "&amp;", "&amp;amp;", "&lt;", " ", "%20", "#f"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_PIECES, max_size=12).map("".join),
    st.lists(_PIECES, max_size=12).map("".join),
    st.lists(_LINK_PIECES, max_size=6).map("".join),
)
def test_both_paths_agree_on_any_title_summary_and_link(
    title: str, summary: str, link: str
) -> None:
    fast, slow = _both(rss([item(link, title, summary)]))
    assert isinstance(fast, ParsedFeed) and isinstance(slow, ParsedFeed)
    assert fast.items == slow.items


_TYPES = st.sampled_from(["", ' type="text"', ' type="html"', ' type="text/html"', ' type="xhtml"'])
_DATES = st.sampled_from(
    [
        "2026-11-24T12:00:00Z", "2026-11-24T12:00:00+05:30", "2026-11-24", "0000-01-01",
        "9999-12-31T23:59:00-14:00", "Tue, 24 Nov 2026 12:00:00 GMT", "yesterday", "",
    ]
)  # fmt: skip
_RELS = st.sampled_from(["", ' rel="alternate"', ' rel="self"', ' rel="enclosure"'])


@settings(max_examples=300, deadline=None)
@given(
    st.tuples(_TYPES, st.lists(_PIECES, max_size=8).map("".join)),
    st.tuples(_TYPES, st.lists(_PIECES, max_size=8).map("".join), st.booleans()),
    st.lists(st.tuples(_RELS, st.sampled_from(["/a", "b?c=1&amp;d", "https://x.org/"]))),
    st.lists(st.tuples(st.sampled_from(["published", "updated", "issued"]), _DATES), max_size=2),
    st.sampled_from(["", "<id>urn:x</id>", "<id>rel/1</id>", "<id></id>"]),
)
def test_both_paths_agree_on_atom_entries(
    title: tuple[str, str],
    summary: tuple[str, str, bool],
    links: list[tuple[str, str]],
    dates: list[tuple[str, str]],
    entry_id: str,
) -> None:
    def text(tag: str, kind: str, value: str) -> str:
        return f"<{tag}{kind}>{escape(value)}</{tag}>"

    body = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Feed</title><entry>"
        + text("title", *title)
        + text("content" if summary[2] else "summary", summary[0], summary[1])
        + "".join(f'<link{rel} href="{href}"/>' for rel, href in links)
        + "".join(f"<{tag}>{value}</{tag}>" for tag, value in dates)
        + entry_id
        + "</entry></feed>"
    ).encode()
    fast, slow = _both(body)
    assert isinstance(fast, ParsedFeed) and isinstance(slow, ParsedFeed)
    assert (fast.title, fast.link, fast.items) == (slow.title, slow.link, slow.items)


@pytest.mark.parametrize("extra", ["<id>other</id>", "<summary>s</summary>"])
def test_atom_style_fields_in_an_rss_item_go_to_feedparser(extra: str) -> None:
    # feedparser reads these by local name in RSS as well: they compete with <guid>, <description>.
    body = rss([item(1, "Kabul", "d")]).replace(b"</item>", extra.encode() + b"</item>")
    assert parse_fast(body, BASE) is None
    fast, slow = _both(body)
    assert isinstance(fast, ParsedFeed) and isinstance(slow, ParsedFeed)
    assert fast.items == slow.items


# Repeats real feeds carry: RSS 1.0 <title> with <dc:title>, a podcast's
# <description> with <itunes:summary>, in any order, empty or not (issue 13).
_REPEATABLE = st.sampled_from(
    [
        "<title>{}</title>", "<dc:title>{}</dc:title>", "<media:title>{}</media:title>",
        "<description>{}</description>", "<itunes:summary>{}</itunes:summary>",
        "<content:encoded>{}</content:encoded>", "<image><title>{}</title></image>",
    ]
)  # fmt: skip
_SHORT_TEXT = st.sampled_from(["", " ", "Kabul", "<b>Herat</b>", "a &amp; b", "<p/>"])


_FIELD_RUNS = st.lists(st.tuples(_REPEATABLE, _SHORT_TEXT), max_size=4).map(
    lambda fields: "".join(form.format(escape(text)) for form, text in fields)
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_FIELD_RUNS, min_size=5, max_size=5), st.booleans())
def test_both_paths_agree_on_repeated_titles_and_summaries(runs: list[str], rdf: bool) -> None:
    # Channel fields before, between and after two items: feedparser's "has content"
    # flag set in the channel changes how the next item reads a repeated summary.
    before, first, between, second, after = runs
    namespaces = (
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"'
    )
    if rdf:
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            f'xmlns="http://purl.org/rss/1.0/" {namespaces}>'
            '<channel rdf:about="https://example.org/"><title>Feed</title>'
            f"<link>https://example.org/</link>{before}</channel>"
            f'<item rdf:about="https://example.org/1"><link>https://example.org/1</link>{first}'
            f'</item><item rdf:about="https://example.org/2"><link>https://example.org/2</link>'
            f"{second}</item></rdf:RDF>"
        )
    else:
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" {namespaces}><channel>'
            f"<title>Feed</title>{before}<item><link>https://example.org/1</link>{first}</item>"
            f"{between}<item><link>https://example.org/2</link>{second}</item>{after}"
            "</channel></rss>"
        )
    fast, slow = _both(body.encode())
    if isinstance(slow, str):
        assert isinstance(fast, str)
        return
    assert isinstance(fast, ParsedFeed), fast
    assert (fast.title, fast.link, fast.items) == (slow.title, slow.link, slow.items)


@pytest.mark.parametrize(
    "name",
    [
        "science-aaas-twis.rdf",  # <dc:title> beside <title>
        "giantbomb-podcast.rss",  # <itunes:summary> beside <description>, in the channel too
        "medscape-family-medicine.rss",  # "Diabetes & Endocrinology" in HTML; <image> in items
        "medium-food-in-invironment.rss",  # "?event=x&referrerSource=y" in an <img src>
        "varthabharathi-kannada.rss",  # "(TIPM&TR)" in a description
    ],
)
def test_feeds_with_repeats_and_bare_ampersands_take_the_fast_path(name: str) -> None:
    assert parse_fast((DATA / "corpus_shared" / "news" / name).read_bytes(), BASE) is not None


@pytest.mark.parametrize(
    "summary",
    ["&copy2024 Reuters", "AT&amp;T &amp;notice", "x &T.; y", "&Eacutex"],
)
def test_a_bare_name_a_browser_would_decode_goes_to_feedparser(summary: str) -> None:
    """feedparser writes "&copy2024" back as "&amp;copy2024" (text "&copy2024"), while
    the raw "&copy2024" shows "©2024"; "&T.;" loses its ";" in feedparser."""
    body = rss([item(1, "Title", summary)]).replace(b"&amp;amp;", b"&amp;")
    assert parse_fast(body, BASE) is None
