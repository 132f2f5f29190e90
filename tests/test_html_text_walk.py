"""html_text's iterwalk-based walker reads exactly what the former Python stack walk read.

The former walker is kept here as the reference: `html_to_text` must give the same text
for every HTML field of the parse corpus and for generated markup (hidden elements,
comments, blocks, tails, nesting).
"""

from __future__ import annotations

import csv
from pathlib import Path

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from bot.feeds import html_text
from bot.feeds.html_text import _BLOCK, _INVISIBLE, _PARSER, collapse_space, html_to_text

DATA = Path(__file__).parent / "data"
CORPORA = [DATA / "corpus", DATA / "corpus_shared"]


def _reference_pieces(root: etree._Element) -> list[str]:
    """The walker as it was before iterwalk (explicit stack of (element, closing))."""
    pieces: list[str] = []
    stack: list[tuple[etree._Element, bool]] = [(root, False)]
    while stack:
        element, closing = stack.pop()
        tag = element.tag if isinstance(element.tag, str) else ""
        if closing:
            if tag.lower() in _BLOCK:
                pieces.append(" ")
            if element.tail:
                pieces.append(element.tail)
            continue
        if not tag or _reference_hidden(element, tag.lower()):
            if element.tail:
                pieces.append(element.tail)
            continue
        if tag.lower() in _BLOCK:
            pieces.append(" ")
        if element.text:
            pieces.append(element.text)
        stack.append((element, True))
        stack.extend((child, False) for child in reversed(element))
    return pieces


def _reference_hidden(element: etree._Element, tag: str) -> bool:
    if tag in _INVISIBLE or element.get("hidden") is not None:
        return True
    style = element.get("style")
    return bool(style and html_text._HIDING_STYLE.search(style))


def reference_text(markup: str) -> str:
    if not markup or markup.isspace():
        return ""
    if "<" not in markup and "&" not in markup:
        return collapse_space(markup)
    try:
        root = etree.fromstring(markup.encode("utf-8", "replace"), _PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return ""
    if root is None:
        return ""
    return collapse_space("".join(_reference_pieces(root)))


def _corpus_markup() -> list[str]:
    values: list[str] = []
    for corpus in CORPORA:
        for row in csv.DictReader((corpus / "manifest.tsv").open(), delimiter="\t"):
            parsed = feedparser.parse((corpus / row["path"]).read_bytes(), sanitize_html=False)
            for entry in parsed.get("entries", []):
                for key in ("title", "summary"):
                    if isinstance(entry.get(key), str):
                        values.append(entry[key])
                for content in entry.get("content") or []:
                    if isinstance(content, dict) and isinstance(content.get("value"), str):
                        values.append(content["value"])
    return values


@pytest.fixture(scope="module")
def corpus_markup() -> list[str]:
    return _corpus_markup()


def test_every_corpus_field_reads_as_before(corpus_markup: list[str]) -> None:
    assert len(corpus_markup) > 1000  # the corpus really was read
    for value in corpus_markup:
        assert html_to_text(value) == reference_text(value), value[:300]


_PIECES = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<div>",
        "</div>",
        "<br>",
        "<br/>",
        "<b>",
        "</b>",
        "<i>",
        "</i>",
        "<script>",
        "</script>",
        "<style>",
        "</style>",
        "<!-- c -->",
        "<?pi x?>",
        "<span hidden>",
        '<span style="display:none">',
        '<span style="color:red">',
        "</span>",
        "<template>",
        "</template>",
        "<li>",
        "<ul>",
        "</ul>",
        "<img src=x>",
        "<td>",
        "<table>",
        "<noscript>",
        "</noscript>",
        "<title>",
        "</title>",
        "<P>",
        "<DIV>",
        "<Script>",
        "Kabul",
        " ",
        "\n",
        "&amp;",
        "&lt;",
        "&nbsp;",
        "<5",
        ">10",
        "ISKP",
        "é",
        "&bogus;",
    ]
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_generated_markup_reads_as_before(markup: str) -> None:
    assert html_to_text(markup) == reference_text(markup)
