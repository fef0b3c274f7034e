"""`harvest zoom` end to end: the Zoom stand-in -> the CLI -> the strict Elasticsearch stand-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.standins.elasticsearch import es_standin  # noqa: F401
from tests.standins.zoom import participant, zoom_standin_fixture  # noqa: F401


@pytest.fixture(autouse=True)
def current_style(monkeypatch):
    """These tests cover the current document style; the original style has its own tests."""
    monkeypatch.setenv("ZOOM_DOC_STYLE", "current")

TODAY = datetime.now(UTC).date()


def day(n: int) -> str:
    return (TODAY - timedelta(days=n)).isoformat()


def dotted(text: str) -> str:
    return text.replace("-", ".")


@pytest.fixture
def loaded(es_standin, cli_run):  # noqa: F811
    result = cli_run("setup", "load-index-templates")
    assert result.exit_code == 0, result.stderr
    es_standin.reset_counters()
    return es_standin


def seed(zoom) -> dict:
    rows = [participant("16778240", "Ann", f"{day(1)}T14:00:00Z", f"{day(1)}T14:20:00Z",
                        ip_address="18.10.0.1", email="ann@example.edu"),
            participant("16778240", "Ann", f"{day(1)}T14:25:00Z", f"{day(1)}T15:00:00Z",
                        ip_address="18.10.0.1", email="ann@example.edu"),
            participant("16779264", "Guest", f"{day(1)}T14:01:00Z", f"{day(1)}T15:00:00Z",
                        ip_address="", email="")]
    return {"rejoin": zoom.add_meeting(day(1), rows, uuid="/ajXp112QmuoKj4854875=="),
            "solo": zoom.add_meeting(day(1), 1),
            "earlier": zoom.add_meeting(day(2), 4),
            "gone": zoom.add_meeting(day(2), 2, error="3001")}


def test_two_days_into_dated_indices_with_ids_and_geoip(cli_run, zoom_standin, loaded):
    m = seed(zoom_standin)

    result = cli_run("zoom", "--start-date", day(2), "--end-date", day(1))

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert loaded.ids(f"zoom-meetings-{dotted(day(1))}") == {m["rejoin"].uuid, m["solo"].uuid}
    assert loaded.ids(f"zoom-meetings-{dotted(day(2))}") == {m["earlier"].uuid, m["gone"].uuid}
    assert len(loaded.ids("zoom-sessions-*")) == 3 + 1 + 4
    meeting = loaded.doc(f"zoom-meetings-{dotted(day(1))}", m["rejoin"].uuid)
    assert meeting["session_count"] == 3 and meeting["participant_count"] == 2
    assert meeting["duration"] == 75 * 60 + 30
    gone = loaded.doc(f"zoom-meetings-{dotted(day(2))}", m["gone"].uuid)
    assert "3001" in gone["participants_error"]
    sessions = loaded.docs(f"zoom-sessions-{dotted(day(1))}")
    ann = [s for s in sessions.values() if s["user_name"] == "Ann"]
    assert len(ann) == 2 and all(s["geoip"]["ip"] == "18.10.0.1" for s in ann)
    guest = next(s for s in sessions.values() if s["user_name"] == "Guest")
    assert guest["ip"] is None and guest["email"] is None and "geoip" not in guest
    some_id = next(iter(sessions))
    assert loaded.pipeline_of(f"zoom-sessions-{dotted(day(1))}", some_id) == "harvester-zoom-sessions"
    # bulk only: one request per document type per day
    assert loaded.bulk_requests == 4 and loaded.doc_requests == 0


def test_rerunning_a_day_creates_no_duplicates(cli_run, zoom_standin, loaded):
    seed(zoom_standin)
    first = cli_run("zoom", "--date", day(1))
    ids_before = loaded.ids("zoom-*")

    second = cli_run("zoom", "--date", day(1))

    assert first.exit_code == 0 and second.exit_code == 0, second.stderr
    assert loaded.ids("zoom-*") == ids_before and len(ids_before) == 2 + 4
    index = loaded.indices[f"zoom-sessions-{dotted(day(1))}"]
    assert set(index.versions.values()) == {2}  # every session overwritten, none added


def test_elasticsearch_down_fails_and_keeps_the_checkpoint(cli_run, zoom_standin, loaded):
    seed(zoom_standin)
    state = Path.cwd() / ".harvest-state"
    state.mkdir()
    (state / "zoom").write_text(day(3))
    loaded.inject_unavailable(times=None, path_prefix="/_bulk")

    result = cli_run("zoom")

    assert result.exit_code == 1
    assert "elasticsearch" in result.stderr.lower()
    assert (state / "zoom").read_text() == day(3)


def test_item_429s_are_retried_and_every_document_arrives(cli_run, zoom_standin, loaded):
    seed(zoom_standin)
    loaded.inject_item_error(times=2)

    result = cli_run("zoom", "--date", day(2))

    assert result.exit_code == 0, result.stderr
    assert len(loaded.ids("zoom-meetings-*")) == 2 and len(loaded.ids("zoom-sessions-*")) == 4


def test_cron_run_fills_the_gap_and_advances_the_checkpoint(cli_run, zoom_standin, loaded):
    seed(zoom_standin)
    state = Path.cwd() / ".harvest-state"
    state.mkdir()
    (state / "zoom").write_text(day(3))

    result = cli_run("zoom")

    assert result.exit_code == 0, result.stderr
    assert (state / "zoom").read_text() == day(1)
    assert len(loaded.ids("zoom-meetings-*")) == 4


def test_index_prefixes_and_es_host_are_options(cli_run, zoom_standin, loaded, monkeypatch):
    seed(zoom_standin)
    monkeypatch.setenv("ES_HOST", "127.0.0.1:1")  # wrong on purpose: the option wins

    result = cli_run("zoom", "--date", day(1), "--es_host", loaded.url,
                     "--meetings-index", "zoom-meetings-test", "--sessions-index", "zoom-sessions-test")

    assert result.exit_code == 0, result.stderr
    assert f"zoom-meetings-test-{dotted(day(1))}" in loaded.index_names()
    assert f"zoom-sessions-test-{dotted(day(1))}" in loaded.index_names()


def test_bad_index_prefix_is_a_usage_error(cli_run, zoom_standin, loaded, monkeypatch):
    monkeypatch.setenv("ZOOM_SESSIONS_INDEX", "Zoom Sessions")

    result = cli_run("zoom", "--date", day(1))

    assert result.exit_code == 2
    assert "--sessions-index" in result.stderr and "ZOOM_SESSIONS_INDEX" in result.stderr
    assert zoom_standin.count("/v2") == 0


def test_archive_keeps_what_was_indexed(cli_run, zoom_standin, loaded, tmp_path):
    import gzip
    import json

    seed(zoom_standin)

    result = cli_run("zoom", "--date", day(1), "--archive", f"dir:{tmp_path / 'archive'}")

    assert result.exit_code == 0, result.stderr
    archived: dict[str, set[str]] = {"zoom_meetings": set(), "zoom_sessions": set()}
    for path in (tmp_path / "archive").rglob("*.jsonl.gz"):
        dataset = path.relative_to(tmp_path / "archive").parts[0]
        with gzip.open(path, "rt") as fh:
            for line in fh:
                doc = json.loads(line)
                archived[dataset].add(doc.get("uuid") if dataset == "zoom_meetings" else doc["session_id"])
    assert archived["zoom_meetings"] == loaded.ids("zoom-meetings-*")
    assert archived["zoom_sessions"] == loaded.ids("zoom-sessions-*")


def test_report_fallback_documents_index_cleanly(cli_run, zoom_standin, loaded):
    seed(zoom_standin)
    zoom_standin.dashboard, zoom_standin.dashboard_error = False, "scope"

    result = cli_run("zoom", "--date", day(1))

    assert result.exit_code == 0, result.stderr
    meetings = loaded.docs("zoom-meetings-*")
    assert len(meetings) == 2 and {m["source"] for m in meetings.values()} == {"report"}
    assert all(m["duration"] == 75 * 60 + 30 for m in meetings.values())  # from start/end, not minutes
    assert len(loaded.ids("zoom-sessions-*")) == 3 + 1
