"""A bytecode cache for the bot processes a bench starts, as a deployed install has.

This environment sets PYTHONDONTWRITEBYTECODE, so every `python -m bot ...` a bench
starts would compile bot/ (and any library without its .pyc) again: about 0.2 s of
CPU per start-up that no installed bot pays. By default the benches give their bot
processes a cache of their own instead: PYTHONPYCACHEPREFIX pointing at a temporary
folder, PYTHONDONTWRITEBYTECODE unset for those children only, warmed once by
importing every module of bot/ (and so the libraries they import) before anything
is timed. `--no-bytecode-cache` measures the old way. The header of each bench says
which was used.

    with bytecode_cache(enabled, ROOT) as env:   # env: the children's environment
        subprocess.run([...], env=env)
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Imports every module of bot/ once (a module that cannot be imported here, say a
# chat adapter whose library is missing, is skipped: the bot would not import it either).
_WARM = """
import importlib, pkgutil, bot
for m in pkgutil.walk_packages(bot.__path__, "bot."):
    try:
        importlib.import_module(m.name)
    except Exception:
        pass
"""


def describe(env: dict[str, str] | None) -> str:
    """One line for a bench's header: which bytecode the bot processes used."""
    if env is not None and env.get("PYTHONPYCACHEPREFIX"):
        return f"bytecode cache on (PYTHONPYCACHEPREFIX={env['PYTHONPYCACHEPREFIX']}, warmed)"
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return "bytecode cache OFF (PYTHONDONTWRITEBYTECODE: every start-up compiles bot/)"
    return "bytecode cache: Python's default (__pycache__ beside the sources)"


def child_environment(cache: Path | None) -> dict[str, str]:
    """The environment of the bot processes: with `cache`, bytecode written and read there."""
    env = dict(os.environ)
    if cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


@contextlib.contextmanager
def bytecode_cache(enabled: bool, roots: list[Path]) -> Iterator[dict[str, str]]:
    """The bot processes' environment, with a warmed cache (for each checkout in `roots`:
    the prefix mirrors source paths, so checkouts do not share entries) if `enabled`."""
    if not enabled:
        yield child_environment(None)
        return
    with tempfile.TemporaryDirectory(prefix="newswatch-pyc-") as tmp:
        env = child_environment(Path(tmp))
        for root in roots:
            subprocess.run(
                [sys.executable, "-c", _WARM],
                cwd=root,
                env={**env, "PYTHONPATH": str(root)},
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        yield env
