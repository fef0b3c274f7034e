"""MediaConvert: metrics per status, documents, events, state, and the listing through Stubber.

botocore's Stubber validates every stubbed request and response against the real service
model, so the shapes used here are the ones MediaConvert really sends.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harvester.commands.mediaconvert import check_output
from harvester.errors import ConfigError, CorruptCheckpoint
from harvester.jobs.mediaconvert import (
    DEFAULT_WINDOW,
    LiveTable,
    MediaConvertSettings,
    checkpoint_name,
    plan_window,
    render_table,
)
from harvester.sources import mediaconvert as mc
from harvester.state.checkpoint import LocalCheckpoint, PollState, PollStateJson, TypedCheckpoint

T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=10)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def job(job_id: str = "1700000000000-abc123", status: str = "COMPLETE", **extra) -> dict:
    """A Job as boto3 returns it (PascalCase, datetimes)."""
    doc = {"Id": job_id, "Status": status, "CreatedAt": T0, "Role": "arn:aws:iam::1:role/r",
           "Settings": {"Inputs": [{"FileInput": "s3://in/a.mp4"}]},
           "Queue": "arn:aws:mediaconvert:us-east-1:123456789012:queues/Default",
           "Timing": {"SubmitTime": T0}}
    timing = extra.pop("Timing", None)
    if timing:
        doc["Timing"].update(timing)
    doc.update(extra)
    return doc


# -- metrics per status -----------------------------------------------------------------------

def metrics(status: str, start=None, finish=None, percent=None) -> dict:
    return mc.durations(mc.Timing(status, T0, start, finish, percent), NOW)


def test_submitted_job_is_queued_until_now():
    m = metrics("SUBMITTED")
    assert m == {"queued_duration": 600.0, "progressing_duration": None, "total_duration": 600.0,
                 "est_time_remaining": None}


def test_progressing_job_estimates_from_its_rate():
    # queued 60 s, then 25 % in 120 s: 75 % more takes 360 s at the same rate
    m = metrics("PROGRESSING", start=at(60), percent=25)
    assert m["queued_duration"] == 60.0
    assert m["progressing_duration"] == 540.0  # now - start
    m = mc.durations(mc.Timing("PROGRESSING", T0, at(60), None, 25), at(180))
    assert m["progressing_duration"] == 120.0
    assert m["est_time_remaining"] == 360.0
    assert m["total_duration"] == 180.0


def test_progressing_without_percent_or_time_has_no_estimate():
    assert metrics("PROGRESSING", start=at(60))["est_time_remaining"] is None
    assert metrics("PROGRESSING", start=at(60), percent=0)["est_time_remaining"] is None
    assert mc.durations(mc.Timing("PROGRESSING", T0, NOW, None, 10), NOW)["est_time_remaining"] is None
    assert metrics("PROGRESSING", start=at(60), percent=100)["est_time_remaining"] == 0.0


def test_complete_job_uses_its_own_times_not_now():
    m = metrics("COMPLETE", start=at(30), finish=at(97), percent=100)
    assert m == {"queued_duration": 30.0, "progressing_duration": 67.0, "total_duration": 97.0,
                 "est_time_remaining": 0.0}


def test_error_after_starting_and_before_starting():
    m = metrics("ERROR", start=at(5), finish=at(20), percent=40)
    assert (m["queued_duration"], m["progressing_duration"], m["total_duration"]) == (5.0, 15.0, 20.0)
    assert m["est_time_remaining"] is None
    m = metrics("ERROR", finish=at(3))  # failed at probing, never started
    assert (m["queued_duration"], m["progressing_duration"], m["total_duration"]) == (3.0, None, 3.0)


def test_canceled_jobs_never_grow_with_now():
    m = metrics("CANCELED", finish=at(120))  # cancelled while queued
    assert (m["queued_duration"], m["progressing_duration"], m["total_duration"]) == (120.0, None, 120.0)
    m = metrics("CANCELED", start=at(10))  # no finish time given: unknown, not "until now"
    assert m["queued_duration"] == 10.0
    assert m["progressing_duration"] is None and m["total_duration"] is None


def test_clock_skew_never_gives_negative_durations():
    m = mc.durations(mc.Timing("SUBMITTED", T0, None, None, None), T0 - timedelta(seconds=5))
    assert m["queued_duration"] == 0.0


# -- documents --------------------------------------------------------------------------------

def test_job_document_fields():
    j = job(status="COMPLETE", Timing={"StartTime": at(30), "FinishTime": at(97)}, JobPercentComplete=100,
            UserMetadata={"mpid": "mp-1"}, ErrorCode=None, RetryCount=0, Priority=5,
            OutputGroupDetails=[{"OutputDetails": [{"DurationInMs": 5000}, {"DurationInMs": 5040}]},
                                {"OutputDetails": [{"VideoDetails": {"WidthInPx": 640}}]}],
            Warnings=[{"Code": 230001, "Count": 2}],
            QueueTransitions=[{"SourceQueue": "arn:aws:mediaconvert:us-east-1:1:queues/Default",
                               "DestinationQueue": "arn:aws:mediaconvert:us-east-1:1:queues/Fast",
                               "Timestamp": at(10)}])
    doc = mc.job_document(j, NOW)
    assert doc["job_id"] == "1700000000000-abc123"
    assert doc["queue"] == "Default" and doc["queue_arn"].endswith("queues/Default")
    assert doc["submit_time"] == "2026-11-23T10:00:00Z"
    assert doc["start_time"] == "2026-11-23T10:00:30Z"
    assert doc["finish_time"] == "2026-11-23T10:01:37Z"
    assert doc["polled_at"] == "2026-11-23T10:10:00Z"
    assert doc["inputs"] == ["s3://in/a.mp4"]
    assert doc["user_metadata"] == {"mpid": "mp-1"}
    assert doc["output_duration_ms"] == 5040
    assert doc["warnings"] == [{"code": 230001, "count": 2}]
    assert doc["queue_transitions"] == [{"source_queue": "Default", "destination_queue": "Fast",
                                         "timestamp": "2026-11-23T10:00:10Z"}]
    assert doc["progressing_duration"] == 67.0 and doc["queued_duration"] == 30.0
    json.dumps(doc)  # plain JSON, no datetimes left


def test_complete_job_without_percent_is_100():
    assert mc.job_document(job(status="COMPLETE"), NOW)["percent_complete"] == 100
    assert mc.job_document(job(status="SUBMITTED"), NOW)["percent_complete"] is None


def test_queue_name():
    assert mc.queue_name("arn:aws:mediaconvert:eu-west-1:1:queues/Lectures") == "Lectures"
    assert mc.queue_name("Lectures") == "Lectures"
    assert mc.queue_name(None) is None


# -- --since and other option values ----------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("6h", NOW - timedelta(hours=6)), ("2d", NOW - timedelta(days=2)), ("90m", NOW - timedelta(minutes=90)),
    ("30s", NOW - timedelta(seconds=30)), ("1w", NOW - timedelta(weeks=1)),
    ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
    ("2026-11-20T08:30:00Z", datetime(2026, 11, 20, 8, 30, tzinfo=UTC)),
    ("2026-11-20T09:30:00+01:00", datetime(2026, 11, 20, 8, 30, tzinfo=UTC)),
])
def test_parse_since(value, expected):
    assert mc.parse_since(value, NOW) == expected


@pytest.mark.parametrize("value", ["yesterday", "6 hours", "-2d", "2026-13-01", "2027-01-01", ""])
def test_parse_since_rejects(value):
    with pytest.raises(ValueError):
        mc.parse_since(value, NOW)


def test_output_values():
    for ok in ("-", "es", "jobs.jsonl", "/var/x/jobs.jsonl", "dir:/tmp/a", "s3://b/p/"):
        assert check_output(ok) == ok
    for bad in ("sqs", "jobs.txt", "elasticsearch"):
        with pytest.raises(click.BadParameter):
            check_output(bad)


def test_checkpoint_name_per_filter():
    assert checkpoint_name(None, ()) == "mediaconvert"
    a = checkpoint_name("Default", ())
    assert a.startswith("mediaconvert-") and a != checkpoint_name(None, ("ERROR",))
    assert checkpoint_name(None, ("ERROR", "COMPLETE")) == checkpoint_name(None, ("COMPLETE", "ERROR"))


def test_settings_normalize_statuses_and_parse_since_once(monkeypatch):
    monkeypatch.setenv("MEDIACONVERT_CHECKPOINT_KEY", "harvest/mc")
    settings = MediaConvertSettings.from_options(statuses=("error", "ERROR", "complete"), since="6h", now=NOW)
    assert settings.statuses == ("ERROR", "COMPLETE")
    assert settings.since == NOW - timedelta(hours=6)
    assert settings.name == checkpoint_name(None, ("ERROR", "COMPLETE"))
    assert settings.s3_key == "harvest/mc." + settings.name.removeprefix("mediaconvert-")
    assert MediaConvertSettings.from_options(now=NOW).s3_key == "harvest/mc"  # unfiltered: the key itself
    with pytest.raises(ConfigError, match="neither a duration") as caught:
        MediaConvertSettings.from_options(since="yesterday", now=NOW)
    assert caught.value.hint == "'--since'"


def test_window_from_since_then_the_checkpoint_with_overlap_then_24h():
    state = PollState(at(-300), {})
    assert plan_window(at(-60), state, NOW, "file x") == (at(-60), "--since")
    assert plan_window(None, state, NOW, "file x") == (at(-300) - mc.WINDOW_OVERLAP, "checkpoint file x")
    assert plan_window(None, PollState(), NOW, "file x") == (NOW - DEFAULT_WINDOW, "default 24h")


def test_statuses_to_list_keeps_active_ones_for_tracking():
    assert mc.statuses_to_list([]) == [None]
    assert mc.statuses_to_list(mc.STATUSES) == [None]
    assert mc.statuses_to_list(["ERROR"]) == ["SUBMITTED", "PROGRESSING", "ERROR"]
    assert mc.statuses_to_list(["COMPLETE", "SUBMITTED"]) == ["SUBMITTED", "PROGRESSING", "COMPLETE"]


# -- events -----------------------------------------------------------------------------------

def event(job_id: str, status: str, ms: int, **detail) -> str:
    return json.dumps({
        "version": "0", "id": "e1", "detail-type": "MediaConvert Job State Change",
        "source": "aws.mediaconvert", "account": "123456789012", "time": "2026-11-23T10:00:00Z",
        "region": "us-east-1", "resources": [],
        "detail": {"timestamp": ms, "accountId": "123456789012",
                   "queue": "arn:aws:mediaconvert:us-east-1:123456789012:queues/Default",
                   "jobId": job_id, "status": status, "userMetadata": {}, **detail}})


def test_parse_event_eventbridge_and_sns():
    ms = int(at(90).timestamp() * 1000)
    body = event("j1", "STATUS_UPDATE", ms, framesDecoded=900,
                 jobProgress={"phaseProgress": {}, "jobPercentComplete": 30, "currentPhase": "TRANSCODING"})
    job_id, detail, when = mc.parse_event(body)
    assert (job_id, detail["framesDecoded"], when) == ("j1", 900, at(90))
    wrapped = json.dumps({"Type": "Notification", "Message": body})
    assert mc.parse_event(wrapped)[0] == "j1"


@pytest.mark.parametrize("body", [
    "", "not json", "[]", "{}", json.dumps({"source": "aws.s3", "detail-type": "x", "detail": {}}),
    json.dumps({"source": "aws.mediaconvert", "detail-type": "MediaConvert Job State Change",
                "detail": {"status": "COMPLETE"}}),  # no job id
    json.dumps({"source": "aws.mediaconvert", "detail-type": "MediaConvert Job State Change",
                "detail": {"jobId": "j", "timestamp": "soon"}}),  # no usable time
])
def test_parse_event_ignores_other_messages(body):
    assert mc.parse_event(body) is None


@given(st.text())
def test_parse_event_never_raises(body):
    mc.parse_event(body)


@given(st.dictionaries(st.sampled_from(["jobId", "timestamp", "status", "framesDecoded", "queue"]),
                       st.one_of(st.none(), st.integers(), st.floats(), st.text(), st.booleans())))
def test_parse_event_never_raises_on_odd_details(detail):
    body = json.dumps({"source": "aws.mediaconvert", "detail-type": "MediaConvert Job State Change",
                       "detail": detail})
    parsed = mc.parse_event(body)
    if parsed is not None:
        mc.JobEvents(parsed[0]).add(parsed[1], parsed[2])


def test_job_events_out_of_order_keep_latest():
    ev = mc.JobEvents("j1")
    ev.add({"status": "STATUS_UPDATE", "framesDecoded": 3000}, at(200))
    ev.add({"status": "PROGRESSING"}, at(60))
    ev.add({"status": "STATUS_UPDATE", "framesDecoded": 1200}, at(120))
    assert (ev.frames_decoded, ev.frames_at) == (3000, at(200))
    assert ev.first_progressing == at(60)
    assert (ev.last_status, ev.last_time) == ("STATUS_UPDATE", at(200))


def test_decode_rate_from_job_start_and_first_progressing_event():
    ev = mc.JobEvents("j1")
    ev.add({"status": "STATUS_UPDATE", "framesDecoded": 3000}, at(160))
    doc = mc.job_document(job(status="PROGRESSING", Timing={"StartTime": at(60)}, JobPercentComplete=40), NOW)
    mc.add_event_metrics(doc, None, ev)
    assert doc["frames_decoded"] == 3000 and doc["decode_rate"] == 30.0  # 3000 frames in 100 s
    # no start time in the job: the first PROGRESSING event marks the start
    doc = mc.job_document(job(status="PROGRESSING"), NOW)
    ev.add({"status": "PROGRESSING"}, at(100))
    mc.add_event_metrics(doc, None, ev)
    assert doc["decode_rate"] == 50.0


def test_decode_rate_never_divides_by_zero():
    ev = mc.JobEvents("j1")
    ev.add({"status": "STATUS_UPDATE", "framesDecoded": 10}, at(60))
    doc = mc.job_document(job(status="PROGRESSING", Timing={"StartTime": at(60)}), NOW)
    mc.add_event_metrics(doc, None, ev)
    assert doc["frames_decoded"] == 10 and doc["decode_rate"] is None


def test_frames_carried_from_an_earlier_run_reach_the_final_document():
    doc = mc.job_document(job(status="COMPLETE", Timing={"StartTime": at(0), "FinishTime": at(300)}), NOW)
    mc.add_event_metrics(doc, {"frames_decoded": 6000, "frames_at": "2026-11-23T10:03:20Z"}, None)
    assert doc["frames_decoded"] == 6000 and doc["decode_rate"] == 30.0
    plain = mc.job_document(job(status="COMPLETE"), NOW)
    mc.add_event_metrics(plain, None, None)
    assert "frames_decoded" not in plain and "decode_rate" not in plain


# -- state and tracking -----------------------------------------------------------------------

def poll_state(tmp_path) -> TypedCheckpoint[PollState]:
    return TypedCheckpoint(LocalCheckpoint(tmp_path / "mediaconvert"), PollStateJson())


def test_poll_state_keeps_its_json_byte_for_byte(tmp_path):
    cp = poll_state(tmp_path)
    state = PollState(at(0), {"j1": {"frames_decoded": 5, "frames_at": "2026-11-23T10:00:00Z"}}, ["j2"])
    cp.write(state)
    assert (tmp_path / "mediaconvert").read_text() == (
        '{"active":{"j1":{"frames_at":"2026-11-23T10:00:00Z","frames_decoded":5}},'
        '"done":["j2"],"last_poll":"2026-11-23T10:00:00Z","version":1}')
    assert cp.read() == state


def test_poll_state_reads_hand_written_dates_and_old_active_lists(tmp_path):
    cp = poll_state(tmp_path)
    assert cp.read() is None  # no checkpoint yet: the run starts from --since or 24 h
    (tmp_path / "mediaconvert").write_text("2026-11-20T00:00:00Z\n")
    assert cp.read() == PollState(datetime(2026, 11, 20, tzinfo=UTC), {}, [])
    (tmp_path / "mediaconvert").write_text('{"last_poll": null, "active": ["a", "b"]}')
    assert cp.read().active == {"a": {}, "b": {}}


@pytest.mark.parametrize("text", ["garbage", '{"last_poll": "nope"}', '{"active": 5}', "{"])
def test_corrupt_poll_state_is_a_corrupt_checkpoint_exit_2(tmp_path, text):
    (tmp_path / "mediaconvert").write_text(text)
    with pytest.raises(CorruptCheckpoint, match="is not a mediaconvert poll state") as caught:
        poll_state(tmp_path).read()
    assert caught.value.exit_code == 2


def test_tracker_counts_a_job_seen_in_two_polls_once():
    tracker = mc.Tracker()
    first = mc.job_document(job("j1", "PROGRESSING", Timing={"StartTime": at(5)}, JobPercentComplete=50), NOW)
    assert tracker.update(first) is None
    assert tracker.active() == {"j1": {}}
    second = mc.job_document(job("j1", "COMPLETE", Timing={"StartTime": at(5), "FinishTime": at(100)}), NOW)
    assert tracker.update(second) == "PROGRESSING"
    tracker.update(mc.job_document(job("j2", "ERROR", ErrorCode=1030, ErrorMessage="bad input"), NOW))
    assert tracker.by_status() == {"SUBMITTED": 0, "PROGRESSING": 0, "COMPLETE": 1, "CANCELED": 0, "ERROR": 1}
    assert tracker.active() == {}
    assert tracker.documents == 3
    assert tracker.done_since(T0) == ["j1", "j2"]
    assert tracker.done_since(at(1)) == []


def test_render_table_lists_active_first():
    tracker = mc.Tracker()
    tracker.update(mc.job_document(job("done", "COMPLETE", Timing={"FinishTime": at(70)}), NOW))
    tracker.update(mc.job_document(job("run", "PROGRESSING", Timing={"StartTime": at(0)},
                                       JobPercentComplete=50, CurrentPhase="TRANSCODING"), NOW))
    text = render_table(tracker.latest, NOW)
    lines = text.splitlines()
    assert lines[0].split() == ["JOB", "STATUS", "PHASE", "%", "ELAPSED", "REMAINING"]
    assert lines[1].split() == ["run", "PROGRESSING", "TRANSCODING", "50", "10:00", "10:00"]
    assert lines[2].split() == ["done", "COMPLETE", "-", "100", "1:10", "0:00"]
    assert lines[3].startswith("1 active, 2 jobs")
    assert "more not shown" in render_table(tracker.latest, NOW, max_rows=1)


# -- the listing, through botocore's Stubber (validated against the service model) ------------

@pytest.fixture
def stubbed():
    import boto3
    from botocore.stub import Stubber

    client = boto3.session.Session().client("mediaconvert", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_listing_pages_newest_first_and_stops_at_the_window(stubbed):
    client, stub = stubbed
    page1 = [job(f"j{i}", "COMPLETE", CreatedAt=at(1000 - i)) for i in range(20)]
    page2 = [job("j20", "COMPLETE", CreatedAt=at(500)), job("old", "COMPLETE", CreatedAt=at(-1))]
    stub.add_response("list_jobs", {"Jobs": page1, "NextToken": "t1"},
                      {"MaxResults": 20, "Order": "DESCENDING", "Queue": "Default"})
    stub.add_response("list_jobs", {"Jobs": page2, "NextToken": "t2"},
                      {"MaxResults": 20, "Order": "DESCENDING", "Queue": "Default", "NextToken": "t1"})
    lister = mc.JobLister(client, queue="Default")
    ids = [j["Id"] for j in lister.list(None, T0)]
    assert ids == [f"j{i}" for i in range(21)]  # "old" and any third page are never fetched
    assert lister.requests == 2


def test_listing_by_status(stubbed):
    client, stub = stubbed
    stub.add_response("list_jobs", {"Jobs": [job("e1", "ERROR", ErrorCode=1010, ErrorMessage="x")]},
                      {"MaxResults": 20, "Order": "DESCENDING", "Status": "ERROR"})
    assert [j["Id"] for j in mc.JobLister(client).list("ERROR", None)] == ["e1"]


def test_get_job_and_a_vanished_job(stubbed):
    client, stub = stubbed
    stub.add_response("get_job", {"Job": job("j1", "PROGRESSING", JobPercentComplete=12,
                                             CurrentPhase="TRANSCODING")}, {"Id": "j1"})
    stub.add_client_error("get_job", "NotFoundException", "gone", 404, expected_params={"Id": "j2"})
    lister = mc.JobLister(client)
    assert mc.job_document(lister.get("j1"), NOW)["current_phase"] == "TRANSCODING"
    assert lister.get("j2") is None


def test_errors_name_the_service_and_refusals_are_authentication_errors(stubbed):
    from harvester.errors import AuthenticationError, ServiceError

    client, stub = stubbed
    stub.add_client_error("get_job", "InternalServerErrorException", "boom", 500)
    stub.add_client_error("list_jobs", "ForbiddenException", "not allowed", 403)
    with pytest.raises(ServiceError,
                       match=r"MediaConvert: get_job j1: InternalServerErrorException \(HTTP 500\)"):
        mc.JobLister(client).get("j1")
    with pytest.raises(AuthenticationError, match="ForbiddenException"):
        list(mc.JobLister(client).list(None, None))


def test_poller_repolls_active_jobs_and_filters_statuses(stubbed):
    client, stub = stubbed
    # --status ERROR: SUBMITTED and PROGRESSING are listed for tracking, then ERROR
    stub.add_response("list_jobs", {"Jobs": [job("s1", "SUBMITTED")]},
                      {"MaxResults": 20, "Order": "DESCENDING", "Status": "SUBMITTED"})
    stub.add_response("list_jobs", {"Jobs": []},
                      {"MaxResults": 20, "Order": "DESCENDING", "Status": "PROGRESSING"})
    stub.add_response("list_jobs", {"Jobs": [job("e1", "ERROR")]},
                      {"MaxResults": 20, "Order": "DESCENDING", "Status": "ERROR"})
    stub.add_response("get_job", {"Job": job("old", "ERROR", ErrorCode=1040)}, {"Id": "old"})
    poller = mc.Poller(mc.JobLister(client), ("ERROR",), now=lambda: NOW)
    state = PollState(at(-60), {"old": {}, "s1": {}})
    out = [(d["job_id"], wanted) for d, wanted in poller.poll(T0, state)]
    assert out == [("s1", False), ("e1", True), ("old", True)]  # s1 was listed: no get_job for it


def test_live_table_redraws_in_place():
    import io

    tracker = mc.Tracker()
    tracker.update(mc.job_document(job("run", "PROGRESSING", Timing={"StartTime": at(0)}), NOW))
    stream = io.StringIO()
    table = LiveTable(stream)
    table(1, tracker, NOW)
    table(2, tracker, NOW)
    text = stream.getvalue()
    assert text.count("\x1b[H\x1b[2J") == 2  # home + clear before each redraw
    assert "run  PROGRESSING" in text and "1 active, 1 jobs; polled 10:10:00 UTC" in text
