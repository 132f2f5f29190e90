"""A real HTTP feed server on 127.0.0.1 for tests: feeds that change, fail and misbehave."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape

from aiohttp import web


def rss(items: list[dict[str, str]], title: str = "Test feed") -> bytes:
    """Render items ({title, link, guid, description, pubDate}) as RSS 2.0."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>https://example.org/</link>",
        "<description>test</description>",
    ]
    for it in items:
        parts.append("<item>")
        for key in ("title", "link", "guid", "description", "pubDate"):
            if key in it:
                parts.append(f"<{key}>{escape(it[key])}</{key}>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode()


def item(
    n: int | str, title: str, summary: str = "", when: datetime | None = None
) -> dict[str, str]:
    when = when or datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    return {
        "title": title,
        "link": f"https://example.org/news/{n}",
        "guid": f"https://example.org/news/{n}",
        "description": summary,
        "pubDate": format_datetime(when, usegmt=True),
    }


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True  # answer If-None-Match with 304
    hang: bool = False  # never answer (until the test ends)
    gzip: bool = False
    redirect_to: str | None = None
    redirect_status: int = 301
    stream_bytes: int = 0  # send this many filler bytes without Content-Length


class FeedServer:
    """Serve feeds by path; count what was served so tests can assert on it."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.full: dict[str, int] = {}
        self.not_modified: dict[str, int] = {}
        self.requests: dict[str, int] = {}
        self.request_headers: dict[str, dict[str, str]] = {}
        #: every request in arrival order: (time.monotonic(), path, User-Agent), so a
        #: test can tell which instance fetched a feed when (several bots, one server)
        self.log: list[tuple[float, str, str]] = []
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def feed(self, path: str, items: list[dict[str, str]], **kw: object) -> str:
        self.routes[path] = Route(body=rss(items), **kw)  # type: ignore[arg-type]
        return self.url(path)

    def set(self, path: str, **kw: object) -> str:
        self.routes[path] = Route(**kw)  # type: ignore[arg-type]
        return self.url(path)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def release_hung(self) -> None:
        """Answer the requests hanging now (their routes' `hang` stays as it is)."""
        self._release.set()
        self._release = asyncio.Event()

    async def stop(self) -> None:
        self._release.set()
        if self._runner:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests[path] = self.requests.get(path, 0) + 1
        self.request_headers[path] = dict(request.headers)
        self.log.append((time.monotonic(), path, request.headers.get("User-Agent", "")))
        route = self.routes.get(path)
        if route is None:
            return web.Response(status=404, text="not found")
        if route.hang:
            await self._release.wait()
        if route.redirect_to:
            return _redirect(route.redirect_status, route.redirect_to)
        if route.stream_bytes:
            resp = web.StreamResponse(status=200, headers={"Content-Type": "application/rss+xml"})
            await resp.prepare(request)
            chunk = b"<!-- " + b"x" * 65536 + b" -->"
            sent = 0
            try:
                while sent < route.stream_bytes:
                    await resp.write(chunk)
                    sent += len(chunk)
            except (ConnectionError, RuntimeError):
                pass
            self.full[path] = self.full.get(path, 0) + 1
            return resp
        etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
        if route.status == 200 and route.etag and request.headers.get("If-None-Match") == etag:
            self.not_modified[path] = self.not_modified.get(path, 0) + 1
            return web.Response(status=304, headers={"ETag": etag})
        headers = dict(route.headers)
        body = route.body
        if route.status == 200:
            self.full[path] = self.full.get(path, 0) + 1
            headers.setdefault("Content-Type", "application/rss+xml; charset=utf-8")
            if route.etag:
                headers["ETag"] = etag
        if route.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return web.Response(status=route.status, body=body, headers=headers)


def _redirect(status: int, location: str) -> web.Response:
    return web.Response(status=status, headers={"Location": location})
