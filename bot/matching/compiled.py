"""Which matcher runs: the mypyc-compiled modules, or their .py sources, and why.

The build (setup.py) may compile the matching modules below with mypyc into
extension modules beside their sources; Python then imports the extension, not
the .py. That is a trap for a developer on an editable install: edit
normalize.py, and the old compiled normalize keeps running, silently. So the
build writes MANIFEST, a hash of every compiled source, and `guard()` (run once
by bot/matching/__init__.py, before any of these modules is imported) compares
it with the sources on disk. If any differs, or NEWSWATCH_PURE_PYTHON=1 at run
time, it puts `SourceFinder` first on sys.meta_path: all these modules then
load from their .py files (all or nothing: compiled modules call one another
directly and must not be mixed with sources), and one warning says how to
rebuild. Cost at every start-up: reading MANIFEST and hashing about 100 KB of
sources, well under a millisecond (bench/README.md, "matcher import").

stdlib only: setup.py loads this file by path to write MANIFEST with the same
list and hash, before any of the bot's dependencies is installed.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

# The modules setup.py compiles (bot.matching.<name>), as one mypyc group.
MODULES = (
    "normalize",
    "spelling",
    "name_rules",
    "alias_index",
    "exact",
    "fuzzy",
    "mention",
    "plausible",
    "resolve",
    "matcher",
    "common",
)
PACKAGE = "bot.matching"
GROUP = f"{PACKAGE}.matcher_native"  # its shared library: matcher_native__mypyc.*.so
MANIFEST = "compiled_build.json"
PURE_ENV = "NEWSWATCH_PURE_PYTHON"
REBUILD = "pip install -e . (or pip install . for a normal install)"
HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


def source_hashes(directory: Path) -> dict[str, str]:
    """BLAKE2b of each compiled module's .py in `directory` ('' for a missing file)."""
    out = {}
    for name in MODULES:
        try:
            data = (directory / f"{name}.py").read_bytes()
        except OSError:
            out[name] = ""
            continue
        out[name] = hashlib.blake2b(data, digest_size=16).hexdigest()
    return out


def write_manifest(directory: Path, source_dir: Path, reason: str | None) -> None:
    """Called by setup.py: what this build compiled (reason None) or why it did not."""
    manifest = {"compiled": reason is None, "reason": reason or "", "sources": {}}
    if reason is None:
        manifest["sources"] = source_hashes(source_dir)
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


class SourceFinder:
    """A meta-path finder: bot.matching.<MODULES> load from their .py, never the extension.

    Only those names, only from this package's directory; everything else falls
    through to the normal finders (returning None).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.names = {f"{PACKAGE}.{name}": name for name in MODULES}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        name = self.names.get(fullname)
        if name is None:
            return None
        return importlib.util.spec_from_file_location(fullname, self.directory / f"{name}.py")


# Why the compiled modules are not used, if guard() decided so (None: nothing forced).
forced_reason: str | None = None


def guard(directory: Path = HERE) -> None:
    """Make bot.matching.* load from source when the compiled modules would be wrong or unwanted."""
    global forced_reason
    if os.environ.get(PURE_ENV) == "1":
        forced_reason = f"{PURE_ENV}=1"
    else:
        forced_reason = _stale(directory)
        if forced_reason is not None:
            log.warning(
                "matcher: %s; running the .py sources (slower). Rebuild the compiled "
                "matcher with: %s",
                forced_reason,
                REBUILD,
            )
    if forced_reason is not None:
        sys.meta_path.insert(0, SourceFinder(directory))


def _stale(directory: Path) -> str | None:
    """Why the compiled modules in `directory` must not run, or None if they may."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        compiled, recorded = manifest["compiled"], manifest["sources"]
    except FileNotFoundError:
        manifest = None
    except (OSError, ValueError, KeyError, TypeError):
        return f"unreadable build manifest {MANIFEST}"
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    built = {name.split(".", 1)[0] for name in os.listdir(directory) if name.endswith(suffixes)}
    if manifest is None or not compiled:
        # Nothing compiled by the build: an extension here was made by hand (mypyc
        # run in the tree) or left by an older build, and matches nothing known.
        if built:
            return "compiled modules without a matching build manifest"
        return None
    expected = (*MODULES, f"{GROUP.rsplit('.', 1)[1]}__mypyc")
    missing = [n for n in expected if n not in built]
    if missing and len(missing) < len(expected):  # some, not all: never mix the two
        return "compiled modules missing: " + ", ".join(missing)
    changed = [n for n, h in source_hashes(directory).items() if recorded.get(n) != h]
    if changed:
        return "source changed since the compiled build: " + ", ".join(f"{n}.py" for n in changed)
    return None


def status() -> str:
    """One line for `check`: what runs, and if pure Python, why."""
    import bot.matching.normalize

    if is_compiled(bot.matching.normalize):
        return "matcher: compiled (mypyc)"
    return f"matcher: pure Python ({_pure_reason()})"


def _pure_reason() -> str:
    if forced_reason is not None:
        return forced_reason
    try:
        manifest = json.loads((HERE / MANIFEST).read_text())
    except (OSError, ValueError):
        return "not built by pip: no build manifest"
    if isinstance(manifest, dict) and not manifest.get("compiled") and manifest.get("reason"):
        return f"not compiled at build: {manifest['reason']}"
    return "compiled modules missing"


def is_compiled(module: ModuleType) -> bool:
    """Is this module the compiled extension (for tests and bench)."""
    return (getattr(module, "__file__", "") or "").endswith(
        tuple(importlib.machinery.EXTENSION_SUFFIXES)
    )
