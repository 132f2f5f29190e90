"""Alerts appended to a file as JSON lines: for scripts, SIEMs and tests.

Delivery is idempotent by outbox id: the sink remembers which alert ids a
file already holds (read back at start), so a retry after a crash between
writing and recording never writes the same alert twice.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from bot.chat.base import Digest
from bot.errors import DeliveryError
from bot.models import Alert


def alert_record(alert: Alert) -> dict[str, Any]:
    item = alert.item
    return {
        "alert_id": alert.id,
        "title": item.title,
        "url": item.url,
        "feed": item.feed_name or item.feed_url,
        "feed_url": item.feed_url,
        "published": item.published.isoformat() if item.published else None,
        "summary": item.summary,
        "severity": alert.severity,
        "entities": list(alert.entity_ids),
        "matches": [m.to_json() for m in alert.matches],
        "reply_to": alert.reply_to,
    }


class JsonlSink:
    platform = "jsonl"

    def __init__(self) -> None:
        self._written: dict[str, set[int]] = {}
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _known_ids(self, path: str) -> set[int]:
        if path not in self._written:
            ids: set[int] = set()
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    for line in f:
                        try:
                            ids.add(int(json.loads(line)["alert_id"]))
                        except (ValueError, KeyError, TypeError):
                            continue
            except FileNotFoundError:
                pass
            self._written[path] = ids
        return self._written[path]

    def _append(self, path: str, record: dict[str, Any]) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    async def deliver(self, alert: Alert) -> str:
        path = alert.channel_id
        async with self._lock:
            try:
                known = await asyncio.to_thread(self._known_ids, path)
                if alert.id not in known:
                    await asyncio.to_thread(self._append, path, alert_record(alert))
                    known.add(alert.id)
            except OSError as e:
                # A full disk or a missing permission may be fixed by the operator: retry.
                raise DeliveryError(f"cannot write {path}: {e.strerror}", retryable=True) from e
        return f"jsonl-{alert.id}"

    async def post_digest(self, channel_id: str, digest: Digest) -> str:
        record = {"digest": digest.title, "text": digest.text}
        try:
            await asyncio.to_thread(self._append, channel_id, record)
        except OSError as e:
            raise DeliveryError(f"cannot write {channel_id}: {e.strerror}", retryable=True) from e
        return "jsonl-digest"
