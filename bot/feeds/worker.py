"""One parser process, reached through a socket pair: a lane of bot/feeds/parse.py's pool.

Why not a one-process `concurrent.futures.ProcessPoolExecutor` (what a lane was): each
document handed to one went through two threads of the bot (the executor's manager,
which moves it to a queue, and the queue's feeder, which pickles and writes it) and came
back through the manager, a wake-up of another thread at every step. That cost the bot
about 0.42 ms of CPU a document against 0.20 ms here (bench/parser_handoff.py), where
the event loop writes the request to the worker's socket and waits for the answer on
the same socket; a `once` at 1,000 feeds with a tenth changed spends 0.095 CPU-s less
(bench/pipeline_ab.py). No threads, no queues: a worker parses one document at a time,
and the pool hands a worker one document at a time.

Framing: an 8-byte length, then a pickle of (function, arguments) one way and of
(True, result) or (False, exception) the other; a length of 0 tells the worker to
exit. A worker that dies (memory limit, killed) closes its end: the bot reads
end-of-file and raises `WorkerDied`.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import pickle
import socket
import struct
from collections.abc import Callable
from typing import Any

_LENGTH = struct.Struct("!Q")
_STOP = _LENGTH.pack(0)  # an empty message: the bot is done with this worker

# The bot's ends of its workers' sockets. A forked worker inherits every descriptor of
# the bot, these included, and closes them first thing: a worker holding a copy of
# another worker's (or its own) bot-side end would keep that socket open after the bot
# closed it, and the worker on the other side would never see its end-of-file.
_BOT_ENDS: set[int] = set()


class WorkerDied(Exception):
    """The worker process ended (killed, or over its memory limit) before it answered."""


class Worker:
    """A worker process (`start`); `call` runs a function there.

    One call at a time: the pool gives a worker to one document at a time. A call that
    is cancelled (a deadline) leaves the socket mid-message, so such a worker must be
    killed, never reused (the pool does).
    """

    def __init__(self, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
        self._initializer = initializer
        self._initargs = initargs
        self.process: multiprocessing.process.BaseProcess | None = None
        self._sock: socket.socket | None = None
        self.busy = 0  # calls in flight: never more than one

    @property
    def started(self) -> bool:
        return self.process is not None

    def start(self) -> None:
        """Start the process (a fork with Linux's default start method)."""
        ours, theirs = socket.socketpair()
        _BOT_ENDS.add(ours.fileno())
        process = multiprocessing.get_context().Process(
            target=_serve,
            args=(theirs, self._initializer, self._initargs),
            name="newswatch-parser",
            daemon=True,
        )
        try:
            process.start()
        except BaseException:
            _BOT_ENDS.discard(ours.fileno())
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self.process, self._sock = process, ours

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` in the worker; its exception is raised here as it was there."""
        sock = self._sock
        if sock is None:
            raise WorkerDied("the worker process is not running")
        if self.busy:  # two calls would interleave their messages on the socket
            raise RuntimeError("a parser worker was given a second document at once")
        loop = asyncio.get_running_loop()
        request = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
        self.busy += 1
        try:
            await loop.sock_sendall(sock, _LENGTH.pack(len(request)) + request)
            (length,) = _LENGTH.unpack(await _receive(loop, sock, _LENGTH.size))
            ok, value = pickle.loads(await _receive(loop, sock, length))
        except (ConnectionError, EOFError):
            raise WorkerDied("the worker process ended") from None
        finally:
            self.busy -= 1
        if ok:
            return value
        raise value

    def kill(self) -> None:
        """End the worker now, busy or not."""
        if self.process is not None and self.process.is_alive():
            self.process.kill()
        self._close_socket()

    def stop(self, grace: float) -> None:
        """End the worker: told to stop (an empty message), then its socket closed; killed
        if still busy after `grace` seconds. Blocking (the pool calls it from a thread).

        The message, not only the close: a process forked by someone else after this
        worker holds a copy of the bot's end, and the worker would not see the close.
        """
        if self._sock is not None:
            with contextlib.suppress(OSError):  # full or broken: the close, else the kill
                self._sock.send(_STOP)
        self._close_socket()
        if self.process is None:
            return
        self.process.join(grace)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(grace)

    def _close_socket(self) -> None:
        if self._sock is not None:
            _BOT_ENDS.discard(self._sock.fileno())
            self._sock.close()
            self._sock = None


async def _receive(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    """Exactly `size` bytes from the worker's socket; EOFError if it closed first."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = await loop.sock_recv_into(sock, view[got:])
        if n == 0:
            raise EOFError
        got += n
    return bytes(buffer)


def _receive_blocking(sock: socket.socket, size: int) -> bytes | None:
    """In the worker: exactly `size` bytes, or None once the bot closed its end."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            return None
        got += n
    return bytes(buffer)


def _serve(
    sock: socket.socket, initializer: Callable[..., None], initargs: tuple[Any, ...]
) -> None:
    """The worker's loop: read a call, run it, answer; return when the bot closes."""
    for fd in _BOT_ENDS:  # inherited through the fork (see _BOT_ENDS)
        with contextlib.suppress(OSError):
            os.close(fd)
    _BOT_ENDS.clear()
    initializer(*initargs)
    with sock:
        while True:
            head = _receive_blocking(sock, _LENGTH.size)
            if head is None or head == _STOP:
                return
            body = _receive_blocking(sock, _LENGTH.unpack(head)[0])
            if body is None:
                return
            try:
                fn, args = pickle.loads(body)
                answer = pickle.dumps((True, fn(*args)), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as e:  # sent back as it is, MemoryError included
                answer = _pickled_error(e)
            try:
                sock.sendall(_LENGTH.pack(len(answer)) + answer)
            except OSError:  # the bot went away (or killed this document's deadline)
                return


def _pickled_error(e: BaseException) -> bytes:
    """The exception as the bot will raise it; one that does not pickle, described."""
    try:
        return pickle.dumps((False, e), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return pickle.dumps((False, RuntimeError(f"{type(e).__name__}: {e}")))
