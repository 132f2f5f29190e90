"""`digest`: post the digest of the last 24 hours now, or print it (--dry-run)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import preflight
from bot.errors import ConfigError
from bot.logs import channel_context

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("bot")


def digest_targets(settings: Settings, wanted: str | None) -> list[str]:
    """Channel keys the digest goes to: --channel (a key or a bare id), else [digest].channels."""
    if wanted:
        for c in settings.channels:
            if wanted in (c.key, c.id):
                return [c.key]
        listed = ", ".join(c.key for c in settings.channels)
        raise ConfigError(
            "--channel", "", f"{wanted!r} is not one of the [[channels]]", f"use one of: {listed}"
        )
    return [d.key for d in settings.digest.channels]


async def digest_now(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from bot.app import App
    from bot.digest.text import render_text

    settings = preflight(args, platforms=not args.dry_run).settings
    targets = digest_targets(settings, args.channel)
    if not targets and not args.dry_run:
        raise ConfigError(
            str(settings.path),
            "digest.channels",
            "no channel gets the digest",
            'add [digest] channels = ["console:stdout"], or pass --channel or --dry-run',
        )
    if args.dry_run:
        async with App.open(settings, sinks={}) as app:
            zone = app.digest.timezone_for(targets[0]) if targets else settings.bot.timezone
            digest = await app.digest.build(app.clock(), zone)
        print(render_text(digest))
        if digest.chart_png:
            day = digest.end.astimezone(ZoneInfo(digest.timezone)).date().isoformat()
            path = Path(args.chart or f"digest-{day}.png")
            path.write_bytes(digest.chart_png)
            print(f"\nchart: {path} ({len(digest.chart_png):,} bytes)")
        return 0
    async with App.open(settings) as app:
        for key in targets:
            with channel_context(key):
                await app.digest_now(key)
                log.info("posted the digest to %s", key)
    return 0
