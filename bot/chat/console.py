"""Alerts printed to the terminal: the zero-setup sink for a first run.

Every piece of feed or watchlist text goes through `plain_text`, so an item
cannot move the cursor, recolour the terminal or fake a line of ours.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TextIO

from bot.chat.base import NoCommandConnection, plain_lines, plain_text
from bot.chat.format import (
    Markup,
    cut,
    excerpt,
    held_alert_line,
    highlight,
    source_of,
    spans_in,
    story_status,
)
from bot.digest.model import Digest
from bot.digest.text import render_text
from bot.models import Alert, FloodSummary, StoryUpdate

SUMMARY_WIDTH = 240

_SEVERITY_MARK = {"high": "!!!", "medium": "!! ", "low": "!  "}


def format_alert(alert: Alert) -> str:
    """The full alert; a reply in a story's thread gets `format_reply` instead."""
    if alert.reply_to:
        return format_reply(alert)
    item = alert.item
    when = item.published.strftime("%Y-%m-%d %H:%M UTC") if item.published else "undated"
    entities = ", ".join(f"{m.entity_name} ({m.kind})" for m in alert.matches)
    # «» mark the matched words; the text is made terminal-safe piece by piece.
    title = highlight(item.title, spans_in(alert.matches, "title"), "«", "»", plain_text)
    lines = [
        f"{_SEVERITY_MARK[alert.severity]} [{alert.severity.upper()}] {title}",
        f"    {plain_text(item.url)}",
        f"    {plain_text(source_of(item))} · {when}",
    ]
    if item.date_note:  # the feed's date was impossible: say what stands in for it
        lines.append(f"    note: {plain_text(item.date_note)}")
    summary_spans = spans_in(alert.matches, "summary")
    if summary_spans:
        text, spans = excerpt(item.summary, summary_spans, SUMMARY_WIDTH)
        lines.append(f"    {highlight(text, spans, '«', '»', plain_text)}")
    lines.append(f"    matched: {plain_text(entities)}")
    for m in alert.matches:
        lines.append(f"      - {plain_text(m.explain())}")
    return "\n".join(lines)


def format_reply(alert: Alert) -> str:
    """A later item of a story, short: the story's first alert above already has the detail."""
    item = alert.item
    lines = [
        f"  ↳ in thread {plain_text(alert.reply_to or '')} · "
        f"{plain_text(source_of(item))}: {plain_text(item.title) or '(untitled)'}",
        f"      {plain_text(item.url)}",
    ]
    if alert.new_entities:
        lines.append(f"      adds: {plain_text(', '.join(alert.new_entities))}")
    return "\n".join(lines)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# Terminal text: no markup, so a link is the URL itself and times are UTC like the alerts'.
MARKUP = Markup(
    escape=plain_text,
    cut=cut,
    link=lambda url, label: f"{label} {plain_text(url)}",
    bold=lambda s: s,
    time=lambda moment: f"{_utc(moment):%H:%M} UTC",
    moment=lambda moment: f"{_utc(moment):%Y-%m-%d %H:%M} UTC",
)


def format_summary(summary: FloodSummary) -> str:
    """The headline, then every held alert: a terminal has no length limit."""
    lines = [f"{_SEVERITY_MARK['medium']} {plain_text(summary.headline())}"]
    lines += [f"    {held_alert_line(alert, MARKUP)}" for alert in summary.alerts]
    return "\n".join(lines)


def format_story_update(update: StoryUpdate) -> str:
    """One line (a terminal cannot edit what it printed)."""
    status = story_status(update.sources, MARKUP.time(update.last_update))
    return f"↻ story {plain_text(update.message_id)}: {status}"


def format_digest(digest: Digest) -> str:
    """The digest as plain text; the chart cannot be printed, so say what and where it is."""
    text = plain_lines(render_text(digest))
    if digest.chart_png and not digest.empty:
        text += f"\nchart: 7-day mentions, {len(digest.chart_png)} bytes (not shown in the console)"
    return text


class ConsoleSink(NoCommandConnection):
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

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    async def deliver(self, alert: Alert) -> str:
        self._print(format_alert(alert))
        return f"console-{alert.id}"

    async def deliver_summary(self, summary: FloodSummary) -> str:
        self._print(format_summary(summary))
        return f"console-summary-{summary.id}"

    async def update_story(self, update: StoryUpdate) -> None:
        self._print(format_story_update(update))

    async def post_digest(self, channel_id: str, digest: Digest, key: str) -> str:
        self._print(format_digest(digest))
        return f"console-digest-{plain_text(key)}"
