"""Alerts as Slack Block Kit: pure functions, Block Kit limits respected.

Feed text is hostile: `&`, `<` and `>` are escaped everywhere (and only
those, as Slack asks: https://api.slack.com/reference/surfaces/formatting#escaping),
so `<!channel>`, `<!here>` and `<@U…>` arrive as plain text. Links are
only http(s) URLs without characters that would end Slack's `<url|text>`.
"""

from __future__ import annotations

import re
from typing import Any

from bot.chat.base import plain_text
from bot.chat.format import cut as shorten
from bot.chat.format import excerpt, highlight, spans_in
from bot.models import Alert

SECTION_MAX = 3000
CONTEXT_ELEMENT_MAX = 3000
BLOCKS_MAX = 50
TEXT_MAX = 4000  # the notification fallback
SUMMARY_WIDTH = 700

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


def alert_blocks(alert: Alert) -> list[dict[str, Any]]:
    item = alert.item
    title = escape(item.title) or "(untitled)"
    head = f"*{link(item.url, cut(title, 500))}*"
    body = ""
    if item.summary:
        text, spans = excerpt(item.summary, spans_in(alert.matches, "summary"), SUMMARY_WIDTH)
        body = highlight(text, spans, "*", "*", escape)
    section = cut(f"{head}\n{body}".strip(), SECTION_MAX)
    entities = ", ".join(f"*{escape(m.entity_name)}* ({escape(m.kind)})" for m in alert.matches)
    when = (
        f"<!date^{int(item.published.timestamp())}^{{date_short_pretty}} {{time}}|"
        f"{item.published:%Y-%m-%d %H:%M} UTC>"
        if item.published
        else "undated"
    )
    source = f"{escape(item.feed_name or item.feed_url)} · {when}"
    explanation = "; ".join(
        f"{escape(m.alias)} → {escape(m.text)} ({m.how}, {m.score:g})" for m in alert.matches
    )
    elements = [
        {"type": "mrkdwn", "text": cut(x, CONTEXT_ELEMENT_MAX)}
        for x in (entities, source, explanation)
        if x
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": section}},
        {"type": "context", "elements": elements},
    ]
    return blocks[:BLOCKS_MAX]


def alert_text(alert: Alert) -> str:
    """The plain fallback Slack shows in notifications."""
    names = ", ".join(m.entity_name for m in alert.matches)
    return cut(f"{escape(alert.item.title)} — {escape(names)}", TEXT_MAX)
