"""Placeholder for the outbox on PostgreSQL (the pg-outbox branch fills it in)."""

from __future__ import annotations

from bot.storage.postgres.connection import PostgresConnection


class OutboxRepository(PostgresConnection):
    """Empty until pg-outbox lands; kept so PostgresStorage has its final shape."""
