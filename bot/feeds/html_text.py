"""Feed HTML to the plain text a reader sees, for matching, storing and posting.

Why a real HTML parser and not a regex: a regex that drops "anything between
`<` and `>`" eats literal text ("Casualties <5 in Kabul, >10 injured" lost
"Kabul" and the alert never fired) and keeps what no reader sees (the body of
`<script>`, `<style>`, comments), so a watch term hidden there raised an alert
nobody could find in the item. An HTML parser knows that `<5` is text and a
`<script>` body is not.

Why lxml: it wraps libxml2's C HTML parser (an HTML5 tokenizer since 2.14),
which is fast, bounded and well kept. Its HTML parser has no DTD, so it knows
only HTML's fixed named entities and never expands user-defined ones (the
`resolve_entities` switch exists only for its XML parser); it is told never to
touch the network and to keep libxml2's limits on depth and text size
(`huge_tree=False`), so a hostile document cannot make it loop or balloon.

Only fields that *are* HTML go through here: feedparser says which
(`title_detail.type` and friends). Plain-text fields keep every character;
`<!channel>` in a plain title stays text. Making text inert for a chat
platform is each formatter's job (bot/chat/), not this module's.
"""

from __future__ import annotations

import re

from lxml import etree

# Elements whose content no reader sees: code, style sheets, inert templates,
# fallbacks for browsers without scripts or frames, the document's title. Not
# <head> as a whole: libxml2 builds no HTML5 tree and may put visible
# elements there (a stray <td> after a <script>).
_INVISIBLE = frozenset(
    "script style template noscript noframes iframe object embed applet title datalist".split()
)
# Elements that start a new line or box when rendered: a word boundary on each side,
# so "<p>a</p><p>b</p>" reads "a b", never "ab".
_BLOCK = frozenset(
    "address article aside blockquote body br caption dd details dialog div dl dt "
    "fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr html "
    "img li main nav ol option p pre section summary table tbody td tfoot th thead tr ul "
    "audio video canvas picture source track input button select textarea label legend "
    "menu".split()
)
# Inline styles that hide an element: as invisible as a <script> body.
_HIDING_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)

# lxml's own HTML parser (libxml2's, the same one `lxml.html.HTMLParser` wraps) without
# lxml.html's element classes: those are chosen by a Python lookup for each element the
# walk below touches, 7 µs of a 48 µs summary, for methods this module never calls.
_PARSER = etree.HTMLParser(
    encoding="utf-8",
    remove_comments=True,
    remove_pis=True,
    no_network=True,
    huge_tree=False,
    default_doctype=False,
)

# The content types feedparser reports for markup (Atom type="html"/"xhtml",
# RSS descriptions and titles that look like HTML); anything else is plain text.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})


def collapse_space(text: str) -> str:
    """Runs of whitespace (newlines, tabs, no-break spaces) become one space; ends trimmed."""
    return " ".join(text.split())


def field_text(value: str, content_type: str | None) -> str:
    """A feed field as plain text: HTML converted, plain text kept as it is (spaces collapsed).

    A field without a content type is treated as HTML: text hidden in a
    `<script>` must never match, and plain text without markup converts to itself.
    """
    if content_type is None or content_type.lower() in HTML_TYPES:
        return html_to_text(value)
    return collapse_space(value)


def html_to_text(markup: str) -> str:
    """The text a browser would show for an HTML fragment, on one line.

    Tags are dropped, entities decoded exactly once (`&amp;lt;` → `&lt;`),
    literal `<` and `>` that are not tags kept, invisible content (script,
    style, comments, templates, hidden elements) dropped, and block elements
    and `<br>` separate words.
    """
    if not markup or markup.isspace():
        return ""
    if "<" not in markup and "&" not in markup:
        return collapse_space(markup)  # no markup at all: nothing to parse
    try:
        root = etree.fromstring(markup.encode("utf-8", "replace"), _PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return ""  # libxml2 recovers from nearly anything; what it cannot read shows nothing
    if root is None:
        return ""
    return collapse_space("".join(_visible_pieces(root)))


def _visible_pieces(root: etree._Element) -> list[str]:
    """The text nodes a reader sees, in document order, with spaces at block edges.

    Walked by lxml's `iterwalk` (in C; no recursion, so nesting depth cannot
    hit Python's limit): about twice as fast as a Python stack walk, and this
    runs on every HTML summary of every parsed item. A hidden element's
    subtree is skipped; its end event still comes, and then only its tail shows.
    """
    pieces: list[str] = []
    append = pieces.append
    skipped = None  # the hidden element whose subtree was skipped: its end comes next
    walker = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, element in walker:
        if event == "start":
            tag = element.tag.lower()
            if tag in _INVISIBLE or _hidden_by_attribute(element):
                walker.skip_subtree()
                skipped = element
                continue
            if tag in _BLOCK:
                append(" ")
            if element.text:
                append(element.text)
        elif event == "end":
            if element is skipped:
                skipped = None
            elif element.tag.lower() in _BLOCK:
                append(" ")
            if element.tail:
                append(element.tail)
        elif element.tail:  # a comment or processing instruction: only the text after it shows
            append(element.tail)
    return pieces


def _hidden_by_attribute(element: etree._Element) -> bool:
    if element.get("hidden") is not None:
        return True
    style = element.get("style")
    return bool(style and _HIDING_STYLE.search(style))


def _hidden(element: etree._Element, tag: str) -> bool:
    if tag in _INVISIBLE or element.get("hidden") is not None:
        return True
    style = element.get("style")
    return bool(style and _HIDING_STYLE.search(style))
