"""Episode documents from Opencast's workflow/scheduler/search JSON, including its quirks."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from harvester.sources.opencast.episodes import (
    counted_workflows,
    default_source_pattern,
    episode_document,
    epoch_or_iso,
    find_operation,
    images,
    live_evidence,
    needs_schedule,
    slide_time_ms,
    technical_from_xml,
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
    from harvester.sources.opencast.client import search_results

    doc = json.loads((DATA / "opencast" / "search-episode-oc16-lti-mock.json").read_text())
    result = search_results(doc)[0]
    episode = episode_document("0001", result, workflows=[], technical=None, now=NOW)
    assert episode["duration"] == 4160 and episode["start"] == "2024-05-07T16:24:00Z"
    assert episode["presenter_still"].endswith("goat_1.000s-player.jpg")
    # its only track has `"live": false`: no evidence of a live stream, so no live times
    assert episode["live_stream"] is False and episode["live_duration"] is None
    assert episode["live_source"] is None and episode["available"] is None


def workflow(wf_id, *ops, state="SUCCEEDED", template="DCE-archive-publish-external", numbered=False):
    """A workflow instance; `numbered`: the 12+ shape (numeric operation id, name in template)."""
    rendered = []
    for n, (name, started, completed) in enumerate(ops):
        op = {"id": n + 1000, "template": name} if numbered else {"id": name}
        op.update(state="SUCCEEDED", started=started, completed=completed)
        rendered.append(op)
    return {"id": wf_id, "state": state, "template": template,
            "operations": {"operation": rendered[0] if len(rendered) == 1 else rendered}}


def live_result(**mp):
    return solr_result(media={"track": [{"type": "presenter/delivery", "live": True}]}, **mp)


TECH = {"start": "2026-11-01T13:58:00Z", "end": "2026-11-01T15:00:00Z"}


def test_capture_of_the_newest_succeeded_dce_workflow_as_the_original():
    wfs = [workflow(7, ("capture", MS, MS + 1000), ("retract-element", MS + 5000, MS + 6000)),
           workflow(12, ("capture", MS, MS + 2000), ("retract-element", MS + 7000, MS + 8000)),
           workflow(20, ("capture", MS, MS + 9000), state="FAILED"),
           workflow(30, ("capture", MS, MS + 4000), template="other-definition")]
    doc = episode_document("m", solr_result(), workflows=wfs, technical=TECH, dce=True)
    assert (doc["live_stream"], doc["live_source"], doc["live_duration"]) == (True, "capture", 2000)
    assert doc["available"] == iso(MS + 8000) and doc["available_source"] == "retract-element"
    # the newest succeeded DCE workflow has no capture: not live, as the original read only it
    wfs.append(workflow(40, ("retract-element", MS + 9000, MS + 9500)))
    doc = episode_document("m", solr_result(), workflows=wfs, technical=TECH, dce=True)
    assert doc["live_stream"] is False and doc["live_start"] is None and doc["live_duration"] is None
    assert doc["available"] == iso(MS + 9500)


def test_without_the_dce_definition_any_succeeded_workflow_counts():
    wfs = [workflow(5, ("capture", MS, MS + 3000), template="schedule-and-upload", numbered=True),
           workflow(9, ("publish-engage", MS + 4000, MS + 4500), template="republish", numbered=True),
           workflow(11, ("publish-engage", MS + 9000, MS + 9900), state="FAILED", numbered=True)]
    doc = episode_document("m", solr_result(), workflows=wfs, technical=None, dce=False)
    assert (doc["live_source"], doc["live_duration"]) == ("capture", 3000)
    assert doc["available"] == iso(MS + 4500) and doc["available_source"] == "publish-engage"
    # with the definition, other definitions and publish-engage do not count
    doc = episode_document("m", solr_result(), workflows=wfs, technical=None, dce=True)
    assert doc["live_stream"] is False and doc["available"] is None


def test_scheduled_times_alone_never_make_a_stream_live():
    doc = episode_document("m", solr_result(), workflows=[], technical=TECH)
    assert doc["live_stream"] is False and doc["live_source"] is None
    assert (doc["live_start"], doc["live_end"], doc["live_duration"]) == (None, None, None)
    assert needs_schedule(solr_result(), [], False) is False


def test_live_evidence_takes_the_scheduled_or_the_mediapackage_times():
    assert needs_schedule(live_result(), [], False) is True
    doc = episode_document("m", live_result(), workflows=[], technical=TECH)
    assert (doc["live_stream"], doc["live_source"]) == (True, "schedule")
    assert doc["live_start"] == "2026-11-01T13:58:00Z" and doc["live_duration"] == 62 * 60_000
    doc = episode_document("m", live_result(), workflows=[], technical=None)
    assert (doc["live_source"], doc["live_end"]) == ("mediapackage", "2026-11-01T15:00:00Z")
    # an engage-live publication in a workflow's mediapackage is evidence too
    wf = {"id": 3, "state": "RUNNING", "mediapackage": {"publications": {"publication": {
        "id": "p1", "channel": "engage-live"}}}}
    assert live_evidence(solr_result(), [wf]) is True
    assert live_evidence(solr_result(media={"track": {"live": False}}), []) is False
    # a capture operation wins over the schedule
    wfs = [workflow(1, ("capture", MS, MS + 1000))]
    assert needs_schedule(live_result(), wfs, True) is False
    assert episode_document("m", live_result(), workflows=wfs, technical=TECH, dce=True)["live_source"] \
        == "capture"


def test_counted_workflows_order_by_numeric_id():
    wfs = [workflow("9", ("capture", 1, 2)), workflow("10", ("capture", 1, 3)), workflow(None)]
    assert [w["id"] for w in counted_workflows(wfs, True)] == ["10"]
    assert [w["id"] for w in counted_workflows(wfs, False)] == ["10", "9", None]


def test_technical_metadata_as_xml():
    body = (b'<?xml version="1.0"?><technicalMetadata xmlns="http://scheduler.opencastproject.org">'
            b'<id>mp1</id><location>room-1</location><start>2026-11-01T13:58:00Z</start>'
            b'<end>2026-11-01T15:00:00Z</end></technicalMetadata>')
    values = technical_from_xml(body)
    assert values["location"] == "room-1"
    assert technical_times(values) == (epoch_or_iso(TECH["start"]), epoch_or_iso(TECH["end"]))
    assert technical_from_xml(b"<broken") == {}


def iso(ms: int) -> str:
    from harvester.timeutil import iso_z

    return iso_z(epoch_or_iso(ms))


def test_absurd_durations_do_not_fail_the_episode():
    doc = episode_document("m", live_result(duration=1e30), workflows=[], technical=None)
    assert doc["live_source"] == "mediapackage"
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
                         "attachments", "attachment", "type", "url", "ref", "duration", "title",
                         "state", "media", "track", "live", "publications", "publication",
                         "channel"]),
        children, max_size=5),
    max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(json_values, json_values, json_values)
def test_arbitrary_json_never_crashes(workflows_doc, technical, result):
    workflows = workflow_list(workflows_doc)
    find_operation(workflows, "capture")
    technical_times(technical)
    for dce in (True, False):
        counted_workflows(workflows, dce)
    if isinstance(result, dict):
        images(result)
        live_evidence(result, workflows)
        for dce in (True, False):
            needs_schedule(result, workflows, dce)
            with contextlib.suppress(ValueError):
                episode_document("m", result, workflows=workflows, technical=technical, dce=dce, now=NOW)
