"""The parser pool's worker process (bot/feeds/worker.py), on real processes and sockets.

What the pool relies on: results and exceptions come back as they were, messages of
any size arrive whole, a worker that dies is reported (never waited on for ever), a
stopped worker exits, and a worker never takes two documents at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import pytest

from bot.errors import ParseError
from bot.feeds.worker import Worker, WorkerDied


def _nothing() -> None:
    """No initializer work."""


def _echo(data: bytes) -> bytes:
    return data[::-1]


def _fail() -> None:
    raise ParseError("https://feeds.example/x", "not an RSS/Atom feed")


class _Unpicklable(Exception):
    def __init__(self, handle: object) -> None:
        super().__init__("with a handle")
        self.handle = handle

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("cannot pickle this")


def _fail_unpicklably() -> None:
    raise _Unpicklable(object())


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture
def worker() -> Iterator[Worker]:
    w = Worker(_nothing, ())
    w.start()
    try:
        yield w
    finally:
        w.stop(5)


async def test_results_of_any_size_come_back_whole(worker: Worker) -> None:
    # Around the socket buffer sizes and far beyond them: partial reads and writes.
    for size in (0, 1, 7, 8, 65_535, 65_536, 212_993, 3_000_001):
        data = os.urandom(size)
        assert await worker.call(_echo, data) == data[::-1]


async def test_an_exception_in_the_worker_is_raised_in_the_bot(worker: Worker) -> None:
    with pytest.raises(ParseError, match="not an RSS/Atom feed"):
        await worker.call(_fail)
    with pytest.raises(RuntimeError, match="_Unpicklable: with a handle"):
        await worker.call(_fail_unpicklably)
    assert await worker.call(_echo, b"still serving") == b"gnivres llits"


async def test_a_worker_that_dies_is_reported(worker: Worker) -> None:
    with pytest.raises(WorkerDied):
        await worker.call(_die)


async def test_a_killed_worker_is_reported_to_its_waiting_call(worker: Worker) -> None:
    call = asyncio.ensure_future(worker.call(_sleep, 60))
    for _ in range(5):
        await asyncio.sleep(0)  # the request is on its way
    assert worker.process is not None
    worker.process.kill()
    with pytest.raises(WorkerDied):
        await call


async def test_a_worker_takes_one_document_at_a_time(worker: Worker) -> None:
    first = asyncio.ensure_future(worker.call(_sleep, 0.2))
    for _ in range(5):
        await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="second document"):
        await worker.call(_echo, b"x")
    await first
    assert worker.busy == 0


def test_a_stopped_worker_exits_on_its_own() -> None:
    w = Worker(_nothing, ())
    w.start()
    assert asyncio.run(w.call(_echo, b"ab")) == b"ba"
    w.stop(30)
    assert w.process is not None and w.process.exitcode == 0  # not killed: it saw the close


def test_a_worker_exits_on_its_own_though_a_later_worker_was_forked_beside_it() -> None:
    """The later worker inherited the bot's end of the first one's socket; it must not
    keep that socket open (the first would then wait for ever and be killed)."""
    first, second = Worker(_nothing, ()), Worker(_nothing, ())
    first.start()
    second.start()
    try:
        assert asyncio.run(second.call(_echo, b"ab")) == b"ba"
        first.stop(30)
        assert first.process is not None and first.process.exitcode == 0
    finally:
        second.stop(30)
    assert second.process is not None and second.process.exitcode == 0


def test_a_worker_stops_though_another_process_holds_a_copy_of_the_bots_end() -> None:
    """A process forked by other code after the worker started (here a plain fork that
    just waits) keeps the bot's end of the socket open: the worker must still exit."""
    import multiprocessing

    w = Worker(_nothing, ())
    w.start()
    bystander = multiprocessing.get_context("fork").Process(target=_sleep, args=(60,))
    bystander.start()
    try:
        w.stop(30)
        assert w.process is not None and w.process.exitcode == 0
    finally:
        bystander.kill()
        bystander.join()


def test_a_busy_worker_is_killed_when_it_does_not_stop_in_time() -> None:
    w = Worker(_nothing, ())
    w.start()

    async def start_a_long_call() -> None:
        call = asyncio.ensure_future(w.call(_sleep, 120))
        for _ in range(5):
            await asyncio.sleep(0)
        call.cancel()  # the bot gave up on it; the worker is still sleeping

    asyncio.run(start_a_long_call())
    w.stop(0.5)
    assert w.process is not None and w.process.exitcode == -signal.SIGKILL


async def test_a_worker_never_started_reports_itself_dead() -> None:
    with pytest.raises(WorkerDied):
        await Worker(_nothing, ()).call(_echo, b"x")
