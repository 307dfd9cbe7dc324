"""Per-key rate limits: a token bucket in Redis, so every API process draws from one bucket.

One script call per request; the bucket refills on the server's clock. A key over its
limit gets ``429`` with ``Retry-After`` (seconds until a token is there).
"""

from __future__ import annotations

import redis

from learnguard.service import scripts
from learnguard.service.keys import Keys


class RateLimiter:
    """Token buckets of API keys."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._take = client.register_script(scripts.TAKE_TOKEN)

    def take(self, key_id: str, per_second: float, burst: float) -> int:
        """Take one request's token; returns 0, or the milliseconds to wait for one."""
        return int(self._take(keys=[self.keys.rate(key_id)], args=[per_second, max(1.0, burst)]))
