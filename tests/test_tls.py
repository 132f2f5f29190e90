"""bot/tls.py: aiohttp's default TLS contexts load their certificates at first use, and then
verify exactly as before. Real https servers on 127.0.0.1 with certificates from test
certificate authorities (trustme); each client is a fresh `python` process, because aiohttp
must not have been imported before (this test process has imported it)."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent

CLIENT = """
import asyncio, sys
from bot.tls import import_aiohttp
import_aiohttp()
import aiohttp, aiohttp.connector as connector

verified = connector._SSL_CONTEXT_VERIFIED
deferred_before = "wrap_bio" in verified.__dict__

async def main():
    async with aiohttp.ClientSession() as session:  # aiohttp's default context: ssl=True
        try:
            async with session.get(sys.argv[1]) as resp:
                print("status", resp.status, await resp.text())
        except aiohttp.ClientConnectorCertificateError as e:
            print("refused", type(e.certificate_error).__name__)

asyncio.run(main())
print("deferred before first use", deferred_before)
print("loaded after", "wrap_bio" not in verified.__dict__, verified.cert_store_stats()["x509_ca"])
print("unverified context never loaded", "wrap_bio" in connector._SSL_CONTEXT_UNVERIFIED.__dict__)
"""


@pytest.fixture
async def https_server(tmp_path: Path) -> AsyncIterator[tuple[str, trustme.CA]]:
    """An https server on 127.0.0.1 whose certificate a test CA issued; (url, that CA)."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)

    async def feed(request: web.Request) -> web.Response:
        return web.Response(text="<rss/>")

    app = web.Application()
    app.router.add_get("/feed.xml", feed)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"https://127.0.0.1:{port}/feed.xml", ca
    finally:
        await runner.cleanup()


async def _client(url: str, trusted: trustme.CA, tmp_path: Path) -> list[str]:
    """Run CLIENT in a fresh interpreter whose system trust is `trusted` alone."""
    bundle = tmp_path / "trusted.pem"
    trusted.cert_pem.write_to_path(str(bundle))
    empty = tmp_path / "no-cert-dir"
    empty.mkdir(exist_ok=True)
    env = {**os.environ, "SSL_CERT_FILE": str(bundle), "SSL_CERT_DIR": str(empty)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLIENT,
        url,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode().splitlines()


async def test_a_trusted_certificate_verifies_and_the_trust_is_loaded_then(
    https_server: tuple[str, trustme.CA], tmp_path: Path
) -> None:
    url, ca = https_server
    lines = await _client(url, ca, tmp_path)
    assert lines == [
        "status 200 <rss/>",
        "deferred before first use True",
        "loaded after True 1",  # the one CA SSL_CERT_FILE names, loaded by the connection
        "unverified context never loaded True",
    ]


async def test_an_unknown_certificate_is_refused(
    https_server: tuple[str, trustme.CA], tmp_path: Path
) -> None:
    url, _ = https_server
    lines = await _client(url, trustme.CA(), tmp_path)  # trusts another CA only
    assert lines[0] == "refused SSLCertVerificationError"
    assert lines[2] == "loaded after True 1"


def test_nothing_changes_once_aiohttp_is_imported() -> None:
    import aiohttp.connector

    from bot.tls import import_aiohttp

    before = aiohttp.connector._SSL_CONTEXT_VERIFIED
    import_aiohttp()
    assert aiohttp.connector._SSL_CONTEXT_VERIFIED is before
    assert "set_default_verify_paths" not in ssl.SSLContext.__dict__


def test_a_deferred_context_loads_once_for_any_use_that_needs_certificates() -> None:
    from bot.tls import NEEDS_CERTIFICATES, defer_certificates

    loads: list[ssl.SSLContext] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    defer_certificates(context, loads.append)
    assert all(name in context.__dict__ for name in NEEDS_CERTIFICATES)
    assert context.get_ca_certs() == []  # the stand-in load above loads nothing
    context.cert_store_stats()
    assert loads == [context]
    assert not any(name in context.__dict__ for name in NEEDS_CERTIFICATES)


def test_the_command_line_imports_aiohttp_only_through_bot_tls() -> None:
    """`main()` calls `import_aiohttp` first: nothing the command line imports at module
    level may import aiohttp before it (its contexts would load their certificates)."""
    code = "import sys, bot.__main__; print('aiohttp' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
