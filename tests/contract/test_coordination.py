"""Contract: coordination — what every engine's locks and announcements promise one instance.

Whether a second instance is kept out is engine-specific (SQLite never has
one: bot/storage/runlock.py); the PostgreSQL engine's own tests cover that.
"""

from __future__ import annotations

from bot.storage.base import Storage
from bot.storage.coordination import OUTBOX_CHANGED, TERMS_CHANGED
from tests.contract.conftest import Engine


async def test_shared_says_whether_other_instances_may_run(
    store: Storage, storage_engine: Engine
) -> None:
    assert store.shared is (storage_engine.name != "sqlite")


async def test_a_free_lock_is_taken_and_held_and_taking_it_again_keeps_it(store: Storage) -> None:
    assert await store.try_lock("listener")
    assert await store.holds_lock("listener")
    assert await store.try_lock("listener")  # already this process's
    assert await store.try_lock("channel:discord:123")  # locks are independent
    assert await store.holds_lock("listener")
    assert await store.holds_lock("channel:discord:123")


async def test_an_unlocked_lock_can_be_taken_again(store: Storage) -> None:
    assert await store.try_lock("channel:slack:C1")
    await store.unlock("channel:slack:C1")
    await store.unlock("channel:slack:C1")  # not held: nothing happens
    await store.unlock("never-taken")
    assert await store.try_lock("channel:slack:C1")
    assert await store.holds_lock("channel:slack:C1")


async def test_subscribing_to_each_topic_is_accepted(store: Storage) -> None:
    heard: list[str] = []
    store.subscribe(OUTBOX_CHANGED, lambda: heard.append(OUTBOX_CHANGED))
    store.subscribe(TERMS_CHANGED, lambda: heard.append(TERMS_CHANGED))
    # Nothing else wrote: nothing is announced (a missed hint is never relied on).
    assert heard == []
