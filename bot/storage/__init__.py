"""Persistence: one protocol per aggregate (feeds, items, stories, outbox, terms, digests),
joined by base.Storage; one implementation per database engine (sqlite/)."""

from bot.storage.base import IngestPlan, IngestResult, Storage
from bot.storage.sqlite import SQLiteStorage, open_storage

__all__ = ["IngestPlan", "IngestResult", "SQLiteStorage", "Storage", "open_storage"]
