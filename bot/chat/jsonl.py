"""Alerts appended to a file as JSON lines: for scripts, SIEMs and tests.

Delivery is idempotent: the sink looks up which alerts, flood summaries and
digests a file already holds (read back once, by `alert_id`, `summary_id`
and `digest_key`), so a retry after a crash between writing and recording
never writes the same record twice. An alert's first try skips the look-up:
the outbox claims a row durably before its first request (Alert.claimed), so
an alert neither claimed nor tried before cannot be in the file, and a
process that only appends new alerts never reads the file, however long it
has grown (a `once` a cycle read every line ever written, every cycle). A
record is written whole or not at all: a write that fails part-way (disk
full) is cut back, so the file
always ends in a complete line, and the alert is marked sent only after its
line is on disk. Lines that are not JSON are skipped when reading back.
Story edits are appended as `{"edit": message_id, ...}` records; a repeated
edit says the same again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.chat.base import NoCommandConnection
from bot.chat.format import source_of
from bot.digest.model import Digest
from bot.errors import DeliveryError
from bot.models import Alert, FloodSummary, StoryUpdate

# Which field of a record makes it unique, and the namespace of its key.
_IDENTITIES = (("alert_id", "alert"), ("summary_id", "summary"), ("digest_key", "digest"))


def alert_record(alert: Alert) -> dict[str, Any]:
    """Every field of the alert: a reply in a story's thread is complete too, for machines."""
    item = alert.item
    return {
        "alert_id": alert.id,
        "title": item.title,
        "url": item.url,
        "feed": source_of(item),
        "feed_url": item.feed_url,
        "published": item.published.isoformat() if item.published else None,
        "date_note": item.date_note or None,  # why `published` is the fetch time, if it is
        "summary": item.summary,
        "severity": alert.severity,
        "entities": list(alert.entity_ids),
        "matches": [m.to_json() for m in alert.matches],
        "reply_to": alert.reply_to,
        "story": alert.story,
        "new_entities": list(alert.new_entities),
    }


def summary_record(summary: FloodSummary) -> dict[str, Any]:
    return {
        "summary_id": summary.id,
        "headline": summary.headline(),
        "window_start": summary.window_start.isoformat(),
        "window_end": summary.window_end.isoformat(),
        "entity_counts": dict(summary.entity_counts()),
        "alerts": [
            {
                "alert_id": a.id,
                "title": a.item.title,
                "url": a.item.url,
                "feed": source_of(a.item),
            }
            for a in summary.alerts
        ],
    }


def story_update_record(update: StoryUpdate) -> dict[str, Any]:
    return {
        "edit": update.message_id,
        "sources": update.sources,
        "last_update": update.last_update.isoformat(),
    }


def digest_record(digest: Digest, key: str) -> dict[str, Any]:
    """The structured digest; the chart's bytes stay out of a text file, its size is kept."""
    fields = dataclasses.asdict(digest)
    fields.pop("chart_png")
    return {
        "digest_key": key,
        "digest": _jsonable(fields),
        "chart_png_bytes": len(digest.chart_png) if digest.chart_png else 0,
    }


def _jsonable(value: Any) -> Any:
    """asdict() output with datetimes as ISO 8601 and tuples as lists."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is out: a short write is followed by the real error."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _record_key(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    for field, namespace in _IDENTITIES:
        if field in record:
            return f"{namespace}:{record[field]}"
    return None


class JsonlSink(NoCommandConnection):
    platform = "jsonl"

    def __init__(self) -> None:
        self._written: dict[str, set[str]] = {}
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _known_keys(self, path: str) -> set[str]:
        if path not in self._written:
            keys: set[str] = set()
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    for line in f:
                        try:
                            key = _record_key(json.loads(line))
                        except ValueError:
                            continue
                        if key is not None:
                            keys.add(key)
            except FileNotFoundError:
                pass
            self._written[path] = keys
        return self._written[path]

    def _append(self, path: str, record: dict[str, Any]) -> None:
        """Append one whole line, or nothing: a failed write leaves no fragment behind.

        A write can fail part-way (disk full, file size limit). The file is cut
        back to where it was, so the retry's line does not merge with a fragment
        and become unreadable; if even that fails, the next record starts on a
        line of its own (a newline is put before it).
        """
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a fragment from an earlier failure ends the file
            try:
                _write_all(fd, line)
                os.fsync(fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)

    async def _write(self, path: str, record: dict[str, Any], look: bool = True) -> None:
        """Append `record` unless the file already holds it (same alert, summary or digest).

        `look=False`: the caller knows no earlier try can have written it, so the
        file is not read for it. A record without a key (a story edit) is never looked for.
        """
        key = _record_key(record)
        async with self._lock:
            try:
                if key is not None and look:
                    known = await asyncio.to_thread(self._known_keys, path)
                    if key in known:
                        return
                await asyncio.to_thread(self._append, path, record)
                if key is not None and path in self._written:
                    self._written[path].add(key)
            except OSError as e:
                # A full disk or a missing permission may be fixed by the operator: retry.
                raise DeliveryError(
                    f"cannot write {path}: {e.strerror}; nothing of the record was kept and "
                    "it will be retried (free disk space, or fix the file's permissions)",
                    retryable=True,
                ) from e

    async def deliver(self, alert: Alert) -> str:
        # Looked for only when an earlier try may have written it (as Slack's look_first).
        look = alert.claimed or alert.attempts > 0
        await self._write(alert.channel_id, alert_record(alert), look)
        return f"jsonl-{alert.id}"

    async def deliver_summary(self, summary: FloodSummary) -> str:
        await self._write(summary.channel_id, summary_record(summary))
        return f"jsonl-summary-{summary.id}"

    async def update_story(self, update: StoryUpdate) -> None:
        await self._write(update.parent.channel_id, story_update_record(update))

    async def post_digest(self, channel_id: str, digest: Digest, key: str) -> str:
        await self._write(channel_id, digest_record(digest, key))
        return f"jsonl-digest-{key}"
