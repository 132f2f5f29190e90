"""Slack Block Kit from alerts and slash-command parsing (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.chat.slack.parse import USAGE, UsageError, parse
from bot.chat.slack.render import SECTION_MAX, alert_blocks, alert_text, escape, link
from bot.chat.slack.sink import slack_settings
from bot.errors import ConfigError
from bot.models import Alert, Item, Match

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def alert(title: str, summary: str = "", url: str = "https://example.org/a", n: int = 1) -> Alert:
    matches = tuple(
        Match(f"e{i}", f"Entity {i}", "group", "high", "ISKP", "ISKP", 100.0, "summary", 0, 4)
        for i in range(n)
    )
    item = Item("https://example.org/feed", "g1", url, title, summary, NOW, "Feed")
    return Alert(7, "slack", "C0123ABCD", item, matches, NOW)


@pytest.mark.parametrize(
    "hostile", ["<!channel>", "<!here>", "<@U0123ABCD>", "<!subteam^S123>", "<https://evil|x>"]
)
def test_hostile_text_arrives_inert(hostile: str) -> None:
    blocks = alert_blocks(alert(f"ISKP {hostile}", f"ISKP said {hostile}"))
    text = blocks[0]["text"]["text"] + " ".join(e["text"] for e in blocks[1]["elements"])
    assert hostile not in text
    assert "&lt;" in text
    assert "<" not in alert_text(alert(hostile))


def test_only_amp_lt_gt_are_escaped() -> None:
    assert escape("Q&A <b> *bold* _x_") == "Q&amp;A &lt;b&gt; *bold* _x_"


def test_blocks_link_the_title_bold_the_match_and_explain() -> None:
    blocks = alert_blocks(alert("ISKP claims attack", "ISKP said it did"))
    section = blocks[0]["text"]["text"]
    assert section.startswith("*<https://example.org/a|ISKP claims attack>*")
    assert "*ISKP* said it did" in section
    context = [e["text"] for e in blocks[1]["elements"]]
    assert "*Entity 0* (group)" in context[0]
    assert context[1].startswith("Feed · <!date^")
    assert "ISKP → ISKP (exact, 100)" in context[2]


@pytest.mark.parametrize("url", ["javascript:x", "https://a|b", "https://a>b", "ftp://x"])
def test_unsafe_urls_are_not_linked(url: str) -> None:
    assert link(url, "t") == "t"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=6000), st.text(max_size=9000))
def test_block_kit_limits(title: str, summary: str) -> None:
    blocks = alert_blocks(alert(title, summary, n=40))
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) <= SECTION_MAX
    assert all(len(e["text"]) <= 3000 for e in blocks[1]["elements"])
    assert len(blocks[1]["elements"]) <= 10


class _Recorder:
    """Stands in for bot.commands.Commands: records which handler a parse selects."""

    def __getattr__(self, name: str):
        def call(*args):
            return (name, args)

        return call


@pytest.mark.parametrize(
    ("group", "text", "expected"),
    [
        ("watch", "add Wilayat Khurasan", ("watch_add", ("Wilayat Khurasan", None, None))),
        (
            "watch",
            "add Wilayat Khurasan to iskp",
            ("watch_add", ("Wilayat Khurasan", "iskp", None)),
        ),
        ("watch", "add Jundallah as group", ("watch_add", ("Jundallah", None, "group"))),
        ("watch", "add X Y to x-y as topic", ("watch_add", ("X Y", "x-y", "topic"))),
        ("watch", "remove Khurasan Province", ("watch_remove", ("Khurasan Province",))),
        ("watch", "list", ("watch_list", (None, 1))),
        ("watch", "list person 2", ("watch_list", ("person", 2))),
        ("watch", "test Khurasan 30", ("watch_test", ("Khurasan", 30.0))),
        ("watch", "test Wilayat Khurasan", ("watch_test", ("Wilayat Khurasan", 7.0))),
        ("watch", "mute iskp 2h", ("watch_mute", ("iskp", "2h"))),
        ("watch", "mute iskp", ("watch_mute", ("iskp", None))),
        ("watch", "unmute iskp", ("watch_unmute", ("iskp",))),
        (
            "feeds",
            "add <https://example.org/rss|example.org/rss> My feed",
            ("feeds_add", ("https://example.org/rss", "My feed")),
        ),
        ("feeds", "remove https://example.org/rss", ("feeds_remove", ("https://example.org/rss",))),
    ],
)
def test_parse_selects_the_handler(group: str, text: str, expected: tuple) -> None:
    parsed = parse(group, text, _Recorder())  # type: ignore[arg-type]
    assert parsed.action is not None
    name, args = parsed.action("caller")
    assert (name, args[1:]) == expected


@pytest.mark.parametrize(
    ("group", "text", "problem"),
    [
        ("watch", "frobnicate x", "Unknown subcommand `frobnicate`"),
        ("watch", "add Jundallah as wizard", "Unknown kind `wizard`"),
        ("watch", "unmute", "Wrong arguments for `unmute`"),
        ("feeds", "list extra", "Wrong arguments for `list`"),
        ("digest", "later", "Unknown subcommand `later`"),
    ],
)
def test_mistakes_get_usage_text(group: str, text: str, problem: str) -> None:
    with pytest.raises(UsageError) as info:
        parse(group, text, _Recorder())  # type: ignore[arg-type]
    assert problem in str(info.value) and USAGE[group] in str(info.value)


@pytest.mark.parametrize("text", ["", "help", "HELP"])
def test_help(text: str) -> None:
    assert parse("watch", text, _Recorder()).action is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"mode": "webhook"}, "slack.mode"),
        ({"managers": ["bob"]}, "slack.managers"),
        ({"manager_usergroup": "G1"}, "slack.manager_usergroup"),
        ({"commands": ["/watch"]}, "slack.commands"),
        ({"api_base": "slack.example"}, "slack.api_base"),
        ({"port": 0}, "slack.port"),
        ({"token": "xoxb"}, "slack.token"),
    ],
)
def test_slack_section_errors_name_the_key(tmp_path, raw: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        slack_settings(raw, tmp_path / "bot.toml")
    assert info.value.where == key


def test_api_base_gets_its_trailing_slash(tmp_path) -> None:
    s = slack_settings({"api_base": "http://127.0.0.1:1/api"}, tmp_path / "bot.toml")
    assert s.api_base == "http://127.0.0.1:1/api/" and s.mode == "socket"
