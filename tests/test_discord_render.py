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


@pytest.mark.parametrize(
    ("raw", "key", "message"),
    [
        ({"guild_ids": ["12"]}, "discord.guild_ids[0]", "not a Discord id"),
        ({"guild_ids": "123456789012345678"}, "discord.guild_ids", "must be a list"),
        ({"token": "abc"}, "discord.token", "unknown key"),
        ({"token_env": "MY-TOKEN"}, "discord.token_env", "not an environment variable name"),
        ({"alert_role_id": "role"}, "discord.alert_role_id", "not a Discord id"),
        ({"api_base": "not a url"}, "discord.api_base", "not a URL"),
        ({"ready_timeout": "soon"}, "discord.ready_timeout", "not a duration"),
    ],
)
def test_discord_section_errors_name_the_key(tmp_path, raw, key, message) -> None:
    from bot.chat.discord.settings import discord_settings
    from bot.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        discord_settings(raw, tmp_path / "bot.toml")
    assert info.value.where == key and message in str(info.value)


def test_discord_section_defaults(tmp_path) -> None:
    from bot.chat.discord.settings import discord_settings

    s = discord_settings({"guild_ids": ["123456789012345678"]}, tmp_path / "bot.toml")
    assert s.token_env == "DISCORD_TOKEN" and s.guild_ids == (123456789012345678,)
    assert s.api_base is None and s.alert_role_id is None


def test_check_validates_the_discord_section(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    (tmp_path / "bot.toml").write_text(
        f'[bot]\nwatchlists = "{root / "watchlists"}"\n'
        '[discord]\nguild_ids = ["12"]\n'
        '[[channels]]\nplatform = "discord"\nid = "123456789012345678"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--config", str(tmp_path / "bot.toml")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "discord.guild_ids[0]" in done.stderr and "not a Discord id" in done.stderr


@pytest.mark.parametrize("label", ["a]b", "a\\]b", "x\\\\]y", "[x](https://evil.example)"])
def test_a_masked_link_label_cannot_end_early(label: str) -> None:
    from bot.chat.discord.render import link

    text = link("https://example.org/a_(b)", escape(label))
    assert text.endswith("](https://example.org/a_%28b%29)")
    # Exactly one "](" that is not escaped: the one that starts the URL.
    assert len(re.findall(r"(?<!\\)(?:\\\\)*\]\(", text)) == 1
    assert link("javascript:alert(1)", "x") == "x"


@given(
    st.lists(st.text(min_size=0, max_size=60), max_size=80),
    st.integers(60, 400),
    st.integers(1, 6),
)
@settings(max_examples=200, deadline=None)
def test_packed_lines_keep_the_limits_and_count_what_is_left_out(
    lines: list[str], limit: int, chunks: int
) -> None:
    from bot.chat.format import pack_lines

    lines = [line.replace("\n", " ") for line in lines]
    total = limit * chunks // 2
    packed = pack_lines(lines, limit, chunks=chunks, total=total)
    assert len(packed) <= chunks and all(len(t) <= limit for t in packed)
    assert sum(map(len, packed)) <= total
    out = "\n".join(packed).split("\n") if packed else []
    if out == lines:
        return  # everything fitted
    more = re.fullmatch(r"…and (\d+) more", out[-1])
    assert more is not None and out[:-1] == lines[: len(out) - 1]
    assert len(out) - 1 + int(more[1]) == len(lines)
