"""`in_turn`: how `once` polls every feed with a bounded number of tasks (bot/app_warmup.py)."""

from __future__ import annotations

import asyncio

import pytest

from bot.app_warmup import in_turn


async def test_every_item_once_results_in_order_at_most_at_once() -> None:
    running = 0
    most = 0
    seen: list[int] = []

    async def work(n: int) -> str:
        nonlocal running, most
        running += 1
        most = max(most, running)
        seen.append(n)
        for _ in range(n % 3):  # uneven lengths: turns finish out of order
            await asyncio.sleep(0)
        running -= 1
        return f"r{n}"

    results = await in_turn(list(range(25)), work, 4)
    assert results == [f"r{n}" for n in range(25)]
    assert sorted(seen) == list(range(25))
    assert most == 4


async def test_fewer_items_than_turns_and_none() -> None:
    async def work(n: int) -> int:
        return n * 2

    assert await in_turn([1, 2], work, 100) == [2, 4]
    assert await in_turn([], work, 100) == []


async def test_an_error_comes_out_and_the_other_items_are_still_done() -> None:
    done: list[int] = []

    async def work(n: int) -> int:
        await asyncio.sleep(0)
        if n == 3:
            raise ValueError("feed 3")
        done.append(n)
        return n

    with pytest.raises(ValueError, match="feed 3"):
        await in_turn(list(range(10)), work, 2)
    for _ in range(20):  # the other turn goes on with the remaining items
        await asyncio.sleep(0)
    assert sorted(done) == [n for n in range(10) if n != 3]
