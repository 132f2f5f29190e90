"""Parser workers never outlive the bot, even when only its main process is SIGKILLed."""

from __future__ import annotations

import signal
from pathlib import Path

import psutil

from tests.botproc import BotProcess
from tests.test_process_lock import write_config


def test_workers_exit_when_the_main_process_is_sigkilled(tmp_path: Path) -> None:
    config = write_config(tmp_path, "ISKP claims attack")
    text = config.read_text().replace("parser_workers = 1", "parser_workers = 2")
    config.write_text(text)
    bot = BotProcess("run", "--config", str(config))
    try:
        bot.wait_for("claims attack", "out")  # a feed was parsed: the workers exist
        workers = psutil.Process(bot.pid).children(recursive=True)
        assert len(workers) >= 1
    finally:
        assert bot.stop(signal.SIGKILL) == -signal.SIGKILL  # the main pid only
    # Bounded: the kernel kills them at once; the fallback looks every second.
    _gone, alive = psutil.wait_procs(workers, timeout=20)
    assert alive == [], f"orphaned parser workers: {[p.pid for p in alive]}"


def test_parser_workers_are_clamped_to_a_sane_number() -> None:
    from bot.feeds.parse import MAX_PARSER_WORKERS, ParserPool

    assert ParserPool(workers=500).workers == MAX_PARSER_WORKERS
    assert ParserPool(workers=0).workers == 1
