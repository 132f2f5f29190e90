"""Conversions between stored rows and the models, shared by every engine.

Both engines store the same columns the same way (times as epoch seconds, match
lists as JSON text), so one conversion serves both: an `aiosqlite.Row` and an
`asyncpg.Record` are both read by column name. Keeping them here, not per
engine, is one of the guards against the two engines drifting apart.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.models import Alert, FeedState, FloodSummary, Item, Match
from bot.storage.models import IngestPlan, StoryMember


class Row(Protocol):
    """A result row read by column name (aiosqlite.Row, asyncpg.Record)."""

    def __getitem__(self, key: str, /) -> Any: ...


def ts(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


def dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


# Match's fields in declaration order: the keys of its stored JSON.
_MATCH_FIELDS = tuple(f.name for f in fields(Match))


def matches_json(matches: Sequence[Match]) -> str:
    """The JSON of `dataclasses.asdict` of each match, made without it: asdict deep-copies
    every value (a Match holds only strings, numbers and a tuple of strings), 32 µs a
    match against 9, and every ingested item and queued alert stores its matches."""
    return json.dumps(
        [{name: getattr(m, name) for name in _MATCH_FIELDS} for m in matches], ensure_ascii=False
    )


def matches_from(text: str) -> tuple[Match, ...]:
    return tuple(Match(**m) for m in json.loads(text))


def entity_ids_from(text: str) -> frozenset[str]:
    """The entity ids of stored matches (`matches_json`) without making each Match:
    start-up reads those of every story member in the window."""
    return frozenset(m["entity_id"] for m in json.loads(text))


def story_members_sql(
    since: str, dated_before: str, items: str = "items", may_be_bare: bool = True
) -> str:
    """The story members' query of both engines (placeholders given in their syntax, each
    may appear twice; `items`: how the engine names the table, SQLite with its index:
    BY_STORY_FETCHED_AT in bot/storage/sqlite/stories.py).

    A member dated (published, else fetched) more than a second before `dated_before`
    comes back bare: its text, matches, features, link and feed name are not read.
    A restart's story rebuild passes such members over (`StoryIndex.pass_over`) and
    needs only their key, story and dates: at 1,000 feeds those were 2,530 of the
    members read by a `once` with news, reading the rest 0.02-0.03 s of its CPU
    (bench/pipeline_ab.py). The second keeps the boundary on Python's side: a member
    within it is read whole and the rebuild decides (`StoryTracker.loading`).

    With `may_be_bare` (a `dated_before` is given), a bare member comes back only if
    its story has a member that is not, or its key (feed and guid) comes twice: what a
    passed-over member leaves, its part in its story's start, goes with a story left
    without members (`StoryIndex.expire`), and its place in the order of addition only
    ranks the members after it (`StoryIndex._age`), which leaving it out keeps; but a
    member whose key comes again replaces the other, so those always come back (and
    the rebuild then reads them all whole). The same `once` read those 2,530 members
    for nothing: 0.03 CPU-s (issue 13). tests/test_story_pass_over.py holds the
    rebuild from this read to the rebuild from every member.
    """
    bare = "CASE WHEN bare THEN NULL ELSE {} END"
    heavy = ("url", "title", "summary", "feed_name", "matches", "date_note", "story_features")
    columns = dict(zip(heavy, (bare.format(c) for c in heavy), strict=True))
    dated = "coalesce(published, fetched_at)"
    members = f"FROM {items} WHERE story IS NOT NULL AND fetched_at >= {since}"
    needed = (
        f"WHERE NOT bare OR story IN (SELECT story {members} AND {dated} >= {dated_before}) "
        f"OR (feed_url, guid) IN (SELECT feed_url, guid {members} "
        "GROUP BY feed_url, guid HAVING count(*) > 1) "
    )
    return (
        f"SELECT feed_url, guid, {columns['url']}, {columns['title']}, {columns['summary']}, "
        f"published, {columns['feed_name']}, fetched_at, story, {columns['matches']}, "
        f"{columns['date_note']}, {columns['story_features']}, bare FROM ("
        "SELECT id, feed_url, guid, url, title, summary, published, feed_name, fetched_at, "
        f"story, matches, date_note, story_features, {dated} < {dated_before} AS bare "
        f"{members}) AS m {needed if may_be_bare else ''}ORDER BY id"
    )


def bare_before(dated_before: datetime | None) -> float:
    """The query's `dated_before` parameter: a second early, or none bare (-inf)."""
    return -math.inf if dated_before is None else dated_before.timestamp() - 1.0


def story_member_from_row(r: Sequence[Any], since: datetime) -> StoryMember:
    """A row of `story_members_sql`, bare or whole."""
    if r[12]:
        return StoryMember(
            Item(r[0], r[1], "", "", "", dt(r[5])),
            dt(r[7]) or since,
            r[8],
            frozenset(),
            None,
            bare=True,
        )
    return StoryMember(
        Item(r[0], r[1], r[2], r[3], r[4], dt(r[5]), r[6], r[10]),
        dt(r[7]) or since,
        r[8],
        entity_ids_from(r[9]),
        r[11],
    )


def feed_state_from_row(r: Row) -> FeedState:
    return FeedState(
        feed_url=r["url"],
        fetch_url=r["fetch_url"],
        etag=r["etag"],
        last_modified=r["last_modified"],
        body_hash=r["body_hash"],
        first_polled=bool(r["first_polled"]),
        next_poll_at=dt(r["next_poll_at"]),
        last_success_at=dt(r["last_success_at"]),
        last_error=r["last_error"],
        last_error_at=dt(r["last_error_at"]),
        error_count=r["error_count"],
        failing_since=dt(r["failing_since"]),
        disabled_reason=r["disabled_reason"],
        items_seen=r["items_seen"],
        html_url=r["html_url"],
        entry_digests=r["entry_digests"] or "",
    )


# A feed's stored state, in FeedState's field order: what `feed_row` writes (every
# engine's feed upserts name these columns) and what `feed_states` reads back at start-up
# as plain tuples (at 10,000 feeds 0.04 s of CPU instead of 0.07 s for `SELECT *` read by
# column name, issue 13; `feed_state_from_row` stays for the rest). One list, so a new
# column cannot be written by one and forgotten by the other.
FEED_STATE_COLUMNS = (
    "url, fetch_url, etag, last_modified, body_hash, first_polled, next_poll_at, "
    "last_success_at, last_error, last_error_at, error_count, failing_since, "
    "disabled_reason, items_seen, html_url, entry_digests"
)
FEED_STATE_COLUMN_COUNT = FEED_STATE_COLUMNS.count(",") + 1


def feed_state_from_values(v: Sequence[Any]) -> FeedState:
    """A FeedState from the values of FEED_STATE_COLUMNS, in that order."""
    fromts = datetime.fromtimestamp
    return FeedState(
        v[0],
        v[1],
        v[2],
        v[3],
        v[4],
        bool(v[5]),
        None if v[6] is None else fromts(v[6], UTC),
        None if v[7] is None else fromts(v[7], UTC),
        v[8],
        None if v[9] is None else fromts(v[9], UTC),
        v[10],
        None if v[11] is None else fromts(v[11], UTC),
        v[12],
        v[13],
        v[14],
        v[15] or "",
    )


ALERT_COLUMNS = (
    "o.*, i.feed_url, i.guid, i.url, i.title, i.summary, i.published, i.feed_name, i.story, "
    "i.date_note"
)


def feed_row(s: FeedState, added_items: int = 0) -> tuple[object, ...]:
    """A feed's row values in FEED_STATE_COLUMNS order, for every engine.
    `added_items` new items are counted into items_seen; the upserts also add them to
    the stored count, so a stale in-memory state never lowers it."""
    return (
        s.feed_url,
        s.fetch_url,
        s.etag,
        s.last_modified,
        s.body_hash,
        int(s.first_polled),
        ts(s.next_poll_at),
        ts(s.last_success_at),
        s.last_error,
        ts(s.last_error_at),
        s.error_count,
        ts(s.failing_since),
        s.disabled_reason,
        s.items_seen + added_items,
        s.html_url,
        s.entry_digests,
    )


def alert_from_row(r: Row) -> Alert:
    item = Item(
        feed_url=r["feed_url"],
        guid=r["guid"],
        url=r["url"],
        title=r["title"],
        summary=r["summary"],
        published=dt(r["published"]),
        feed_name=r["feed_name"],
        date_note=r["date_note"],
    )
    return Alert(
        id=r["id"],
        platform=r["platform"],
        channel_id=r["channel_id"],
        item=item,
        matches=matches_from(r["matches"]),
        created_at=dt(r["created_at"]) or datetime.now(UTC),
        attempts=r["attempts"],
        claimed=r["claimed_at"] is not None,
        reply_to=r["reply_to"],
        story=r["story"],
    )


def summary_from_row(r: Row, alerts: tuple[Alert, ...]) -> tuple[FloodSummary, int, datetime]:
    """A pending `flood_summaries` row with the alerts it lists: (summary, attempts so
    far, when it is due), as OutboxStore.next_summary returns it."""
    summary = FloodSummary(
        id=r["id"],
        platform=r["platform"],
        channel_id=r["channel_id"],
        alerts=alerts,
        window_start=dt(r["window_start"]) or datetime.now(UTC),
        window_end=dt(r["window_end"]) or datetime.now(UTC),
    )
    return summary, r["attempts"], dt(r["next_attempt_at"]) or datetime.now(UTC)


# The columns an ingest writes for a new item, in the order of `item_row`'s values.
ITEM_INSERT_COLUMNS = (
    "id, feed_url, guid, url, title, summary, published, "
    "feed_name, fetched_at, matches, story, date_note, story_features"
)


def item_row(item_id: int, plan: IngestPlan, fetched_at: float) -> tuple[object, ...]:
    """The values of a new item's row (ITEM_INSERT_COLUMNS), the same for every engine."""
    it = plan.item
    return (
        item_id,
        it.feed_url,
        it.guid,
        it.url,
        it.title,
        it.summary,
        ts(it.published),
        it.feed_name,
        fetched_at,
        matches_json(plan.matches),
        plan.story,
        it.date_note,
        plan.story_features if plan.story is not None else None,
    )
