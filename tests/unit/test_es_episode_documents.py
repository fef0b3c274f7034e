"""Episode documents from Opencast's workflow/scheduler/search JSON, including its quirks."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from harvester.sources.episodes import (
    default_source_pattern,
    episode_document,
    epoch_or_iso,
    find_operation,
    images,
    slide_time_ms,
    technical_times,
    workflow_list,
)

DATA = Path(__file__).resolve().parents[1] / "data"
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
MS = int(datetime(2026, 11, 1, 14, 0, tzinfo=UTC).timestamp() * 1000)


def solr_result(**mp) -> dict:
    base = {"id": "mp1", "title": "T", "start": "2026-11-01T14:00:00Z", "duration": 3_600_000,
            "series": "20260112345", "seriestitle": "CSCI E-1"}
    base.update(mp)
    return {"mediapackage": base, "dcType": "L01"}


def test_default_pattern_is_yesterday_utc():
    assert default_source_pattern(NOW) == "useractions*-2026.11.23"


def test_workflow_shapes_are_all_understood():
    wf = {"id": 1, "operations": {"operation": {"id": "capture", "started": MS, "completed": MS + 5}}}
    assert workflow_list({"workflows": {"workflow": wf}}) == [wf]
    assert workflow_list({"workflows": {"workflow": [wf, wf]}}) == [wf, wf]
    assert workflow_list({"workflows": {"totalCount": 0}}) == []
    assert workflow_list({"workflows": ""}) == []
    assert workflow_list([{"workflow": wf}]) == [wf]
    assert workflow_list(wf) == [wf]
    assert workflow_list(None) == []
    times = find_operation(workflow_list({"workflows": {"workflow": wf}}), "capture")
    assert times.started == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)


def test_latest_operation_wins_across_workflows():
    def wf(start):
        return {"operations": {"operation": [{"template": "capture", "started": start,
                                              "completed": start + 1000}]}}
    assert find_operation([wf(MS), wf(MS + 10_000), wf(MS - 5)], "capture").started == \
        epoch_or_iso(MS + 10_000)
    assert find_operation([wf(MS)], "retract-element") is None


def test_times_in_every_format():
    assert epoch_or_iso(MS) == epoch_or_iso(str(MS)) == epoch_or_iso(float(MS)) == \
        epoch_or_iso("2026-11-01T09:00:00-05:00") == epoch_or_iso({"$": MS})
    assert epoch_or_iso(0) is None and epoch_or_iso("") is None and epoch_or_iso("soon") is None
    assert technical_times({"startDate": "2026-11-01T14:00:00Z", "endDate": MS + 60_000}) == \
        (epoch_or_iso(MS), epoch_or_iso(MS + 60_000))
    assert technical_times("") == (None, None)


def test_slide_times_from_refs():
    assert slide_time_ms("track:abc;time=T00:01:23:0F1000") == 83_000
    assert slide_time_ms("track:abc;time=T01:00:00:15F30") == 3_600_500
    assert slide_time_ms("track:abc") is None


def test_images_from_attachments():
    result = solr_result(attachments={"attachment": [
        {"type": "presenter/search+preview", "url": "http://x/presenter-search.jpg"},
        {"type": "presenter/player+preview", "url": "http://x/presenter-player.jpg"},
        {"type": "presentation/segment+preview", "ref": "track:t;time=T00:00:10:0F1000", "url": "http://x/s2"},
        {"type": "presentation/segment+preview", "ref": "track:t;time=T00:00:01:0F1000", "url": "http://x/s1"},
    ]})
    got = images(result)
    assert got["presenter_still"] == "http://x/presenter-player.jpg"
    assert got["presentation_still"] is None
    assert got["slides"] == [{"img": "http://x/s1", "time": 1000}, {"img": "http://x/s2", "time": 10_000}]


def test_the_real_opencast_16_sample_gives_a_document():
    from harvester.sources.opencast import search_results

    doc = json.loads((DATA / "opencast" / "search-episode-oc16-lti-mock.json").read_text())
    result = search_results(doc)[0]
    episode = episode_document("0001", result, workflows=[], technical=None, now=NOW)
    assert episode["duration"] == 4160 and episode["start"] == "2024-05-07T16:24:00Z"
    assert episode["presenter_still"].endswith("goat_1.000s-player.jpg")
    assert episode["live_stream"] is False and episode["live_duration"] == 4160


def test_capture_beats_technical_beats_mediapackage():
    capture = [{"operations": {"operation": [{"id": "capture", "started": MS, "completed": MS + 1000}]}}]
    tech = {"start": MS - 60_000, "end": MS + 120_000}
    assert episode_document("m", solr_result(), workflows=capture, technical=tech)["live_duration"] == 1000
    assert episode_document("m", solr_result(), workflows=[], technical=tech)["live_duration"] == 180_000
    plain = episode_document("m", solr_result(), workflows=[], technical=None)
    assert plain["live_end"] == "2026-11-01T15:00:00Z" and plain["live_stream"] is False
    assert plain["crn"] == "12345" and plain["year"] == "2026"


def test_absurd_durations_do_not_fail_the_episode():
    doc = episode_document("m", solr_result(duration=1e30), workflows=[], technical=None)
    assert doc["live_end"] is None and doc["live_duration"] is None


def test_no_start_is_a_value_error():
    import pytest

    with pytest.raises(ValueError, match="no start"):
        episode_document("m", solr_result(start=None), workflows=[], technical=None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["workflows", "workflow", "operations", "operation", "id", "template",
                         "started", "completed", "$", "start", "end", "startDate", "mediapackage",
                         "attachments", "attachment", "type", "url", "ref", "duration", "title"]),
        children, max_size=5),
    max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(json_values, json_values, json_values)
def test_arbitrary_json_never_crashes(workflows_doc, technical, result):
    workflows = workflow_list(workflows_doc)
    find_operation(workflows, "capture")
    technical_times(technical)
    if isinstance(result, dict):
        images(result)
        with contextlib.suppress(ValueError):
            episode_document("m", result, workflows=workflows, technical=technical, now=NOW)
