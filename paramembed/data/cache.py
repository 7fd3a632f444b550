"""A bounded least-recently-used cache for rendered alphabets, characters and drawings."""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Hashable, TypeVar

import numpy as np

V = TypeVar("V")


class LRU(OrderedDict):
    """A mapping of at most `limit` entries that forgets the least recently used one."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit

    def get_or_make(self, key: Hashable, make: Callable[[], V]) -> V:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = make()
        self[key] = value
        if len(self) > self.limit:
            self.popitem(last=False)
        return value


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> 8-bit, 4x smaller in the cache; model inputs are 8-bit images anyway."""
    return (image * 255.0 + 0.5).astype(np.uint8)
