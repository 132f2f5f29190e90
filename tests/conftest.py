"""Fixtures that build real things: a local feed server, real SQLite, real configs."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings, settings_from_dict
from tests.feedserver import FeedServer
from tests.postgres import (
    REQUIRE_ENV,
    NoPostgres,
    PostgresServer,
    server_from_environment,
    start_server,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server per pytest worker: the environment's, else a private one.

    Without server binaries the PostgreSQL tests are skipped, saying why; in CI
    (NEWSWATCH_REQUIRE_POSTGRES=1) that is a failure instead, never a silent skip.
    """
    server = server_from_environment()
    started = server is None
    if server is None:
        try:
            server = start_server(owner_pid=os.getpid())
        except NoPostgres as e:
            if os.environ.get(REQUIRE_ENV) == "1":
                pytest.fail(f"PostgreSQL is required ({REQUIRE_ENV}=1) but: {e}")
            pytest.skip(f"no PostgreSQL: {e}")
    try:
        server.prepare()
        yield server
    finally:
        if started:
            server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh empty database for this test (owned by the unprivileged role), as a URL."""
    name, url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def watchlist_dir(tmp_path: Path) -> Path:
    """A small, fixed watchlist so tests don't depend on the shipped one."""
    d = tmp_path / "watchlists"
    d.mkdir()
    shutil.copy(DATA / "watchlists" / "test.toml", d / "test.toml")
    return d


def chat_config(
    tmp_path: Path,
    watchlist_dir: Path,
    feeds: list[dict[str, Any]],
    platform: str,
    channels: tuple[str, ...],
    section: dict[str, Any],
    **bot: Any,
) -> Settings:
    """Settings for a chat platform's end-to-end tests: local feeds, one platform."""
    data = {
        "bot": {
            "database": str(tmp_path / "bot.sqlite3"),
            "watchlists": str(watchlist_dir),
            "timeout": "2s",
            "parser_workers": 1,
            "allow_private_feeds": True,
            **bot,
        },
        "feeds": [{"interval": "5m", "first_poll": "all", **f} for f in feeds],
        "channels": [{"platform": platform, "id": c} for c in channels],
        platform: section,
    }
    return settings_from_dict(data, tmp_path / "bot.toml")


@pytest.fixture
def make_settings(tmp_path: Path, watchlist_dir: Path):
    """Build Settings as bot.toml would, with a jsonl channel in tmp_path."""

    def make(feeds: list[dict[str, Any]], **bot: Any) -> Settings:
        data: dict[str, Any] = {
            "bot": {
                "database": str(tmp_path / "bot.sqlite3"),
                "watchlists": str(watchlist_dir),
                "timeout": "2s",
                "connect_timeout": "1s",
                "parser_workers": 1,
                **bot,
            },
            "feeds": [{"interval": "5m", "first_poll": "all", **f} for f in feeds],
            "channels": [{"platform": "jsonl", "id": str(tmp_path / "alerts.jsonl")}],
        }
        return settings_from_dict(data, tmp_path / "bot.toml")

    return make
