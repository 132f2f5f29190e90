"""setup.py's optional compile: a build that cannot compile the matcher still installs.

Why: compiling with mypyc needs a C compiler, the Python headers and mypy, and a
user without them must get a working pure-Python bot and one warning saying why,
never a failed install; CI and the image must fail instead (NEWSWATCH_REQUIRE_COMPILED).
Each test runs setup.py's build_ext in place on a copy of the project, as an
editable install does (offline: this environment's setuptools and mypy), and
reads what it left. That pip shows the warning, and builds wheels and editable
installs either way, was checked by hand (README, "The compiled matcher"). The
compiled build itself is what the rest of the suite runs on (CI installs with a
compiler, and tests/test_matcher_compiled.py checks it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The files git would check out (not the build outputs of this tree)."""
    listed = subprocess.run(
        [
            "git",
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "pyproject.toml",
            "setup.py",
            "README.md",
            "bot",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in listed:
        if (ROOT / name).is_file():
            (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tmp_path / "src" / name)
    return tmp_path


def _build(project: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """setup.py's build_ext in place, as an editable install runs it; the manifest's dir."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NEWSWATCH_PURE_PYTHON", "NEWSWATCH_REQUIRE_COMPILED")
    }
    done = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
        cwd=project / "src",
        env={**environ, **env},
        capture_output=True,
        text=True,
    )
    return done, project / "src" / "bot" / "matching"


def _read(matching: Path) -> tuple[list[str], dict[str, object]]:
    extensions = [p.name for p in matching.iterdir() if p.suffix == ".so"]
    return extensions, json.loads((matching / "compiled_build.json").read_text())


def test_without_a_compiler_the_wheel_is_pure_python_with_one_warning(project: Path) -> None:
    done, matching = _build(project, CC="/bin/false")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert output.count("the matcher could not be compiled") == 1, output[-3000:]
    assert "CompileError" in output and "install a C compiler" in output
    extensions, manifest = _read(matching)
    assert extensions == []
    assert manifest["compiled"] is False and "CompileError" in str(manifest["reason"])


def test_a_required_compile_that_fails_fails_the_build(project: Path) -> None:
    done, matching = _build(project, CC="/bin/false", NEWSWATCH_REQUIRE_COMPILED="1")
    assert done.returncode != 0
    assert not (matching / "compiled_build.json").exists()
    assert "NEWSWATCH_REQUIRE_COMPILED=1 and the matcher did not compile" in (
        done.stdout + done.stderr
    )


def test_pure_python_at_build_time_compiles_nothing_and_says_so(project: Path) -> None:
    done, matching = _build(project, NEWSWATCH_PURE_PYTHON="1")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "could not be compiled" not in done.stdout + done.stderr
    extensions, manifest = _read(matching)
    assert extensions == []
    assert manifest == {
        "compiled": False,
        "reason": "NEWSWATCH_PURE_PYTHON=1 at build time",
        "sources": {},
    }
