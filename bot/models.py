"""Domain objects passed between pipeline stages: plain frozen dataclasses.

Nothing here does I/O; every stage takes these in and hands these on, which
keeps the stages testable on their own and lets a queue sit between any two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

SEVERITIES: tuple[str, ...] = ("low", "medium", "high")


def severity_rank(severity: str) -> int:
    """Order severities so filters can say "at least medium"."""
    return SEVERITIES.index(severity)


@dataclass(frozen=True, slots=True)
class Entity:
    """One watched thing: a group, region, person or any other label."""

    id: str
    name: str
    kind: str
    aliases: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    severity: str = "medium"
    source: str = ""  # file (or "chat") it came from, for error messages
    # Terms one of which must appear in the item for the entity to match: how
    # two people who share a name are told apart (bot/matching/README in README.md).
    context: tuple[str, ...] = ()
    # Risky aliases (two letters, a common word, symbols) the analyst wants
    # matched by the ordinary rules instead of case-exact and as written.
    loose: tuple[str, ...] = ()

    @property
    def all_aliases(self) -> tuple[str, ...]:
        """The name counts as an alias; duplicates are dropped, order kept."""
        return tuple(dict.fromkeys((self.name, *self.aliases)))


@dataclass(frozen=True, slots=True)
class Item:
    """One entry of a feed after parsing.

    Title and summary are plain text: what a reader of the item sees (HTML
    fields converted by bot/feeds/html_text.py, plain-text fields as written),
    so nothing downstream strips markup again.
    """

    feed_url: str  # the feed's configured URL: its stable identity
    guid: str
    url: str
    title: str
    summary: str = ""
    published: datetime | None = None
    feed_name: str = ""
    # Set when `published` is not the feed's own date because that was
    # impossible (before 1990, far in the future, beyond the calendar): says
    # what the feed said and that the fetch time stands in (bot/feeds/dates.py).
    date_note: str = ""


@dataclass(frozen=True, slots=True)
class Match:
    """Why an item fired for an entity: which alias matched which text, how well."""

    entity_id: str
    entity_name: str
    kind: str
    severity: str
    alias: str
    text: str  # the words of the item that matched, as written there
    score: float  # 100 for exact, rapidfuzz ratio otherwise
    field: str = "title"  # "title" or "summary"
    start: int = 0  # character offsets of `text` in that field
    end: int = 0
    # exact: the alias as written; normalised: same words after case/accent/
    # punctuation folding; variant: same transliteration skeleton (Tehreek =
    # Tehrik); transliterated: from another script; fuzzy: within edit distance.
    how: str = "exact"
    # Other entities the same words also name (a shared alias): the analyst
    # decides which one the item is about. Empty when the match is unambiguous.
    candidates: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Rows loaded back from JSON carry a list; keep the dataclass hashable.
        if not isinstance(self.candidates, tuple):
            object.__setattr__(self, "candidates", tuple(self.candidates))

    @property
    def ambiguous(self) -> bool:
        return bool(self.candidates)

    def ambiguity_note(self) -> str:
        """ " — ambiguous, also: a, b" for a shared alias, else ""; shown in every alert."""
        if not self.candidates:
            return ""
        return f" — ambiguous, also: {', '.join(self.candidates)}"

    def to_json(self) -> dict[str, object]:
        """The public JSON form (match filter output, JSONL alerts)."""
        extra: dict[str, object] = {}
        if self.candidates:
            extra = {"ambiguous": True, "candidates": list(self.candidates)}
        return {
            "entity": self.entity_id,
            "kind": self.kind,
            "alias": self.alias,
            "text": self.text,
            "score": self.score,
            "field": self.field,
            "start": self.start,
            "end": self.end,
            "how": self.how,
            **extra,
        }

    def explain(self) -> str:
        how = self.how if self.score >= 100 else f"{self.how} {self.score:g}"
        return (
            f'{self.entity_id}: alias "{self.alias}" ~ "{self.text}" ({how}, {self.field})'
            + self.ambiguity_note()
        )


@dataclass(frozen=True, slots=True)
class Alert:
    """A matched item bound for one channel: a row of the outbox."""

    id: int
    platform: str
    channel_id: str
    item: Item
    matches: tuple[Match, ...]
    created_at: datetime
    attempts: int = 0
    # An earlier try was recorded as leaving for the platform (the row was
    # claimed before its request): it may have arrived, so look before posting.
    claimed: bool = False
    reply_to: str | None = None  # platform message id of the thread parent, if any
    # The story this item belongs to (see bot/stories/), and, for a reply in
    # a story's thread, the names of entities no earlier item of the story had.
    story: str | None = None
    new_entities: tuple[str, ...] = ()
    story_title: str = ""  # the story's first headline (names its Discord thread)
    # For a reply: the entities earlier items of its story had, as storage loaded
    # them; bot/stories/rules.py turns them into `new_entities`.
    earlier_entity_ids: frozenset[str] = frozenset()

    @property
    def severity(self) -> str:
        return max((m.severity for m in self.matches), key=severity_rank, default="low")

    @property
    def entity_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.entity_id for m in self.matches))


@dataclass(frozen=True, slots=True)
class StoryUpdate:
    """A story's parent alert, to be edited to show how the story has grown.

    Sent to a sink after replies were posted in the story's thread, so the
    channel shows "3 sources · last update 14:05" without scrolling the thread.
    """

    parent: Alert  # the alert as first posted (its item and matches)
    message_id: str  # the platform's id of the parent message
    sources: int  # distinct feeds among the story's items delivered (bot/stories/rules.py)
    last_update: datetime  # when the newest of them was delivered
    revision: int = 0  # items delivered in the channel; an edit showing them marks it shown
    delivered_feeds: frozenset[str] = frozenset()  # as loaded: what `sources` is counted from


@dataclass(frozen=True, slots=True)
class FloodSummary:
    """Alerts held back by a channel's flood cap, posted as one message when the window ends.

    `id` is unique and stable across retries, so sinks use it for idempotency
    exactly as they use `Alert.id`.
    """

    id: int
    platform: str
    channel_id: str
    alerts: tuple[Alert, ...]  # oldest first
    window_start: datetime
    window_end: datetime

    def entity_counts(self) -> list[tuple[str, int]]:
        """("ISKP", 5), ("Tajikistan", 4), …: most mentioned first, then by name."""
        counts: dict[str, int] = {}
        for alert in self.alerts:
            for name in dict.fromkeys(m.entity_name for m in alert.matches):
                counts[name] = counts.get(name, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].casefold()))

    def headline(self, limit: int = 5) -> str:
        """ "12 more alerts: ISKP ×5, Tajikistan ×4, …" (plain text; sinks escape it)."""
        counts = self.entity_counts()
        parts = [f"{name} ×{n}" for name, n in counts[:limit]]
        if len(counts) > limit:
            parts.append("…")
        noun = "alert" if len(self.alerts) == 1 else "alerts"
        return f"{len(self.alerts)} more {noun}: {', '.join(parts)}"


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the bot remembers about a feed between polls."""

    feed_url: str
    fetch_url: str  # differs from feed_url after a permanent redirect
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    first_polled: bool = False
    next_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    error_count: int = 0
    failing_since: datetime | None = None
    disabled_reason: str | None = None
    items_seen: int = 0
    html_url: str | None = None  # the feed's web page (its channel link), for OPML export
    # The digests of the entries the last parse saw (bot/feeds/fastparse.py): entries
    # with these bytes in this context are not read again. Saved with that poll's items.
    entry_digests: str = ""


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one successful HTTP exchange for a feed."""

    status: int  # 200 or 304
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    final_url: str | None = None  # set when a permanent redirect moved the feed
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeliveryProblem:
    """Something the bot could not deliver for good (a broken channel, a digest or alerts
    given up on): reported in `/feeds status` and the next digest, not only in the log.

    Storage loads the facts (which kind, how many, which day); how they read is
    decided here, once for every storage engine.
    """

    channel: str  # "platform:id"
    kind: str  # "channel" (refuses the bot), "digest" (a day's), "alerts" (given up on)
    error: str  # the platform's answer
    at: datetime
    day: date | None = None  # kind "digest": the day it is the digest of
    count: int = 1  # kind "alerts": how many

    @property
    def what(self) -> str:
        if self.kind == "channel":
            return "channel refused, alerts queued"
        if self.kind == "digest":
            return f"digest for {self.day} not posted"
        return f"{self.count} alert{'s' if self.count != 1 else ''} not posted"

    def line(self) -> str:
        return f"{self.what}: {self.error}" if self.error else self.what


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What `run` last wrote about itself, for `python -m bot health`."""

    pid: int
    host: str
    started_at: datetime
    interval: float  # seconds between cycle ticks; health allows three
    last_cycle_at: datetime | None  # None until the first poll cycle completed
    stopped_at: datetime | None
    clean_stop: bool


@dataclass(frozen=True, slots=True)
class ChatTerm:
    """A watch term added from chat, stored in the database, merged at load."""

    entity_id: str
    term: str
    kind: str = "topic"


@dataclass(frozen=True, slots=True)
class DigestJob:
    """A day's digest queued for a channel's outbox worker.

    It holds what to build, not the built digest: the content is made when it
    is delivered (the same 24 hours), so a retry shows the feeds' health as it
    is then and no chart bytes sit in the database.
    """

    channel: str  # "platform:id"
    day: date  # the local day it is the digest of
    period_end: datetime  # it covers the 24 hours before this
    timezone: str
    attempts: int = 0
    due_at: datetime | None = None  # when it may be tried (later after a failure)
    created_at: datetime | None = None  # its place among the channel's alerts
    claimed: bool = False  # an earlier try may have reached the platform

    @property
    def key(self) -> str:
        """The idempotency key sinks find an earlier copy by: channel and day."""
        return f"{self.channel}:{self.day.isoformat()}"


@dataclass(frozen=True, slots=True)
class StoryRecord:
    """A stored story with items in the digest period (from storage)."""

    key: str
    title: str
    url: str
    first_seen: datetime
    feeds: frozenset[str]  # feed URLs of its items within the period
    items: int
    entity_ids: frozenset[str]
