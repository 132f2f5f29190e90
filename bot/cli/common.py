"""What the commands share: the logging level and the three ways to load the config.

Starting commands (run, once, digest, check) go through preflight, so what
`check` passes they start with; read-only tools need the config alone.
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.preflight import Preflight


def setup_logging(level: str) -> None:
    """Set the level; the handler (format, redaction) is installed once by main()."""
    logging.getLogger().setLevel(getattr(logging, level))


def settings_with_sinks(args: argparse.Namespace) -> Settings:
    """The config alone, for commands that read the database but post nothing."""
    from bot.app_sinks import check_sinks_configured
    from bot.config import load_config

    settings = load_config(args.config)
    check_sinks_configured(settings)
    setup_logging("DEBUG" if args.verbose else settings.bot.log_level)
    return settings


def preflight(args: argparse.Namespace, platforms: bool = True) -> Preflight:
    """Everything `check` validates, for the commands that start the bot: what
    `check` passes, they start with (bot/preflight.py)."""
    from bot.preflight import preflight as run_preflight

    if args.verbose:
        setup_logging("DEBUG")
    # Only `check` reports an unusable database: the others meet it in storage,
    # which says what to do about it.
    # run and once log the watchlists' advisory warnings when they build the match
    # index, which they defer until it is needed (bot/app_watchlists.py).
    checked = run_preflight(
        args.config,
        platforms=platforms,
        database=args.command == "check",
        defer_warnings=args.command in ("run", "once"),
    )
    setup_logging("DEBUG" if args.verbose else checked.settings.bot.log_level)
    return checked


def config_only(args: argparse.Namespace) -> Settings:
    """The config, for tools that neither post nor take the run lock."""
    from bot.config import load_config

    settings = load_config(args.config)
    setup_logging("DEBUG" if args.verbose else settings.bot.log_level)
    return settings
