"""One run at a time per checkpoint: a Redis lock when Redis is configured, else a file lock.

This replaces `run-one` in cron lines. The file lock is an flock, released by the kernel
even when the process is SIGKILLed. The Redis lock has a TTL renewed by a background thread
while the run is alive, so a killed run frees the lock within one TTL.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import uuid
from collections.abc import Iterator

from harvester.errors import SkippedRun
from harvester.state.checkpoint import state_dir

log = logging.getLogger("harvester.lock")

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end
return 0
"""


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


@contextlib.contextmanager
def file_lock(name: str) -> Iterator[None]:
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{_safe(name)}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SkippedRun(f"another {name} run holds the lock {path}; skipping this run") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def redis_lock(name: str, redis_url: str, ttl: int = 120) -> Iterator[None]:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    key = f"harvester:lock:{name}"
    token = uuid.uuid4().hex
    if not client.set(key, token, nx=True, ex=ttl):
        raise SkippedRun(f"another {name} run holds the Redis lock {key}; skipping this run")
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(ttl / 3):
            try:
                client.eval(_EXTEND, 1, key, token, ttl)
            except redis.RedisError:
                log.warning("could not renew the run lock in Redis; continuing")

    thread = threading.Thread(target=renew, name="lock-renew", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(redis.RedisError):
            client.eval(_RELEASE, 1, key, token)


@contextlib.contextmanager
def run_lock(name: str, redis_url: str | None) -> Iterator[None]:
    """Hold the run lock for `name`; raises SkippedRun (exit 3) when another run holds it.

    Redis unreachable: fall back to the file lock (still one run per host) with a warning.
    """
    if redis_url:
        import redis

        try:
            cm = redis_lock(name, redis_url)
            cm.__enter__()
        except redis.RedisError as exc:
            log.warning("Redis unreachable for the run lock (%s); using a file lock instead",
                        type(exc).__name__)
        else:
            try:
                yield
            except BaseException as exc:
                cm.__exit__(type(exc), exc, exc.__traceback__)
                raise
            else:
                cm.__exit__(None, None, None)
            return
    with file_lock(name):
        yield
