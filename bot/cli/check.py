"""`check` and `health`: is the config usable, and is a `run` on it alive."""

from __future__ import annotations

import argparse
import logging

from bot.cli.common import preflight
from bot.errors import BotError


def check(args: argparse.Namespace) -> int:
    from bot.matching.watchlists import term_warnings

    checked = preflight(args)
    settings, entities = checked.settings, checked.entities
    for warning in term_warnings(settings.bot.watchlists, entities):
        print(f"warning: {warning}")
    aliases = sum(len(e.all_aliases) for e in entities)
    print(
        f"{args.config}: OK — {len(settings.feeds)} feeds, {len(settings.channels)} channels, "
        f"{len(entities)} entities with {aliases} aliases in {settings.bot.watchlists}"
    )
    print(matcher_status())
    return 0


def matcher_status() -> str:
    """Which matcher this install runs: compiled by mypyc, or pure Python and why (README)."""
    from bot.matching.compiled import status

    return status()


def health(args: argparse.Namespace) -> int:
    """Exit 0 if a `run` on this config is alive and polling, else 1 with one line.

    Made for a container's HEALTHCHECK and for monitoring scripts: whatever
    goes wrong (config, database, a bug) is that one line, never a traceback,
    and the exit status is 1 (Docker reserves 2). It never creates or changes
    the database.
    """
    from datetime import UTC, datetime

    from bot.config import load_config
    from bot.ops.health import check_health

    logging.disable(logging.CRITICAL)  # config warnings would break the one-line answer
    try:
        settings = load_config(args.config)
        verdict = check_health(settings.bot.database, datetime.now(UTC))
    except BotError as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"unhealthy: config: {first}")
        return 1
    except Exception as e:  # a bug must still answer in one line
        print(f"unhealthy: health check failed: {type(e).__name__}: {e}".splitlines()[0])
        return 1
    print(("healthy: " if verdict.healthy else "unhealthy: ") + verdict.reason)
    return 0 if verdict.healthy else 1
