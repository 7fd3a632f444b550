"""The explorer's process-wide results (feature banks, embeddings, projections), and work done ahead.

    store = Store(12)                       # one per process (pages/explorer.py keeps it in st.cache_resource)
    xy = store.get(key, compute)            # computed once per key, by whichever session asks first
    store.prefetch(key, compute)            # the same, in a background thread; a later get() waits for it

Keys hold everything that made a value (model, data, classes, shots, seed, projection...), so
sessions share them. A key being computed is computed once: a second session, or the click a
prefetch anticipated, waits for that computation instead of repeating it.

Why prefetch: the first t-SNE of a process imports scikit-learn (2-3 s on a busy 2-core machine)
and then fits (0.5 s for the default 80 points). The explorer opens on PCA; while the browser
draws that first chart (seconds of its own work, on the other core), the server is idle, so the
page asks for the t-SNE of the same points then, and a switch to t-SNE finds it done or under way.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Hashable, TypeVar

from paramembed.data.cache import LRU

V = TypeVar("V")
log = logging.getLogger(__name__)


class Store:
    """A bounded LRU of computed values, each key computed at most once at a time."""

    def __init__(self, limit: int):
        self.values = LRU(limit)
        self.lock = threading.Lock()
        self.running: dict[Hashable, threading.Event] = {}  # key -> set when its computation ends

    def __contains__(self, key: Hashable) -> bool:
        with self.lock:
            return key in self.values

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The value for `key`: cached, being computed (waited for), or computed now (outside the lock:
        other keys' hits need not wait for this work)."""
        while True:
            with self.lock:
                if key in self.values:
                    self.values.move_to_end(key)
                    return self.values[key]
                done = self.running.get(key)
                if done is None:
                    done = self.running[key] = threading.Event()
                    break
            done.wait()  # another thread computes it; then look again (a failed one left nothing: computed here)
        return self._compute(key, compute, done)

    def prefetch(self, key: Hashable, compute: Callable[[], V]) -> bool:
        """Start computing `key` in a background thread unless it is cached or under way; whether it started."""
        with self.lock:
            if key in self.values or key in self.running:
                return False
            done = self.running[key] = threading.Event()
        threading.Thread(target=self._background, args=(key, compute, done), name="paramembed-prefetch",
                         daemon=True).start()
        return True

    def _background(self, key: Hashable, compute: Callable[[], V], done: threading.Event) -> None:
        try:
            self._compute(key, compute, done)
        except Exception as err:  # noqa: BLE001  (a get() that wants it computes it again, and shows the error there)
            log.info("prefetch of %r failed: %s", key, err)

    def _compute(self, key: Hashable, compute: Callable[[], V], done: threading.Event) -> V:
        try:
            value = compute()
            with self.lock:
                self.values[key] = value
                if len(self.values) > self.values.limit:
                    self.values.popitem(last=False)
            return value
        finally:
            with self.lock:
                self.running.pop(key, None)
            done.set()
