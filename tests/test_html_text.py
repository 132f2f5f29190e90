"""Feed HTML to plain text: literal text kept, invisible content dropped, entities decoded once."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.feeds.html_text import collapse_space, field_text, html_to_text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        # Literal < and > that are not tags are text (a regex stripper ate "5 in Kabul, ").
        ("Casualties <5 in Kabul, >10 injured", "Casualties <5 in Kabul, >10 injured"),
        ("Casualties &lt;5 in Kabul, &gt;10 injured", "Casualties <5 in Kabul, >10 injured"),
        ("x > y and 1 < 2 & 3", "x > y and 1 < 2 & 3"),
        # Entities are decoded exactly once.
        ("&amp;lt;", "&lt;"),
        ("AT&amp;T &mdash; R&D", "AT&T — R&D"),
        ("Three&nbsp;dead", "Three dead"),
        ("&bogus; stays", "&bogus; stays"),
        # Word boundaries between blocks and at <br>; none inside inline markup.
        ("<p>a</p><p>b</p>", "a b"),
        ("line<br>break", "line break"),
        ("line<br/>break", "line break"),
        ("<li>one</li><li>two</li>", "one two"),
        ("<td>Kabul</td><td>Herat</td>", "Kabul Herat"),
        ("<b>Kab</b>ul", "Kabul"),
        ("<p>Talks in <b>Dushanbe</b> &mdash; today</p>", "Talks in Dushanbe — today"),
        # What no reader sees is not text.
        ("<script>ISKP</script>visible", "visible"),
        ("<style>.ISKP{}</style>visible", "visible"),
        ("<!-- ISKP -->visible", "visible"),
        ("<template>ISKP</template>visible", "visible"),
        ("<noscript>ISKP</noscript>visible", "visible"),
        ("<span hidden>ISKP</span>visible", "visible"),
        ('<div style="display: none">ISKP</div>visible', "visible"),
        ("<head><title>ISKP</title></head><body>visible</body>", "visible"),
        # `<!channel>` in an HTML field is markup (a bogus comment): a browser shows nothing.
        ("a <!channel> b", "a b"),
        ("a &lt;!channel&gt; b", "a <!channel> b"),
        ("", ""),
        ("   \n ", ""),
        ("<!-- only a comment -->", ""),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


def test_plain_text_fields_are_kept_as_written() -> None:
    title = "Casualties <5 reported <!channel> and x > y &amp; @everyone **bold**"
    assert field_text(title, "text/plain") == title
    assert field_text("  two\n lines ", "text/plain") == "two lines"


def test_html_fields_are_converted_and_unknown_types_count_as_html() -> None:
    assert field_text("<b>ISKP</b> &amp; more", "text/html") == "ISKP & more"
    assert field_text("<div>x</div><div>y</div>", "application/xhtml+xml") == "x y"
    assert field_text("<script>ISKP</script>ok", None) == "ok"


# Any text but NUL (which HTML parsing turns into U+FFFD) and lone surrogates.
_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=200,
)
_WORD = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Nd")), min_size=1, max_size=8)
_INLINE = st.sampled_from(["b", "i", "em", "strong", "span", "a", "code"])
_BLOCK = st.sampled_from(["p", "div", "li", "h2", "blockquote", "td"])
_INVISIBLE = st.sampled_from(["script", "style", "template", "noscript"])


@given(_TEXT)
def test_plain_text_without_markup_round_trips(text: str) -> None:
    """Escaped once, decoded once: what the feed meant comes back, spaces aside."""
    assert html_to_text(html.escape(text, quote=False)) == collapse_space(text)
    assert field_text(text, "text/plain") == collapse_space(text)


@given(st.text(max_size=300))
def test_never_raises(markup: str) -> None:
    assert isinstance(html_to_text(markup), str)


@st.composite
def _fragments(draw: st.DrawFn) -> tuple[str, list[str], list[str]]:
    """Random HTML of words in inline, block and invisible elements:
    (markup, the words a reader sees in order, the hidden words)."""
    markup: list[str] = []
    shown: list[str] = []
    hidden: list[str] = []
    for _ in range(draw(st.integers(1, 8))):
        word = draw(_WORD)
        kind = draw(st.sampled_from(["text", "inline", "block", "invisible", "comment"]))
        if kind == "text":
            markup.append(f" {word} ")
            shown.append(word)
        elif kind == "inline":
            tag = draw(_INLINE)
            markup.append(f" <{tag}>{word}</{tag}> ")
            shown.append(word)
        elif kind == "block":
            tag = draw(_BLOCK)
            markup.append(f"<{tag}>{word}</{tag}>")
            shown.append(word)
        elif kind == "invisible":
            tag = draw(_INVISIBLE)
            markup.append(f"<{tag}>hidden{word}</{tag}>")
            hidden.append(f"hidden{word}")
        else:
            markup.append(f"<!-- hidden{word} -->")
            hidden.append(f"hidden{word}")
    return "".join(markup), shown, hidden


@given(_fragments())
def test_markup_is_gone_visible_words_stay_in_order_hidden_ones_go(
    fragment: tuple[str, list[str], list[str]],
) -> None:
    markup, shown, hidden = fragment
    text = html_to_text(markup)
    assert "<" not in text and ">" not in text
    assert text.split() == shown
    assert not any(word in text.split() for word in hidden)
