"""Skipping entries whose digest is known reads exactly what a full parse reads, minus them.

Why: a changed feed reads only its changed entries (bot/feeds/fastparse.py,
issue 13). That is safe only if (1) leaving entries out never changes how the
others read, and (2) an entry skipped because its digest matched one of the
last poll is one a full parse would read exactly as it read that one. Both are
checked here over every corpus document the fast path reads and over generated
documents whose entries' context (base URL, the "has content" flag a channel
leaks into its items, the declared encoding) varies between two versions.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.feeds.entry_digests import DIGEST_CHARS, split_digests
from bot.feeds.fastparse import FastRead, read_fast
from bot.feeds.parse import _parsed_feed, parse_feed_bytes
from tests.test_fastparse import BASE, DATA, DOCUMENTS


def _full(body: bytes, base: str = BASE) -> FastRead | None:
    return read_fast(body, base)


def _check_skip(body: bytes, known: frozenset[str], base: str = BASE) -> FastRead | None:
    """Parse with `known`; assert it is the full parse minus the known entries, in order."""
    full = _full(body, base)
    partial = read_fast(body, base, known)
    if full is None:
        assert partial is None
        return None
    assert partial is not None
    assert partial.header == full.header
    assert partial.digests == full.digests
    kept = [e for e, d in zip(full.entries, full.digests, strict=True) if d not in known]
    assert partial.entries == kept
    assert partial.skipped == len(full.entries) - len(kept)
    # And as Items, through the same code the poller uses.
    parsed = parse_feed_bytes(body, BASE, "feed", base, "".join(sorted(known)))
    expected = _parsed_feed(full.header, kept, BASE, "feed", None)
    assert parsed.items == expected.items
    assert parsed.digests == "".join(full.digests)
    assert parsed.skipped == partial.skipped
    return full


def _check_matches(old: FastRead, new: FastRead) -> None:
    """An entry of `new` whose digest was among `old`'s reads exactly like that old entry."""
    before = dict(zip(old.digests, old.entries, strict=True))
    for digest, entry in zip(new.digests, new.entries, strict=True):
        if digest in before:
            assert entry == before[digest]


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(p.relative_to(DATA)) for p in DOCUMENTS])
def test_skipping_any_subset_of_a_corpus_document_leaves_the_rest_as_read(path: Path) -> None:
    body = path.read_bytes()
    full = _full(body)
    if full is None:
        return  # feedparser's: no digests, nothing skipped
    digests = full.digests
    assert all(len(d) == DIGEST_CHARS for d in digests)
    for known in (
        frozenset(),
        frozenset(digests),
        frozenset(digests[::2]),
        frozenset(digests[1::3]),
        frozenset(digests[:1]),
    ):
        _check_skip(body, known)
    everything = read_fast(body, BASE, frozenset(digests))
    assert everything is not None
    assert everything.entries == []
    assert everything.skipped == len(digests)


def test_a_moved_feed_skips_nothing() -> None:
    """The base URL relative links resolve against is part of each entry's digest."""
    body = (DATA / "corpus_shared" / "news").glob("*")
    for path in sorted(body):
        old = _full(path.read_bytes(), BASE)
        if old is None or not old.digests:
            continue
        moved = read_fast(
            path.read_bytes(), "https://elsewhere.example/feed", split_digests("".join(old.digests))
        )
        assert moved is not None and moved.skipped == 0
        return
    pytest.fail("no corpus news document takes the fast path")


def test_stored_digests_split_back() -> None:
    full = _full(_rss([_Entry("A", "a", "one", "", False), _Entry("B", "b", "two", "", False)]))
    assert full is not None
    assert split_digests("".join(full.digests)) == frozenset(full.digests)
    assert split_digests("") == frozenset()


# -- generated documents: two versions of a feed, entries in varying context --------------


class _Entry:
    def __init__(self, title: str, link: str, summary: str, podcast: str, channel_content: bool):
        self.title = title
        self.link = link
        self.summary = summary
        self.podcast = podcast  # an <itunes:summary> too: read per the "has content" flag
        self.channel_content = channel_content  # channel <content:encoded> just before it


def _rss(entries: list[_Entry], encoding: str = "utf-8") -> bytes:
    parts = [
        f'<?xml version="1.0" encoding="{encoding}"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>',
        "<title>Feed</title><link>https://example.org/</link>",
    ]
    for e in entries:
        if e.channel_content:
            parts.append("<content:encoded>channel words</content:encoded>")
        parts.append("<item>")
        parts.append(f"<title>{escape(e.title)}</title><link>{escape(e.link)}</link>")
        if e.summary:
            parts.append(f"<description>{escape(e.summary)}</description>")
        if e.podcast:
            parts.append(f"<itunes:summary>{escape(e.podcast)}</itunes:summary>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def _atom(entries: list[_Entry]) -> bytes:
    parts = ['<feed xmlns="http://www.w3.org/2005/Atom"><title>Feed</title>']
    for e in entries:
        parts.append(
            f'<entry><title>{escape(e.title)}</title><link href="{escape(e.link)}"/>'
            f"<id>{escape(e.link)}</id>"
            + (f"<summary>{escape(e.summary)}</summary>" if e.summary else "")
            + "</entry>"
        )
    parts.append("</feed>")
    return "".join(parts).encode()


_WORDS = st.sampled_from(["Kabul", "talks", "ISKP", "é", "AT&T", "border", "<b>x</b>", "", "a"])
_TEXT = st.lists(_WORDS, max_size=3).map(" ".join)
_ENTRY = st.builds(
    _Entry,
    title=_TEXT,
    link=st.sampled_from(["/news/1", "/news/2", "https://a.example/x", "rel/3"]),
    summary=_TEXT,
    podcast=st.sampled_from(["", "pod words", "other pod"]),
    channel_content=st.booleans(),
)
_ENTRIES = st.lists(_ENTRY, max_size=6)
_BASES = st.sampled_from([BASE, "https://example.org/other/feed.xml", "http://mirror.example/"])


@settings(max_examples=400, deadline=None)
@given(
    old=_ENTRIES,
    new=_ENTRIES,
    shared=st.lists(st.integers(0, 5), max_size=6),
    kind=st.sampled_from(["rss", "rss", "rss-latin1", "atom"]),
    bases=st.one_of(_BASES.map(lambda b: (b, b)), st.tuples(_BASES, _BASES)),
    flips=st.lists(st.booleans(), max_size=6),
)
def test_a_skipped_entry_reads_as_the_entry_it_matched(
    old: list[_Entry],
    new: list[_Entry],
    shared: list[int],
    kind: str,
    bases: tuple[str, str],
    flips: list[bool],
) -> None:
    """Two versions of a feed sharing some entries (moved, in other context or not):
    every entry of the new one skipped for a digest of the old one reads exactly as
    that old entry did, and the rest read as in a full parse."""
    # The new version carries copies of some old entries, in another position and
    # possibly with the channel's "has content" flag flipped before them.
    for n, index in enumerate(shared):
        if index < len(old):
            e = old[index]
            flip = flips[n] if n < len(flips) else False
            copy = _Entry(e.title, e.link, e.summary, e.podcast, e.channel_content ^ flip)
            new.insert(min(index + n, len(new)), copy)
    render = _atom if kind == "atom" else _rss
    encoding = "iso-8859-1" if kind == "rss-latin1" else "utf-8"

    def body(entries: list[_Entry], enc: str) -> bytes:
        return render(entries) if kind == "atom" else _rss(entries, enc)

    old_body, new_body = body(old, "utf-8"), body(new, encoding)
    old_read = _full(old_body, bases[0])
    if old_read is None:
        return
    known = frozenset(old_read.digests)
    new_read = _check_skip(new_body, known, bases[1])
    if new_read is None:
        return
    _check_matches(old_read, new_read)
    if bases[0] != bases[1] or encoding != "utf-8":
        assert not known.intersection(new_read.digests)  # another context: nothing skipped


def test_the_channel_content_flag_is_part_of_the_context() -> None:
    """An item with the same bytes reads differently after channel content (feedparser's
    leaking "has content" flag): its digest must differ, so it is read again."""
    entry = _Entry("Title", "/a", "first words", "pod words", False)
    plain = _full(_rss([entry]))
    flagged = _full(_rss([_Entry(entry.title, entry.link, entry.summary, entry.podcast, True)]))
    assert plain is not None and flagged is not None
    assert plain.entries != flagged.entries  # the flag changes the reading…
    assert plain.digests != flagged.digests  # …so the digest differs


def test_the_digester_gives_entry_digests_digests() -> None:
    """EntryDigester is entry_digest made cheaper for many entries: the same strings."""
    from lxml import etree

    from bot.feeds.entry_digests import EntryDigester, entry_digest

    items = etree.fromstring(
        b"<rss><channel><item><title>a</title></item><item><title>b &amp; c</title>"
        b"<description>&lt;p&gt;x&lt;/p&gt;</description></item><item/></channel></rss>"
    ).findall("channel/item")
    digest_of = EntryDigester(b"context")
    for suffix in (b"\0T", b"\0F", b"\0?", b"\0T"):
        for item in items:
            assert digest_of(suffix, item) == entry_digest(b"context" + suffix, item)
