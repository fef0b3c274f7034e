"""`harvest zoom` through the CLI against the strict Zoom stand-in, output on stdout."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.standins.zoom import (  # noqa: F401 (the fixture)
    HEAVY,
    RESOURCE,
    http_date,
    participant,
    too_many,
    zoom_standin_fixture,
)


@pytest.fixture(autouse=True)
def current_style(monkeypatch):
    """These tests cover the current document style; the original style has its own tests."""
    monkeypatch.setenv("ZOOM_DOC_STYLE", "current")

TODAY = datetime.now(UTC).date()
YESTERDAY = (TODAY - timedelta(days=1)).isoformat()


def day(n: int) -> str:
    """The day n days ago."""
    return (TODAY - timedelta(days=n)).isoformat()


def docs(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def by_type(result, kind: str) -> list[dict]:
    return [d for d in docs(result) if d["doc_type"] == kind]


def checkpoint_value(tmp_path: Path) -> str | None:
    path = tmp_path / ".harvest-state" / "zoom"
    return path.read_text() if path.exists() else None


def set_checkpoint(value: str) -> None:
    state = Path.cwd() / ".harvest-state"
    state.mkdir(exist_ok=True)
    (state / "zoom").write_text(value)


def run_day(cli_run, when: str = YESTERDAY, *extra: str):
    return cli_run("zoom", "--date", when, "--destination", "stdout", *extra)


def test_one_day_meetings_and_sessions_with_exact_calls(cli_run, zoom_standin):
    many = zoom_standin.add_meeting(YESTERDAY, 3)
    solo = zoom_standin.add_meeting(YESTERDAY, 1)  # only type=pastOne returns it
    zoom_standin.add_meeting(day(2), 4)  # another day: not asked for

    result = run_day(cli_run)

    assert result.exit_code == 0, result.stderr
    meetings = by_type(result, "meeting")
    sessions = by_type(result, "session")
    assert {m["uuid"] for m in meetings} == {many.uuid, solo.uuid}
    assert len(sessions) == 4
    assert {s["meeting_uuid"] for s in sessions} == {many.uuid, solo.uuid}
    first = next(m for m in meetings if m["uuid"] == many.uuid)
    assert first["session_count"] == 3 and first["participant_count"] == 3
    assert first["duration"] == 75 * 60 + 30 and first["start_time"] == f"{YESTERDAY}T14:00:00Z"
    assert first["host_name"] == "Host host-1" and first["has_video"] is True
    session = next(s for s in sessions if s["meeting_uuid"] == solo.uuid)
    assert session["ip"] == "203.0.113.7" and session["email"] == "s0@example.edu"
    assert session["duration"] == 70 * 60
    # Exactly what is needed: past + pastOne, then one participants page per meeting.
    assert zoom_standin.count("/v2/metrics/meetings") == 4
    assert zoom_standin.participant_calls(many.uuid) == 1
    assert zoom_standin.participant_calls(solo.uuid) == 1
    assert zoom_standin.issued == 1  # one token for the whole run
    assert "2 meetings, 4 sessions, 0 meetings skipped, 4 API calls" in result.stderr


def test_paging_costs_one_call_per_page_and_nothing_more(cli_run, zoom_standin):
    zoom_standin.max_page_size = 2
    meetings = [zoom_standin.add_meeting(YESTERDAY, 5) for _ in range(5)]

    result = run_day(cli_run)

    assert result.exit_code == 0, result.stderr
    assert len(by_type(result, "meeting")) == 5 and len(by_type(result, "session")) == 25
    assert zoom_standin.count("/v2/metrics/meetings", "GET") - zoom_standin.participant_calls() == 3 + 1
    for m in meetings:
        assert zoom_standin.participant_calls(m.uuid) == 3  # 5 participants, pages of 2
    assert all(r.args.get("page_size") == "300" for r in zoom_standin.requests if r.path.startswith("/v2"))


def test_rejoins_are_separate_sessions_with_stable_ids(cli_run, zoom_standin):
    rows = [participant("16778240", "Ann", f"{YESTERDAY}T14:00:00Z", f"{YESTERDAY}T14:20:00Z"),
            participant("16778240", "Ann", f"{YESTERDAY}T14:25:00Z", f"{YESTERDAY}T15:00:00Z"),
            participant("16779264", "Bob", f"{YESTERDAY}T14:01:00Z", f"{YESTERDAY}T15:00:00Z")]
    meeting = zoom_standin.add_meeting(YESTERDAY, rows)

    first = run_day(cli_run)
    second = run_day(cli_run)

    sessions = by_type(first, "session")
    assert len(sessions) == 3 and len({s["session_id"] for s in sessions}) == 3
    ann = sorted((s for s in sessions if s["user_name"] == "Ann"), key=lambda s: s["join_time"])
    assert [s["duration"] for s in ann] == [20 * 60, 35 * 60]
    (doc,) = by_type(first, "meeting")
    assert doc["uuid"] == meeting.uuid and doc["session_count"] == 3 and doc["participant_count"] == 2
    assert first.stdout == second.stdout  # re-running a day yields the same ids and documents


@pytest.mark.parametrize("uuid", ["/ajXp112QmuoKj4854875==", "4444AAA//iiiiTTT==", "ab+cd/ef=="])
def test_uuids_are_encoded_as_zoom_needs(cli_run, zoom_standin, uuid):
    zoom_standin.add_meeting(YESTERDAY, 2, uuid=uuid)

    result = run_day(cli_run)

    assert result.exit_code == 0, result.stderr
    (meeting,) = by_type(result, "meeting")
    assert meeting["uuid"] == uuid and meeting["session_count"] == 2
    assert "skipped" not in meeting and zoom_standin.participant_calls(uuid) == 1
    raw = [r for r in zoom_standin.requests if r.path.endswith("/participants")]
    assert all(r.status == 200 for r in raw)


def test_per_meeting_failures_are_skipped_counted_and_listed(cli_run, zoom_standin):
    good = zoom_standin.add_meeting(YESTERDAY, 2)
    gone = zoom_standin.add_meeting(YESTERDAY, 2, error="3001")
    unlicensed = zoom_standin.add_meeting(YESTERDAY, 2, error="3161")
    blocked = zoom_standin.add_meeting(YESTERDAY, 2, error="firewall")
    set_checkpoint(day(2))

    result = run_day(cli_run, YESTERDAY, "--update-checkpoint")

    assert result.exit_code == 0, result.stderr
    meetings = {m["uuid"]: m for m in by_type(result, "meeting")}
    assert set(meetings) == {good.uuid, gone.uuid, unlicensed.uuid, blocked.uuid}
    assert meetings[good.uuid]["session_count"] == 2
    assert "code 3001" in meetings[gone.uuid]["participants_error"]
    assert meetings[gone.uuid]["session_count"] is None
    assert "code 3161" in meetings[unlicensed.uuid]["participants_error"]
    assert "HTTP 403" in meetings[blocked.uuid]["participants_error"]
    assert {s["meeting_uuid"] for s in by_type(result, "session")} == {good.uuid}
    assert "3 meetings skipped" in result.stderr
    for m in (gone, unlicensed, blocked):
        assert m.uuid in result.stderr.splitlines()[-1]
    assert checkpoint_value(Path.cwd()) == YESTERDAY  # the day is complete despite the skips


def test_every_meeting_failing_is_a_failed_day(cli_run, zoom_standin):
    for _ in range(3):
        zoom_standin.add_meeting(YESTERDAY, 2, error="3001")

    result = run_day(cli_run, YESTERDAY, "--update-checkpoint")

    assert result.exit_code == 1
    assert "every one of 3 meetings failed" in result.stderr
    assert checkpoint_value(Path.cwd()) is None


def test_expired_token_is_renewed_once_and_the_call_repeated(cli_run, zoom_standin):
    meetings = [zoom_standin.add_meeting(YESTERDAY, 2) for _ in range(3)]

    def revoke(request):
        zoom_standin.revoke_tokens()
        return None  # the request goes on and meets the revoked token: 401 code 124

    zoom_standin.inject(revoke, match=lambda r: r.path.endswith("/participants"))
    result = run_day(cli_run)

    assert result.exit_code == 0, result.stderr
    assert zoom_standin.issued == 2
    assert len(by_type(result, "session")) == 6
    assert sum(1 for r in zoom_standin.requests if r.status == 401) == 1
    assert all(zoom_standin.participant_calls(m.uuid) in (1, 2) for m in meetings)


def test_bad_credentials_fail_without_leaking_the_secret(cli_run, zoom_standin, monkeypatch):
    monkeypatch.setenv("ZOOM_CLIENT_SECRET", "wrong-secret-9b1f")
    zoom_standin.add_meeting(YESTERDAY, 2)

    result = cli_run("--log-level", "debug", "zoom", "--date", YESTERDAY, "--destination", "stdout")

    assert result.exit_code == 1
    assert "Zoom OAuth" in result.stderr and "invalid_client" not in result.stdout
    assert "Invalid client_id or client_secret" in result.stderr
    assert "wrong-secret-9b1f" not in result.stderr + result.stdout
    assert zoom_standin.count("/v2") == 0


def test_secrets_and_tokens_never_appear_in_output(cli_run, zoom_standin):
    zoom_standin.add_meeting(YESTERDAY, 2, error="3001")
    zoom_standin.add_meeting(YESTERDAY, 2)
    zoom_standin.inject(lambda r: too_many(), times=1, match=lambda r: r.path.startswith("/v2"))
    zoom_standin.inject(lambda r: (zoom_standin.revoke_tokens(), None)[1],
                        match=lambda r: r.path.endswith("/participants"))

    result = cli_run("--log-level", "debug", "--log-format", "json", "zoom", "--date", YESTERDAY,
                     "--destination", "stdout")

    assert result.exit_code == 0, result.stderr
    captured = result.stdout + result.stderr
    assert zoom_standin.client_secret not in captured
    assert "tok-" not in captured  # stand-in tokens all start with tok-


@pytest.mark.parametrize("retry_after", ["1", "http-date"])
def test_per_second_429_honours_retry_after(cli_run, zoom_standin, retry_after):
    meeting = zoom_standin.add_meeting(YESTERDAY, 2)
    value = http_date(2) if retry_after == "http-date" else retry_after
    zoom_standin.inject(lambda r: too_many(retry_after=value), times=1,
                        match=lambda r: r.path.endswith("/participants"))

    started = datetime.now(UTC)
    result = run_day(cli_run)

    assert result.exit_code == 0, result.stderr
    assert len(by_type(result, "session")) == 2
    assert zoom_standin.participant_calls(meeting.uuid) == 2  # the 429, then the retry
    assert (datetime.now(UTC) - started).total_seconds() >= 0.5  # waited as told
    assert "HTTP 429" in result.stderr


def test_daily_limit_stops_and_keeps_checkpoint_at_last_complete_day(cli_run, zoom_standin):
    for n in (3, 2, 1):
        zoom_standin.add_meeting(day(n), 2)
    set_checkpoint(day(4))

    def daily_on_second_day(request):
        if request.args.get("from") == day(2):
            return too_many(daily=True, retry_after=http_date(3600))
        return None

    zoom_standin.inject(daily_on_second_day, times=None, match=lambda r: "from" in r.args)
    result = cli_run("zoom", "--destination", "stdout", "--update-checkpoint")

    assert result.exit_code == 1
    assert "daily rate limit" in result.stderr and "resets at" in result.stderr
    assert checkpoint_value(Path.cwd()) == day(3)
    assert {m["harvest_day"] for m in by_type(result, "meeting")} == {day(3)}
    # the daily limit is not retried: exactly one refused call
    assert sum(1 for r in zoom_standin.requests if r.status == 429) == 1


def test_expired_page_token_restarts_the_listing_without_duplicates(cli_run, zoom_standin):
    zoom_standin.max_page_size = 2
    meetings = [zoom_standin.add_meeting(YESTERDAY, 3) for _ in range(5)]

    def expire(request):
        zoom_standin.expire_page_tokens()
        return None

    # The second page of the meeting list finds its token expired; so does one participants page.
    def paging(path_end: str):
        return lambda r: r.path.endswith(path_end) and "next_page_token" in r.args

    zoom_standin.inject(expire, match=paging("/v2/metrics/meetings"))
    zoom_standin.inject(expire, match=paging("/participants"))
    result = run_day(cli_run)

    assert result.exit_code == 0, result.stderr
    got = by_type(result, "meeting")
    assert sorted(m["uuid"] for m in got) == sorted(m.uuid for m in meetings)
    sessions = by_type(result, "session")
    assert len(sessions) == 15 and len({s["session_id"] for s in sessions}) == 15
    assert "expired; restarting" in result.stderr


@pytest.mark.parametrize("error", ["plan", "scope"])
def test_report_fallback_without_dashboard_gives_the_same_ids(cli_run, zoom_standin, error):
    rows = [participant("1", "Ann", f"{day(2)}T14:00:00Z", f"{day(2)}T14:20:00Z"),
            participant("1", "Ann", f"{day(2)}T14:25:00Z", f"{day(2)}T15:00:00Z")]
    zoom_standin.add_meeting(day(2), rows, host_id="h1")
    zoom_standin.add_meeting(day(2), 3, host_id="h2")
    zoom_standin.add_meeting(YESTERDAY, 1, host_id="h1")
    dashboard = cli_run("zoom", "--start-date", day(2), "--destination", "stdout")
    zoom_standin.dashboard, zoom_standin.dashboard_error = False, error

    report = cli_run("zoom", "--start-date", day(2), "--destination", "stdout")

    assert report.exit_code == 0, report.stderr
    assert report.stderr.count("Dashboard not available") == 1  # logged once per run
    ids = {(d["doc_type"], d.get("uuid") or d["session_id"]) for d in docs(report)}
    assert ids == {(d["doc_type"], d.get("uuid") or d["session_id"]) for d in docs(dashboard)}
    assert {d["source"] for d in docs(report)} == {"report"}
    sessions = by_type(report, "session")
    assert sorted(s["duration"] for s in sessions if s["user_name"] == "Ann") == [20 * 60, 35 * 60]


def test_server_errors_and_garbled_bodies_are_retried(cli_run, zoom_standin):
    from werkzeug.wrappers import Response

    zoom_standin.add_meeting(YESTERDAY, 2)
    zoom_standin.inject(lambda r: Response("oops", status=503), times=1)
    zoom_standin.inject(lambda r: Response('{"participants": [', status=200, content_type="application/json"),
                        times=1, match=lambda r: r.path.endswith("/participants"))

    result = run_day(cli_run)

    assert result.exit_code == 0, result.stderr
    assert len(by_type(result, "session")) == 2


def test_zoom_down_is_exit_1_naming_the_service(cli_run, zoom_standin):
    from werkzeug.wrappers import Response

    zoom_standin.add_meeting(YESTERDAY, 2)
    zoom_standin.inject(lambda r: Response("down", status=502), times=None,
                        match=lambda r: r.path.startswith("/v2"))

    result = run_day(cli_run, YESTERDAY, "--update-checkpoint")

    assert result.exit_code == 1
    assert "Zoom: GET" in result.stderr and "HTTP 502" in result.stderr
    assert checkpoint_value(Path.cwd()) is None


def test_cron_catches_up_every_missed_day_then_has_nothing_to_do(cli_run, zoom_standin):
    for n in (1, 2, 3, 5):
        zoom_standin.add_meeting(day(n), 2)
    set_checkpoint(day(4))

    first = cli_run("zoom", "--destination", "stdout", "--update-checkpoint")
    second = cli_run("zoom", "--destination", "stdout", "--update-checkpoint")

    assert first.exit_code == 0, first.stderr
    assert [m["harvest_day"] for m in by_type(first, "meeting")] == [day(3), day(2), day(1)]  # oldest first
    assert checkpoint_value(Path.cwd()) == YESTERDAY
    assert second.exit_code == 0 and second.stdout == ""
    assert "nothing new to harvest" in second.stderr


def test_first_cron_run_harvests_yesterday_and_starts_the_checkpoint(cli_run, zoom_standin):
    zoom_standin.add_meeting(YESTERDAY, 2)
    zoom_standin.add_meeting(day(2), 2)

    result = cli_run("zoom", "--destination", "stdout", "--update-checkpoint")

    assert result.exit_code == 0, result.stderr
    assert {m["harvest_day"] for m in by_type(result, "meeting")} == {YESTERDAY}
    assert checkpoint_value(Path.cwd()) == YESTERDAY


def test_backfill_of_old_days_never_moves_the_checkpoint_back(cli_run, zoom_standin):
    zoom_standin.add_meeting(day(10), 2)
    set_checkpoint(day(2))

    result = cli_run("zoom", "--start-date", day(12), "--end-date", day(9), "--destination", "stdout",
                     "--update-checkpoint")

    assert result.exit_code == 0, result.stderr
    assert len(by_type(result, "meeting")) == 1
    assert checkpoint_value(Path.cwd()) == day(2)


def test_stdout_does_not_move_the_checkpoint_unless_asked(cli_run, zoom_standin):
    zoom_standin.add_meeting(YESTERDAY, 2)

    result = cli_run("zoom", "--destination", "stdout")

    assert result.exit_code == 0, result.stderr
    assert checkpoint_value(Path.cwd()) is None


def test_the_pacer_keeps_under_the_configured_rate(cli_run, zoom_standin, monkeypatch):
    monkeypatch.setenv("ZOOM_RATE_HEAVY", "10/s")
    monkeypatch.setenv("ZOOM_RATE_RESOURCE_INTENSIVE", "2/s")
    zoom_standin.limits = {HEAVY: (10, 1.0), RESOURCE: (2, 1.0)}
    for _ in range(24):
        zoom_standin.add_meeting(YESTERDAY, 1)  # pastOne: 24 meetings over 2 pages
    zoom_standin.max_page_size = 12

    result = run_day(cli_run)

    assert result.exit_code == 0, result.stderr
    assert len(by_type(result, "meeting")) == 24
    assert zoom_standin.rate_limited == 0
    for category, (calls, period) in zoom_standin.limits.items():
        times = zoom_standin.arrivals[category]
        for i in range(len(times) - calls):
            assert times[i + calls] - times[i] >= period, (category, i)  # as Zoom would count
    heavy = zoom_standin.arrivals[HEAVY]
    assert heavy[-1] - heavy[0] >= 2 * 1.0  # 24 calls at 10/s need at least two windows


@pytest.mark.parametrize("args, hint", [
    (["--date", (TODAY - timedelta(days=200)).isoformat()], "--date"),
    (["--date", (TODAY + timedelta(days=1)).isoformat()], "--date"),
    (["--date", "2026-02-30"], "--date"),
    (["--start-date", day(1), "--end-date", day(3)], "--start-date"),
    (["--date", day(1), "--start-date", day(3)], "--date"),
    (["--end-date", day(3)], "--end-date"),
])
def test_impossible_dates_are_usage_errors(cli_run, zoom_standin, args, hint):
    result = cli_run("zoom", "--destination", "stdout", *args)

    assert result.exit_code == 2, result.stderr
    assert hint in result.stderr
    assert zoom_standin.count("/v2") == 0 and "Traceback" not in result.stderr


def test_a_corrupt_checkpoint_is_exit_2_before_any_call(cli_run, zoom_standin):
    set_checkpoint("20261120000000")

    result = cli_run("zoom", "--destination", "stdout")

    assert result.exit_code == 2, result.stderr
    assert "not a YYYY-MM-DD day" in result.stderr and "give --date" in result.stderr
    assert zoom_standin.count("/v2") == 0 and "Traceback" not in result.stderr


def test_older_than_six_months_says_so(cli_run, zoom_standin):
    result = cli_run("zoom", "--date", (TODAY - timedelta(days=200)).isoformat(), "--destination", "stdout")

    assert result.exit_code == 2
    assert "older than six months" in result.stderr


def test_missing_credentials_name_option_and_variable(cli_run, zoom_standin, monkeypatch):
    monkeypatch.delenv("ZOOM_ACCOUNT_ID")

    result = cli_run("zoom", "--destination", "stdout")

    assert result.exit_code == 2
    assert "--account-id" in result.stderr and "ZOOM_ACCOUNT_ID" in result.stderr


def test_original_names_of_key_and_secret_still_work(cli_run, zoom_standin, monkeypatch):
    monkeypatch.delenv("ZOOM_CLIENT_ID")
    monkeypatch.delenv("ZOOM_CLIENT_SECRET")
    monkeypatch.setenv("ZOOM_KEY", zoom_standin.client_id)
    zoom_standin.add_meeting(YESTERDAY, 2)

    result = cli_run("zoom", "--date", YESTERDAY, "--destination", "stdout",
                     "--secret", zoom_standin.client_secret)

    assert result.exit_code == 0, result.stderr
    assert len(by_type(result, "meeting")) == 1


def test_bad_rate_setting_is_a_usage_error(cli_run, zoom_standin, monkeypatch):
    monkeypatch.setenv("ZOOM_RATE_HEAVY", "fast")

    result = cli_run("zoom", "--date", YESTERDAY, "--destination", "stdout")

    assert result.exit_code == 2
    assert "ZOOM_RATE_HEAVY" in result.stderr


def test_a_second_concurrent_run_is_skipped(cli_run, zoom_standin):
    from harvester.state.lock import run_lock

    zoom_standin.add_meeting(YESTERDAY, 2)
    with run_lock("zoom", None):
        result = run_day(cli_run)

    assert result.exit_code == 3
    assert zoom_standin.count("/v2") == 0
