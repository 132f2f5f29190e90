"""The fetcher against a real local server: validators, limits, encodings."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import BotSettings, is_http_url
from bot.errors import FetchError
from bot.feeds.fetch import Fetcher, _web_target, parse_retry_after
from tests.feedserver import FeedServer, item, rss


def settings(tmp_path, **kw) -> BotSettings:
    return BotSettings(database=tmp_path / "db", watchlists=tmp_path, timeout=2.0, **kw)


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 25 Nov 2026 08:10:00 GMT", now) == 600
    assert parse_retry_after("Wed, 25 Nov 2026 07:00:00 GMT", now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("raw", [False, True])
async def test_deflate_bodies_are_read(feed_server: FeedServer, tmp_path, raw: bool) -> None:
    body = rss([item(1, "hello")])
    if raw:
        c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        data = c.compress(body) + c.flush()
    else:
        data = zlib.compress(body)
    url = feed_server.set("/d.xml", body=data, headers={"Content-Encoding": "deflate"})
    async with Fetcher(settings(tmp_path)) as f:
        result = await f.fetch(url)
    assert result.body == body


async def test_declared_oversize_is_refused_before_reading(
    feed_server: FeedServer, tmp_path
) -> None:
    url = feed_server.set("/big.xml", body=b"x" * 5000)
    async with Fetcher(settings(tmp_path, max_response_bytes=1000)) as f:
        with pytest.raises(FetchError, match="larger than 1000 bytes"):
            await f.fetch(url)


async def test_unknown_content_encoding_is_an_error(feed_server: FeedServer, tmp_path) -> None:
    url = feed_server.set("/br.xml", body=b"??", headers={"Content-Encoding": "br"})
    async with Fetcher(settings(tmp_path)) as f:
        with pytest.raises(FetchError, match="Content-Encoding"):
            await f.fetch(url)


async def test_corrupt_gzip_is_an_error(feed_server: FeedServer, tmp_path) -> None:
    url = feed_server.set(
        "/bad.xml", body=b"\x1f\x8b not gzip", headers={"Content-Encoding": "gzip"}
    )
    async with Fetcher(settings(tmp_path)) as f:
        with pytest.raises(FetchError, match="corrupt"):
            await f.fetch(url)


async def test_503_carries_retry_after(feed_server: FeedServer, tmp_path) -> None:
    url = feed_server.set("/busy.xml", status=503, headers={"Retry-After": "90"})
    async with Fetcher(settings(tmp_path)) as f:
        with pytest.raises(FetchError) as info:
            await f.fetch(url)
    assert info.value.retry_after == 90 and info.value.status == 503


async def test_last_modified_is_sent_back(feed_server: FeedServer, tmp_path) -> None:
    url = feed_server.feed("/lm.xml", [item(1, "x")])
    async with Fetcher(settings(tmp_path)) as f:
        await f.fetch(url, etag=None, last_modified="Tue, 24 Nov 2026 10:00:00 GMT")
    assert feed_server.request_headers["/lm.xml"]["If-Modified-Since"].startswith("Tue, 24 Nov")


async def test_local_file_over_the_cap_is_refused(tmp_path) -> None:
    path = tmp_path / "big.rss"
    path.write_bytes(b"x" * 2000)
    async with Fetcher(settings(tmp_path, max_response_bytes=1000)) as f:
        with pytest.raises(FetchError, match="larger than"):
            await f.fetch(str(path))
        with pytest.raises(FetchError, match="not found"):
            await f.fetch(str(tmp_path / "nope.rss"))


async def test_untrusted_feeds_never_reach_private_addresses(
    feed_server: FeedServer, tmp_path
) -> None:
    """A feed added from chat goes through the guarded session: every connection is checked."""
    url = feed_server.feed("/a.xml", [item(1, "x")])
    via_redirect = feed_server.set("/r.xml", redirect_to=url, redirect_status=302)
    async with Fetcher(settings(tmp_path)) as f:
        assert (await f.fetch(url)).status == 200  # bot.toml feeds are trusted
        for target in (url, via_redirect, url.replace("127.0.0.1", "localhost")):
            with pytest.raises(FetchError, match="loopback"):
                await f.fetch(target, untrusted=True)
        with pytest.raises(FetchError, match="http"):
            await f.fetch(str(tmp_path / "local.rss"), untrusted=True)
    async with Fetcher(settings(tmp_path, allow_private_feeds=True)) as f:
        assert (await f.fetch(url, untrusted=True)).status == 200


@given(st.text(max_size=40) | st.from_regex(r"\A[A-Za-z][A-Za-z0-9+.-]{0,6}:[^\s]{0,30}\Z"))
def test_web_or_local_is_decided_as_the_config_decides(url: str) -> None:
    """`_web_target` reads an address once (yarl) yet tells web from local exactly like
    `is_http_url` (urllib), and never raises: a bad web address fails in the request."""
    target = _web_target.__wrapped__(url)
    assert (target is not None) == is_http_url(url)


async def test_an_unreadable_web_address_is_a_fetch_error(tmp_path) -> None:
    async with Fetcher(settings(tmp_path)) as f:
        with pytest.raises(FetchError):
            await f.fetch("http://[::1/feed.xml")
