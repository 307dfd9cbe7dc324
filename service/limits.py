"""Per-key rate limits: a token bucket in Redis, so every API process draws from one bucket.

The bucket refills on the server's clock. A key over its limit gets ``429`` with
``Retry-After`` (seconds until a token is there).

Why tokens are taken a few at a time: a script call per request was one of the five round
trips of a score, and the event loop waits through each. A process takes up to
``LEASE_S`` seconds' worth of the key's rate at once (40 tokens for a platform key at
2,000/s; one at a time for keys limited to a few requests a second) and spends them
locally for at most ``LEASE_S``; tokens it did not spend by then are dropped, never
returned. So a key is never let through faster than its rate, and with N API processes
it may be refused a little early (at most N leases a ``LEASE_S`` go unspent).
"""

from __future__ import annotations

import time

import redis

from learnguard.service import scripts
from learnguard.service.keys import Keys

LEASE_S = 0.02


class RateLimiter:
    """Token buckets of API keys, with this process's unspent share of each."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._take = client.register_script(scripts.TAKE_TOKEN)
        self._held: dict[str, tuple[int, float]] = {}  # key id -> (tokens left, monotonic time they lapse)

    def take(self, key_id: str, per_second: float, burst: float) -> int:
        """Take one request's token; returns 0, or the milliseconds to wait for one."""
        left, lapses = self._held.get(key_id, (0, 0.0))
        now = time.monotonic()
        if left > 0 and now < lapses:
            self._held[key_id] = (left - 1, lapses)
            return 0
        wanted = max(1, min(int(per_second * LEASE_S), int(burst // 2)))
        granted, wait_ms = (int(x) for x in self._take(keys=[self.keys.rate(key_id)],
                                                         args=[per_second, max(1.0, burst), wanted]))
        if not granted:
            self._held.pop(key_id, None)
            return max(1, wait_ms)
        self._held[key_id] = (granted - 1, now + LEASE_S)
        return 0
