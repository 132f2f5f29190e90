"""How one value or table of a TOML file is read: durations, sizes, URLs, and
a table reader that turns every wrong key or type into a ConfigError.

Kept apart from bot/config.py (which says what bot.toml holds) so the rules
for reading a value are in one place; bot.config re-exports what others use.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import tomli

from bot.errors import ConfigError
from bot.toml_handover import take_handed_over

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}
DURATION_HINT = 'write a duration such as "30s", "5m", "1h" or "2d"'


def is_http_url(url: str) -> bool:
    if plain_http_url(url):  # nearly every feed, told from its characters alone
        return True
    try:
        scheme = urlsplit(url).scheme
    except ValueError:  # e.g. an unclosed IPv6 bracket: still tell web from local
        scheme = url.partition(":")[0]
    return scheme.lower() in ("http", "https")


def parse_duration(text: str) -> float:
    """Parse "30s", "5m", "1h30m", "2d" into seconds; ValueError otherwise."""
    s = text.strip().lower().replace(" ", "")
    if not s:
        raise ValueError("empty duration")
    pos = 0
    total = 0.0
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s):
        raise ValueError(f"not a duration: {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration, for log lines and status output."""
    seconds = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_LISTEN = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+)):(?P<port>\d{1,5})$")


def parse_listen(value: str) -> tuple[str, int]:
    """Parse "127.0.0.1:9100", "[::1]:9100" or "localhost:9100" into (host, port).

    IPv6 addresses need their brackets (as in a URL): without them the last
    colon would be ambiguous. ValueError says what is wrong, for the message.
    """
    m = _LISTEN.match(value.strip())
    if not m:
        if value.count(":") > 1 and not value.strip().startswith("["):
            raise ValueError("an IPv6 address goes in brackets, e.g. [::1]:9100")
        raise ValueError("expected host:port")
    port = int(m.group("port"))
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1-65535")
    host = m.group("v6") or m.group("host")
    if m.group("v6"):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
    return host, port


def parse_size(value: int | str) -> int:
    """Parse 10485760, "10MB" or "512KiB" into bytes; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("not a size")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("size must be positive")
        return value
    m = _SIZE.match(value)
    if not m:
        raise ValueError(f"not a size: {value!r}")
    n = int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])
    if n <= 0:
        raise ValueError("size must be positive")
    return n


MISSING: Any = object()

DAY = 86400.0
#: The longest any duration may be unless its key says less: past it, a value
#: is a typo (a missing unit, an extra digit) and would overflow date arithmetic.
MAX_DURATION = 3650 * DAY
MAX_RESPONSE_BYTES = 1000**3


class Table:
    """Reads one TOML table, turning every wrong key or type into a ConfigError.

    A problem with a key that has a default is recorded in `problems` and the
    default is used, so one pass finds every problem in the file; a missing
    required key raises, and the caller drops the whole entry (a feed, a channel).
    """

    def __init__(
        self, path: Path, where: str, data: Any, problems: list[ConfigError] | None = None
    ) -> None:
        self.path = str(path)
        self.where = where
        if not isinstance(data, dict):
            raise ConfigError(self.path, where, f"expected a table, found {_describe(data)}")
        self.data = data
        self.used: set[str] = set()
        self.problems: list[ConfigError] = [] if problems is None else problems

    def _key(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def error(self, key: str, problem: str, fix: str = "") -> ConfigError:
        return ConfigError(self.path, self._key(key), problem, fix)

    def report(self, error: ConfigError) -> None:
        self.problems.append(error)

    def _fallback(self, error: ConfigError, default: Any) -> Any:
        """Record `error` and go on with `default`; raise it if there is no default."""
        if default is MISSING:
            raise error
        self.report(error)
        return default

    def get(
        self, key: str, kind: type | tuple[type, ...], default: Any, what: str, example: str
    ) -> Any:
        """The value of `key` if it has the right type; `example` shows what to write."""
        self.used.add(key)
        if key not in self.data:
            if default is MISSING:
                raise self.error(key, "is missing", f"add {key} = {example}")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            error = self.error(
                key, f"expected {what}, found {_describe(value)}", f"write {key} = {example}"
            )
            return self._fallback(error, default)
        return value

    def string(self, key: str, default: Any = MISSING, choices: tuple[str, ...] = ()) -> Any:
        example = f'"{choices[0]}"' if choices else '"..."'
        value = self.get(key, str, default, "a string", example)
        if choices and value is not default and value not in choices:
            error = self.error(key, f"unknown value {value!r}", f"use one of {', '.join(choices)}")
            return self._fallback(error, default)
        return value

    def integer(self, key: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        value: int = self.get(key, int, default, "a whole number", str(max(default, minimum)))
        if value < minimum:
            self.report(self.error(key, f"must be at least {minimum}, found {value}"))
            return default
        if maximum is not None and value > maximum:
            self.report(self.error(key, f"must be at most {maximum}, found {value}"))
            return default
        return value

    def number(self, key: str, default: float, lo: float, hi: float) -> float:
        value = float(self.get(key, (int, float), default, "a number", f"{default:g}"))
        if not lo <= value <= hi:
            self.report(self.error(key, f"must be between {lo:g} and {hi:g}, found {value:g}"))
            return default
        return value

    def duration(self, key: str, default: float, maximum: float = MAX_DURATION) -> float:
        value = self.get(key, str, None, "a duration string", '"5m" (or "30s", "1h", "2d")')
        if value is None:
            return default
        try:
            seconds = parse_duration(value)
        except ValueError:
            self.report(self.error(key, f"{value!r} is not a duration", DURATION_HINT))
            return default
        if seconds <= 0:
            self.report(self.error(key, "must be longer than zero", DURATION_HINT))
            return default
        if seconds > maximum:
            limit = format_duration(maximum)
            self.report(
                self.error(
                    key,
                    f"{value!r} is longer than the limit of {limit}",
                    f'write at most "{limit}"',
                )
            )
            return default
        return seconds

    def size(self, key: str, default: int, maximum: int = MAX_RESPONSE_BYTES) -> int:
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        try:
            size = parse_size(value)
        except (ValueError, TypeError, OverflowError):
            self.report(
                self.error(
                    key,
                    f"{value!r} is not a size",
                    'write a byte count or a size such as "512KB" or "10MB"',
                )
            )
            return default
        if size > maximum:
            self.report(
                self.error(
                    key,
                    f"{value!r} is larger than the limit of {maximum:,} bytes",
                    'write at most "1GB"',
                )
            )
            return default
        return size

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list, [], "a list of strings", '["...", "..."]')
        good: list[str] = []
        for i, v in enumerate(value):
            if not isinstance(v, str) or not v.strip():
                self.report(self.error(f"{key}[{i}]", f"expected a non-empty string, found {v!r}"))
            else:
                good.append(v.strip())
        return tuple(good)

    def finish(self) -> None:
        """Reject keys nobody read: typos must not be silently ignored."""
        for key in self.data:
            if key not in self.used:
                known = ", ".join(sorted(self.used))
                self.report(self.error(key, "unknown key", f"remove it or use one of: {known}"))


def _describe(value: Any) -> str:
    names = {str: "a string", int: "a number", float: "a number", bool: "true/false"}
    names |= {list: "a list", dict: "a table"}
    return f"{names.get(type(value), type(value).__name__)} ({value!r})"[:120]


def read_toml(
    path: Path, what_fix: str = "pass --config PATH or create bot.toml"
) -> dict[str, Any]:
    """Read a TOML file for people: a UTF-8 byte-order mark (Windows editors add
    one) is accepted, and every failure is a ConfigError naming the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found", what_fix) from None
    except IsADirectoryError:
        raise ConfigError(str(path), "", "is a folder, not a file", what_fix) from None
    except OSError as e:
        raise ConfigError(str(path), "", f"cannot read the file ({e.strerror})") from None
    handed = take_handed_over(raw)
    if handed is not None:
        return handed
    try:
        text = raw.decode("utf-8-sig")  # -sig: drop a leading byte-order mark
    except UnicodeDecodeError:
        raise ConfigError(str(path), "", "is not UTF-8 text", "save it as UTF-8") from None
    try:
        return tomli.loads(text)
    except tomli.TOMLDecodeError as e:
        raise ConfigError(str(path), "", f"invalid TOML: {e}", "fix the syntax there") from None


def has_white_space(text: str) -> bool:
    """Whether any character of `text` is white space (str.isspace): str.split cuts at
    exactly those, in C, where a generator over the characters cost 8 ms for 1,000 feed
    URLs at every start."""
    return bool(text) and text.split() != [text]


# An http(s) URL of the plainest kind: a host of letters, digits, dots and hyphens, a
# port of digits (or none), and printable ASCII after it. urllib reads such a URL
# without raising, with that host, so it is a web feed with nothing wrong as soon as
# its port is in range (`plain_http_url`).
_PLAIN_HTTP = re.compile(r"(?i:https?)://[A-Za-z0-9.-]+(?::([0-9]{1,5}))?(?:[/?#][!-~]*)?")


def plain_http_url(url: str) -> bool:
    """Whether `url` is an http(s) URL with nothing wrong (`http_url_problem`), told from
    its characters alone: nearly every feed URL is, and reading each with urllib (its
    scheme, every part, then whether it is local) was 15 ms of each start with 1,000
    feeds. False says nothing: urllib decides (tests/test_config_limits.py holds the
    two together)."""
    plain = _PLAIN_HTTP.fullmatch(url)
    return plain is not None and (plain[1] is None or 0 < int(plain[1]) <= 65535)


def http_url_problem(url: str) -> tuple[str, str] | None:
    """What is wrong with an http(s) feed URL, as (problem, fix); None if nothing.

    urllib raises on some malformed URLs (an unclosed IPv6 bracket, a port
    out of range) only when a part is read, so every part is read here once.
    """
    if plain_http_url(url):
        return None
    if has_white_space(url):
        return f"{url!r} contains a space", "remove it or write it as %20"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as e:
        return (
            f"{url!r} is not a valid URL ({e})",
            "write https://host/path; an IPv6 address goes in brackets: https://[::1]/feed",
        )
    if not host:
        return f"{url!r} has no host name", "write https://host/path"
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return f"{url!r} has no valid port", "use a port from 1 to 65535, or none"
    return None


#: URL schemes `[bot] database` accepts for PostgreSQL (libpq and asyncpg take both).
POSTGRES_SCHEMES = ("postgresql", "postgres")
POSTGRES_URL_HINT = (
    'write a SQLite file path, or "postgresql://USER@HOST:PORT/DBNAME" '
    "(the password in PGPASSWORD, or as USER:PASSWORD@)"
)
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def is_postgres(database: Path | str) -> bool:
    """True when `[bot] database` names PostgreSQL rather than a SQLite file.

    Settings keep a SQLite database as a Path and a PostgreSQL one as its URL
    (a str); a raw config value is a URL when it starts with a postgres scheme.
    """
    return not isinstance(database, Path) and database.partition("://")[0].lower() in (
        POSTGRES_SCHEMES
    )


def is_database_url(value: str) -> bool:
    """The value is written as a URL (scheme://…), not a file path."""
    return _URL_START.match(value.strip()) is not None


def database_label(database: Path | str) -> str:
    """How messages name the database: the path, or the URL without its password."""
    from bot.redact import redact_url

    return redact_url(database) if isinstance(database, str) else str(database)


def postgres_url_problem(url: str) -> tuple[str, str] | None:
    """What is wrong with a `[bot] database` URL, as (problem, fix); None if usable.

    Checked here rather than on the first connection so `check` and a starting
    bot name the key and the fix; the URL is shown without its password.
    """
    from bot.redact import redact_url

    shown = redact_url(url)
    scheme = url.partition("://")[0].lower()
    if scheme not in POSTGRES_SCHEMES:
        return f"{shown!r}: {scheme}:// is not a database this bot supports", POSTGRES_URL_HINT
    if has_white_space(url):
        return f"{shown!r} contains a space", "remove it (escape one inside a password as %20)"
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
        query = dict(parse_qsl(parts.query, strict_parsing=bool(parts.query)))
    except ValueError as e:
        problem = str(e).replace(url, shown)
        return f"{shown!r} is not a valid URL ({problem})", POSTGRES_URL_HINT
    if parts.fragment:
        return f"{shown!r} has a #fragment", "remove it; escape a '#' in a password as %23"
    if not host and not query.get("host"):
        return f"{shown!r} names no server", POSTGRES_URL_HINT
    if port == 0:
        return f"{shown!r} has no valid port", "use a port from 1 to 65535, or none for 5432"
    dbname = parts.path.removeprefix("/")
    if "/" in dbname:
        return f"{shown!r}: {parts.path!r} is not a database name", "end the URL with /DBNAME"
    if not dbname and not (query.get("dbname") or query.get("database")):
        return f"{shown!r} names no database", "end the URL with /DBNAME"
    return None
