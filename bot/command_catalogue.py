"""Every chat command, described once: the single source for all that shows them.

Discord's application commands (bot/chat/discord/slash.py), Slack's parser and
usage text (bot/chat/slack/parse.py), the Slack manifest's slash commands
(deploy/slack-manifest.yml) and the README's command table and Slack usage line
are generated from `GROUPS`. Before, each was written by hand, and they drifted
(the README once said 25 items per page where the code shows 15). Tests fail
when the manifest or README differ from what this module generates; rewrite
them with

    python -m bot.command_catalogue --write

Plain data only: no chat library, nor anything of the bot's, is imported here;
bot.commands takes its limits and permissions from it.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "deploy" / "slack-manifest.yml"
README = ROOT / "README.md"

KINDS = ("group", "region", "person", "topic")
MAX_TERM = 100
MAX_ENTITY_ID = 64
PAGE_SIZE = 15  # a page of entities fits in one 2,000-character chat message
MAX_BACKTEST_DAYS = 90
MAX_URL = 2048
MAX_FEED_NAME = 100
MAX_DURATION = 20  # "1h30m", "365d": a longer text is a typo, not a duration
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Argument:
    """One argument of a command, as every platform should present and limit it."""

    name: str  # Discord's option name; the handler's positional argument in this order
    kind: Literal["text", "integer"]
    required: bool = True
    minimum: int = 1  # a text's length, or an integer's value
    maximum: int = MAX_TERM
    default: int | None = None  # shown by Discord for an optional integer
    description: str = ""  # Discord's option description ("" shows "…")
    choices: tuple[str, ...] = ()
    autocomplete_entities: bool = False  # offer the watched entity ids
    placeholder: str = ""  # README: `term:<text>`
    slack: str = ""  # how Slack's text syntax writes it; {choices} = a|b|c


@dataclass(frozen=True, slots=True)
class Command:
    group: str
    name: str
    description: str  # one line, Discord's limit of 100 characters
    help: str  # what it does, for the README
    manager: bool  # only managers may use it (checked on every use)
    arguments: tuple[Argument, ...] = ()
    slow: bool = False  # may take seconds: Slack acknowledges first, answers later

    @property
    def handler(self) -> str:
        """The bot.commands.Commands method that decides it."""
        return f"{self.group}_{self.name}"


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    description: str
    managed: bool  # Discord shows the group to managers by default (a hint only)
    usage_hint: str  # Slack's manifest: a short reminder shown while typing
    commands: tuple[Command, ...]


TERM = Argument("term", "text", maximum=MAX_TERM, placeholder="<text>", slack="<term>")
ENTITY = Argument(
    "entity",
    "text",
    maximum=MAX_ENTITY_ID,
    autocomplete_entities=True,
    placeholder="<id>",
    slack="<entity-id>",
)
URL = Argument("url", "text", maximum=MAX_URL, placeholder="<url>", slack="<url>")

WATCH = Group(
    "watch",
    "What the bot watches for",
    managed=True,
    usage_hint="add <term> [to <entity-id>] [as <kind>] | list | help",
    commands=(
        Command(
            "watch",
            "add",
            "Watch a term (as a new entity or an alias)",
            "watch a term as a new entity, or as an alias of an existing one (ids "
            "autocomplete); applies from the next poll, survives restarts",
            manager=True,
            arguments=(
                Argument(
                    "term",
                    "text",
                    maximum=MAX_TERM,
                    description="The name or spelling to watch",
                    placeholder="<text>",
                    slack="<term>",
                ),
                Argument(
                    "entity",
                    "text",
                    required=False,
                    maximum=MAX_ENTITY_ID,
                    description="Add it to this entity",
                    autocomplete_entities=True,
                    placeholder="<id>",
                    slack="[to <entity-id>]",
                ),
                Argument("kind", "text", required=False, choices=KINDS, slack="[as {choices}]"),
            ),
        ),
        Command(
            "watch",
            "remove",
            "Stop watching a term",
            "stop watching a term (a file alias is suppressed until the file is edited)",
            manager=True,
            arguments=(TERM,),
        ),
        Command(
            "watch",
            "list",
            "What is watched",
            f"what is watched, {PAGE_SIZE} per page, muted entities marked",
            manager=False,
            arguments=(
                Argument("kind", "text", required=False, choices=KINDS, slack="[kind]"),
                Argument(
                    "page", "integer", required=False, maximum=MAX_PAGE, default=1, slack="[page]"
                ),
            ),
        ),
        Command(
            "watch",
            "test",
            "How often a term would have matched lately",
            "how many stored items the term would have matched, with up to 5 examples",
            manager=False,
            arguments=(
                TERM,
                Argument(
                    "days",
                    "integer",
                    required=False,
                    maximum=MAX_BACKTEST_DAYS,
                    default=7,
                    slack="[days]",
                ),
            ),
            slow=True,
        ),
        Command(
            "watch",
            "mute",
            "Stop alerts for an entity for a while",
            'stop alerts for an entity (`"2h"`, `"3d"`, at most a year; no duration: '
            "until unmuted)",
            manager=True,
            arguments=(
                ENTITY,
                Argument(
                    "duration",
                    "text",
                    required=False,
                    maximum=MAX_DURATION,
                    description='For example "2h" or "3d"; empty: until unmuted',
                    slack="[duration, e.g. 2h]",
                ),
            ),
        ),
        Command(
            "watch",
            "unmute",
            "Alert for an entity again",
            "alert for a muted entity again",
            manager=True,
            arguments=(ENTITY,),
        ),
    ),
)

FEEDS = Group(
    "feeds",
    "The feeds the bot polls",
    managed=True,
    usage_hint="add <url> [name] | list | status | help",
    commands=(
        Command(
            "feeds",
            "add",
            "Poll a new RSS/Atom feed",
            "poll a new feed: http(s) only, refused for private, loopback and link-local "
            "addresses, fetched and parsed once before it is accepted; only new items alert",
            manager=True,
            arguments=(
                URL,
                Argument("name", "text", required=False, maximum=MAX_FEED_NAME, slack="[name]"),
            ),
            slow=True,
        ),
        Command(
            "feeds",
            "remove",
            "Stop polling a feed added from chat",
            "stop polling a feed added from chat (a `bot.toml` feed is removed there)",
            manager=True,
            arguments=(URL,),
        ),
        Command("feeds", "list", "The feeds polled", "list the feeds polled", manager=False),
        Command(
            "feeds",
            "status",
            "Last success, errors and backoff per feed",
            'last success, last error, backoff and items seen per feed, then "Delivery '
            'problems:" — channels that refuse the bot and digests or alerts given up on in '
            "the last day",
            manager=False,
        ),
    ),
)

DIGEST = Group(
    "digest",
    "The daily digest",
    managed=False,
    usage_hint="now",
    commands=(
        Command(
            "digest",
            "now",
            "Post the digest of the last 24 hours here",
            "posts the digest of the last 24 hours in this channel (it must be one of the "
            "bot's `[[channels]]`)",
            manager=False,
            slow=True,
        ),
    ),
)

GROUPS: tuple[Group, ...] = (WATCH, FEEDS, DIGEST)


def find(group: str, name: str) -> Command | None:
    for g in GROUPS:
        for c in g.commands:
            if (c.group, c.name) == (group, name):
                return c
    return None


def all_commands() -> list[Command]:
    return [c for g in GROUPS for c in g.commands]


def manager_only(handler: str) -> bool:
    """Whether the command decided by `handler` ("watch_add") is for managers only."""
    return any(c.manager for c in all_commands() if c.handler == handler)


# -- Slack: usage text (also `/watch help`) and the manifest's slash commands ----------


def slack_syntax(command: Command) -> str:
    """`/watch add <term> [to <entity-id>] [as group|region|person|topic]`."""
    words = [f"/{command.group}", command.name]
    words += [a.slack.format(choices="|".join(a.choices)) for a in command.arguments]
    return " ".join(words)


def slack_usage(group: Group) -> str:
    """What Slack answers to `help` and to a mistake, after the mistake itself."""
    return "Usage:\n" + "\n".join(f"• `{slack_syntax(c)}`" for c in group.commands)


def manifest_commands() -> str:
    """The `slash_commands:` block of deploy/slack-manifest.yml (YAML, 2-space indent)."""
    lines = ["  slash_commands:"]
    for g in GROUPS:
        names = [c.name for c in g.commands]
        description = g.description + (f" ({', '.join(names)})" if len(names) > 1 else "")
        lines += [
            f"    - command: /{g.name}",
            f"      description: {description}",
            f"      usage_hint: {g.usage_hint}",
            "      should_escape: false",
        ]
    return "\n".join(lines) + "\n"


# -- README: the Discord table and the Slack usage line --------------------------------


def discord_syntax(command: Command) -> str:
    """`/watch add term:<text> [entity:<id>] [kind:<group|region|person|topic>]`."""
    words = [f"/{command.group}", command.name]
    for a in command.arguments:
        if a.required:
            words.append(f"{a.name}:{a.placeholder}")
        elif a.choices:
            words.append(f"[{a.name}:<{'|'.join(a.choices)}>]")
        elif a.placeholder:
            words.append(f"[{a.name}:{a.placeholder}]")
        else:
            words.append(f"[{a.name}]")
    return " ".join(words)


def readme_discord_table() -> str:
    rows = ["| command | what it does |", "|---|---|"]
    for c in all_commands():
        syntax = discord_syntax(c).replace("|", "\\|")
        rows.append(f"| `{syntax}` | {c.help} |")
    return "\n".join(rows) + "\n"


def readme_slack_line() -> str:
    return ", ".join(f"`{slack_syntax(c)}`" for c in all_commands()) + ".\n"


# -- keeping the generated copies in step ----------------------------------------------

_MANIFEST_BLOCK = re.compile(r"^  slash_commands:\n(?:    .*\n)*", re.MULTILINE)


def _readme_block(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- commands:{name} \(generated by bot\.command_catalogue\) -->\n)(.*?)"
        rf"(<!-- /commands:{name} -->)",
        re.DOTALL,
    )


README_BLOCKS = {"discord": readme_discord_table, "slack": readme_slack_line}


def manifest_block(text: str) -> str:
    """The manifest's current `slash_commands:` block ("" when missing)."""
    m = _MANIFEST_BLOCK.search(text)
    return m.group(0) if m else ""


def readme_block(text: str, name: str) -> str:
    """The README's current generated block `name` ("" when its markers are missing)."""
    m = _readme_block(name).search(text)
    return m.group(2) if m else ""


def regenerate(manifest: Path = MANIFEST, readme: Path = README) -> list[Path]:
    """Rewrite the generated parts of the manifest and README; the files changed."""
    changed = []
    text = manifest.read_text(encoding="utf-8")
    new = _MANIFEST_BLOCK.sub(lambda _: manifest_commands(), text, count=1)
    if new != text:
        manifest.write_text(new, encoding="utf-8")
        changed.append(manifest)
    text = readme.read_text(encoding="utf-8")
    new = text
    for name, generate in README_BLOCKS.items():
        block = _readme_block(name).search(new)
        if block is not None:
            new = new[: block.start(2)] + generate() + new[block.end(2) :]
    if new != text:
        readme.write_text(new, encoding="utf-8")
        changed.append(readme)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.command_catalogue",
        description="Print or rewrite what is generated from the command catalogue.",
    )
    parser.add_argument("--manifest", action="store_true", help="print the manifest block")
    parser.add_argument("--readme", action="store_true", help="print the README blocks")
    parser.add_argument(
        "--write", action="store_true", help="rewrite them in the manifest and README"
    )
    args = parser.parse_args(argv)
    if args.write:
        for path in regenerate():
            print(f"rewrote {path}")
        return 0
    if args.manifest or not args.readme:
        print(manifest_commands(), end="")
    if args.readme:
        print(readme_discord_table())
        print(readme_slack_line(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
