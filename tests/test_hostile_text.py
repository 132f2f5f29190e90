"""Hostile feed text end to end: every word arrives, nothing hidden matches, nothing fires.

A feed on the local feed server carries titles with `<`, `>`, `&lt;`,
`<!channel>`, `@everyone` and markdown, and a watch term only inside a
`<script>`. They go through the real bot: `python -m bot once` to JSON lines
and the console, and the App against the fake Slack and fake Discord.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from tests.conftest import chat_config
from tests.discord_fixtures import checked_fake
from tests.fakediscord import ALERTS_CHANNEL_ID, FakeDiscord
from tests.fakeslack import FakeSlack
from tests.feedserver import FeedServer, item
from tests.run_bot import ROOT, WATCHLISTS, alert_records, run_once, write_config

# Titles as the feed means them (the feed server escapes them once for XML).
KABUL_TOLL = "Casualties <5 in Kabul, >10 injured"
MENTIONS = "ISKP statement <!channel> <!here> @everyone <@U0BOT> **bold** _x_ `code`"
DOUBLE_ESCAPED = "Blast &lt;5 km&gt; from Herat"  # HTML text: decoded once, to "<5 km>"
HIDDEN_ONLY = "Market reopens in the capital"
LINKS = "Kabul update <https://evil.example|click here> <#C0123ABCD> <#123456789012345678>"


def hostile_items() -> list[dict[str, str]]:
    return [
        item(1, KABUL_TOLL),
        item(2, MENTIONS, "Islamic State Khorasan said <b>nothing</b> &amp; more"),
        item(3, DOUBLE_ESCAPED),
        item(
            4,
            HIDDEN_ONLY,
            "<p>Shops open.</p><script>var t = 'Kabul ISKP';</script><!-- Herat -->"
            "<style>.Kandahar{}</style>",
        ),
        item(5, LINKS),
    ]


async def test_hostile_titles_arrive_whole_in_jsonl_and_console(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.feed("/hostile.xml", hostile_items())
    status, out, err = await run_once(write_config(tmp_path, url))
    assert status == 0, err
    by_title = {r["title"]: r for r in alert_records(tmp_path)}
    # "<5 in Kabul, >" is text: the alert fires on Kabul, the title keeps every word.
    assert "kabul" in by_title[KABUL_TOLL]["entities"]
    assert by_title[MENTIONS]["summary"] == "Islamic State Khorasan said nothing & more"
    assert "herat" in by_title["Blast <5 km> from Herat"]["entities"]
    # A term only inside <script>, a comment or a style sheet is not in the item.
    assert HIDDEN_ONLY not in by_title
    # The console prints the same titles, terminal-safe but whole.
    assert "Casualties <5 in «Kabul», >10 injured" in out
    assert "<!channel> <!here> @everyone <@U0BOT> **bold**" in out
    assert "var t" not in out and "Kandahar" not in out


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels={"C0123ABCD": "news"}) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch) -> None:
    # slack_sdk reads HTTP(S)_PROXY itself and ignores NO_PROXY.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


async def test_hostile_titles_arrive_whole_and_inert_on_slack(
    slack: FakeSlack, feed_server: FeedServer, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("T_SLACK_BOT", slack.bot_token)
    monkeypatch.setenv("T_SLACK_APP", slack.app_token)
    url = feed_server.feed("/hostile.xml", hostile_items())
    section = {"bot_token_env": "T_SLACK_BOT", "app_token_env": "T_SLACK_APP"}
    settings = chat_config(
        tmp_path,
        WATCHLISTS,
        [{"url": url, "name": "Wire"}],
        "slack",
        ("C0123ABCD",),
        {**section, "api_base": slack.api_base},
        flood_cap=0,
    )
    async with App.open(settings) as app:
        await app.run_once()
    posts = [c["params"] for c in slack.calls("chat.postMessage")]
    texts = [json.dumps(p.get("blocks")) + "\n" + str(p.get("text")) for p in posts]
    everything = "\n".join(texts)
    assert "Casualties &lt;5 in Kabul, &gt;10 injured" in everything
    assert "&lt;!channel&gt; &lt;!here&gt; @everyone &lt;@U0BOT&gt;" in everything
    assert "<!channel>" not in everything and "<!here>" not in everything
    assert "<@U0BOT>" not in everything
    assert "Blast &lt;5 km&gt; from Herat" in everything
    assert "Market reopens" not in everything and "var t" not in everything
    assert slack.errors == []


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    async with checked_fake() as fake:
        yield fake


async def test_hostile_titles_arrive_whole_and_inert_on_discord(
    discord: FakeDiscord, feed_server: FeedServer, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("TEST_DISCORD_TOKEN", discord.token)
    url = feed_server.feed("/hostile.xml", hostile_items())
    section = {
        "token_env": "TEST_DISCORD_TOKEN",
        "api_base": discord.api_base,
        "gateway_url": discord.gateway_url,
        "guild_ready_timeout": "0.1s",
        "ready_timeout": "10s",
    }
    channel = str(ALERTS_CHANNEL_ID)
    settings = chat_config(
        tmp_path, WATCHLISTS, [{"url": url, "name": "Wire"}], "discord", (channel,), section
    )
    async with App.open(settings) as app:
        await app.run_once()
    posts = [r.json for r in discord.requests_to("POST", rf"/channels/{channel}/messages")]
    assert posts and all(p["allowed_mentions"] == {"parse": []} for p in posts)
    titles = [e["title"] for p in posts for e in p.get("embeds", [])]
    # Every word is there; markup and mentions are escaped, so nothing renders or pings.
    assert "Casualties \\<5 in Kabul, >10 injured" in titles
    (mentions,) = [t for t in titles if t.startswith("ISKP statement")]
    assert "\\<!channel>" in mentions and "\\*\\*bold\\*\\*" in mentions
    assert "@everyone" not in mentions and "@\u200beveryone" in mentions
    assert "\\<@U0BOT>" in mentions  # shown as text, never a mention
    assert "Blast \\<5 km> from Herat" in titles
    assert not any("Market reopens" in t for t in titles)
    assert discord.errors == []


def test_match_filter_reads_plain_text_unless_told_the_fields_are_html() -> None:
    lines = [
        json.dumps({"id": 1, "title": KABUL_TOLL}),
        json.dumps({"id": 2, "title": "<b>Kabul</b> <script>Herat</script>", "summary": "x"}),
    ]
    stdin = "\n".join(lines) + "\n"
    cmd = [sys.executable, "-m", "bot", "match", "--watchlists", str(WATCHLISTS)]
    plain = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60, cwd=ROOT)
    html = subprocess.run(
        [*cmd, "--html"], input=stdin, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert plain.returncode == 0 and html.returncode == 0, plain.stderr + html.stderr
    first, second = map(json.loads, plain.stdout.splitlines())
    # Plain text: offsets index into the title as sent, "<5" and all.
    (kabul,) = first["matches"]
    assert KABUL_TOLL[kabul["start"] : kabul["end"]] == "Kabul"
    assert {m["entity"] for m in second["matches"]} >= {"kabul", "herat"}
    # --html: converted as a feed's HTML is; the text the offsets index into is echoed.
    first, second = map(json.loads, html.stdout.splitlines())
    assert second["title"] == "Kabul" and second["summary"] == "x"
    assert [m["entity"] for m in second["matches"]] == ["kabul"]
    assert first["title"] == KABUL_TOLL


async def test_watch_test_replies_quote_feed_titles_inertly_on_slack(
    slack: FakeSlack, feed_server: FeedServer, tmp_path: Path, monkeypatch
) -> None:
    """`/watch test` quotes stored titles: a masked link or `<!channel>` in one stays text."""
    from tests.test_slack import command

    monkeypatch.setenv("T_SLACK_BOT", slack.bot_token)
    monkeypatch.setenv("T_SLACK_APP", slack.app_token)
    url = feed_server.feed("/hostile.xml", hostile_items())
    section = {"bot_token_env": "T_SLACK_BOT", "app_token_env": "T_SLACK_APP"}
    settings = chat_config(
        tmp_path,
        WATCHLISTS,
        [{"url": url, "name": "Wire"}],
        "slack",
        ("C0123ABCD",),
        {**section, "api_base": slack.api_base},
    )
    async with App.open(settings) as app:
        await app.run_once()
        await slack.wait_for_socket()
        kabul = await command(slack, "test Kabul 7", "U0OTHER")
        iskp = await command(slack, "test ISKP 7", "U0OTHER")
    assert "would have matched" in kabul
    assert "&lt;https://evil.example|click here&gt; &lt;#C0123ABCD&gt;" in kabul
    assert "Casualties &lt;5 in Kabul, &gt;10 injured" in kabul
    assert "&lt;!channel&gt; &lt;!here&gt; @everyone &lt;@U0BOT&gt;" in iskp
    for reply in (kabul, iskp):
        assert "<http" not in reply and "<#" not in reply and "<!" not in reply
        assert "<@" not in reply


async def test_watch_test_replies_quote_feed_titles_inertly_on_discord(
    discord: FakeDiscord, feed_server: FeedServer, tmp_path: Path, monkeypatch
) -> None:
    from tests.fakediscord import GUILD_ID
    from tests.test_discord import run_command

    monkeypatch.setenv("TEST_DISCORD_TOKEN", discord.token)
    url = feed_server.feed("/hostile.xml", hostile_items())
    section = {
        "token_env": "TEST_DISCORD_TOKEN",
        "api_base": discord.api_base,
        "gateway_url": discord.gateway_url,
        "guild_ready_timeout": "0.1s",
        "ready_timeout": "10s",
        "guild_ids": [str(GUILD_ID)],
    }
    channel = str(ALERTS_CHANNEL_ID)
    settings = chat_config(
        tmp_path, WATCHLISTS, [{"url": url, "name": "Wire"}], "discord", (channel,), section
    )
    async with App.open(settings) as app:
        await app.run_once()
        reply = await run_command(discord, "watch test", {"term": "Kabul", "days": 7}, 0)
    assert "would have matched" in reply
    assert "\\<#123456789012345678>" in reply and "Casualties \\<5 in Kabul" in reply
    assert "<#" not in reply.replace("\\<#", "")
