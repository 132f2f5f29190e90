"""The console sink: replies, flood summaries, story edits and digests, terminal-safe."""

from __future__ import annotations

import io

from bot.chat.console import ConsoleSink
from tests.fakecontent import alert, digest, empty_digest, flood, png, story_update

ESC = "\x1b[2J\x1b]0;pwned\x07"  # clear screen, set the window title


async def printed(action) -> str:
    out = io.StringIO()
    await action(ConsoleSink(out))
    return out.getvalue()


async def test_reply_is_short() -> None:
    reply = alert(
        2,
        "console",
        "",
        title=f"Toll rises{ESC}",
        reply_to="console-1",
        new_entities=("Kabul", "Dushanbe"),
    )
    text = await printed(lambda sink: sink.deliver(reply))
    assert text.splitlines() == [
        "  ↳ in thread console-1 · Regional Wire: Toll rises",
        "      https://example.org/news/2",
        "      adds: Kabul, Dushanbe",
    ]


async def test_summary_lists_every_held_alert() -> None:
    summary = flood("console", "", 30)
    text = await printed(lambda sink: sink.deliver_summary(summary))
    lines = text.splitlines()
    assert lines[0] == "!!  30 more alerts: ISKP ×10, Kabul ×10, Tajikistan ×10"
    assert len(lines) == 31
    assert lines[1].startswith("    • ISKP report 0 ")
    assert lines[1].endswith(" https://example.org/news/1000 — Regional Wire")


async def test_story_update_is_one_line() -> None:
    update = story_update(alert(1, "console", ""), "console-1", sources=3)
    text = await printed(lambda sink: sink.update_story(update))
    assert text == "↻ story console-1: 3 sources · last update 14:05 UTC\n"


async def test_digest_is_the_text_digest_and_says_where_the_chart_is() -> None:
    text = await printed(lambda sink: sink.post_digest("", digest(), "k"))
    assert text.startswith("Daily digest · Wed 25 Nov 2026\n")
    assert "ISKP 12 (+3)" in text
    assert text.endswith(f"chart: 7-day mentions, {len(png())} bytes (not shown in the console)\n")
    assert "\x1b" not in await printed(lambda sink: sink.post_digest("", digest(hostile=True), "k"))
    empty = await printed(lambda sink: sink.post_digest("", empty_digest(), "k"))
    assert len(empty.splitlines()) == 1 and "chart" not in empty
