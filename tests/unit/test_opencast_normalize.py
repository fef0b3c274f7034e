import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harvester.http import TransientBody
from harvester.sources.opencast.client import (
    actions_envelope,
    as_int,
    as_list,
    as_str,
    episode_fields,
    normalize_action,
    search_results,
    series_parts,
)
from tests.conftest import DATA

OC16 = DATA / "opencast"


def test_quirk_helpers():
    assert as_list(None) == [] and as_list("") == [] and as_list({"a": 1}) == [{"a": 1}]
    assert as_str(4160.0) == "4160" and as_str(20260112345) == "20260112345"
    assert as_str({"$": "text", "@lang": "en"}) == "text" and as_str(["x", "y"]) == "x"
    assert as_str("-omitted-") is None
    assert as_int("4160.0") == 4160 and as_int(4160.0) == 4160 and as_int("x") is None
    assert as_int(float("nan")) is None and as_int(True) is None


def test_series_parts_only_for_dce_ids():
    assert series_parts("20260112345") == {"year": "2026", "term": "01", "cdn": "12345"}
    assert series_parts("e12d5290-0825-4868-a8e6-1d75d4af9d41") == {"year": None, "term": None, "cdn": None}
    assert series_parts(None)["year"] is None


def test_real_opencast16_search_responses():
    paella = json.loads((OC16 / "search-episode-oc16-paella-mock.json").read_text())
    results = search_results(paella)
    assert len(results) == 1
    ep = episode_fields(results[0])
    assert ep["title"] == "Strong river flowing down the forest"
    assert ep["duration"] == 29996
    assert ep["start"] == "2019-06-18T07:40:53Z"
    assert ep["series"] is None and ep["year"] is None
    assert ep["description"].startswith("Free stock footage")

    lti = json.loads((OC16 / "search-episode-oc16-lti-mock.json").read_text())
    results = search_results(lti)
    assert len(results) == 5
    ep = episode_fields(results[0])
    assert ep["duration"] == 4160 and isinstance(ep["duration"], int)  # 4160.0 upstream
    assert ep["course"] == "I \U0001f5a4 Opencast"
    assert ep["series"] == "e12d5290-0825-4868-a8e6-1d75d4af9d41"
    assert ep["start"] == "2024-05-07T16:24:00Z"


def test_solr_shape_single_result_as_object_and_empty():
    doc = {"search-results": {"total": 1, "result": {"mediapackage": {"title": "T", "duration": "120000",
                                                                       "series": 20260112345},
                                                      "dcCreated": "2026-11-01T10:00:00-05:00",
                                                      "dcType": "L02", "dcDescription": "d"}}}
    ep = episode_fields(search_results(doc)[0])
    assert ep == {"title": "T", "duration": 120000, "start": "2026-11-01T15:00:00Z", "course": None,
                  "series": "20260112345", "year": "2026", "term": "01", "cdn": "12345", "type": "L02",
                  "description": "d"}
    assert search_results({"search-results": {"total": 0}}) == []
    assert search_results({"search-results": ""}) == []
    assert search_results({"result": [], "total": 0}) == []


def test_both_action_formats():
    nested = {"id": 7.0, "mediapackageId": "mp", "created": "2026-11-23T09:02:11-05:00", "type": "PLAY",
              "sessionId": {"sessionId": "abc", "userId": 12345, "userIp": "1.1.1.1", "userAgent": "UA"},
              "inpoint": 10.0, "outpoint": "20", "length": 10, "isPlaying": "true"}
    flat = {"id": "7", "mediapackageId": "mp", "created": "2026-11-23T14:02:11Z", "type": "PLAY",
            "sessionId": "abc", "userId": "12345", "userIp": "1.1.1.1", "inpoint": 10, "outpoint": 20,
            "length": 10, "isPlaying": 1}
    a, b = normalize_action(nested), normalize_action(flat)
    for rec in (a, b):
        assert rec["action_id"] == 7 and rec["huid"] == "12345" and rec["timestamp"] == "2026-11-23T14:02:11Z"
        assert rec["action"] == {"type": "PLAY", "inpoint": 10, "outpoint": 20, "length": 10,
                                 "is_playing": True}
        assert rec["is_live"] == 0 and "proxy1" not in rec
    assert a["useragent"] == "UA" and b["useragent"] is None


def test_omitted_values_become_null():
    rec = normalize_action({"id": 1, "created": "2026-11-23T14:02:11Z", "isPlaying": 2,
                            "sessionId": {"sessionId": "-omitted-", "userId": "-omitted-",
                                          "userIp": "-omitted-"}})
    assert rec["session_id"] is None and rec["huid"] is None and rec["ip"] is None
    assert rec["is_live"] == 1 and rec["action"]["is_playing"] is True


def test_actions_envelope_quirks():
    assert actions_envelope({"actions": {"total": 0}}) == ([], 0)
    assert actions_envelope({"actions": ""}) == ([], 0)
    one = actions_envelope({"actions": {"total": "1", "action": {"id": 1}}})
    assert one == ([{"id": 1}], 1)
    with pytest.raises(TransientBody):
        actions_envelope(["not", "an", "object"])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
action_like = st.fixed_dictionaries({}, optional={
    "id": json_values, "mediapackageId": json_values, "created": json_values | st.datetimes().map(str),
    "sessionId": json_values, "userIp": json_values, "isPlaying": json_values, "inpoint": json_values,
    "type": json_values, "userId": json_values,
})


@settings(max_examples=300, deadline=None)
@given(action_like)
def test_normalize_action_never_crashes(raw):
    try:
        rec = normalize_action(raw)
    except ValueError:
        return  # reported and skipped by the source
    json.dumps(rec)
    assert isinstance(rec["action_id"], int)
    assert rec["timestamp"].endswith("Z")


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_search_normalizers_never_crash(doc):
    for result in search_results(doc):
        json.dumps(episode_fields(result))
    for result in search_results({"search-results": {"result": doc}}) + search_results({"result": doc}):
        json.dumps(episode_fields(result))
