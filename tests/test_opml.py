"""OPML reading (hostile files included) and writing, as plain functions over bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import OpmlError
from bot.ops.opml import ExportFeed, opml_document, parse_opml, read_opml, xml_safe

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Subscriptions</title></head>
  <body>
    <outline text="Security">
      <outline text="South Asia">
        <outline type="rss" text="Deep" xmlUrl="https://a.example/deep.xml"
                 htmlUrl="https://a.example/"/>
      </outline>
      <outline type="rss" title="Only title" xmlurl=" https://b.example/feed "/>
    </outline>
    <outline type="rss" text="Top &amp; &quot;quoted&quot;" xmlUrl="https://c.example/rss?a=1&amp;b=2"/>
    <outline text="A folder with no feeds"/>
  </body>
</opml>
"""

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
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
<opml version="2.0"><body>
  <outline text="&lol9;" xmlUrl="https://x.example/&lol9;"/>
</body></opml>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&secret;" xmlUrl="https://x.example/"/></body></opml>
"""


def test_nested_outlines_are_walked_and_folders_skipped() -> None:
    feeds = parse_opml(NESTED, "subs.opml")
    assert [(f.url, f.title, f.html_url) for f in feeds] == [
        ("https://a.example/deep.xml", "Deep", "https://a.example/"),
        ("https://b.example/feed", "Only title", ""),
        ("https://c.example/rss?a=1&b=2", 'Top & "quoted"', ""),
    ]
    assert feeds[0].line == 8  # messages name the line of the outline


def test_entity_bomb_is_refused_without_expanding() -> None:
    with pytest.raises(OpmlError, match="declares XML entities"):
        parse_opml(BOMB, "bomb.opml")


def test_external_entity_is_refused_and_never_read() -> None:
    with pytest.raises(OpmlError, match="declares XML entities"):
        parse_opml(XXE, "xxe.opml")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><body><p>hello</p></body></html>", "not an OPML file"),
        (b"<opml version='2.0'><head/></opml>", "has no <body>"),
        (b"<opml><body><outline text='x'", "not well-formed XML"),
        (b"", "not well-formed XML|empty"),
    ],
)
def test_files_that_are_not_opml_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=message):
        parse_opml(data, "x.opml")


def test_a_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.opml"
    path.write_bytes(b"<opml><body>" + b" " * 2000 + b"</body></opml>")
    with pytest.raises(OpmlError, match="larger than"):
        read_opml(path, max_bytes=1000)
    assert read_opml(path, max_bytes=5000) == []


def test_export_escapes_and_drops_what_xml_cannot_carry() -> None:
    feeds = [
        ExportFeed("https://c.example/rss?a=1&b=2", 'A & B <"x"> \x07bell', "https://c.example/"),
        ExportFeed("https://d.example/feed", ""),
    ]
    document = opml_document(feeds, "newswatch", NOW)
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert b'version="2.0"' in document
    back = parse_opml(document, "export")
    assert [(f.url, f.title, f.html_url) for f in back] == [
        ("https://c.example/rss?a=1&b=2", 'A & B <"x"> bell', "https://c.example/"),
        ("https://d.example/feed", "https://d.example/feed", ""),
    ]


@given(
    st.lists(
        st.tuples(
            st.text(max_size=40),
            st.text(max_size=40),
            st.one_of(st.none(), st.text(min_size=1, max_size=30)),
        ),
        max_size=5,
    )
)
def test_export_then_read_gives_the_same_feeds(rows: list[tuple[str, str, str | None]]) -> None:
    feeds = [
        ExportFeed(f"https://e.example/{i}?q={path}", title, html and f"https://e.example/{html}")
        for i, (path, title, html) in enumerate(rows)
    ]
    back = parse_opml(opml_document(feeds, "t", NOW), "export")
    assert [f.url for f in back] == [xml_safe(f.url).strip() for f in feeds]
    assert [f.title for f in back] == [xml_safe(f.title or f.url).strip() for f in feeds]
    assert [f.html_url for f in back] == [xml_safe(f.html_url or "").strip() for f in feeds]
