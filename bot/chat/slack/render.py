"""Alerts, flood summaries and digests as Slack Block Kit: pure functions, limits respected.

Feed text is hostile: `&`, `<` and `>` are escaped everywhere (and only
those, as Slack asks: https://api.slack.com/reference/surfaces/formatting#escaping),
so `<!channel>`, `<!here>` and `<@U…>` arrive as plain text. Links are
only http(s) URLs without characters that would end Slack's `<url|text>`.
Times use `<!date^…>` so every reader sees their own time zone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot.chat.base import plain_text
from bot.chat.format import (
    Markup,
    digest_intro,
    digest_sections,
    empty_digest_line,
    excerpt,
    held_alert_line,
    highlight,
    pack_lines,
    source_of,
    spans_in,
    story_status,
)
from bot.chat.format import cut as shorten
from bot.digest.model import Digest
from bot.digest.text import render_text
from bot.models import Alert, FloodSummary, StoryUpdate

SECTION_MAX = 3000
CONTEXT_ELEMENT_MAX = 3000
BLOCKS_MAX = 50
TEXT_MAX = 4000  # the notification fallback
HEADER_MAX = 150
SUMMARY_WIDTH = 700
ADDS_MAX = 1000
# Slack answers msg_blocks_too_long a little above 13,000 characters of block
# text in one message, below the documented limits
# (https://github.com/slackapi/bolt-js/issues/2509): stay clear of it.
BLOCKS_TEXT_MAX = 12_000

_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$", re.IGNORECASE)


def escape(text: str) -> str:
    return plain_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _drop_partial_entity(text: str) -> str:
    amp = text.rfind("&")
    return text[:amp] if amp != -1 and ";" not in text[amp:] else text


def cut(text: str, limit: int) -> str:
    """Shorten cleanly, never inside an &entity;."""
    return shorten(text, limit, _drop_partial_entity)


def link(url: str, label: str) -> str:
    """`<url|label>` for a safe http(s) URL; the label alone otherwise."""
    url = url.strip()
    if _SAFE_URL.match(url) and len(url) <= 2000:
        return f"<{url}|{label}>"
    return label


def date(moment: datetime, tokens: str, fallback: str) -> str:
    """`<!date^UNIX^tokens|fallback>`: shown in the reader's time zone; the fallback is UTC."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"<!date^{int(utc.timestamp())}^{tokens}|{utc.strftime(fallback)} UTC>"


def short_time(moment: datetime) -> str:
    return date(moment, "{time}", "%H:%M")


def long_time(moment: datetime) -> str:
    return date(moment, "{date_short_pretty} {time}", "%Y-%m-%d %H:%M")


MARKUP = Markup(
    escape=escape,
    cut=cut,
    link=link,
    bold=lambda s: f"*{s}*",
    time=short_time,
    moment=long_time,
)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(*texts: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": cut(t, CONTEXT_ELEMENT_MAX)} for t in texts if t],
    }


def alert_blocks(alert: Alert) -> list[dict[str, Any]]:
    item = alert.item
    title = escape(item.title) or "(untitled)"
    head = f"*{link(item.url, cut(title, 500))}*"
    body = ""
    if item.summary:
        text, spans = excerpt(item.summary, spans_in(alert.matches, "summary"), SUMMARY_WIDTH)
        body = highlight(text, spans, "*", "*", escape)
    head_and_body = cut(f"{head}\n{body}".strip(), SECTION_MAX)
    entities = ", ".join(f"*{escape(m.entity_name)}* ({escape(m.kind)})" for m in alert.matches)
    when = long_time(item.published) if item.published else "undated"
    if item.date_note:
        when += f" ({escape(item.date_note)})"
    source = f"{escape(source_of(item))} · {when}"
    explanation = "; ".join(
        f"{escape(m.alias)} → {escape(m.text)} ({m.how}, {m.score:g}){escape(m.ambiguity_note())}"
        for m in alert.matches
    )
    return [section(head_and_body), context(entities, source, explanation)]


def alert_text(alert: Alert) -> str:
    """The plain fallback Slack shows in notifications."""
    names = ", ".join(m.entity_name for m in alert.matches)
    return cut(f"{escape(alert.item.title)} — {escape(names)}", TEXT_MAX)


def reply_blocks(alert: Alert) -> list[dict[str, Any]]:
    """A later item of a story, short: linked title, source and the entities it adds.

    The story's parent message already carries the full alert.
    """
    item = alert.item
    text = f"*{link(item.url, cut(escape(item.title) or '(untitled)', 500))}*"
    parts = [escape(source_of(item))]
    if alert.new_entities:
        parts.append("adds: " + cut(escape(", ".join(alert.new_entities)), ADDS_MAX))
    return [section(cut(f"{text}\n{' · '.join(parts)}", SECTION_MAX))]


def reply_text(alert: Alert) -> str:
    text = f"{escape(source_of(alert.item))}: {escape(alert.item.title)}"
    if alert.new_entities:
        text += f" (adds: {escape(', '.join(alert.new_entities))})"
    return cut(text, TEXT_MAX)


def story_blocks(update: StoryUpdate) -> list[dict[str, Any]]:
    """The parent alert as first posted, plus how the story has grown."""
    status = story_status(update.sources, short_time(update.last_update))
    return [*alert_blocks(update.parent), context(status)]


def summary_blocks(summary: FloodSummary) -> list[dict[str, Any]]:
    """The headline, then every held alert as a linked line, in as many sections as allowed.

    Whatever the block limits cannot hold is counted in "…and K more".
    """
    head = cut(f"*{escape(summary.headline())}*", SECTION_MAX)
    lines = [held_alert_line(a, MARKUP) for a in summary.alerts]
    texts = pack_lines(lines, SECTION_MAX, chunks=BLOCKS_MAX - 1, total=BLOCKS_TEXT_MAX - len(head))
    return [section(head), *(section(t) for t in texts)]


def summary_text(summary: FloodSummary) -> str:
    return cut(escape(summary.headline()), TEXT_MAX)


def digest_blocks(digest: Digest) -> list[dict[str, Any]]:
    """Header, period, one section per kind, top stories, first seen and blind spots.

    Each section ends with "…and K more" when the limits cannot hold it all.
    """
    if digest.empty:
        return [section(digest_line(digest))]
    title = cut(escape(digest.title), HEADER_MAX)
    intro = digest_intro(digest, MARKUP)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        context(intro),
    ]
    sections = digest_sections(digest, MARKUP)[: BLOCKS_MAX - len(blocks)]
    room = (BLOCKS_TEXT_MAX - len(title) - len(intro)) // max(len(sections), 1)
    for heading, lines in sections:
        head = f"*{escape(heading)}*"
        limit = max(100, min(SECTION_MAX, room) - len(head) - 1)
        blocks.append(section("\n".join([head, *pack_lines(lines, limit)])))
    return blocks


def digest_line(digest: Digest) -> str:
    return cut(empty_digest_line(digest, MARKUP), SECTION_MAX)


def digest_text(digest: Digest) -> str:
    """The notification fallback: the digest as plain text, escaped line by line."""
    text = "\n".join(escape(line) for line in render_text(digest).splitlines())
    return cut(text, TEXT_MAX)
