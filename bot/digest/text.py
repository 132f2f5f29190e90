"""The digest as plain text: the console sink's output and every platform's fallback.

Feed and watchlist text is untrusted but is not escaped here: each sink makes
text safe for where it goes. This module only keeps each untrusted field on one
line (so it cannot forge a section) and adds no control characters of its own
beyond the newlines between lines.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.digest.content import format_date, one_line
from bot.digest.model import Digest, EntityCount, FeedProblem, TopStory

EMPTY_DAY = "no watched entity was mentioned in the last 24 hours."
BLIND_SPOTS_EMPTY = "Blind spots (news from these feeds may be missing):"
MAX_FIELD_CHARS = 200
_MINUS = "\u2212"  # a real minus sign: "−2" reads better than "-2" next to "+3"


def render_text(digest: Digest, *, title: bool = True) -> str:
    """The whole digest as lines of text; an empty day is one line (plus its blind spots).

    `title=False` leaves the title line out, for sinks that show the title
    separately (a heading, an embed title).
    """
    if digest.empty:
        head = f"{digest.title}: {EMPTY_DAY}" if title else EMPTY_DAY.capitalize()
        lines = [head]
        if digest.feed_problems:
            lines.append(BLIND_SPOTS_EMPTY)
            lines.extend(_problem_line(p) for p in digest.feed_problems)
        return "\n".join(lines)

    lines = [digest.title] if title else []
    lines.append(period_line(digest))
    lines += ["", "Mentions (vs previous day)"]
    kind = None
    for count in digest.counts:
        if count.kind != kind:
            kind = count.kind
            lines.append(_kind_label(kind))
        lines.append(
            f"  {one_line(count.name, MAX_FIELD_CHARS)} {count.mentions} ({change_marker(count)})"
        )
    if digest.top_stories:
        lines += ["", "Top stories"]
        lines.extend(_story_line(s) for s in digest.top_stories)
    if digest.new_entities:
        lines += ["", "First seen"]
        lines.extend(_first_seen_line(c) for c in digest.new_entities)
    lines.append("")
    if digest.feed_problems:
        lines.append("Blind spots")
        lines.extend(_problem_line(p) for p in digest.feed_problems)
    else:
        lines.append("Blind spots: none.")
    return "\n".join(lines)


def change_marker(count: EntityCount) -> str:
    """ "+3", "−2", "=" against the previous 24 hours, or "new" when it had none."""
    if count.previous == 0 and count.mentions > 0:
        return "new"
    if count.change > 0:
        return f"+{count.change}"
    if count.change < 0:
        return f"{_MINUS}{-count.change}"
    return "="


def period_line(digest: Digest) -> str:
    """ "24 hours to Wed 25 Nov 2026 08:00 (Europe/London)": what the counts cover."""
    end = digest.end.astimezone(ZoneInfo(digest.timezone))
    return f"24 hours to {format_date(end.date())} {end:%H:%M} ({digest.timezone})"


def _kind_label(kind: str) -> str:
    label = one_line(kind, 60) or "other"
    return label[:1].upper() + label[1:]


def _story_line(story: TopStory) -> str:
    noun = "source" if story.sources == 1 else "sources"
    parts = [f"{story.sources} {noun}", one_line(story.title, MAX_FIELD_CHARS) or "(untitled)"]
    url = one_line(story.url, 2000)
    if url:
        parts.append(url)
    return "  " + " · ".join(parts)


def _first_seen_line(count: EntityCount) -> str:
    noun = "mention" if count.mentions == 1 else "mentions"
    name = one_line(count.name, MAX_FIELD_CHARS)
    return f"  {name} ({one_line(count.kind, 60) or 'other'}), {count.mentions} {noun}"


def _problem_line(problem: FeedProblem) -> str:
    name = one_line(problem.name, MAX_FIELD_CHARS) or one_line(problem.url, 2000)
    return f"  {name}: {one_line(problem.problem, 2 * MAX_FIELD_CHARS)}"
