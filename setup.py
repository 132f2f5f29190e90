"""Build step: compile the matcher with mypyc when this machine can, else install pure Python.

pyproject.toml holds all the metadata; this file only adds the optional compile
step (README, "Performance": about 1.5x the matching throughput).

Compiling is all or nothing and never fails an install: no C compiler, no Python
headers, mypyc missing (--no-build-isolation without mypy), or any compile or type
error -> every compiled output is removed, one BuildBackendWarning says why (pip
shows it), and the install is pure Python and works. NEWSWATCH_PURE_PYTHON=1 at
build time skips compiling; NEWSWATCH_REQUIRE_COMPILED=1 (CI, the container image)
makes a failed compile fail the build instead. Either way the build writes bot/matching/
compiled_build.json (what was compiled, and the hash of each source) next to the
extensions: bot.matching.compiled reads it at import to never run a compiled
module older than its source.

mypycify runs inside build_ext, not at the top of this file: pip runs this file
for every build hook (requirements, metadata, wheel), and only the wheel needs
the 20 s compile.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent


def _compiled_module() -> Any:
    """bot/matching/compiled.py by path: the one list of modules and the manifest writer."""
    spec = importlib.util.spec_from_file_location(
        "_newswatch_compiled", HERE / "bot" / "matching" / "compiled.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compiled = _compiled_module()
SOURCES = [f"bot/matching/{name}.py" for name in compiled.MODULES]
# CI and the container image: a matcher that does not compile fails the build.
REQUIRE_ENV = "NEWSWATCH_REQUIRE_COMPILED"
METADATA_SKIP = "metadata only"
METADATA_ONLY = {"egg_info", "dist_info", "sdist", "check"}
_MYPYCIFIED: list[Extension] = []
# The same compiled code whatever is installed where pip builds: mypy never looks in
# site-packages (CI's first install, the image's builder have none of the
# dependencies yet), so rapidfuzz and anyascii are typed Any, checked at run time.
MYPY_FLAGS = ["--no-site-packages", "--ignore-missing-imports"]


class MypycMissing(RuntimeError):
    pass


class OptionalMypycBuild(build_ext):
    """build_ext that mypycifies the matcher, or falls back to pure Python with a warning."""

    def finalize_options(self) -> None:
        # mypycify (type check and C generation) here, so setuptools sets up its
        # extensions like any other; compiling them is build_ext.run's work.
        self.skip_reason = self.failure = None
        if set(self.distribution.commands) <= METADATA_ONLY:
            # pip's metadata hooks finalize build_ext too (sdist lists its sources):
            # no 20 s mypycify for them.
            self.skip_reason = METADATA_SKIP
        elif os.environ.get(compiled.PURE_ENV) == "1":
            self.skip_reason = f"{compiled.PURE_ENV}=1 at build time"
        else:
            try:
                self.distribution.ext_modules = self._mypycify()
            except (Exception, SystemExit) as exc:  # mypyc exits on a type error
                self.failure = exc
        # On a failure the placeholder stays: run() must still run, to warn and
        # write the manifest.
        super().finalize_options()

    def run(self) -> None:
        if self.skip_reason == METADATA_SKIP:
            return
        if not (self.skip_reason or self.failure):
            inplace = self.inplace  # setuptools clears it while building, editable or not
            try:
                super().run()
            except (Exception, SystemExit) as exc:  # CompileError, LinkError, ...
                self.failure = exc
            self.inplace = inplace
        if self.failure is not None:
            self._remove_outputs()
            self.extensions = []
            advice = (
                "To compile it, install a C compiler (gcc) and the Python headers "
                "(python3-dev), then reinstall."
            )
            if isinstance(self.failure, SystemExit):  # mypy printed its errors (pip -v)
                reason = "mypyc's type check failed; `pip install -v` shows its errors"
                advice = "Run `mypy` in the project to see the errors."
            elif isinstance(self.failure, MypycMissing):
                reason = str(self.failure)
                advice = "Build with pip's build isolation (the default), or install mypy."
            else:
                reason = f"{type(self.failure).__name__}: {self.failure}".strip()
                reason = reason.splitlines()[0]
                if len(reason) > 160:  # a compiler's whole command line: its ends tell
                    reason = f"{reason[:90]} ... {reason[-60:]}"
            if os.environ.get(REQUIRE_ENV) == "1":
                raise RuntimeError(f"{REQUIRE_ENV}=1 and the matcher did not compile: {reason}")
            warnings.warn(
                f"newswatch-bot: the matcher could not be compiled ({reason}); "
                "installing the pure-Python matcher, which works but matches about "
                f"1.5x slower. {advice}",
                stacklevel=1,
            )
        elif self.skip_reason:
            self._remove_outputs()
            self.extensions = []
            reason = self.skip_reason
            print(f"newswatch-bot: not compiling the matcher: {reason}", file=sys.stderr)
        else:
            reason = None
        out_dir = Path(self._output_path("normalize")).parent
        out_dir.mkdir(parents=True, exist_ok=True)
        compiled.write_manifest(out_dir, HERE / "bot" / "matching", reason)

    def _mypycify(self) -> list[Extension]:
        try:
            from mypyc.build import mypycify
        except ImportError as exc:
            raise MypycMissing(f"mypyc is not installed ({exc})") from exc
        self.set_undefined_options("build", ("build_temp", "build_temp"))
        target_dir = os.path.abspath(os.path.join(self.build_temp, "mypyc"))
        cwd = os.getcwd()
        os.chdir(HERE)  # mypycify takes paths relative to the project
        try:
            if not _MYPYCIFIED:  # editable_wheel finalizes two build_ext commands
                _MYPYCIFIED.extend(
                    mypycify(
                        [*MYPY_FLAGS, *SOURCES],
                        opt_level="3",
                        group_name=compiled.GROUP,
                        target_dir=target_dir,
                    )
                )
            return list(_MYPYCIFIED)
        finally:
            os.chdir(cwd)

    def _output_path(self, name: str) -> str:
        return self.get_ext_fullpath(f"{compiled.PACKAGE}.{name}")

    def _remove_outputs(self) -> None:
        """Delete this build's (or an earlier in-place build's) extensions: all or nothing."""
        names = [*compiled.MODULES, compiled.GROUP.rsplit(".", 1)[1] + "__mypyc"]
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._output_path(name))


setup(
    # A placeholder so setuptools runs build_ext (and tags the wheel for this
    # platform); OptionalMypycBuild replaces it with mypyc's extensions or none.
    ext_modules=[Extension(f"{compiled.PACKAGE}.normalize", sources=[])],
    cmdclass={"build_ext": OptionalMypycBuild},
)
