"""Which days a run harvests, when the checkpoint moves, and the doctor's Zoom line."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from harvester.errors import ConfigError, CorruptCheckpoint, HarvestError
from harvester.jobs.zoom import Plan, RunResult, doctor_check, harvest, plan_days, routed, summary
from harvester.sinks.base import Sink
from harvester.sources.zoom.source import DayResult
from harvester.state.checkpoint import Day, TypedCheckpoint
from tests.standins.zoom import ZoomStandIn

TODAY = date(2026, 11, 24)


def d(n: int) -> date:
    return TODAY - timedelta(days=n)


def test_default_is_yesterday_without_checkpoint():
    assert plan_days(day=None, start=None, end=None, checkpoint=None, today=TODAY) == Plan([d(1)], False)


def test_cron_catches_up_from_the_checkpoint():
    plan = plan_days(day=None, start=None, end=None, checkpoint=d(4), today=TODAY)
    assert plan.days == [d(3), d(2), d(1)] and not plan.explicit


def test_nothing_to_do_when_the_checkpoint_is_yesterday():
    assert plan_days(day=None, start=None, end=None, checkpoint=d(1), today=TODAY).days == []


def test_a_checkpoint_older_than_zoom_keeps_starts_at_the_oldest_servable_day():
    plan = plan_days(day=None, start=None, end=None, checkpoint=date(2026, 1, 1), today=TODAY)
    assert plan.days[0] == date(2026, 5, 24) and plan.days[-1] == d(1)
    assert "can no longer be harvested" in plan.note


def test_backfill_range_is_inclusive_and_end_defaults_to_yesterday():
    assert plan_days(day=None, start=d(3), end=d(2), checkpoint=None, today=TODAY).days == [d(3), d(2)]
    assert plan_days(day=None, start=d(2), end=None, checkpoint=None, today=TODAY).days == [d(2), d(1)]
    assert plan_days(day=d(0), start=None, end=None, checkpoint=None, today=TODAY).days == [TODAY]


@pytest.mark.parametrize("kwargs, message", [
    ({"day": date(2026, 5, 23)}, "older than six months"),
    ({"day": d(-1)}, "in the future"),
    ({"start": d(2), "end": d(3)}, "after the end date"),
    ({"day": d(1), "start": d(2)}, "cannot be combined"),
    ({"end": d(2)}, "needs --start-date"),
])
def test_impossible_requests_are_usage_errors(kwargs, message):
    args = {"day": None, "start": None, "end": None, **kwargs}
    with pytest.raises(ConfigError, match=message) as caught:
        plan_days(**args, checkpoint=None, today=TODAY)
    assert caught.value.exit_code == 2


def test_a_corrupt_checkpoint_is_a_config_error_with_a_remedy():
    assert TypedCheckpoint(MemoryCheckpoint("2026-11-20\n"), Day()).read() == date(2026, 11, 20)
    with pytest.raises(CorruptCheckpoint, match="fix or delete it, or give --date") as caught:
        TypedCheckpoint(MemoryCheckpoint("20261120000000"), Day()).read()
    assert caught.value.exit_code == 2


class MemoryCheckpoint:
    description = "memory"

    def __init__(self, value: str | None = None):
        self.value = value
        self.writes: list[str] = []

    def read(self) -> str | None:
        return self.value

    def write(self, value: str) -> None:
        self.value = value
        self.writes.append(value)


class ListSink(Sink):
    name = "list"

    def __init__(self) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self.records: list[dict] = []
        self.flushes = 0

    def write(self, records) -> None:
        self.records.extend(records)

    def flush(self) -> None:
        self.flushes += 1


class FakeSource:
    """One meeting and one session per day; fails on the days listed in `fail`."""

    def __init__(self, fail: set[date] = frozenset()):
        self.fail = fail

    def harvest_day(self, day: date, result: DayResult):
        if day in self.fail:
            raise HarvestError(f"Zoom: daily rate limit reached on {day}")
        result.meetings, result.sessions = 1, 1
        yield {"doc_type": "meeting", "uuid": str(day)}
        yield {"doc_type": "session", "session_id": f"s-{day}"}


def run(plan: Plan, cp: MemoryCheckpoint, source=None, update=True):
    sink = ListSink()
    typed = TypedCheckpoint(cp, Day())
    result = RunResult(checkpoint=typed.read())
    harvest(source or FakeSource(), plan, routed(sink, sink), typed, today=TODAY, result=result,
            update=update)
    return result, sink


def test_each_day_moves_the_checkpoint_after_its_flush():
    cp = MemoryCheckpoint(str(d(4)))
    result, sink = run(Plan([d(3), d(2), d(1)], False), cp)
    assert cp.writes == [str(d(3)), str(d(2)), str(d(1))]
    assert len(sink.records) == 6 and sink.flushes == 3
    assert result.meetings == 3


def test_a_failing_day_keeps_the_checkpoint_at_the_last_complete_day():
    cp = MemoryCheckpoint(str(d(4)))
    result = RunResult(checkpoint=d(4))
    with pytest.raises(HarvestError):
        harvest(FakeSource(fail={d(2)}), Plan([d(3), d(2), d(1)], False), routed(ListSink(), ListSink()),
                TypedCheckpoint(cp, Day()), today=TODAY, result=result)
    assert cp.value == str(d(3)) and result.checkpoint == d(3)
    result.api_calls = 5
    text, extra = summary(result, failed="daily")
    assert text.startswith("zoom failed") and extra["checkpoint"] == str(d(3)) and extra["status"] == "failed"


def test_a_failing_flush_keeps_the_checkpoint():
    class FailingFlush(ListSink):
        def flush(self) -> None:
            raise HarvestError("es: 1 record(s) not delivered")

    cp = MemoryCheckpoint(str(d(2)))
    with pytest.raises(HarvestError, match="not delivered"):
        harvest(FakeSource(), Plan([d(1)], False), routed(FailingFlush(), ListSink()),
                TypedCheckpoint(cp, Day()), today=TODAY, result=RunResult(checkpoint=d(2)))
    assert cp.writes == []


def test_backfills_move_the_checkpoint_only_over_the_days_that_follow_it():
    cp = MemoryCheckpoint(str(d(3)))
    run(Plan([d(5), d(4), d(3), d(2)], True), cp)
    assert cp.writes == [str(d(2))]
    gap = MemoryCheckpoint(str(d(9)))
    run(Plan([d(3), d(2)], True), gap)
    assert gap.writes == []  # a gap is never jumped
    fresh = MemoryCheckpoint(None)
    run(Plan([d(3)], True), fresh)
    assert fresh.writes == []  # a backfill does not start the cron's checkpoint


def test_today_is_never_a_checkpoint_and_no_update_means_no_writes():
    cp = MemoryCheckpoint(str(d(1)))
    run(Plan([TODAY], True), cp)
    assert cp.writes == []
    cp = MemoryCheckpoint(str(d(3)))
    run(Plan([d(2), d(1)], False), cp, update=False)
    assert cp.writes == []


def test_summary_lists_skipped_meetings():
    skipped = [("u1", "HTTP 404 code 3001: x")]
    result = RunResult(days=[DayResult(d(1), meetings=3, sessions=9, skipped=skipped)], checkpoint=d(1),
                       api_calls=7)
    text, extra = summary(result)
    assert "3 meetings, 9 sessions, 1 meetings skipped, 7 API calls" in text
    assert "u1 (HTTP 404 code 3001: x)" in text
    assert extra["skipped"] == [{"uuid": "u1", "reason": "HTTP 404 code 3001: x"}]


# -- doctor ---------------------------------------------------------------------------------
def test_doctor_not_configured():
    assert doctor_check() == [("Zoom", "not configured",
                               "set ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET")]


def test_doctor_names_missing_settings(monkeypatch):
    monkeypatch.setenv("ZOOM_ACCOUNT_ID", "a")
    monkeypatch.setenv("ZOOM_KEY", "b")
    ((name, status, detail),) = doctor_check()
    assert status == "failed" and detail == "missing ZOOM_CLIENT_SECRET"


def _configure(monkeypatch, zoom, secret=None):
    monkeypatch.setenv("ZOOM_API_URL", f"{zoom.url}/v2")
    monkeypatch.setenv("ZOOM_OAUTH_URL", f"{zoom.url}/oauth/token")
    monkeypatch.setenv("ZOOM_ACCOUNT_ID", zoom.account_id)
    monkeypatch.setenv("ZOOM_CLIENT_ID", zoom.client_id)
    monkeypatch.setenv("ZOOM_SECRET", secret or zoom.client_secret)


def test_doctor_ok_spends_no_api_budget(monkeypatch):
    with ZoomStandIn() as zoom:
        _configure(monkeypatch, zoom)
        ((name, status, detail),) = doctor_check()
        assert (name, status) == ("Zoom", "ok") and "Dashboard scopes present" in detail
        assert zoom.count("/v2") == 0 and zoom.issued == 1


def test_doctor_failure_never_shows_the_secret(monkeypatch):
    with ZoomStandIn() as zoom:
        _configure(monkeypatch, zoom, secret="not-the-secret-123")
        ((name, status, detail),) = doctor_check()
        assert status == "failed" and "Invalid client_id or client_secret" in detail
        assert "not-the-secret-123" not in detail


def test_doctor_when_zoom_is_unreachable(monkeypatch):
    from tests.conftest import free_port

    monkeypatch.setenv("ZOOM_OAUTH_URL", f"http://127.0.0.1:{free_port()}/oauth/token")
    monkeypatch.setenv("ZOOM_ACCOUNT_ID", "a")
    monkeypatch.setenv("ZOOM_CLIENT_ID", "b")
    monkeypatch.setenv("ZOOM_CLIENT_SECRET", "c-secret")
    ((name, status, detail),) = doctor_check()
    assert status == "failed" and "connection" in detail
