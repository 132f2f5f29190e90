"""Row <-> model conversions for the SQLite engine: the shared ones (bot/storage/rows.py),
re-exported so the SQLite repositories keep importing them from here."""

from __future__ import annotations

from bot.storage.rows import (
    ALERT_COLUMNS,
    alert_from_row,
    dt,
    entity_ids_from,
    feed_state_from_row,
    matches_from,
    matches_json,
    ts,
)

__all__ = [
    "ALERT_COLUMNS",
    "alert_from_row",
    "dt",
    "entity_ids_from",
    "feed_state_from_row",
    "matches_from",
    "matches_json",
    "ts",
]
