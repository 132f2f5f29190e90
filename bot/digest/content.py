"""What goes in a daily digest: a pure function of `DigestInput`.

Storage gathers the input (I/O); everything decided here — counts, changes,
ranking, blind spots, the chart's data — is tested on hand-built inputs with
fixed datetimes. Sinks only choose how a `Digest` looks.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.digest.chart import render_chart
from bot.digest.model import (
    Digest,
    DigestInput,
    EntityCount,
    FeedHealth,
    FeedProblem,
    StoryRecord,
    TopStory,
)
from bot.models import DeliveryProblem, Entity

PERIOD = timedelta(hours=24)
CHART_DAYS = 7
# A feed is silent when nothing new came for this many of its usual gaps.
SILENT_AFTER_GAPS = 3
# With no `failing_since`, an error counts as "failing" after this long without success.
FAILING_WITHOUT_SUCCESS = timedelta(hours=24)
UNKNOWN_KIND = "other"
MAX_ERROR_CHARS = 200

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def build_digest(data: DigestInput, *, chart: bool = True) -> Digest:
    """The digest for the 24 hours ending at `data.now`, with the chart if asked and useful."""
    if data.now.tzinfo is None or data.now.utcoffset() is None:
        raise ValueError("DigestInput.now must be an aware datetime")
    tz = ZoneInfo(data.timezone)
    end = data.now
    start = end - PERIOD
    current, previous = _period_counts(data.mentions, start, end)
    counts = _entity_counts(current, previous, data.entities)
    new_entities = tuple(
        _count(entity_id, current, previous, data.entities)
        for entity_id, first in sorted(
            data.first_seen.items(),
            key=lambda kv: (kv[1], _describe(kv[0], data.entities)[0].casefold(), kv[0]),
        )
        if start < first <= end
    )
    png = _chart(data.mentions, data.entities, end, tz) if chart else None
    return Digest(
        title=digest_title(end, tz),
        start=start,
        end=end,
        timezone=data.timezone,
        counts=counts,
        top_stories=top_stories(data.stories, data.entities, data.top_stories),
        new_entities=new_entities,
        feed_problems=feed_problems(data.feeds, end) + delivery_problems(data.delivery_problems),
        chart_png=png,
    )


def digest_title(end: datetime, tz: ZoneInfo) -> str:
    """ "Daily digest · Wed 25 Nov 2026": the local date the 24 hours end on.

    Day and month names are spelt out here rather than with strftime, which
    follows the process locale.
    """
    return f"Daily digest · {format_date(end.astimezone(tz).date())}"


def format_date(day: date) -> str:
    """ "Wed 25 Nov 2026", in English whatever the locale."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def humanize_duration(seconds: float) -> str:
    """A rounded, readable length of time: "45s", "40m", "5h", "3d".

    Unlike `bot.config.format_duration` (exact, for settings) this rounds to
    the largest sensible unit: a blind spot's age matters, not its seconds.
    """
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 90 * 60:
        return f"{_round(seconds / 60)}m"
    if seconds < 36 * 3600:
        return f"{_round(seconds / 3600)}h"
    return f"{_round(seconds / 86400)}d"


def local_days(end: datetime, tz: ZoneInfo, count: int = CHART_DAYS) -> tuple[date, ...]:
    """The `count` calendar days in `tz` up to and including the local date of `end`, oldest first.

    Days are calendar dates, not 24-hour slices, so a day with a DST change
    (23 or 25 hours) is still one bar of the chart and labels match the wall
    calendar of the channel's team.
    """
    last = end.astimezone(tz).date()
    return tuple(last - timedelta(days=n) for n in range(count - 1, -1, -1))


def daily_counts(
    mentions: Iterable[tuple[str, datetime]], days: Sequence[date], tz: ZoneInfo
) -> dict[str, list[int]]:
    """Mentions per entity id per local day of `days`; mentions on other days are ignored."""
    index = {day: i for i, day in enumerate(days)}
    counts: dict[str, list[int]] = {}
    for entity_id, when in mentions:
        i = index.get(when.astimezone(tz).date())
        if i is not None:
            counts.setdefault(entity_id, [0] * len(days))[i] += 1
    return counts


def top_stories(
    stories: Iterable[StoryRecord], entities: Mapping[str, Entity], limit: int
) -> tuple[TopStory, ...]:
    """The `limit` stories carried by the most distinct feeds, then most items, then earliest."""
    ranked = sorted(stories, key=lambda s: (-len(s.feeds), -s.items, s.first_seen, s.key))
    return tuple(
        TopStory(
            title=s.title,
            url=s.url,
            sources=len(s.feeds),
            items=s.items,
            entities=tuple(
                sorted(
                    (_describe(e, entities)[0] for e in s.entity_ids),
                    key=lambda name: (name.casefold(), name),
                )
            ),
            first_seen=s.first_seen,
        )
        for s in ranked[: max(0, limit)]
    )


def feed_problems(feeds: Iterable[FeedHealth], now: datetime) -> tuple[FeedProblem, ...]:
    """Blind spots: disabled feeds, then failing ones, then silent ones, each by name.

    One problem per feed, the most serious: a failing feed is of course also
    quiet, and saying so twice hides nothing.
    """
    found: list[tuple[int, str, FeedProblem]] = []
    for feed in feeds:
        problem = feed_problem(feed, now)
        if problem is not None:
            rank, text = problem
            found.append((rank, feed.name.casefold(), FeedProblem(feed.name, feed.url, text)))
    found.sort(key=lambda t: (t[0], t[1], t[2].url))
    return tuple(p for _, _, p in found)


def delivery_problems(problems: Iterable[DeliveryProblem]) -> tuple[FeedProblem, ...]:
    """Deliveries given up on are blind spots too: a channel may have missed alerts."""
    return tuple(
        FeedProblem(name=f"delivery to {p.channel}", url="", problem=p.line()) for p in problems
    )


def feed_problem(feed: FeedHealth, now: datetime) -> tuple[int, str] | None:
    """(rank, one line) for a feed that is a blind spot, None for a healthy one.

    Rank orders the digest's list: 0 disabled, 1 failing, 2 silent.
    """
    if feed.disabled_reason is not None:
        return 0, f"disabled: {one_line(feed.disabled_reason) or 'no reason given'}"
    error = one_line(feed.last_error or "")
    since = feed.failing_since
    if since is None and error:
        if feed.last_success_at is None:
            return 1, f"failing: {error}"
        if now - feed.last_success_at >= FAILING_WITHOUT_SUCCESS:
            since = feed.last_success_at
    if since is not None:
        text = f"failing for {humanize_duration((now - since).total_seconds())}"
        return 1, f"{text}: {error}" if error else text
    if feed.last_new_at is not None and feed.mean_gap is not None and feed.mean_gap > 0:
        quiet = (now - feed.last_new_at).total_seconds()
        if quiet > SILENT_AFTER_GAPS * feed.mean_gap:
            return 2, (
                f"silent for {humanize_duration(quiet)} "
                f"(usually a new item every {humanize_duration(feed.mean_gap)})"
            )
    return None


def _round(value: float) -> int:
    """Half up, not Python's half-to-even: 2.5 hours reads as "3h"."""
    return int(value + 0.5)


def one_line(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """Untrusted text on one line, cut to `limit` characters.

    Layout, not escaping (sinks escape for their platform): a feed title or
    error with a newline or control character must not break the digest's lines.
    """
    text = re.sub(r"[\s\x00-\x1f\x7f-\x9f]+", " ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _period_counts(
    mentions: Iterable[tuple[str, datetime]], start: datetime, end: datetime
) -> tuple[Counter[str], Counter[str]]:
    """Mentions per entity in (start, end] and in the 24 hours before."""
    current: Counter[str] = Counter()
    previous: Counter[str] = Counter()
    before = start - PERIOD
    for entity_id, when in mentions:
        if start < when <= end:
            current[entity_id] += 1
        elif before < when <= start:
            previous[entity_id] += 1
    return current, previous


def _describe(entity_id: str, entities: Mapping[str, Entity]) -> tuple[str, str]:
    """(name, kind); an entity removed from the watchlists keeps its id as its name."""
    entity = entities.get(entity_id)
    if entity is None:
        return entity_id, UNKNOWN_KIND
    return entity.name, entity.kind


def _count(
    entity_id: str, current: Counter[str], previous: Counter[str], entities: Mapping[str, Entity]
) -> EntityCount:
    name, kind = _describe(entity_id, entities)
    return EntityCount(entity_id, name, kind, current[entity_id], previous[entity_id])


def _entity_counts(
    current: Counter[str], previous: Counter[str], entities: Mapping[str, Entity]
) -> tuple[EntityCount, ...]:
    """Entities mentioned in either day, grouped by kind, busiest first.

    Kinds come in the order they first appear in the watchlists (the team's
    own order: groups, regions, people…), unknown ids last as "other".
    Entities at zero today but not yesterday are kept, so a drop shows.
    """
    kinds = list(dict.fromkeys(e.kind for e in entities.values()))
    if UNKNOWN_KIND not in kinds:
        kinds.append(UNKNOWN_KIND)
    rows = [_count(i, current, previous, entities) for i in set(current) | set(previous)]
    rows = [r for r in rows if r.mentions or r.previous]
    rows.sort(key=lambda r: (kinds.index(r.kind), -r.mentions, r.name.casefold(), r.entity_id))
    return tuple(rows)


def _chart(
    mentions: Sequence[tuple[str, datetime]],
    entities: Mapping[str, Entity],
    end: datetime,
    tz: ZoneInfo,
) -> bytes | None:
    """The 7-day chart, or None when nothing was mentioned all week: an empty chart says nothing."""
    days = local_days(end, tz)
    per_day = daily_counts((m for m in mentions if m[1] <= end), days, tz)
    ranked = sorted(
        per_day.items(),
        key=lambda kv: (-sum(kv[1]), _describe(kv[0], entities)[0].casefold(), kv[0]),
    )
    series = [(_describe(i, entities)[0], counts) for i, counts in ranked if sum(counts)]
    if not series:
        return None
    return render_chart(days, series)
