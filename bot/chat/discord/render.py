"""Alerts as Discord embeds: pure functions, every Discord limit respected.

Feed text is hostile: markdown is escaped, mentions are made inert in the
text, and `allowed_mentions` allows nothing (the sink sends it on every
path). Limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits):
title 256, description 4096, 25 fields of name 256 / value 1024, footer 2048,
author 256, and 6,000 characters across all embeds of a message.
"""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.chat.base import plain_text
from bot.chat.format import cut as shorten
from bot.chat.format import excerpt, highlight, spans_in
from bot.models import Alert

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
TOTAL_MAX = 6000
SUMMARY_WIDTH = 600
THREAD_NAME_MAX = 100

COLOURS = {"high": 0xD93025, "medium": 0xF29900, "low": 0x4285F4}

_LINE_MARKUP = re.compile(r"(?m)^(\s*)(-#|#{1,3}\s|>|\d+\.\s|[-*+]\s)")


def escape(text: str) -> str:
    """Feed text made inert for Discord: no markdown, no mention, no masked link."""
    text = plain_text(text)
    text = discord.utils.escape_markdown(text)
    text = discord.utils.escape_mentions(text)
    text = text.replace("<", "\\<")  # <@&role>, <#channel>, <t:...>, <a:emoji:...>
    return _LINE_MARKUP.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def cut(text: str, limit: int) -> str:
    """Shorten cleanly, never leaving a dangling escape backslash."""
    return shorten(text, limit, lambda s: s.rstrip("\\"))


def safe_url(url: str) -> str | None:
    """Only http(s) links become clickable; anything else (javascript:, data:) is dropped."""
    url = url.strip()
    if re.match(r"^https?://[^\s<>\"]+$", url, re.IGNORECASE) and len(url) <= 2048:
        return url
    return None


def alert_embed(alert: Alert) -> discord.Embed:
    item = alert.item
    title_spans = spans_in(alert.matches, "title")
    title = cut(escape(item.title) or "(untitled)", TITLE_MAX)
    embed = discord.Embed(
        title=title, url=safe_url(item.url), colour=COLOURS.get(alert.severity, 0x888888)
    )
    summary_spans = spans_in(alert.matches, "summary")
    if item.summary:
        text, spans = excerpt(item.summary, summary_spans, SUMMARY_WIDTH)
        description = highlight(text, spans, "**", "**", escape)
        if title_spans and not summary_spans:
            marked = highlight(item.title, title_spans, "**", "**", escape)
            description = f"{marked}\n\n{description}"
        embed.description = cut(description, DESCRIPTION_MAX)
    for m in alert.matches[: FIELDS_MAX - 2]:
        embed.add_field(
            name=cut(escape(m.entity_name), FIELD_NAME_MAX),
            value=cut(escape(m.kind), FIELD_VALUE_MAX),
            inline=True,
        )
    embed.add_field(name="Source", value=cut(escape(item.feed_name or item.feed_url), 200))
    if item.published:
        embed.add_field(name="Published", value=discord.utils.format_dt(item.published, "f"))
        embed.timestamp = item.published
    explanation = "; ".join(f"{m.alias} → {m.text} ({m.how}, {m.score:g})" for m in alert.matches)
    embed.set_footer(text=cut(plain_text(explanation), FOOTER_MAX))
    return fit(embed)


def fit(embed: discord.Embed) -> discord.Embed:
    """Trim the description, then fields, until the whole embed fits in 6,000 characters."""
    while len(embed) > TOTAL_MAX:
        over = len(embed) - TOTAL_MAX
        if embed.description and len(embed.description) > over + 100:
            embed.description = cut(embed.description, len(embed.description) - over - 1)
        elif len(embed.fields) > 1:
            embed.remove_field(len(embed.fields) - 2)  # keep the Source field last
        else:
            embed.description = None
            embed.set_footer(text=cut(embed.footer.text or "", 200))
            break
    return embed


def thread_name(alert: Alert) -> str:
    """A thread is named after the story: its first alert's title, plainly."""
    name = " ".join(plain_text(alert.item.title).split()) or "Story"
    return cut(name, THREAD_NAME_MAX)


def embed_payload(alert: Alert) -> dict[str, Any]:
    return alert_embed(alert).to_dict()  # for tests and logs
