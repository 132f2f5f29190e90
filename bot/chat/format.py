"""Formatting shared by chat adapters: matched spans highlighted, excerpts cut cleanly,
long lists packed into a platform's limits with a count of what did not fit."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.digest.model import Digest, EntityCount
from bot.digest.text import EMPTY_DAY, change_marker
from bot.models import Alert, Item, Match


def cut(text: str, limit: int, mend: Callable[[str], str] = lambda s: s) -> str:
    """Shorten to `limit` characters at a word boundary, with an ellipsis.

    `mend` repairs what the cut may have split in a platform's escaping (a
    trailing backslash on Discord, half an `&entity;` on Slack).
    """
    if len(text) <= limit:
        return text
    text = text[: limit - 1]
    space = text.rfind(" ")
    if space > limit // 2:
        text = text[:space]
    return mend(text) + "…"


def spans_in(matches: Iterable[Match], field: str) -> list[tuple[int, int]]:
    """Merged, sorted character spans of the matches found in one field."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted((m.start, m.end) for m in matches if m.field == field):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(
    text: str,
    spans: list[tuple[int, int]],
    before: str,
    after: str,
    escape: Callable[[str], str] = lambda s: s,
) -> str:
    """Wrap each span in before/after markers; every other piece goes through `escape`.

    Escaping piece by piece keeps hostile text from closing our markers.
    """
    out, pos = [], 0
    for start, end in spans:
        if start < pos or end > len(text):
            continue
        out += [escape(text[pos:start]), before, escape(text[start:end]), after]
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def excerpt(
    text: str, spans: list[tuple[int, int]], width: int
) -> tuple[str, list[tuple[int, int]]]:
    """At most `width` characters of text around its first span, with spans re-based.

    Cut at word boundaries with an ellipsis, so a long summary still shows why
    it matched.
    """
    if len(text) <= width:
        return text, spans
    first = spans[0][0] if spans else 0
    start = max(0, min(first - width // 3, len(text) - width))
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    end = min(len(text), start + width - 2)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    prefix = "…" if start else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix) - start
    kept = [(s + shift, e + shift) for s, e in spans if s >= start and e <= end]
    return prefix + text[start:end] + suffix, kept


def source_of(item: Item) -> str:
    """The name a reader knows the feed by (its URL when it has no name)."""
    return item.feed_name or item.feed_url


def count_noun(count: int, noun: str) -> str:
    """ "1 source", "3 sources"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def story_status(sources: int, when: str) -> str:
    """ "3 sources · last update 14:05": `when` is already in the platform's time markup."""
    return f"{count_noun(sources, 'source')} · last update {when}"


def more_text(count: int) -> str:
    """What stands for the lines a platform limit left out: never drop them silently."""
    return f"…and {count} more"


def pack_lines(
    lines: Sequence[str],
    limit: int,
    *,
    chunks: int = 1,
    total: int | None = None,
    more: Callable[[int], str] = more_text,
) -> list[str]:
    """Join as many lines as fit into at most `chunks` texts of `limit` characters each.

    Lines are kept whole and in order; the texts together stay within `total`
    characters. When not every line fits, the last text ends with `more(K)`
    for the K lines left out, so a reader knows they exist. Each platform
    maps the texts to its containers (Discord embed descriptions, Slack
    section blocks). A line longer than `limit` must be cut by the caller.
    """
    total = limit * chunks if total is None else total
    # Lengths up front: the widest prefix whose plain sum fits is an upper bound.
    shown, used = 0, 0
    for line in lines:
        used += len(line) + 1
        if used - 1 > total:
            break
        shown += 1
    for n in range(shown, -1, -1):
        tail = [more(len(lines) - n)] if n < len(lines) else []
        packed = _greedy([*lines[:n], *tail], limit)
        if packed is not None and len(packed) <= chunks and sum(map(len, packed)) <= total:
            return packed
    return []


def _greedy(lines: Sequence[str], limit: int) -> list[str] | None:
    """Fill texts of at most `limit` characters line by line; None if a line alone is too long."""
    packed: list[str] = []
    for line in lines:
        if len(line) > limit:
            return None
        if packed and len(packed[-1]) + 1 + len(line) <= limit:
            packed[-1] += "\n" + line
        else:
            packed.append(line)
    return packed


@dataclass(frozen=True, slots=True)
class Markup:
    """How one platform writes inert text, links, bold and times.

    Lets the lists every platform shows (held alerts, digest sections) be
    written once; each adapter supplies its own escaping and limits.
    """

    escape: Callable[[str], str]  # feed or watchlist text made inert
    cut: Callable[[str, int], str]  # shorten escaped text without breaking an escape
    link: Callable[[str, str], str]  # (url, escaped label): a link only for http(s)
    bold: Callable[[str], str]
    time: Callable[[datetime], str]  # a short time each reader sees in their own zone
    moment: Callable[[datetime], str]  # date and time, likewise


TITLE_IN_LIST = 200  # characters of a title in a list line: long enough to recognise
SOURCE_IN_LIST = 80
TOP_STORIES = "Top stories"  # the digest section a platform may place apart


def held_alert_line(alert: Alert, m: Markup) -> str:
    """One held alert in a flood summary: linked title and source."""
    item = alert.item
    title = m.cut(m.escape(item.title) or "(untitled)", TITLE_IN_LIST)
    return f"• {m.link(item.url, title)} — {m.cut(m.escape(source_of(item)), SOURCE_IN_LIST)}"


def digest_intro(digest: Digest, m: Markup) -> str:
    return f"Mentions in the 24 hours to {m.moment(digest.end)}"


def empty_digest_line(digest: Digest, m: Markup) -> str:
    """A digest with no mentions, in one line; blind feeds named, so quiet is not misread."""
    line = f"{m.bold(m.escape(digest.title))}: {EMPTY_DAY}"
    if digest.feed_problems:
        line += f" Blind spots: {m.escape(', '.join(p.name for p in digest.feed_problems))}."
    return line


def digest_sections(digest: Digest, m: Markup) -> list[tuple[str, list[str]]]:
    """The digest's sections as (plain heading, lines in the platform's markup).

    Per kind "ISKP 12 (+3)", then top stories, entities seen for the first
    time and blind spots (feeds that failed or went quiet).
    """
    sections = [
        (
            kind[:1].upper() + kind[1:],
            [
                f"{_entity_name(c, m)} {m.bold(str(c.mentions))} ({change_marker(c)})"
                for c in counts
            ],
        )
        for kind, counts in by_kind(digest.counts)
    ]
    if digest.top_stories:
        lines = []
        for n, story in enumerate(digest.top_stories, 1):
            title = m.cut(m.escape(story.title) or "(untitled)", TITLE_IN_LIST)
            line = (
                f"{n}. {m.link(story.url, title)} — {count_noun(story.sources, 'source')}, "
                f"first seen {m.time(story.first_seen)}"
            )
            if story.entities:
                line += f" · {m.cut(m.escape(', '.join(story.entities)), TITLE_IN_LIST)}"
            lines.append(line)
        sections.append((TOP_STORIES, lines))
    if digest.new_entities:
        sections.append(
            (
                "First seen",
                [
                    f"{_entity_name(c, m)} ({m.cut(m.escape(c.kind), SOURCE_IN_LIST)}) "
                    f"{m.bold(str(c.mentions))}"
                    for c in digest.new_entities
                ],
            )
        )
    if digest.feed_problems:
        sections.append(
            (
                "Blind spots",
                [
                    f"{m.link(p.url, m.cut(m.escape(p.name), SOURCE_IN_LIST))}: "
                    f"{m.cut(m.escape(p.problem), TITLE_IN_LIST)}"
                    for p in digest.feed_problems
                ],
            )
        )
    return sections


def _entity_name(count: EntityCount, m: Markup) -> str:
    return m.cut(m.escape(count.name), TITLE_IN_LIST)


def by_kind(counts: Iterable[EntityCount]) -> list[tuple[str, list[EntityCount]]]:
    """Counts grouped by entity kind, groups and members in the order the digest gives them."""
    groups: dict[str, list[EntityCount]] = {}
    for count in counts:
        groups.setdefault(count.kind, []).append(count)
    return list(groups.items())
