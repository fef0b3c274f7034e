"""The episode cache and the checkpoint stores: what a run keeps between runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import boto3
import pytest

from harvester.errors import CorruptCheckpoint, ServiceError
from harvester.state.cache import KEY_PREFIX, MemoryCache, RedisCache, open_cache
from harvester.state.checkpoint import (
    CompactTime,
    Day,
    LocalCheckpoint,
    PollState,
    PollStateJson,
    S3Checkpoint,
    TypedCheckpoint,
    open_checkpoint,
)

# -- cache ------------------------------------------------------------------------------------


def test_memory_cache_keeps_values_and_unknown_episodes_for_their_own_ttls(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("harvester.state.cache.time.monotonic", lambda: clock[0])
    cache = MemoryCache()
    cache.set_many({"known": {"title": "Lecture 1"}, "gone": None}, ttl=60, missing_ttl=5)
    assert cache.get_many(["known", "gone", "never"]) == {"known": {"title": "Lecture 1"}, "gone": None}
    clock[0] += 6
    assert cache.get_many(["known", "gone"]) == {"known": {"title": "Lecture 1"}}
    clock[0] += 60
    assert cache.get_many(["known"]) == {}


def test_a_zero_ttl_stores_nothing():
    cache = MemoryCache()
    cache.set_many({"a": {"x": 1}, "b": None}, ttl=0, missing_ttl=0)
    assert cache.get_many(["a", "b"]) == {}


def test_redis_cache_round_trip_with_expiry(redis_url):
    import redis

    cache = open_cache(redis_url)
    assert isinstance(cache, RedisCache) and cache.description == "redis"
    cache.set_many({"mp1": {"title": "T"}, "mp2": None}, ttl=120, missing_ttl=7)
    assert cache.get_many(["mp1", "mp2", "mp3"]) == {"mp1": {"title": "T"}, "mp2": None}
    raw = redis.Redis.from_url(redis_url)
    assert 0 < raw.ttl(KEY_PREFIX + "mp1") <= 120 and 0 < raw.ttl(KEY_PREFIX + "mp2") <= 7
    raw.set(KEY_PREFIX + "corrupt", b"{not json")
    assert cache.get_many(["corrupt"]) == {}  # a corrupt entry is a miss, not a failure


def test_redis_down_degrades_once_to_memory():
    import logging

    from tests.conftest import free_port

    class Keep(logging.Handler):
        def __init__(self):
            super().__init__(logging.WARNING)
            self.messages: list[str] = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    keep = Keep()
    logger = logging.getLogger("harvester.cache")  # the CLI's log set-up may stop propagation
    logger.addHandler(keep)
    try:
        cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0")
        assert cache.get_many(["a"]) == {}
        cache.set_many({"a": {"t": 1}}, ttl=60, missing_ttl=5)
        assert cache.get_many(["a"]) == {"a": {"t": 1}}
    finally:
        logger.removeHandler(keep)
    assert cache.description == "memory (redis unreachable)"
    assert sum("Redis unreachable" in m for m in keep.messages) == 1


def test_no_redis_url_means_memory():
    assert isinstance(open_cache(None), MemoryCache)


# -- checkpoints ------------------------------------------------------------------------------


def test_local_checkpoint_absent_then_written_atomically(tmp_path):
    cp = LocalCheckpoint(tmp_path / "state" / "useractions")
    assert cp.read() is None
    cp.write("20261123140158")
    assert cp.read() == "20261123140158"
    cp.write("20261123140400")
    assert cp.read() == "20261123140400"
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["useractions"]  # no temp files left


def test_an_empty_checkpoint_file_reads_as_none(tmp_path):
    (tmp_path / "cp").write_text("  \n")
    assert LocalCheckpoint(tmp_path / "cp").read() is None


def test_an_unwritable_checkpoint_is_a_service_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ServiceError, match="cannot write"):
        LocalCheckpoint(blocker / "cp").write("1")


def test_open_checkpoint_picks_s3_only_with_bucket_and_key(monkeypatch, tmp_path):
    monkeypatch.setenv("HARVEST_STATE_DIR", str(tmp_path))
    assert isinstance(open_checkpoint("zoom", s3_bucket="b", s3_key="k"), S3Checkpoint)
    local = open_checkpoint("zoom", s3_bucket="b")
    assert isinstance(local, LocalCheckpoint) and local.path == tmp_path / "zoom"


def test_s3_checkpoint_keeps_the_original_bare_object(aws):
    cp = S3Checkpoint("harvest-ts", "last-action-ts")
    assert cp.read() is None  # neither bucket nor key yet
    cp.write("20261123140158")  # creates the bucket on first write
    body = boto3.client("s3").get_object(Bucket="harvest-ts", Key="last-action-ts")["Body"].read()
    assert body == b"20261123140158" and cp.read() == "20261123140158"


def test_s3_unreachable_is_a_service_error_naming_s3(monkeypatch):
    from tests.conftest import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HARVEST_RETRY_ATTEMPTS", "1")
    with pytest.raises(ServiceError, match="S3"):
        S3Checkpoint("b", "k").read()


# -- checkpoint formats: one error, one exit code --------------------------------------------

@pytest.mark.parametrize("fmt, good, value", [
    (CompactTime(), "20261101123000", datetime(2026, 11, 1, 12, 30, tzinfo=UTC)),
    (CompactTime(timezone(timedelta(hours=-4))), "20261101083000", datetime(2026, 11, 1, 12, 30, tzinfo=UTC)),
    (Day(), "2026-11-20", date(2026, 11, 20)),
])
def test_formats_round_trip(tmp_path, fmt, good, value):
    cp = TypedCheckpoint(LocalCheckpoint(tmp_path / "cp"), fmt)
    assert cp.read() is None
    assert cp.write(value) == good
    assert cp.read() == value and cp.raw == good


def test_poll_state_round_trips_and_reads_a_bare_time(tmp_path):
    cp = TypedCheckpoint(LocalCheckpoint(tmp_path / "mc"), PollStateJson())
    state = PollState(datetime(2026, 11, 1, tzinfo=UTC), {"j1": {"frames_decoded": 5}}, ["j0"])
    cp.write(state)
    assert cp.read() == state
    (tmp_path / "mc").write_text("2026-11-02T10:00:00Z")
    assert cp.read() == PollState(datetime(2026, 11, 2, 10, tzinfo=UTC), {}, [])


@pytest.mark.parametrize("fmt, bad", [
    (CompactTime(), "2026-11-01"), (Day(), "2026-13-01"), (PollStateJson(), '{"last_poll": 7'),
    (PollStateJson(), '{"active": 3}'), (PollStateJson(), "[1, 2]"),
])
def test_every_unreadable_checkpoint_is_one_error_with_exit_2(tmp_path, fmt, bad):
    (tmp_path / "cp").write_text(bad)
    cp = TypedCheckpoint(LocalCheckpoint(tmp_path / "cp"), fmt)
    with pytest.raises(CorruptCheckpoint) as caught:
        cp.read()
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert str(tmp_path / "cp") in message and fmt.expected in message and fmt.remedy in message
