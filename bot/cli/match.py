"""`match` and `backtest`: the matcher on items from stdin, or a candidate term on stored items."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import TextIO

from bot.cli.common import settings_with_sinks
from bot.errors import ConfigError


def explain_table(record_id: object, title: str, matches: list) -> str:  # list[Match]
    """A human-readable account of one item's matches (match --explain)."""
    lines = [f"[{record_id}] {title}"]
    if not matches:
        lines.append("    (no match)")
    for m in matches:
        lines.append(
            f"    {m.entity_id:<24} {m.kind:<8} {m.how:<14} {m.score:>5g}  "
            f'"{m.alias}" ~ "{m.text}" in {m.field}[{m.start}:{m.end}]{m.ambiguity_note()}'
        )
    return "\n".join(lines)


def match_stream(
    entities_dir: Path,
    threshold: float,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    explain: bool = False,
    html: bool = False,
) -> int:
    """The matcher as a filter: JSON lines in, one JSON line of matches out per input.

    Fields are plain text, as the bot stores an item, so offsets index into
    exactly what was sent and "<5" is text. With `html` they are HTML (a feed's
    description) and converted as at parse time; the converted text is then
    echoed in the output, since the offsets index into it.
    """
    from bot.feeds.html_text import html_to_text
    from bot.matching.matcher import Matcher
    from bot.matching.watchlists import load_watchlists

    matcher = Matcher(load_watchlists(entities_dir), threshold)
    status = 0
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        try:
            line.encode("utf-8")  # stdin is read with surrogateescape: bad bytes show here
        except UnicodeEncodeError:
            print(f"line {number}: skipped, not UTF-8 text — save the input as UTF-8", file=stderr)
            status = 1
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("expected a JSON object")
            title, summary = record.get("title") or "", record.get("summary") or ""
            if not isinstance(title, str) or not isinstance(summary, str):
                raise ValueError('"title" and "summary" must be strings')
            if html:
                title, summary = html_to_text(title), html_to_text(summary)
        except ValueError as e:
            print(f"line {number}: skipped, not a JSON item ({e})", file=stderr)
            status = 1
            continue
        except RecursionError:  # json's decoder recurses once per nesting level
            print(
                f"line {number}: skipped, nested too deeply to read — "
                "give one flat JSON object per line",
                file=stderr,
            )
            status = 1
            continue
        matches = matcher.match_text(title, summary)
        if explain:
            stdout.write(explain_table(record.get("id"), title, matches) + "\n")
            continue
        out: dict[str, object] = {"id": record.get("id")}
        if html:
            out |= {"title": title, "summary": summary}
        out["matches"] = [m.to_json() for m in matches]
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        stdout.flush()
    return status


def match(args: argparse.Namespace) -> int:
    if args.watchlists:
        directory = Path(args.watchlists)
        threshold = args.threshold if args.threshold is not None else 90.0
    else:
        from bot.config import load_config

        bot = load_config(args.config).bot
        directory = bot.watchlists
        threshold = args.threshold if args.threshold is not None else bot.match_threshold
    if not 50 <= threshold <= 100:
        raise ConfigError("--threshold", "", f"{threshold:g} is out of range", "use 50 to 100")
    # A stray non-UTF-8 byte must cost its line, not end the stream with a traceback.
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape")
    return match_stream(
        directory, threshold, stdin, sys.stdout, sys.stderr, args.explain, args.html
    )


async def backtest_term(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from bot.backtest import backtest, format_result
    from bot.matching.watchlists import load_watchlists
    from bot.storage.open import open_storage

    settings = settings_with_sinks(args)
    entity = None
    if args.entity:
        entities = {e.id: e for e in load_watchlists(settings.bot.watchlists)}
        entity = entities.get(args.entity)
        if entity is None:
            raise ConfigError(
                "--entity",
                "",
                f"no entity {args.entity!r} in {settings.bot.watchlists}",
                "use an entity id from the watchlist files",
            )
    if not args.term.strip():
        raise ConfigError("--term", "", "is empty", 'give the term to test, e.g. --term "ISKP"')
    if args.days <= 0:
        raise ConfigError("--days", "", f"must be positive, found {args.days:g}")
    async with open_storage(settings.bot.database) as storage:
        result = await backtest(
            storage,
            args.term.strip(),
            datetime.now(UTC),
            days=args.days,
            entity=entity,
            threshold=settings.bot.match_threshold,
        )
    print(format_result(result))
    if not result.items_checked:
        print("  (no stored items in that period: run the bot first)")
    return 0
