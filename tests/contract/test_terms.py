"""Contract: terms — chat terms, removed file aliases, mutes."""

from __future__ import annotations

from datetime import timedelta

from bot.models import ChatTerm
from bot.storage.terms import TermStore
from tests.contract.conftest import NOW


async def test_chat_terms_keep_their_order_and_are_added_once(store: TermStore) -> None:
    a, b = ChatTerm("iskp", "Wilayat Khurasan", "group"), ChatTerm("kabul", "Kabol", "region")
    assert await store.add_chat_term(a, "ana", NOW)
    assert await store.add_chat_term(b, "bo", NOW)
    assert not await store.add_chat_term(a, "bo", NOW + timedelta(seconds=1))
    assert await store.chat_terms() == [a, b]
    assert await store.remove_chat_term("iskp", "Wilayat Khurasan")
    assert not await store.remove_chat_term("iskp", "Wilayat Khurasan")
    assert await store.chat_terms() == [b]


async def test_removed_file_terms_are_remembered_once(store: TermStore) -> None:
    await store.remove_file_term("iskp", "ISIS-K", "ana", NOW)
    await store.remove_file_term("iskp", "ISIS-K", "bo", NOW)
    assert await store.removed_terms() == [("iskp", "ISIS-K")]


async def test_a_mute_is_set_replaced_and_cleared(store: TermStore) -> None:
    until = NOW + timedelta(hours=2)
    await store.set_mute("iskp", until, "ana", NOW)
    await store.set_mute("ttp", None, "ana", NOW)
    assert await store.mutes() == {"iskp": until, "ttp": None}
    await store.set_mute("iskp", None, "bo", NOW)
    assert await store.mutes() == {"iskp": None, "ttp": None}
    assert await store.clear_mute("iskp")
    assert not await store.clear_mute("iskp")
    assert await store.mutes() == {"ttp": None}
