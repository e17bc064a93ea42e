"""A cache of results by the texts they were worked out from, bounded by the characters of
those texts (the results hold about as much again): least recently used first out, safe
to share between threads (the daemon's polls and the web server's requests)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

V = TypeVar("V")


class TextCache(Generic[V]):
    """Values by keys made of texts; ``size`` of an entry: the characters of its texts."""

    def __init__(self, max_chars: int, largest_share: int):
        self.max_chars = max_chars
        # One entry larger than max_chars // largest_share is not kept: it would push out
        # the rest.
        self.largest_share = largest_share
        self.chars = 0
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: V, size: int) -> None:
        if size > self.max_chars // self.largest_share:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = (value, size)
            self.chars += size
            while self.chars > self.max_chars:
                _, (_, gone) = self._entries.popitem(last=False)
                self.chars -= gone

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.chars = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._entries))
