"""useractions against Opencast's user tracking as its real code behaves, through the CLI.

The stand-in's `day` filter is UserTrackingServiceImpl's: [00:00:SS, 23:59:SS] with SS the
second of the server clock, recounted on every page, with no ORDER BY. A fake server clock,
shared with the harvester, makes every request cost time so that SS moves between pages.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from harvester.timeutil import format_compact
from tests.standins.opencast import FakeClock, OpencastStandIn, oc  # noqa: F401

EST = timezone(timedelta(hours=-5))
MIDNIGHT = datetime(2026, 11, 24, 0, 0, 0, tzinfo=EST)  # the server's midnight, 05:00Z


def read_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def across_midnight(oc: OpencastStandIn) -> set[int]:
    """The day before MIDNIGHT in full and the first minutes after it, densest at the edges."""
    ids, n = set(), 0

    def add(when: datetime) -> None:
        nonlocal n
        n += 1
        oc.add_action(n, f"mp-{n % 4}", when.astimezone(UTC), session=f"s{n % 9}", user=f"u{n}")
        ids.add(n)

    day = MIDNIGHT - timedelta(days=1)
    for i in range(120):  # spread over the day, every 12 minutes
        add(day + timedelta(minutes=12 * i, seconds=i % 60))
    for second in range(-150, 150):  # every second from 23:57:30 to 00:02:29
        add(MIDNIGHT + timedelta(seconds=second))
    for edge in (day, day + timedelta(seconds=59), day + timedelta(seconds=60),
                 MIDNIGHT - timedelta(seconds=61), MIDNIGHT - timedelta(seconds=60)):
        add(edge)  # 00:00:00, 00:00:59, 00:01:00, 23:58:59, 23:59:00 of the day before
    oc.add_action(99_001, "mp-0", (day - timedelta(seconds=1)).astimezone(UTC))  # before the window
    oc.add_action(99_002, "mp-0", (MIDNIGHT + timedelta(minutes=4)).astimezone(UTC))  # after it
    return ids


@pytest.fixture
def server_clock(oc, monkeypatch):
    """The server's clock is one the test controls; the harvester waits on the same clock."""
    clock = FakeClock(datetime(2026, 11, 24, 12, 0, 7, 300_000, tzinfo=UTC), latency=0.25)
    oc.clock = clock
    monkeypatch.setattr("harvester.sources.opencast.useractions.CLOCK", clock)
    return clock


@pytest.mark.parametrize("order", ["hash", "created"])
def test_day_mode_delivers_every_action_of_a_day_spanning_midnight(cli_run, oc, server_clock,
                                                                   monkeypatch, tmp_path, order):
    oc.dialect, oc.order, oc.tz_offset_hours = "stock", order, -5
    served = across_midnight(oc)
    monkeypatch.setenv("OPENCAST_USERTRACKING_MODE", "day")
    out = tmp_path / "out.jsonl"
    start, end = MIDNIGHT - timedelta(days=1), MIDNIGHT + timedelta(minutes=3)
    result = cli_run("useractions", "-s", format_compact(start), "-e", format_compact(end),
                     "-b", "40", "-w", "0", "-o", str(out), "--no-update-last-ts")
    assert result.exit_code == 0, result.stderr
    delivered = [r["action_id"] for r in read_lines(out)]
    assert sorted(delivered) == sorted(served)  # all of them, each once, nothing outside
    # The server really moved its window between pages, and some windows really left out
    # the last seconds before midnight and the first seconds after it.
    seconds = {begin.second for begin, _ in oc.day_windows}
    assert len(seconds) > 10 and 0 in seconds and 59 in seconds
    assert any(begin.second > 0 for begin, _ in oc.day_windows)


def test_day_mode_with_a_plain_pass_only_would_lose_the_midnight_edges(oc, server_clock):
    """The same server paged naively (one pass, no timed answers) misses actions: the test
    above is not passing by luck."""
    from harvester.sources.opencast.client import OpencastClient
    from harvester.sources.opencast.useractions import UserActionSource

    oc.dialect, oc.tz_offset_hours = "stock", -5
    served = across_midnight(oc)
    client = OpencastClient(oc.url, oc.user, oc.password)
    source = UserActionSource(client, MIDNIGHT - timedelta(days=1), MIDNIGHT + timedelta(minutes=3),
                              batch_size=40, mode="day", clock=server_clock)
    got = set()
    for day in ("20261123", "20261124"):
        for raw in source._pages({"day": day}):
            got |= {r["action_id"] for r in source._accept(raw)[0]}
    assert got < served and len(served - got) >= 30


def test_day_mode_within_one_day_needs_no_timed_answers(cli_run, oc, server_clock, monkeypatch,
                                                        tmp_path):
    oc.dialect, oc.tz_offset_hours = "stock", -5
    served = {i for i in across_midnight(oc)
              if datetime(2026, 11, 23, 17, 0, tzinfo=UTC) <= oc.actions[i]["created"]
              <= datetime(2026, 11, 23, 19, 0, tzinfo=UTC)}
    monkeypatch.setenv("OPENCAST_USERTRACKING_MODE", "day")
    out = tmp_path / "out.jsonl"
    result = cli_run("useractions", "-s", "20261123170000", "-e", "20261123190000", "-b", "40",
                     "-w", "0", "-o", str(out), "--no-update-last-ts")
    assert result.exit_code == 0, result.stderr
    assert {r["action_id"] for r in read_lines(out)} == served and served
    assert "second 59" not in result.stderr and "second 0 " not in result.stderr


def test_a_day_that_cannot_be_proven_fails_and_keeps_the_checkpoint(cli_run, oc, server_clock,
                                                                    monkeypatch, tmp_path):
    """A server whose totals never add up (rows it counts but never lists) fails the run."""
    oc.dialect, oc.tz_offset_hours = "stock", -5
    across_midnight(oc)
    original = oc._render_action
    oc._render_action = lambda a: original(a) if a["id"] != 7 else original(dict(a, id=8))
    cp = tmp_path / ".harvest-state" / "useractions-last-action-ts"
    cp.parent.mkdir()
    cp.write_text("20261123050000")
    monkeypatch.setenv("OPENCAST_USERTRACKING_MODE", "day")
    result = cli_run("useractions", "-e", format_compact(MIDNIGHT + timedelta(minutes=3)), "-b", "40",
                     "-w", "0", "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 1
    assert "could not prove that every action of the day" in result.stderr
    assert cp.read_text() == "20261123050000"


# -- the usertracking plugin ---------------------------------------------------------------------

def test_usertracking_plugin_off_is_named(cli_run, oc, monkeypatch):
    oc.version, oc.usertracking_plugin = 13, False
    result = cli_run("useractions", "-s", "20261123140000", "-e", "20261123150000", "-w", "0", "-o", "-")
    assert result.exit_code == 1
    assert "HTTP 404" in result.stderr and "opencast-plugin-usertracking" in result.stderr
    assert "PluginManagerImpl.cfg" in result.stderr

    doctor = cli_run("doctor")
    line = next(x for x in doctor.stdout.splitlines() if "opencast usertracking" in x)
    assert line.startswith("failed") and "opencast-plugin-usertracking" in line
    assert doctor.exit_code == 1


@pytest.mark.parametrize("version,plugin", [(12, False), (16, True)])
def test_usertracking_served_where_it_exists(cli_run, oc, version, plugin):
    oc.version, oc.usertracking_plugin = version, plugin
    oc.add_action(1, "mp-1", datetime(2026, 11, 23, 14, 30, tzinfo=UTC))
    result = cli_run("useractions", "-s", "20261123140000", "-e", "20261123150000", "-w", "0", "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert [json.loads(x)["action_id"] for x in result.stdout.splitlines()] == [1]
    doctor = cli_run("doctor")
    line = next(x for x in doctor.stdout.splitlines() if "opencast usertracking" in x)
    assert line.startswith("ok") and "1 actions stored" in line


# -- session logging off ------------------------------------------------------------------------

def test_omitted_session_never_reports_another_clients_values(cli_run, oc):
    oc.log_session = False
    base = datetime(2026, 11, 23, 14, 10, tzinfo=UTC)
    oc.add_action(1, "mp-1", base, user="alice", ip="10.0.0.1", agent="Firefox")
    oc.add_action(2, "mp-1", base + timedelta(minutes=1), user="bob", ip="10.0.0.2", agent="Safari")
    assert oc.actions[2]["agent"] == "Firefox"  # the shared `-omitted-` row holds the first client's
    result = cli_run("useractions", "-s", "20261123140000", "-e", "20261123150000", "-w", "0", "-o", "-")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(records) == 2
    for r in records:
        assert r["session_id"] is None
        assert r["useragent"] is None and r["huid"] is None and r["ip"] is None
        assert "proxy1" not in r


def test_logged_sessions_keep_their_values(cli_run, oc):
    oc.add_action(1, "mp-1", datetime(2026, 11, 23, 14, 10, tzinfo=UTC), user="alice", ip="10.0.0.1",
                  agent="Firefox")
    result = cli_run("useractions", "-s", "20261123140000", "-e", "20261123150000", "-w", "0", "-o", "-")
    (r,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert (r["session_id"], r["huid"], r["ip"], r["useragent"]) == ("s1", "alice", "10.0.0.1", "Firefox")


# -- the DCE fork's start/end and OPENCAST_WINDOW_TZ ---------------------------------------------

def window_server(oc: OpencastStandIn, offset_hours: int) -> set[int]:
    oc.dialect, oc.window_tz, oc.tz_offset_hours = "dce", "server", offset_hours
    base = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    ids = set()
    for i in range(30):
        oc.add_action(i + 1, "mp-1", base + timedelta(minutes=2 * i, seconds=5))
        ids.add(i + 1)
    for i in range(12):  # hours before and after the window
        oc.add_action(100 + i, "mp-1", base - timedelta(hours=6) + timedelta(hours=i if i < 6 else i + 2))
    return ids


@pytest.mark.parametrize("offset", [-4, 1])
def test_window_tz_server_sends_server_wall_time(cli_run, oc, monkeypatch, offset):
    served = window_server(oc, offset)
    monkeypatch.setenv("OPENCAST_USERTRACKING_MODE", "window")
    monkeypatch.setenv("OPENCAST_WINDOW_TZ", "server")
    result = cli_run("useractions", "-s", "20261123140000", "-e", "20261123150000", "-w", "0", "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert {json.loads(x)["action_id"] for x in result.stdout.splitlines()} == served
    local = (datetime(2026, 11, 23, 14, tzinfo=UTC) + timedelta(hours=offset)).strftime("%Y%m%d%H%M%S")
    windows = [r.args for r in oc.requests if r.path.endswith("actions.json") and "limit" in r.args
               and r.args.get("limit") != "1"]
    assert windows and all(w["start"] == local for w in windows)
    assert not any("day" in r.args for r in oc.requests)


@pytest.mark.parametrize("offset", [-4, 1])
def test_wrong_window_tz_is_noticed_by_auto_and_nothing_dropped(cli_run, oc, monkeypatch, offset):
    served = window_server(oc, offset)
    monkeypatch.setenv("OPENCAST_WINDOW_TZ", "UTC")  # the server reads start/end as its own time
    result = cli_run("useractions", "-s", "20261123140000", "-e", "20261123150000", "-w", "0", "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert {json.loads(x)["action_id"] for x in result.stdout.splitlines()} == served
    assert "another time zone" in result.stderr and "OPENCAST_WINDOW_TZ" in result.stderr
    assert any("day" in r.args for r in oc.requests)


def test_window_tz_utc_matches_a_utc_server(cli_run, oc, monkeypatch):
    oc.dialect, oc.window_tz = "dce", "utc"
    oc.add_action(1, "mp-1", datetime(2026, 11, 23, 14, 30, tzinfo=UTC))
    result = cli_run("useractions", "-s", "20261123140000", "-e", "20261123150000", "-w", "0", "-o", "-")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 1
    assert oc.requests[-2].args["start"] == "20261123140000" or any(
        r.args.get("start") == "20261123140000" for r in oc.requests)


def test_bad_window_tz_exits_2(cli_run, oc, monkeypatch):
    monkeypatch.setenv("OPENCAST_WINDOW_TZ", "Mars/Olympus")
    result = cli_run("useractions", "-s", "20261123140000", "-w", "0", "-o", "-")
    assert result.exit_code == 2 and "OPENCAST_WINDOW_TZ" in result.stderr


# -- Basic auth and the Digest system account ----------------------------------------------------

def test_basic_auth_with_the_digest_system_account_says_why(cli_run, oc, monkeypatch):
    monkeypatch.setenv("OPENCAST_AUTH", "basic")  # MATTERHORN_REST_USER is the system account
    result = cli_run("useractions", "-s", "20261123140000", "-e", "20261123150000", "-w", "0", "-o", "-")
    assert result.exit_code == 1
    assert "user directory" in result.stderr and "Digest system account" in result.stderr
    assert oc.password not in result.stderr


def test_basic_auth_with_a_directory_user_works(cli_run, oc, monkeypatch):
    monkeypatch.setenv("OPENCAST_AUTH", "basic")
    monkeypatch.setenv("MATTERHORN_REST_USER", "admin")
    monkeypatch.setenv("MATTERHORN_REST_PASS", "opencast")
    oc.add_action(1, "mp-1", datetime(2026, 11, 23, 14, 30, tzinfo=UTC))
    result = cli_run("useractions", "-s", "20261123140000", "-e", "20261123150000", "-w", "0", "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_digest_failure_does_not_talk_about_basic(cli_run, oc, monkeypatch):
    monkeypatch.setenv("MATTERHORN_REST_PASS", "not-it")
    result = cli_run("useractions", "-s", "20261123140000", "-e", "20261123150000", "-w", "0", "-o", "-")
    assert result.exit_code == 1 and "credentials" in result.stderr
    assert "user directory" not in result.stderr
