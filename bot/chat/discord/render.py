"""Alerts, flood summaries and digests as Discord embeds: pure functions, every limit respected.

Feed text is hostile: markdown is escaped, mentions are made inert in the
text, and `allowed_mentions` allows nothing (the sink sends it on every
path). Limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits):
title 256, description 4096, 25 fields of name 256 / value 1024, footer 2048,
author 256, and 6,000 characters across all embeds of a message, at most 10
embeds; message content 2,000.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import discord

from bot.chat.base import plain_text
from bot.chat.format import (
    TOP_STORIES,
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
from bot.models import Alert, FloodSummary, StoryUpdate, severity_rank

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
TOTAL_MAX = 6000
SUMMARY_WIDTH = 600
THREAD_NAME_MAX = 100
EMBEDS_MAX = 10
CONTENT_MAX = 2000
ADDS_MAX = 1000  # "adds: …" in a short reply
CHART_FILENAME = "digest.png"

COLOURS = {"high": 0xD93025, "medium": 0xF29900, "low": 0x4285F4}
DIGEST_DESCRIPTION_BUDGET = 2000  # kept for the intro and top stories

# A "]" after an even number of backslashes (none, or escaped ones) would end a label.
_UNESCAPED_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)\]")
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


def link(url: str, label: str) -> str:
    """A masked link `[label](url)` for a safe URL; the (escaped) label alone otherwise."""
    target = safe_url(url)
    if target is None:
        return label
    # A ")" would end the link early and "]" the label: both written so they cannot.
    target = target.replace("(", "%28").replace(")", "%29")
    label = _UNESCAPED_BRACKET.sub(r"\1\\]", label)
    return f"[{label}]({target})"


def short_time(moment: datetime) -> str:
    """`<t:UNIX:t>`: Discord shows it in each reader's own time zone."""
    return discord.utils.format_dt(moment, "t")


def long_time(moment: datetime) -> str:
    return discord.utils.format_dt(moment, "f")


MARKUP = Markup(
    escape=escape,
    cut=cut,
    link=link,
    bold=lambda s: f"**{s}**",
    time=short_time,
    moment=long_time,
)


def _colour(severity: str) -> int:
    return COLOURS.get(severity, 0x888888)


def alert_embed(alert: Alert, lead: str | None = None) -> discord.Embed:
    """The full alert; `lead` (our own markup) opens the description, as a story's status does."""
    item = alert.item
    title_spans = spans_in(alert.matches, "title")
    title = cut(escape(item.title) or "(untitled)", TITLE_MAX)
    embed = discord.Embed(title=title, url=safe_url(item.url), colour=_colour(alert.severity))
    summary_spans = spans_in(alert.matches, "summary")
    if item.summary:
        text, spans = excerpt(item.summary, summary_spans, SUMMARY_WIDTH)
        description = highlight(text, spans, "**", "**", escape)
        if title_spans and not summary_spans:
            marked = highlight(item.title, title_spans, "**", "**", escape)
            description = f"{marked}\n\n{description}"
        embed.description = cut(description, DESCRIPTION_MAX)
    if lead:
        # First, so fit() trimming the description from its end never drops it.
        rest = cut(embed.description, DESCRIPTION_MAX - len(lead) - 2) if embed.description else ""
        embed.description = f"{lead}\n\n{rest}".rstrip()
    for m in alert.matches[: FIELDS_MAX - 2]:
        embed.add_field(
            name=cut(escape(m.entity_name), FIELD_NAME_MAX),
            value=cut(escape(m.kind), FIELD_VALUE_MAX),
            inline=True,
        )
    embed.add_field(name="Source", value=cut(escape(item.feed_name or item.feed_url), 200))
    if item.published:
        published = long_time(item.published)
        if item.date_note:
            published += "\n" + cut(escape(item.date_note), 300)
        embed.add_field(name="Published", value=published)
        embed.timestamp = item.published
    explanation = "; ".join(
        f"{m.alias} → {m.text} ({m.how}, {m.score:g}){m.ambiguity_note()}" for m in alert.matches
    )
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


def reply_embed(alert: Alert) -> discord.Embed:
    """A later item of a story, short: linked title, source and the entities it adds.

    The story's parent message already carries the full alert.
    """
    item = alert.item
    embed = discord.Embed(
        title=cut(escape(item.title) or "(untitled)", TITLE_MAX),
        url=safe_url(item.url),
        colour=_colour(alert.severity),
    )
    parts = [cut(escape(source_of(item)), 200)]
    if alert.new_entities:
        parts.append("adds: " + cut(escape(", ".join(alert.new_entities)), ADDS_MAX))
    embed.description = " · ".join(parts)
    return embed


def story_line(update: StoryUpdate) -> str:
    """ "3 sources · last update 14:05", the time in each reader's zone."""
    return story_status(update.sources, short_time(update.last_update))


def summary_embeds(summary: FloodSummary) -> list[discord.Embed]:
    """The headline, then every held alert as a linked line, over as many embeds as allowed.

    Whatever the 6,000-character budget cannot hold is counted in "…and K more".
    """
    title = cut(escape(summary.headline()), TITLE_MAX)
    lines = [held_alert_line(a, MARKUP) for a in summary.alerts]
    texts = pack_lines(lines, DESCRIPTION_MAX, chunks=EMBEDS_MAX, total=TOTAL_MAX - len(title))
    severity = max((a.severity for a in summary.alerts), key=severity_rank, default="low")
    colour = _colour(severity)
    embeds = [discord.Embed(description=t, colour=colour) for t in texts]
    embeds = embeds or [discord.Embed(colour=colour)]
    embeds[0].title = title
    embeds[0].timestamp = summary.window_end
    return embeds


def digest_line(digest: Digest) -> str:
    return cut(empty_digest_line(digest, MARKUP), CONTENT_MAX)


def digest_embed(digest: Digest, image_url: str | None = None) -> discord.Embed:
    """Counts per kind, first seen and blind spots as fields, top stories in the description.

    Each list ends with "…and K more" when the embed's limits cannot hold it all.
    """
    embed = discord.Embed(title=cut(escape(digest.title), TITLE_MAX), colour=0x5865F2)
    embed.timestamp = digest.end
    intro = digest_intro(digest, MARKUP)
    sections = digest_sections(digest, MARKUP)
    stories = [lines for heading, lines in sections if heading == TOP_STORIES]
    fields = [(h, lines) for h, lines in sections if h != TOP_STORIES][:FIELDS_MAX]
    # Fields share what the description leaves of the 6,000 characters.
    room = TOTAL_MAX - len(embed.title or "") - DIGEST_DESCRIPTION_BUDGET
    for heading, lines in fields:
        name = cut(escape(heading), FIELD_NAME_MAX)
        limit = max(100, min(FIELD_VALUE_MAX, room // len(fields) - len(name)))
        embed.add_field(name=name, value="\n".join(pack_lines(lines, limit)) or "—", inline=True)
    description = intro
    if stories:
        room = min(DESCRIPTION_MAX, TOTAL_MAX - len(embed)) - len(intro) - 20
        description += "\n\n**Top stories**\n" + "\n".join(pack_lines(stories[0], room))
    embed.description = description
    if image_url:
        embed.set_image(url=image_url)
    return fit(embed)


def thread_name(alert: Alert) -> str:
    """A thread is named after the story: its first headline, plainly."""
    name = " ".join(plain_text(alert.story_title or alert.item.title).split()) or "Story"
    return cut(name, THREAD_NAME_MAX)


def embed_payload(alert: Alert) -> dict[str, Any]:
    payload: dict[str, Any] = alert_embed(alert).to_dict()  # type: ignore[assignment]
    return payload  # for tests and logs
