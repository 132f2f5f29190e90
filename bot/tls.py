"""aiohttp's default TLS contexts, with the system's trusted certificates loaded on first use.

Why: aiohttp builds two TLS contexts when it is imported (aiohttp/connector.py: one
that verifies, one for `ssl=False`) and each loads the system's certificate bundle
at once: 33 ms of CPU each with OpenSSL 3 (python/cpython#95031), 66 ms of every
`python -m bot …` start, 5 % of a `once` at 1,000 feeds with a tenth changed
(bench/pipeline_ab.py), paid whether or not a feed is fetched over TLS. The
unverifying context is never used by the bot (it never passes `ssl=False`), and
the verifying one is needed only at the first https:// connection.

How: while aiohttp is imported (`import_aiohttp`), `SSLContext.set_default_verify_paths`
only marks the context; the first time that context makes a connection (`wrap_bio`,
which asyncio uses, or `wrap_socket`) or is asked for its certificates, it loads
them, once, under a lock, with the real method, exactly as aiohttp would have. The
contexts stay plain `ssl.SSLContext` objects (aiohttp and the chat libraries check
that type), and the class is restored as soon as the import is done.

Safe by construction: a context whose certificates were somehow never loaded trusts
nothing, so a connection fails verification; it is never accepted unverified.
tests/test_tls.py makes real https connections on 127.0.0.1 through aiohttp's
default context: trusted certificates verify, unknown ones are refused.
"""

from __future__ import annotations

import ssl
import sys
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()

#: The context's methods that need its certificates: they load them first.
NEEDS_CERTIFICATES = ("wrap_bio", "wrap_socket", "get_ca_certs", "cert_store_stats")


def import_aiohttp() -> None:
    """Import aiohttp with its default contexts' certificates loaded on first use.

    Does nothing if aiohttp is already imported (its contexts are then as aiohttp made
    them). The command line calls this before anything imports aiohttp.
    """
    if "aiohttp" in sys.modules:
        return
    cls = ssl.SSLContext
    own = cls.__dict__.get("set_default_verify_paths")  # inherited from _ssl today
    load = cls.set_default_verify_paths
    cls.set_default_verify_paths = lambda self: defer_certificates(self, load)  # type: ignore[method-assign]
    try:
        import aiohttp  # noqa: F401
    finally:
        if own is None:
            del cls.set_default_verify_paths
        else:
            cls.set_default_verify_paths = own  # type: ignore[method-assign]


def defer_certificates(context: ssl.SSLContext, load: Callable[[ssl.SSLContext], None]) -> None:
    """Make `load(context)` run before the context's first use that needs certificates."""
    pending = True

    def ensure_loaded() -> None:
        nonlocal pending
        with _lock:
            if pending:
                load(context)
                pending = False
                for name in NEEDS_CERTIFICATES:  # back to the class's own methods
                    context.__dict__.pop(name, None)

    def loading_first(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            ensure_loaded()
            return method(*args, **kwargs)

        return call

    for name in NEEDS_CERTIFICATES:
        setattr(context, name, loading_first(getattr(context, name)))
