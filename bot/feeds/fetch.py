"""HTTP fetching with the manners and limits a feed poller needs.

One aiohttp session for the bot's lifetime; a global and a per-host limit on
concurrent requests; conditional GET so unchanged feeds cost a 304; and a
byte cap enforced while reading *and after decompression*, because a feed
server may be hostile (gzip bombs, endless bodies).

The limits are semaphores, not aiohttp's `TCPConnector(limit=…, limit_per_host=…)`,
which was tried (issue 14) and measured no faster on bench/pipeline.py, but counts
differently: per connector, and the chat-added feeds' guarded session has its own,
so the global limit would double; and a request queued for a connection spends its
`timeout` waiting, so a feed behind a slow one on its host would fail as timed out.
tests/test_fetch_limits.py pins what the limits mean.
"""

from __future__ import annotations

import asyncio
import functools
import zlib
from collections import defaultdict
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from bot.config import BotSettings, is_http_url
from bot.errors import FetchError
from bot.feeds.guard import guarded_connector
from bot.models import FetchResult

_PERMANENT_REDIRECTS = (301, 308)
_CHUNK = 64 * 1024
#: Feed addresses whose parsed form is kept (`_web_target`): every feed of a big
#: deployment, with room for the addresses redirects move some of them to.
TARGET_CACHE = 1 << 16


@functools.lru_cache(maxsize=TARGET_CACHE)
def _web_target(url: str) -> tuple[str, URL | str] | None:
    """(host, address as aiohttp takes it) of an http(s) feed URL; None for a local path.

    Why cached: a running bot fetches each feed from the same address at every poll,
    and reading it (whether it is a web address, its host, and aiohttp's own parse
    into a `yarl.URL`, which aiohttp then takes as it is) is ~25 µs of each request.
    A `once` meets each address once, so there it saves nothing; it does save reading
    the address twice: yarl's parse decides web or local by the same scheme rule as
    `is_http_url` (urllib's, which yarl adapts), 7 µs a feed less than both. An address
    yarl refuses is read by urllib and stays a string, so aiohttp raises for it inside
    the request, as before.
    """
    try:
        address = URL(url)
    except (ValueError, TypeError):
        if not is_http_url(url):
            return None
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:  # e.g. an unclosed IPv6 bracket: aiohttp's request refuses it
            host = ""
        return host.lower(), url
    if address.scheme not in ("http", "https"):
        return None
    return (address.raw_host or "").lower(), address


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _Decoder:
    """Incremental Content-Encoding decoder whose output is bounded.

    aiohttp's own decompression inflates a whole network chunk at once, so a
    few kilobytes of gzip could become gigabytes; here each step is capped.
    """

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.encoding = encoding.strip().lower()
        self._z: zlib._Decompress | None = None
        if self.encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.encoding not in ("", "identity", "deflate"):
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")

    def _deflate(self, first: bytes) -> zlib._Decompress:
        # "deflate" means zlib-wrapped (RFC 9110), but some servers send raw deflate.
        try:
            zlib.decompressobj(zlib.MAX_WBITS).decompress(first[:64])
        except zlib.error:
            return zlib.decompressobj(-zlib.MAX_WBITS)
        return zlib.decompressobj(zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        if self.encoding == "deflate" and self._z is None:
            self._z = self._deflate(data)
        if self._z is None:
            out = data
        else:
            room = self.limit - self.size + 1
            parts = [self._z.decompress(data, room)]
            room -= len(parts[-1])
            while self._z.unconsumed_tail and room > 0:
                parts.append(self._z.decompress(self._z.unconsumed_tail, room))
                room -= len(parts[-1])
            out = b"".join(parts)
        self.size += len(out)
        if self.size > self.limit:
            raise OverflowError
        return out


class Fetcher:
    """Fetches feed bodies; every failure comes out as a FetchError."""

    def __init__(self, settings: BotSettings, session: aiohttp.ClientSession | None = None):
        self.settings = settings
        self._own_session = session is None
        self._session = session
        self._guarded: aiohttp.ClientSession | None = None
        self._global = asyncio.Semaphore(settings.max_concurrency)
        self._per_host: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.per_host_concurrency)
        )

    def _new_session(self, connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=self.settings.timeout, sock_connect=self.settings.connect_timeout
            ),
            connector=connector,
            headers={
                "User-Agent": self.settings.user_agent,
                "Accept": "application/rss+xml, application/atom+xml, "
                "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
                "Accept-Encoding": "gzip, deflate",
            },
            auto_decompress=False,
        )

    async def __aenter__(self) -> Fetcher:
        if self._session is None:
            self._session = self._new_session(
                aiohttp.TCPConnector(limit=self.settings.max_concurrency, ttl_dns_cache=300)
            )
        # Feeds added from chat are untrusted: their own session refuses, at connect
        # time, any private, loopback or link-local address (redirects included).
        self._guarded = self._new_session(
            guarded_connector(
                allow_private=self.settings.allow_private_feeds,
                limit=self.settings.max_concurrency,
                ttl_dns_cache=300,
            )
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._guarded is not None:
            await self._guarded.close()
        if self._own_session and self._session is not None:
            await self._session.close()

    async def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        *,
        untrusted: bool = False,
    ) -> FetchResult:
        """GET a feed: 200 with the body, or 304; anything else raises FetchError.

        `untrusted` (feeds added from chat) goes through the guarded session
        and may not read local files.
        """
        target = _web_target(url)
        if target is None:
            if untrusted:
                raise FetchError(url, "feeds added from chat must be http(s) URLs", permanent=True)
            return await self._read_local(url)
        host, address = target
        async with self._global, self._per_host[host]:
            try:
                return await self._get(url, address, etag, last_modified, untrusted)
            except FetchError:
                raise
            except TimeoutError:
                raise FetchError(url, f"timed out after {self.settings.timeout:g}s") from None
            except aiohttp.TooManyRedirects:
                raise FetchError(url, "too many redirects") from None
            except aiohttp.ClientConnectorError as e:
                raise FetchError(url, f"cannot connect: {e.os_error or e}") from None
            except (aiohttp.ClientError, ValueError) as e:
                raise FetchError(url, f"{type(e).__name__}: {e}") from None

    async def _get(
        self,
        url: str,
        address: URL | str,
        etag: str | None,
        last_modified: str | None,
        untrusted: bool,
    ) -> FetchResult:
        assert self._session is not None, "use Fetcher as an async context manager"
        session = self._guarded if untrusted and self._guarded else self._session
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with session.get(address, headers=headers, max_redirects=5) as resp:
            final_url = None
            if resp.history and all(r.status in _PERMANENT_REDIRECTS for r in resp.history):
                final_url = str(resp.url)
            if resp.status == 304:
                return FetchResult(304, etag=etag, last_modified=last_modified, final_url=final_url)
            if resp.status == 410:
                raise FetchError(url, "410 Gone: the feed was removed", permanent=True, status=410)
            if resp.status in (429, 503):
                raise FetchError(
                    url,
                    f"HTTP {resp.status}",
                    retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                    status=resp.status,
                )
            if resp.status != 200:
                raise FetchError(
                    url, f"HTTP {resp.status} {resp.reason or ''}".strip(), status=resp.status
                )
            body = await self._read_body(url, resp)
            return FetchResult(
                200,
                body=body,
                etag=resp.headers.get("ETag"),
                last_modified=resp.headers.get("Last-Modified"),
                final_url=final_url,
                headers={
                    k.lower(): v for k, v in resp.headers.items() if k.lower() == "content-type"
                },
            )

    async def _read_body(self, url: str, resp: aiohttp.ClientResponse) -> bytes:
        limit = self.settings.max_response_bytes
        too_big = FetchError(url, f"response larger than {limit} bytes (bot.max_response_bytes)")
        if resp.content_length is not None and resp.content_length > limit:
            raise too_big
        try:
            decoder = _Decoder(resp.headers.get("Content-Encoding", ""), limit)
        except ValueError as e:
            raise FetchError(url, str(e)) from None
        parts: list[bytes] = []
        wire = 0
        try:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                wire += len(chunk)
                if wire > limit:
                    raise too_big
                parts.append(decoder.feed(chunk))
        except OverflowError:
            raise too_big from None
        except zlib.error as e:
            raise FetchError(url, f"corrupt compressed body: {e}") from None
        return b"".join(parts)

    async def _read_local(self, path: str) -> FetchResult:
        """An operator's own feed file: read with the same byte cap as HTTP."""
        limit = self.settings.max_response_bytes

        def read() -> bytes:
            with Path(path).open("rb") as f:
                data = f.read(limit + 1)
            if len(data) > limit:
                raise FetchError(path, f"file larger than {limit} bytes (bot.max_response_bytes)")
            return data

        try:
            body = await asyncio.to_thread(read)
        except FileNotFoundError:
            raise FetchError(path, "local feed file not found") from None
        except OSError as e:
            raise FetchError(path, f"cannot read local feed file: {e.strerror}") from None
        return FetchResult(200, body=body)
