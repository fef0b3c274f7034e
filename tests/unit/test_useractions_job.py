"""The useractions job's rules (checkpoint advance, lock naming, settings) and the enricher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from harvester.errors import ConfigError
from harvester.jobs.useractions import UserActionsSettings, Window, advance, lock_name
from harvester.sources.opencast.useractions import EpisodeEnricher, FetchStats
from harvester.state.cache import MemoryCache
from harvester.state.checkpoint import CompactTime, TypedCheckpoint

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
WINDOW = Window(datetime(2026, 11, 24, 11, 0, tzinfo=UTC), datetime(2026, 11, 24, 11, 30, tzinfo=UTC),
                "checkpoint")


class Store:
    description = "memory://checkpoint"

    def __init__(self, value: str | None = None):
        self.value = value
        self.writes: list[str] = []

    def read(self) -> str | None:
        return self.value

    def write(self, value: str) -> None:
        self.value = value
        self.writes.append(value)


def typed(value: str | None = None, tz=UTC) -> tuple[TypedCheckpoint[datetime], Store]:
    store = Store(value)
    return TypedCheckpoint(store, CompactTime(tz)), store


def test_the_checkpoint_moves_to_the_newest_delivered_action_without_its_fraction():
    cp, store = typed()
    moved = advance(cp, None, "2026-11-24T11:12:13.750Z", WINDOW, NOW, "UTC")
    assert store.writes == ["20261124111213"] and moved == "-> 20261124111213"


def test_with_nothing_delivered_the_checkpoint_moves_to_the_window_end():
    cp, store = typed()
    advance(cp, None, None, WINDOW, NOW, "UTC")
    assert store.writes == ["20261124113000"]


def test_the_checkpoint_never_moves_into_the_future():
    future = Window(WINDOW.start, NOW + timedelta(days=2), "option")
    cp, store = typed()
    advance(cp, None, None, future, NOW, "UTC")
    assert store.writes == ["20261124120000"]


def test_a_backfill_of_an_older_window_keeps_the_cron_runs_place():
    cp, store = typed("20261124115900")
    previous = cp.read()
    moved = advance(cp, previous, "2026-11-20T10:00:00Z", WINDOW, NOW, "UTC")
    assert store.writes == [] and moved.startswith("kept at 20261124115900")


def test_a_zoned_checkpoint_is_written_in_its_zone_and_the_summary_names_both():
    eastern = timezone(timedelta(hours=-5))
    cp, store = typed(tz=eastern)
    moved = advance(cp, None, "2026-11-24T11:12:13Z", WINDOW, NOW, "-05:00")
    assert store.writes == ["20261124061213"]
    assert moved == "-> 20261124061213 (-05:00, 2026-11-24T11:12:13Z)"


def test_each_s3_checkpoint_has_its_own_lock():
    assert lock_name(None, None) == "useractions"
    assert lock_name("b", "k1") != lock_name("b", "k2")
    assert lock_name("b", None) == "useractions"  # a bucket alone means the local checkpoint


def _options(**over):
    opts = dict(engage_host="engage.example.edu", user="u", password="secret-pw", output="-", start=None,
                end=None, interval=2, batch_size=1000, wait=1.0, queue_name=None, archive=None,
                span_check=True, update_last_ts=False)
    opts.update(over)
    return opts


def test_settings_come_from_the_registry_once(monkeypatch):
    for name in ("REDIS_URL", "CHECKPOINT_TZ", "EPISODE_CACHE_EXPIRE", "MAX_START_END_SPAN",
                 "OPENCAST_LOOKUP_CONCURRENCY", "OPENCAST_AUTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EPISODE_CACHE_EXPIRE", "60")
    s = UserActionsSettings.from_options(**_options())
    assert s.cache_ttl == 60 and s.lookup_concurrency == 4 and s.checkpoint_tz == "UTC"
    assert s.opencast.auth == "digest" and s.opencast.host == "engage.example.edu"
    assert UserActionsSettings.from_options(**_options(span_check=False)).max_span is None


@pytest.mark.parametrize("name, value, expected", [
    ("REDIS_URL", "http://redis.example:6379", "REDIS_URL"),
    ("CHECKPOINT_TZ", "Mars/Olympus", "CHECKPOINT_TZ"),
    ("OPENCAST_AUTH", "kerberos", "OPENCAST_AUTH"),
])
def test_bad_settings_are_config_errors_naming_the_setting(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=expected) as exc:
        UserActionsSettings.from_options(**_options())
    assert "secret-pw" not in str(exc.value)


class FakeClient:
    def __init__(self, known: dict[str, dict]):
        self.known = known
        self.searched: list[str] = []

    def search_episode(self, mpid: str) -> list[dict]:
        self.searched.append(mpid)
        return [self.known[mpid]] if mpid in self.known else []


EPISODE = {"mediapackage": {"title": "Lecture 1", "duration": 3600000, "series": "20261234567",
                            "seriestitle": "CS 50", "start": "2026-11-20T10:00:00Z"}}


@pytest.mark.parametrize("concurrency", [1, 4])
def test_each_distinct_episode_is_looked_up_once_then_served_from_the_cache(concurrency):
    client, stats = FakeClient({"mp-1": EPISODE}), FetchStats()
    enricher = EpisodeEnricher(client, MemoryCache(), ttl=600, stats=stats, concurrency=concurrency)
    try:
        first = enricher.enrich([{"mpid": "mp-1"}, {"mpid": "mp-1"}, {"mpid": "gone"}, {"mpid": None}])
        enricher.enrich([{"mpid": "mp-1"}, {"mpid": "gone"}])
    finally:
        enricher.close()
    assert sorted(client.searched) == ["gone", "mp-1"]  # the unknown one is cached too
    assert first[0]["episode"]["title"] == "Lecture 1" and first[0]["episode"]["course"] == "CS 50"
    assert first[2]["episode"] is None and first[3]["episode"] is None
    assert stats.episode_lookups == 2 and stats.cache_hits == 2 and stats.unknown_episodes == 3
