"""The explorer's store (paramembed.app.explorer_store): one computation per key, prefetches that a get() waits for."""

from __future__ import annotations

import threading
import time

from paramembed.app.explorer_store import Store


def test_a_value_is_computed_once_and_the_oldest_forgotten():
    store, calls = Store(2), []
    for key in ("a", "a", "b", "c", "a"):
        store.get(key, lambda key=key: calls.append(key) or key.upper())
    assert calls == ["a", "b", "c", "a"]  # "a" was forgotten when "c" came (limit 2)
    assert "a" in store and "c" in store and "b" not in store


def test_a_get_waits_for_the_prefetch_of_its_key_instead_of_computing_again():
    store, calls, release = Store(4), [], threading.Event()

    def slow():
        calls.append("prefetch")
        release.wait(10)
        return 42

    assert store.prefetch("tsne", slow)
    assert not store.prefetch("tsne", slow)  # under way: not started twice
    got = []
    waiter = threading.Thread(target=lambda: got.append(store.get("tsne", lambda: calls.append("again") or 0)))
    waiter.start()
    time.sleep(0.1)
    assert got == []  # still waiting for the prefetch
    release.set()
    waiter.join(10)
    assert got == [42] and calls == ["prefetch"]
    assert not store.prefetch("tsne", slow)  # cached now


def test_a_failed_prefetch_leaves_nothing_and_the_get_computes_it_itself():
    store = Store(4)

    def broken():
        raise ValueError("no")

    assert store.prefetch("k", broken)
    deadline = time.time() + 10
    while store.running and time.time() < deadline:
        time.sleep(0.01)
    assert store.get("k", lambda: "computed here") == "computed here"
