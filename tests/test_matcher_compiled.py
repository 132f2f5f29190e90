"""The mypyc-compiled matcher against the pure-Python one: the same matches, field by field.

Why: setup.py compiles bot/matching's hot modules with mypyc (issue 13). It is
the same source, but a different runtime (native ints and floats, strict type
checks at every boundary, no monkeypatching), and a difference would change
alerts without any test of the pure code noticing. So this process's matcher
(compiled when the build compiled it) is compared with a worker subprocess that
runs the .py sources (NEWSWATCH_PURE_PYTHON=1): every Match field, on the golden
corpus (tests/test_match_golden.py) and on hypothesis-generated texts.

Skipped, with the reason shown, only where the build is pure Python; CI sets
NEWSWATCH_REQUIRE_COMPILED=1, which turns that skip into a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.matching.normalize
from bot.matching import compiled
from bot.matching.matcher import Matcher
from bot.models import Match
from tests.test_match_prefilter import ENTITIES
from tests.test_match_words import _ANY_TEXT

ROOT = Path(__file__).resolve().parent.parent
COMPILED = compiled.is_compiled(bot.matching.normalize)
REQUIRED = os.environ.get("NEWSWATCH_REQUIRE_COMPILED") == "1"

needs_compiled = pytest.mark.skipif(
    not COMPILED and not REQUIRED,
    reason=f"nothing to compare: this build's {compiled.status()}",
)

# The worker: the same matcher over the same watchlist, from the .py sources;
# one JSON request a line on stdin, one JSON answer a line on stdout.
WORKER = """
import json, sys
from bot.matching import compiled
from bot.matching.matcher import Matcher
from tests.test_match_prefilter import ENTITIES
from tests.test_matcher_compiled import golden_rows, rows
print(json.dumps(compiled.status()), flush=True)
matcher = Matcher(ENTITIES)
for line in sys.stdin:
    request = json.loads(line)
    if request == "golden":
        answer = golden_rows()
    else:
        answer = rows(matcher.match_text(*request))
    print(json.dumps(answer), flush=True)
"""


def rows(matches: list[Match]) -> list[list[Any]]:
    """Every field of every match, as JSON gives it back (floats round-trip exactly)."""
    out: list[list[Any]] = json.loads(json.dumps([list(astuple(m)) for m in matches]))
    return out


def golden_rows() -> list[list[Any]]:
    """Every match on the golden corpus (bench/match_speed.py, seed 7), all fields."""
    from tests import test_match_golden as golden

    bench: Any = golden._bench()
    drafts, vocab = bench.make_drafts(golden.SEED, golden.ITEMS)
    out: list[list[Any]] = []
    for size in golden.SIZES:
        entities = bench.make_watchlist(golden.SEED, size, vocab.all_words())
        matcher = Matcher(entities)
        for n, item in enumerate(bench.plant(drafts, entities, golden.SEED, size)):
            out.extend(
                [size, n, *row] for row in rows(matcher.match_text(item.title, item.summary))
            )
    return out


class PureWorker:
    def __init__(self) -> None:
        env = {**os.environ, compiled.PURE_ENV: "1", "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.status = json.loads(self.readline())

    def readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the pure-Python worker died (exit {self.proc.poll()})"
        return line

    def ask(self, request: object) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


@pytest.fixture(scope="module")
def pure() -> Iterator[PureWorker]:
    worker = PureWorker()
    try:
        yield worker
    finally:
        worker.close()


def test_the_matcher_is_compiled_where_required() -> None:
    """CI builds with a compiler: there the comparison below must run, never skip."""
    if REQUIRED:
        assert COMPILED, compiled.status()


@needs_compiled
def test_the_worker_runs_the_python_sources(pure: PureWorker) -> None:
    assert pure.status == f"matcher: pure Python ({compiled.PURE_ENV}=1)"
    assert compiled.status() == "matcher: compiled (mypyc)"


@needs_compiled
def test_golden_corpus_matches_are_identical(pure: PureWorker) -> None:
    from tests import test_match_golden as golden

    expected = pure.ask("golden")
    got = golden_rows()
    assert len(got) == len(expected) == len(golden.GOLDEN.read_text().splitlines())
    assert got == expected


_MATCHER = Matcher(ENTITIES)


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(st.tuples(_ANY_TEXT, _ANY_TEXT))
def test_generated_texts_match_identically(pure: PureWorker, texts: tuple[str, str]) -> None:
    assert rows(_MATCHER.match_text(*texts)) == pure.ask(list(texts))
