"""The ``limits`` storage behind the SCIM rate limit and the sign-in budgets."""

from __future__ import annotations

import time
import typing as t

from limits.storage import MemoryStorage
from limits.storage import Storage
from limits.storage import storage_from_string


class ProcessMemoryStorage(MemoryStorage):
    """``memory://`` counters without a timer thread every few requests.

    limits' own memory storage starts a ``threading.Timer`` (10 ms) on each
    hit once the previous timer has run, to drop expired counters: under
    steady traffic, a new thread every few requests, whose start costs
    0.2-0.8 ms on a busy 2-core machine (measured on the SCIM lookup). The
    fixed windows used here need no timer: :meth:`get` drops an expired
    counter when it is next read, and :meth:`incr` sweeps the others, at most
    once a second, inline. Counts per process, as ``memory://`` always does.
    Not for moving windows (their events still rely on the parent's timer).
    """

    #: Seconds between two sweeps of expired counters.
    SWEEP_EVERY = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.timer.cancel()
        self._swept = time.monotonic()

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        self.get(key)
        self._sweep()
        with self.locks[key]:
            self.storage[key] += amount
            if self.storage[key] == amount:
                self.expirations[key] = time.time() + expiry
        return self.storage.get(key, 0)

    def _sweep(self) -> None:
        now = time.monotonic()
        if now - self._swept < self.SWEEP_EVERY:
            return
        self._swept = now
        wall = time.time()
        for key, until in list(self.expirations.items()):
            if until <= wall:
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
                self.locks.pop(key, None)


def rate_storage(url: str) -> Storage:
    """The storage for ``url``: :class:`ProcessMemoryStorage` for ``memory://``, else
    what ``limits`` makes of it (``redis://...``: shared by every process and host)."""
    if url.split("://", 1)[0] == "memory":
        return ProcessMemoryStorage(url)
    return t.cast(Storage, storage_from_string(url))
