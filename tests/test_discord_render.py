"""Discord embeds from alerts: limits kept, hostile text inert (pure functions)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.chat.discord.render import (
    DESCRIPTION_MAX,
    TITLE_MAX,
    TOTAL_MAX,
    alert_embed,
    escape,
    safe_url,
    thread_name,
)
from bot.chat.discord.sink import nonce_for
from bot.models import Alert, Item, Match

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def alert(title: str, summary: str = "", url: str = "https://example.org/a", n: int = 1) -> Alert:
    matches = tuple(
        Match(f"e{i}", f"Entity {i}", "group", "high", "ISKP", "ISKP", 100.0, "title", 0, 4)
        for i in range(n)
    )
    item = Item("https://example.org/feed", "g1", url, title, summary, NOW, "Feed")
    return Alert(7, "discord", "123456789012345678", item, matches, NOW)


@pytest.mark.parametrize(
    "hostile",
    [
        "@everyone look",
        "@here now",
        "<@&123456789012345678> ping the role",
        "<@123456789012345678> ping a user",
        "**bold** __under__ ~~strike~~ ||spoiler|| `code`",
        "# Heading",
        "-# subtext",
        "> quote",
        "[masked](https://evil.example)",
        "<t:1700000000:R> <#123456789012345678>",
    ],
)
def test_hostile_text_is_inert(hostile: str) -> None:
    e = alert_embed(alert(f"ISKP {hostile}", hostile))
    for text in (e.title, e.description):
        assert "@everyone" not in text and "@here" not in text
        # Every "<" and "[" that could open a mention, timestamp or masked link is escaped.
        assert not re.search(r"(?<!\\)<", text)
        assert not re.search(r"(?<!\\)\[", text)
        assert "**bold**" not in text
        assert not text.startswith(("# ", "-# ", "> "))


def test_embed_carries_title_link_fields_footer_and_colour() -> None:
    e = alert_embed(alert("ISKP claims attack", "A long summary mentioning ISKP again."))
    d = e.to_dict()
    assert d["title"] == "ISKP claims attack"
    assert d["url"] == "https://example.org/a"
    names = [f["name"] for f in d["fields"]]
    assert names[0] == "Entity 0" and "Source" in names and "Published" in names
    assert "ISKP → ISKP" in d["footer"]["text"]
    assert d["color"] == 0xD93025


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html,x", "ftp://x/y", "", "http://a b"]
)
def test_only_http_links(url: str) -> None:
    assert safe_url(url) is None
    assert alert_embed(alert("ISKP", url=url)).url is None


def test_limits_are_kept_by_truncating() -> None:
    e = alert_embed(alert("ISKP " + "word " * 200, "ISKP " + "x" * 10_000, n=40))
    assert len(e.title) <= TITLE_MAX
    assert len(e.description or "") <= DESCRIPTION_MAX
    assert len(e.fields) <= 25
    assert len(e) <= TOTAL_MAX


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=5000), st.text(max_size=9000))
def test_any_text_fits(title: str, summary: str) -> None:
    e = alert_embed(alert(title, summary, n=30))
    assert len(e) <= TOTAL_MAX
    assert len(e.title or "") <= TITLE_MAX
    assert len(e.description or "") <= DESCRIPTION_MAX
    assert "@everyone" not in (e.description or "") + (e.title or "")


def test_nonce_is_stable_and_short() -> None:
    a = alert("ISKP")
    assert nonce_for(a) == nonce_for(a)
    assert len(nonce_for(a)) <= 25


def test_thread_name_is_the_story_title() -> None:
    assert thread_name(alert("ISKP  claims\nattack")) == "ISKP claims attack"
    assert len(thread_name(alert("x" * 500))) <= 100


def test_escape_keeps_ordinary_text_readable() -> None:
    assert escape("Kabul: 12 killed") == "Kabul: 12 killed"
