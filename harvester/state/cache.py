"""The episode cache: Redis when configured (shared across runs), else in-process.

Lookups are batched: one pipelined round trip reads every distinct mpid of a batch. An
episode that does not exist is cached too (as null, for a shorter time) so that a deleted
episode does not cost one search request per action. When Redis fails, the cache warns once
and continues in memory: enrichment must never be the reason a harvest fails.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("harvester.cache")

MISS = object()
KEY_PREFIX = "harvester:episode:"


class MemoryCache:
    description = "memory"

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, Any]] = {}

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        now = time.monotonic()
        out = {}
        for key in keys:
            hit = self._data.get(key)
            if hit is not None and hit[0] > now:
                out[key] = hit[1]
        return out

    def set_many(self, values: dict[str, Any], ttl: int, missing_ttl: int) -> None:
        now = time.monotonic()
        for key, value in values.items():
            seconds = missing_ttl if value is None else ttl
            if seconds > 0:
                self._data[key] = (now + seconds, value)


class RedisCache:
    """Redis with a graceful fall-back to memory on the first error."""

    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        self._fallback: MemoryCache | None = None
        self.description = "redis"

    def _degrade(self, exc: Exception) -> MemoryCache:
        if self._fallback is None:
            log.warning("Redis unreachable (%s); continuing without the shared episode cache",
                        type(exc).__name__)
            self._fallback = MemoryCache()
            self.description = "memory (redis unreachable)"
        return self._fallback

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        keys = list(keys)
        if self._fallback is not None:
            return self._fallback.get_many(keys)
        import redis

        try:
            raw = self._redis.mget([KEY_PREFIX + k for k in keys]) if keys else []
        except redis.RedisError as exc:
            return self._degrade(exc).get_many(keys)
        out = {}
        for key, value in zip(keys, raw, strict=True):
            if value is not None:
                try:
                    out[key] = json.loads(value)
                except ValueError:
                    continue  # a corrupt entry is a miss
        return out

    def set_many(self, values: dict[str, Any], ttl: int, missing_ttl: int) -> None:
        if self._fallback is not None:
            self._fallback.set_many(values, ttl, missing_ttl)
            return
        import redis

        try:
            pipe = self._redis.pipeline(transaction=False)
            for key, value in values.items():
                seconds = missing_ttl if value is None else ttl
                if seconds > 0:
                    pipe.set(KEY_PREFIX + key, json.dumps(value), ex=seconds)
            pipe.execute()
        except redis.RedisError as exc:
            self._degrade(exc).set_many(values, ttl, missing_ttl)


def open_cache(redis_url: str | None) -> MemoryCache | RedisCache:
    return RedisCache(redis_url) if redis_url else MemoryCache()
