"""Open the storage engine `[bot] database` names: a SQLite file or a PostgreSQL URL.

Every command that uses the bot's storage opens it here, so choosing the engine
is decided once: a Path is SQLite (one instance per file, bot/storage/runlock.py),
a URL is PostgreSQL (several instances on one database). The PostgreSQL engine
is imported only when named, so a SQLite deployment never loads asyncpg.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.config_values import is_postgres
from bot.storage.base import Storage


@asynccontextmanager
async def open_storage(database: Path | str) -> AsyncIterator[Storage]:
    """The storage of `database`, created or migrated to this version's schema, closed on exit.

    Raises StorageError (or StorageUnavailable for a server that cannot be
    reached) with a message naming the database.
    """
    if is_postgres(database):
        from bot.storage.postgres import open_postgres

        async with open_postgres(str(database)) as storage:
            yield storage
    else:
        from bot.storage.sqlite import open_storage as open_sqlite

        async with open_sqlite(database) as sqlite:
            yield sqlite
