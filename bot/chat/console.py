"""Alerts printed to the terminal: the zero-setup sink for a first run."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.chat.base import Digest, plain_text
from bot.chat.format import excerpt, highlight, spans_in
from bot.models import Alert

SUMMARY_WIDTH = 240

_SEVERITY_MARK = {"high": "!!!", "medium": "!! ", "low": "!  "}


def format_alert(alert: Alert) -> str:
    item = alert.item
    when = item.published.strftime("%Y-%m-%d %H:%M UTC") if item.published else "undated"
    entities = ", ".join(f"{m.entity_name} ({m.kind})" for m in alert.matches)
    # «» mark the matched words; the text is made terminal-safe piece by piece.
    title = highlight(item.title, spans_in(alert.matches, "title"), "«", "»", plain_text)
    lines = [
        f"{_SEVERITY_MARK[alert.severity]} [{alert.severity.upper()}] {title}",
        f"    {plain_text(item.url)}",
        f"    {plain_text(item.feed_name or item.feed_url)} · {when}",
    ]
    summary_spans = spans_in(alert.matches, "summary")
    if summary_spans:
        text, spans = excerpt(item.summary, summary_spans, SUMMARY_WIDTH)
        lines.append(f"    {highlight(text, spans, '«', '»', plain_text)}")
    lines.append(f"    matched: {plain_text(entities)}")
    for m in alert.matches:
        lines.append(f"      - {plain_text(m.explain())}")
    if alert.reply_to:
        lines.insert(0, f"  ↳ in thread {alert.reply_to}")
    return "\n".join(lines)


class ConsoleSink:
    platform = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stdout

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self.stream.flush()

    async def deliver(self, alert: Alert) -> str:
        print(format_alert(alert), file=self.stream, flush=True)
        return f"console-{alert.id}"

    async def post_digest(self, channel_id: str, digest: Digest) -> str:
        print(f"== {plain_text(digest.title)} ==\n{plain_text(digest.text)}", file=self.stream)
        return "console-digest"
