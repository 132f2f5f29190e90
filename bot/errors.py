"""The bot's own error hierarchy.

Library exceptions (aiohttp, sqlite3, tomllib, feedparser, chat SDKs) are caught
where they enter our code and re-raised as one of these, so callers decide on
*kind* (retry or not) and users read messages written for them.
"""

from __future__ import annotations


class BotError(Exception):
    """Root of every error the bot raises on purpose."""


class ConfigError(BotError):
    """A problem in bot.toml, a watchlist file or the environment.

    The message names the file, the key or line, what was found and what to
    write instead; `main` prints it as one line and exits non-zero.
    """

    def __init__(self, path: str, where: str, problem: str, fix: str = "") -> None:
        self.path = path
        self.where = where
        self.problem = problem
        self.fix = fix
        location = f"{path}: {where}" if where else path
        text = f"{location}: {problem}"
        if fix:
            text += f" — {fix}"
        super().__init__(text)


class ConfigErrors(ConfigError):
    """Several problems found in one pass, so a user fixes them all at once.

    A subclass of ConfigError so every caller that handles one problem handles
    many; `str()` is one line per problem, each in ConfigError's format, and
    the first problem's fields are this error's own.
    """

    def __init__(self, errors: list[ConfigError]) -> None:
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        self.errors = errors
        first = errors[0]
        super().__init__(first.path, first.where, first.problem, first.fix)
        self.args = ("\n".join(str(e) for e in errors),)


def raise_collected(errors: list[ConfigError]) -> None:
    """Raise what was collected: one error as itself (its message unchanged), several
    as ConfigErrors in the order found, each problem once."""
    unique: list[ConfigError] = []
    seen: set[str] = set()
    for error in errors:
        for one in error.errors if isinstance(error, ConfigErrors) else [error]:
            if str(one) not in seen:
                seen.add(str(one))
                unique.append(one)
    if len(unique) == 1:
        raise unique[0]
    if unique:
        raise ConfigErrors(unique)


class StorageError(BotError):
    """The database is unusable (not ours, newer schema, corrupt)."""


class StorageUnavailable(StorageError):
    """A write failed for a reason that may pass: disk full, read-only, locked.

    Loops that meet it back off and try again (bot/storage_health.py) with
    everything they fetched or queued kept, instead of failing for good.
    """


class OpmlError(BotError):
    """An OPML file `feeds import` cannot read: too big, not XML, not OPML, or hostile."""


class BackupError(BotError):
    """`backup` could not make a copy that passes SQLite's integrity check."""


class AlreadyRunning(BotError):
    """Another `python -m bot run` holds the database: a second one would double every alert."""


class FetchError(BotError):
    """A feed could not be fetched or parsed this time.

    `retry_after` is set when the server told us when to come back (429/503).
    `permanent` is set when retrying is pointless (410 Gone).
    """

    def __init__(
        self,
        url: str,
        message: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        status: int | None = None,
    ) -> None:
        self.url = url
        self.message = message
        self.retry_after = retry_after
        self.permanent = permanent
        self.status = status
        super().__init__(f"{url}: {message}")

    def __reduce__(self) -> tuple[object, ...]:
        # Raised inside parser worker processes: must survive pickling.
        return (self.__class__, (self.url, self.message), self.__dict__.copy())


class ParseError(FetchError):
    """The body arrived but is not a feed we can read."""


class DeliveryError(BotError):
    """A chat platform refused or failed an alert.

    `retryable` failures (timeouts, 5xx, 429) stay in the outbox and are tried
    again with backoff; permanent ones (missing permission, channel deleted)
    mark the channel broken so the other channels keep flowing. `rejected`
    means the platform refused this one alert (a malformed message): it is
    set aside as dead and the channel goes on.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        rejected: bool = False,
    ) -> None:
        self.retryable = retryable
        self.retry_after = retry_after
        self.rejected = rejected
        super().__init__(message)


class PlatformUnreachable(BotError):
    """A chat platform could not be reached at start-up (network, DNS, outage).

    `main` prints it as one line and exits non-zero; a supervisor (systemd,
    a container's restart policy) starts the bot again later, and alerts
    wait in the outbox meanwhile.
    """
