"""The SQLite schema as numbered migrations: migration N takes `PRAGMA user_version` N-1 to N.

Kept apart from the queries so tests (and the contract suite) can build a
database at any earlier version from MIGRATIONS[:N].
"""

from __future__ import annotations

APPLICATION_ID = 0x4E575442  # "NWTB": marks the file as this bot's database

MIGRATIONS: list[str] = [
    # 1: the core pipeline
    """
    CREATE TABLE feeds (
        url TEXT PRIMARY KEY,           -- as configured: the feed's identity
        fetch_url TEXT NOT NULL,        -- differs after a permanent redirect
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        first_polled INTEGER NOT NULL DEFAULT 0,
        next_poll_at REAL,
        last_success_at REAL,
        last_error TEXT,
        last_error_at REAL,
        error_count INTEGER NOT NULL DEFAULT 0,
        failing_since REAL,
        disabled_reason TEXT,
        items_seen INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        feed_url TEXT NOT NULL,
        guid TEXT NOT NULL,
        url TEXT NOT NULL,
        title TEXT NOT NULL,
        summary TEXT NOT NULL,
        published REAL,
        feed_name TEXT NOT NULL,
        fetched_at REAL NOT NULL,
        matches TEXT NOT NULL DEFAULT '[]'   -- JSON list of Match, for digests/backtests
    );
    CREATE INDEX items_fetched_at ON items(fetched_at);
    -- Every key an item is known by (guid, canonical URL, title fingerprint).
    CREATE TABLE seen (
        key TEXT PRIMARY KEY,
        first_seen REAL NOT NULL,
        item_id INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX seen_first_seen ON seen(first_seen);
    -- The outbox: an alert exists here before any delivery is tried.
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES items(id),
        platform TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        matches TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        message_id TEXT,
        reply_to TEXT,
        created_at REAL NOT NULL,
        sent_at REAL,
        UNIQUE (item_id, platform, channel_id)
    );
    CREATE INDEX outbox_channel_pending ON outbox(platform, channel_id, status, id);
    CREATE TABLE channels (
        platform TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        broken_reason TEXT,
        broken_at REAL,
        PRIMARY KEY (platform, channel_id)
    );
    CREATE TABLE watch_terms (
        id INTEGER PRIMARY KEY,
        entity_id TEXT NOT NULL,
        term TEXT NOT NULL,
        kind TEXT NOT NULL,
        added_by TEXT NOT NULL,
        added_at REAL NOT NULL,
        UNIQUE (entity_id, term)
    );
    """,
    # 2: what analysts change from chat: feeds, mutes, removed aliases
    """
    CREATE TABLE added_feeds (
        url TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        added_by TEXT NOT NULL,
        added_at REAL NOT NULL
    );
    CREATE TABLE mutes (
        entity_id TEXT PRIMARY KEY,
        until REAL,                     -- NULL: until unmuted
        muted_by TEXT NOT NULL,
        muted_at REAL NOT NULL
    );
    -- Aliases from the watchlist files that an analyst removed from chat.
    CREATE TABLE removed_terms (
        entity_id TEXT NOT NULL,
        term TEXT NOT NULL,
        removed_by TEXT NOT NULL,
        removed_at REAL NOT NULL,
        PRIMARY KEY (entity_id, term)
    );
    """,
    # 3: a broken channel remembers the configuration it broke under
    """
    ALTER TABLE channels ADD COLUMN config_hash TEXT;
    """,
    # 4: stories and their threads, flood control, daily digests
    """
    -- A story is keyed by its first item's key, so it needs no id allocation.
    CREATE TABLE stories (
        key TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        url TEXT NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL
    ) WITHOUT ROWID;
    ALTER TABLE items ADD COLUMN story TEXT;
    CREATE INDEX items_story ON items(story);
    -- The message that opened a story's thread in a channel, and how far the
    -- story has grown there (sources) against what that message shows (shown).
    CREATE TABLE story_posts (
        story TEXT NOT NULL,
        platform TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        outbox_id INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        sources INTEGER NOT NULL DEFAULT 1,
        shown INTEGER NOT NULL DEFAULT 1,
        last_update REAL NOT NULL,
        PRIMARY KEY (story, platform, channel_id)
    );
    CREATE INDEX story_posts_stale ON story_posts(platform, channel_id) WHERE shown < sources;
    ALTER TABLE outbox ADD COLUMN top_level INTEGER;    -- 1: posted as a new message
    ALTER TABLE outbox ADD COLUMN held_at REAL;         -- held back by the flood cap
    ALTER TABLE outbox ADD COLUMN summary_id INTEGER;   -- the summary that lists it
    CREATE INDEX outbox_top_level ON outbox(platform, channel_id, sent_at) WHERE top_level = 1;
    CREATE TABLE flood_summaries (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        window_start REAL NOT NULL,
        window_end REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        message_id TEXT,
        created_at REAL NOT NULL,
        sent_at REAL
    );
    ALTER TABLE channels ADD COLUMN flood_window_start REAL;
    -- One row per channel and local day: the digest is sent (or skipped) once.
    CREATE TABLE digests (
        channel TEXT NOT NULL,
        day TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'skipped')),
        message_id TEXT,
        at REAL NOT NULL,
        PRIMARY KEY (channel, day)
    ) WITHOUT ROWID;
    CREATE TABLE entity_first_seen (
        entity_id TEXT PRIMARY KEY,
        first_seen REAL NOT NULL
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO entity_first_seen
        SELECT json_extract(m.value, '$.entity_id'), min(i.fetched_at)
        FROM items i, json_each(i.matches) m GROUP BY 1;
    -- When a feed last had a new item, and its usual gap between new items.
    ALTER TABLE feeds ADD COLUMN last_new_at REAL;
    ALTER TABLE feeds ADD COLUMN mean_gap REAL;
    """,
    # 5: delivery hardening. A row is claimed (committed) before its request
    # leaves, so after a crash the sink knows an earlier try may have reached the
    # platform and looks before posting again. Daily digests become outbox jobs
    # (attempts, backoff, dead) instead of a "sending" mark.
    """
    ALTER TABLE outbox ADD COLUMN claimed_at REAL;
    CREATE TABLE digests_v5 (
        channel TEXT NOT NULL,          -- "platform:id"
        day TEXT NOT NULL,              -- the local day it is the digest of
        status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'skipped', 'dead')),
        message_id TEXT,
        at REAL NOT NULL,               -- when the status was last set
        created_at REAL,                -- when it was queued: its place among the alerts
        period_end REAL,                -- it covers the 24 hours before this
        timezone TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        last_error TEXT,
        claimed_at REAL,
        PRIMARY KEY (channel, day)
    ) WITHOUT ROWID;
    INSERT INTO digests_v5 (channel, day, status, message_id, at, created_at, period_end,
            next_attempt_at, claimed_at)
        SELECT channel, day, CASE status WHEN 'sending' THEN 'queued' ELSE status END,
            message_id, at, at, at, at, CASE status WHEN 'sending' THEN at END FROM digests;
    DROP TABLE digests;
    ALTER TABLE digests_v5 RENAME TO digests;
    """,
    # 6: an item whose feed date was impossible remembers it (bot/feeds/dates.py), and
    # items stored before with such dates are put at their fetch time the same way.
    # (No ";" inside a migration's SQL, even in strings: statements splits on it.)
    """
    ALTER TABLE items ADD COLUMN date_note TEXT NOT NULL DEFAULT '';
    UPDATE items SET
        date_note = 'date ' || strftime('%Y-%m-%d %H:%M', published, 'unixepoch')
            || '+00:00 is impossible ('
            || CASE WHEN published < 631152000 THEN 'before 1990'
                    ELSE 'more than a day after the fetch' END
            || ')' || char(59) || ' using the fetch time',
        published = fetched_at
        WHERE published < 631152000 OR published > fetched_at + 86400;
    """,
    # 7: the heartbeat of `run`, read by `python -m bot health` (bot/ops/health.py): one
    # row, rewritten at each start, advanced at each poll cycle, marked at a clean stop.
    """
    CREATE TABLE heartbeat (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        started_at REAL NOT NULL,
        interval REAL NOT NULL,         -- seconds: health allows 3 of them between cycles
        last_cycle_at REAL,             -- NULL until the first poll cycle completed
        stopped_at REAL,
        clean_stop INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 8: feeds imported by the operator (`feeds import`) are trusted like bot.toml's,
    # may say how their first poll goes, and every feed remembers its web page
    # (the channel link) for `feeds export`.
    """
    ALTER TABLE added_feeds ADD COLUMN source TEXT NOT NULL DEFAULT 'chat';
    ALTER TABLE added_feeds ADD COLUMN first_poll TEXT NOT NULL DEFAULT 'skip';
    ALTER TABLE added_feeds ADD COLUMN html_url TEXT;
    ALTER TABLE feeds ADD COLUMN html_url TEXT;
    """,
    # 9: an item in a story keeps what story grouping read from it (bot/stories/features.py),
    # so start-up loads it instead of reading every recent member again. NULL for items
    # stored before: those are read from their text, as before.
    """
    ALTER TABLE items ADD COLUMN story_features TEXT;
    """,
    # 10: the backlog gauge is read after every delivery (how many alerts wait, since
    # when); without this index each read scanned every delivered row kept for
    # `retention`, so a delivery cost more the longer the bot had run.
    """
    CREATE INDEX outbox_pending ON outbox(created_at) WHERE status = 'pending';
    """,
    # 11: feed leases (bot/storage/feeds.py), the same columns PostgreSQL has, so the
    # schemas stay identical for `migrate`; SQLite has one instance per file, so its
    # leases only ever name that one. Claims read the due feeds by next_poll_at.
    """
    ALTER TABLE feeds ADD COLUMN lease_owner TEXT;
    ALTER TABLE feeds ADD COLUMN lease_until REAL;
    CREATE INDEX feeds_next_poll_at ON feeds(next_poll_at);
    """,
    # 12: the digests of the entries a feed's last parse saw (bot/feeds/fastparse.py), so
    # a changed feed reads only its changed entries; written with that poll's items.
    """
    ALTER TABLE feeds ADD COLUMN entry_digests TEXT;
    """,
    # 13: the story members of a time window (a start-up's story rebuild, a digest's
    # stories) by an index of only the items in a story: through items_fetched_at
    # SQLite read every item of the window, 20 times as many, to keep 1 in 20
    # (bot/storage/sqlite/stories.py).
    """
    CREATE INDEX items_story_fetched_at ON items(fetched_at) WHERE story IS NOT NULL;
    """,
    # 14: the same index, holding each member's date, story and key too: a rebuild
    # leaves out the members it would only pass over, whose stories have none in the
    # window (bot/storage/rows.py story_members_sql), deciding that from the index
    # alone; a `once` after a first poll read 2,530 items' rows for it.
    """
    DROP INDEX items_story_fetched_at;
    CREATE INDEX items_story_fetched_at ON items(fetched_at, published, story, feed_url, guid)
        WHERE story IS NOT NULL;
    """,
]


def statements(script: str) -> list[str]:
    """Split a migration into statements (they contain no semicolons in strings)."""
    return [s.strip() for s in script.split(";") if s.strip()]
