"""The stale-build guard (bot/matching/compiled.py): never run a compiled module older than its .py.

Why: an editable install builds the compiled matcher into the source tree, and
Python prefers an extension module to the .py beside it. A developer who edits
normalize.py must run the edit, not the old build, and be told once how to
rebuild. Each test imports a copy of the bot package in a subprocess (a fresh
interpreter, as at start-up), with a build manifest describing that copy. The
tests run on a pure-Python build too: the manifest alone decides, and on a
compiled build the copy carries the real extension modules as well.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bot.matching.normalize
from bot.matching import compiled

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import bot, bot.matching.normalize as n
from bot.matching import compiled
assert bot.__file__.startswith(sys.argv[1]), bot.__file__
print(compiled.status())
print(getattr(n, "EDITED", "not edited"))
"""


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A copy of the bot package (with its extensions, if built) and a manifest of its sources."""
    shutil.copytree(ROOT / "bot", tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    compiled.write_manifest(tmp_path / "bot" / "matching", tmp_path / "bot" / "matching", None)
    return tmp_path


def _import(root: Path, **env: str) -> tuple[list[str], list[str]]:
    """Import bot.matching from `root` in a fresh interpreter: (stdout lines, stderr lines)."""
    environ = {k: v for k, v in os.environ.items() if k != compiled.PURE_ENV}
    done = subprocess.run(
        [sys.executable, "-c", "import sys\n" + PROBE, str(root)],
        cwd=root,
        env={**environ, "PYTHONPATH": str(root), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines(), done.stderr.splitlines()


def _expected_unchanged() -> str:
    built = compiled.is_compiled(bot.matching.normalize)
    return (
        "matcher: compiled (mypyc)" if built else "matcher: pure Python (compiled modules missing)"
    )


def test_unchanged_sources_run_the_build_silently(package: Path) -> None:
    out, err = _import(package)
    assert out == [_expected_unchanged(), "not edited"]
    assert err == []


def test_an_edited_source_runs_from_source_with_one_warning(package: Path) -> None:
    source = package / "bot" / "matching" / "normalize.py"
    source.write_text(source.read_text() + "\nEDITED = 'edited'\n")
    out, err = _import(package)
    assert out == [
        "matcher: pure Python (source changed since the compiled build: normalize.py)",
        "edited",
    ]
    assert len(err) == 1, err
    assert "normalize.py" in err[0] and "pip install -e ." in err[0]


def test_pure_python_at_run_time_is_silent(package: Path) -> None:
    out, err = _import(package, **{compiled.PURE_ENV: "1"})
    assert out == [f"matcher: pure Python ({compiled.PURE_ENV}=1)", "not edited"]
    assert err == []


def test_an_extension_without_manifest_is_not_used(package: Path) -> None:
    """A module compiled by hand (mypyc in the tree): no manifest vouches for it."""
    matching = package / "bot" / "matching"
    (matching / compiled.MANIFEST).unlink()
    stray = matching / f"fuzzy{compiled.importlib.machinery.EXTENSION_SUFFIXES[0]}"
    if not stray.exists():
        stray.write_bytes(b"not a shared object: importing it would fail")
    out, err = _import(package)
    assert out == [
        "matcher: pure Python (compiled modules without a matching build manifest)",
        "not edited",
    ]
    assert len(err) == 1 and "pip install -e ." in err[0], err


def test_a_pure_build_says_why_it_did_not_compile(package: Path) -> None:
    matching = package / "bot" / "matching"
    for path in matching.iterdir():
        if path.name.endswith(tuple(compiled.importlib.machinery.EXTENSION_SUFFIXES)):
            path.unlink()
    compiled.write_manifest(matching, matching, "CompileError: no C compiler")
    out, err = _import(package)
    assert out == [
        "matcher: pure Python (not compiled at build: CompileError: no C compiler)",
        "not edited",
    ]
    assert err == []


def test_some_compiled_modules_missing_runs_all_from_source(package: Path) -> None:
    """Compiled modules call one another directly: never some compiled, some not."""
    matching = package / "bot" / "matching"
    suffix = compiled.importlib.machinery.EXTENSION_SUFFIXES[0]
    for name in (*compiled.MODULES, "matcher_native__mypyc"):
        if not any(matching.glob(f"{name}.*.so")):
            (matching / f"{name}{suffix}").write_bytes(b"never imported: source is forced")
    next(matching.glob("fuzzy.*.so")).unlink()
    out, err = _import(package)
    assert out == ["matcher: pure Python (compiled modules missing: fuzzy)", "not edited"]
    assert len(err) == 1 and "pip install -e ." in err[0], err
