"""Keep tokens and signing secrets out of everything the bot writes.

Chat libraries put credentials where we do not control them: discord.py and
aiohttp log requests at DEBUG, slack_sdk's SlackApiError quotes the server's
whole answer, and a traceback shows whatever a frame held. Rather than trust
every call site, all output passes one Redactor at the edge: the logging
formatters (bot/logs.py) and the wrappers main() puts around stdout and
stderr. It replaces the values of the secret environment variables the
config names, and anything shaped like a Slack or Discord token, with
"[redacted]". A PostgreSQL URL in `[bot] database` may carry a password: it
is redacted too (`url_password`), and messages name the database by
`redact_url`, which never shows it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import tomli  # the compiled build of tomllib: bot.toml is read at every start

from bot.toml_handover import hand_over_toml

REDACTED = "[redacted]"

#: Slack tokens (bot xoxb-, user xoxp-, app-level xapp-, and the rarer xoxa-/xoxr-/xoxe-)
#: and the Discord bot token shape: base64 user id . timestamp . HMAC.
TOKEN_PATTERNS = (
    r"\b(?:xox[abeprs]|xapp)-[A-Za-z0-9-]+",
    r"[\w-]{24,}\.[\w-]{6}\.[\w-]{27,}",
)

#: Environment variables the chat adapters read by default (bot/chat/*/sink.py);
#: redacted even when the config names others, since they may still be set.
DEFAULT_SECRET_ENVS = (
    "DISCORD_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "PGPASSWORD",  # libpq's and asyncpg's password for a PostgreSQL bot.database
)
#: The [discord]/[slack] keys that name a secret's environment variable.
SECRET_ENV_KEYS = {
    "discord": ("token_env",),
    "slack": ("bot_token_env", "app_token_env", "signing_secret_env"),
}
#: A value shorter than this is not redacted: replacing every "a" or "12" in the
#: output would make it unreadable, and no real token or secret is that short.
MIN_SECRET_LENGTH = 6


@dataclass(frozen=True, slots=True)
class ConfigPrescan:
    """What output setup needs from bot.toml before the config is validated.

    Read with tomli (tomllib's compiled build) alone, so the very first line (a warning
    met while the config is validated) is already in the right format and redacted. A
    file that cannot be read gives the defaults: full validation reports why.
    """

    log_format: str | None  # "text" / "json" when the file says so validly
    secret_envs: tuple[str, ...]
    secret_values: tuple[str, ...] = ()  # e.g. the password in a PostgreSQL URL


def url_password(url: str) -> str | None:
    """The password a database URL carries (after `user:` or as `?password=`), if any."""
    try:
        parts = urlsplit(url)
        password = parts.password
        query = parse_qsl(parts.query)
    except ValueError:
        return None
    if password:
        return unquote(password)
    return next((v for k, v in query if k == "password" and v), None)


def redact_url(url: str) -> str:
    """The URL as messages may show it: any password replaced by "[redacted]".

    Done on the URL's parts, not by value, so a short password (which the
    Redactor leaves alone, see MIN_SECRET_LENGTH) is hidden too.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        if "@" not in url:
            return url
        scheme, _, after = url.partition("://")
        where = after.rsplit("@", 1)[-1]  # credentials may hold an unescaped "@"
        return f"{scheme}://{REDACTED}@{where}"
    if password is None and all(k != "password" for k, _ in query):
        return url  # nothing to hide: unchanged (urlunsplit would drop an empty "//")
    netloc = parts.netloc
    if password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:{REDACTED}@{hostport}"
    pairs = [f"{k}={REDACTED if k == 'password' else v}" for k, v in query]
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(pairs), parts.fragment))


def prescan_config(path: str | Path) -> ConfigPrescan:
    try:
        raw = Path(path).read_bytes()
        data = tomli.loads(raw.decode("utf-8-sig"))
    except (OSError, tomli.TOMLDecodeError, UnicodeDecodeError, ValueError):
        return ConfigPrescan(None, DEFAULT_SECRET_ENVS)
    hand_over_toml(raw, data)  # the config loader reads the same file next
    bot = data.get("bot")
    log_format = bot.get("log_format") if isinstance(bot, dict) else None
    database = bot.get("database") if isinstance(bot, dict) else None
    password = url_password(database) if isinstance(database, str) else None
    return ConfigPrescan(
        log_format if log_format in ("text", "json") else None,
        secret_envs(data),
        (password,) if password else (),
    )


def secret_envs(sections: Mapping[str, Any]) -> tuple[str, ...]:
    """The environment variables holding secrets: the defaults and those the
    [discord]/[slack] tables name (read unvalidated: a wrong one names nothing)."""
    names = list(DEFAULT_SECRET_ENVS)
    for section, keys in SECRET_ENV_KEYS.items():
        table = sections.get(section)
        if isinstance(table, dict):
            names += [table[k] for k in keys if isinstance(table.get(k), str)]
    return tuple(dict.fromkeys(names))


class Redactor:
    """Replaces secret values and token-shaped strings with "[redacted]"."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted(
            {s for s in (v.strip() for v in secrets) if len(s) >= MIN_SECRET_LENGTH},
            key=len,
            reverse=True,  # a secret containing another is replaced whole
        )
        self._pattern = re.compile("|".join([*map(re.escape, values), *TOKEN_PATTERNS]))

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str], names: Iterable[str], values: Iterable[str] = ()
    ) -> Redactor:
        """The values of the variables `names` (those set), plus `values` themselves."""
        return cls([*(environ[n] for n in names if n in environ), *values])

    def __call__(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text)

    def value(self, value: Any) -> Any:
        """Redact a JSON-shaped value (strings inside lists and dicts too)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


class RedactingStream:
    """A text stream (sys.stdout, sys.stderr) that redacts what is written to it.

    Each write is redacted whole: print() writes its text in one call, so a
    token is never split across two writes. Everything else (fileno, isatty,
    encoding, flush) is the wrapped stream's.
    """

    def __init__(self, stream: TextIO, redact: Redactor) -> None:
        self.stream = stream
        self.redact = redact

    def write(self, text: str) -> int:
        self.stream.write(self.redact(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
