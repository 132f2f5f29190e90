"""bot.config: limits, feed URLs, byte-order marks and every problem in one pass.

Issue 11, items 8, 9 and 14: values that used to pass and then fail at start
or hours later (a timedelta overflow, a traceback on a malformed URL) are
refused by load_config with one line each, all of them at once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import MAX_PARSER_WORKERS, http_url_problem, is_http_url, load_config
from bot.config_values import plain_http_url
from bot.errors import ConfigError, ConfigErrors


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding=encoding)
    return path


def problems(tmp_path: Path, text: str) -> list[ConfigError]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    error = info.value
    return error.errors if isinstance(error, ConfigErrors) else [error]


@pytest.mark.parametrize(
    ("toml", "key", "problem"),
    [
        ('[bot]\ninterval = "999999999d"\n', "bot.interval", "longer than the limit of 30d"),
        ('[bot]\ninterval = "' + "9" * 400 + 'd"\n', "bot.interval", "longer than the limit"),
        ('[bot]\nmax_backoff = "31d"\n', "bot.max_backoff", "longer than the limit of 30d"),
        ('[bot]\nretention = "3651d"\n', "bot.retention", "longer than the limit of 3650d"),
        ('[bot]\ntimeout = "2h"\n', "bot.timeout", "longer than the limit of 1h"),
        ('[bot]\nflood_window = "2d"\n', "bot.flood_window", "longer than the limit of 1d"),
        (
            '[[feeds]]\nurl = "https://example.org/a"\ninterval = "60d"\n',
            "feeds[0].interval",
            "longer than the limit of 30d",
        ),
        (
            '[[feeds]]\nurl = "https://example.org/a"\nfirst_poll = "99999999999d"\n',
            "feeds[0].first_poll",
            "unknown value",
        ),
        ('[bot]\nmax_response_bytes = "' + "9" * 400 + '"\n', "bot.max_response_bytes", "size"),
        ('[bot]\nmax_response_bytes = "2GB"\n', "bot.max_response_bytes", "larger than"),
        ("[bot]\nparser_workers = 64\n", "bot.parser_workers", "must be at most 16, found 64"),
        ("[bot]\nparser_workers = 0\n", "bot.parser_workers", "must be at least 1"),
    ],
)
def test_absurd_values_are_refused_with_the_limit(tmp_path, toml, key, problem):
    (error,) = problems(tmp_path, toml)
    assert error.where == key
    assert problem in error.problem


def test_the_limits_themselves_are_accepted(tmp_path):
    path = write(
        tmp_path,
        f'[bot]\ninterval = "30d"\nretention = "3650d"\nmax_backoff = "30d"\n'
        f"parser_workers = {MAX_PARSER_WORKERS}\n",
    )
    bot = load_config(path).bot
    assert (bot.interval, bot.parser_workers) == (30 * 86400, MAX_PARSER_WORKERS)


@pytest.mark.parametrize(
    ("url", "problem", "fix"),
    [
        ("https://[::1/feed", "is not a valid URL", "https://[::1]/feed"),
        ("http://", "has no host name", "https://host/path"),
        ("https:///feed", "has no host name", "https://host/path"),
        ("ftp://x", "unsupported scheme 'ftp'", "http(s)://"),
        ("https://exa mple.org/feed", "contains a space", "%20"),
        ("https://example.org/a feed", "contains a space", "%20"),
        ("https://example.org:99999/feed", "has no valid port", "1 to 65535"),
        ("https://example.org:0/feed", "has no valid port", "1 to 65535"),
        ("example.org/feed", "does not exist", "for a web feed write https://example.org/feed"),
    ],
)
def test_malformed_feed_url_is_one_error_naming_the_key(tmp_path, url, problem, fix):
    (error,) = problems(tmp_path, f'[[feeds]]\nurl = "{url}"\n')
    assert error.where == "feeds[0].url"
    assert problem in error.problem and fix in error.fix


@settings(derandomize=True, database=None, max_examples=300)
@given(st.text(st.sampled_from(list("[]:@/?#%. a1-\t")) | st.characters(), max_size=20))
def test_http_url_problem_never_raises_and_passes_only_usable_urls(tail):
    url = "https://" + tail
    problem = http_url_problem(url)
    if problem is None:  # what the fetcher will read must not raise either
        parts = urlsplit(url)
        assert parts.hostname
        assert parts.port != 0


def test_every_problem_is_reported_in_a_fixed_order(tmp_path):
    found = problems(
        tmp_path,
        '[bot]\ninterval = "999999999d"\nparser_workers = 64\nintervall = "5m"\n'
        '[[feeds]]\nurl = "https://[::1/feed"\n'
        '[[feeds]]\nurl = "https://example.org/a"\ninterval = "soon"\n'
        '[[channels]]\nplatform = "console"\nseverity = "critical"\n',
    )
    assert [e.where for e in found] == [
        "bot.interval",
        "bot.parser_workers",
        "bot.intervall",
        "feeds[0].url",
        "feeds[1].interval",
        "channels[0].severity",
    ]


def test_several_problems_print_one_line_each(tmp_path):
    path = write(tmp_path, "[bot]\nparser_workers = 64\nmax_concurrency = 0\n")
    with pytest.raises(ConfigErrors) as info:
        load_config(path)
    lines = str(info.value).splitlines()
    assert lines == [
        f"{path}: bot.max_concurrency: must be at least 1, found 0",
        f"{path}: bot.parser_workers: must be at most 16, found 64",
    ]
    assert info.value.where == "bot.max_concurrency"  # the first problem's fields


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = write(tmp_path, '[bot]\ninterval = "7m"\n', encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert load_config(path).bot.interval == 420.0


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ('[slack]\napi_base = "https://[::1/api/"\n', "slack.api_base"),
        ('[slack]\napi_base = "https://slack.example:99999/api/"\n', "slack.api_base"),
        ('[discord]\napi_base = "http://[::1/api/v10"\n', "discord.api_base"),
        ('[discord]\ngateway_url = "wss://gw.example:70000/"\n', "discord.gateway_url"),
    ],
)
def test_malformed_platform_urls_are_refused_by_check_not_a_traceback(tmp_path, section, key):
    """The platform sections are read by `check` as by `run` (bot/preflight.py)."""
    from bot.preflight import preflight

    (tmp_path / "wl").mkdir()
    (tmp_path / "wl" / "a.toml").write_text(
        '[[entity]]\nid = "a"\nname = "Alpha"\nkind = "group"\n'
    )
    platform = section.split("]")[0][1:]
    channel = "C0123ABCD" if platform == "slack" else "456789012345678901"
    path = write(
        tmp_path,
        f'[bot]\nwatchlists = "wl"\n[[channels]]\nplatform = "{platform}"\nid = "{channel}"\n'
        + section,
    )
    tokens = {"DISCORD_TOKEN": "x", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}
    with pytest.raises(ConfigError) as info:
        preflight(path, environ=tokens)
    assert info.value.where == key
    assert "is not a URL" in info.value.problem


def test_more_parser_workers_than_cpus_is_a_warning_only_when_written(tmp_path, caplog):
    import os

    if (os.cpu_count() or 1) >= MAX_PARSER_WORKERS:
        pytest.skip("this machine has as many CPUs as the bound allows workers")
    many = (os.cpu_count() or 1) + 1
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        load_config(write(tmp_path, f"[bot]\nparser_workers = {many}\n"))
        load_config(write(tmp_path, ""))  # the default never warns
    (warning,) = [r.getMessage() for r in caplog.records]
    assert f"bot.parser_workers = {many} is more than this machine's" in warning


_URL_PIECES = st.sampled_from(list("[]:@/?#%.-_~ aZ19\t\u00e9\uff0f"))


@settings(derandomize=True, database=None, max_examples=500)
@given(
    st.sampled_from(["http", "https", "HTTPS", "hTtP", "ftp", "http:", ""]),
    st.text(_URL_PIECES | st.characters(), max_size=20),
    st.one_of(st.none(), st.integers(-1, 100_000).map(str), st.text(_URL_PIECES, max_size=6)),
    st.text(_URL_PIECES | st.characters(), max_size=20),
)
def test_a_plain_web_url_is_one_urllib_reads_without_a_problem(scheme, host, port, rest):
    """`plain_http_url` decides from the characters alone what urllib would: a web URL
    whose host and port read, port not 0, no white space (what `http_url_problem`
    checks, and what `_feed_location` takes as a web feed)."""
    url = f"{scheme}://{host}" + ("" if port is None else f":{port}") + rest
    if not plain_http_url(url):
        return
    parts = urlsplit(url)
    assert parts.scheme.lower() in ("http", "https") and is_http_url(url)
    assert parts.hostname and parts.port != 0
    assert url.split() == [url]
