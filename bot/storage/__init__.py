"""Persistence: one interface (base.Storage), one implementation per database."""

from bot.storage.base import IngestPlan, IngestResult, Storage
from bot.storage.sqlite import SQLiteStorage, open_storage

__all__ = ["IngestPlan", "IngestResult", "SQLiteStorage", "Storage", "open_storage"]
