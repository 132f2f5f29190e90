"""The HTTP listener of `run` ([bot] listen): GET /healthz and GET /metrics.

Off unless configured. It serves what the App already knows — no check here
touches a feed or a chat platform — so a scrape every few seconds costs
nothing and cannot itself make the bot unhealthy. /healthz answers 200 with
`{"status": "ok", "checks": {...}}` or 503 with `"status": "failing"` and the
names of the failing checks, for load balancers and Kubernetes probes that
only read the status code; /metrics is the Prometheus text format.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import ConfigError

if TYPE_CHECKING:  # imported when the listener starts: most runs have none (issue 13)
    from aiohttp import web

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    detail: str


def health_body(checks: dict[str, Check]) -> tuple[int, dict[str, object]]:
    """The /healthz status code and JSON body for these checks."""
    failing = sorted(name for name, check in checks.items() if not check.ok)
    body: dict[str, object] = {
        "status": "failing" if failing else "ok",
        "checks": {name: asdict(check) for name, check in checks.items()},
    }
    if failing:
        body["failing"] = failing
    return (503 if failing else 200), body


class StatusServer:
    """Serves /healthz from `checks()` and /metrics from `metrics()` on host:port."""

    def __init__(
        self,
        host: str,
        port: int,
        checks: Callable[[], dict[str, Check]],
        metrics: Callable[[], bytes],
        metrics_content_type: str,
        config_path: Path,
    ) -> None:
        self.host = host
        self.port = port
        self.checks = checks
        self.metrics = metrics
        self.metrics_content_type = metrics_content_type
        self.config_path = config_path
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Bind and serve; a port in use or a wrong address is a ConfigError on bot.listen."""
        from aiohttp import web

        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as e:
            await runner.cleanup()
            raise ConfigError(
                str(self.config_path),
                "bot.listen",
                f"cannot listen on {self.address} ({e.strerror or e})",
                "pick a free port, or stop the program using it",
            ) from None
        self._runner = runner
        log.info("serving /healthz and /metrics on http://%s", self.address)

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        from aiohttp import web

        status, body = health_body(self.checks())
        return web.Response(status=status, text=json.dumps(body), content_type="application/json")

    async def _metrics(self, request: web.Request) -> web.Response:
        from aiohttp import web

        response = web.Response(body=self.metrics())
        response.headers["Content-Type"] = self.metrics_content_type
        return response
