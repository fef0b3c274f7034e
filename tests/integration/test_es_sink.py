"""The Elasticsearch sink over real HTTP against the strict stand-in, with injected faults.

Every fault test compares the set of ids the stand-in stored with the set that was written:
either all of them arrive (after retries) or the sink says exactly which did not.
"""

from __future__ import annotations

import pytest

from harvester.datasets import EPISODES, USERACTIONS, ZOOM_MEETINGS
from harvester.errors import DeliveryError, ServiceError
from harvester.sinks import open_sink
from harvester.sinks.elasticsearch import open_es_sink
from tests.conftest import free_port
from tests.standins.elasticsearch import es_standin  # noqa: F401


def actions(n: int, day: str = "2026-11-23") -> list[dict]:
    return [{"action_id": i, "timestamp": f"{day}T{i % 24:02d}:00:00Z", "mpid": f"mp{i % 5}",
             "ip": "8.8.8.8", "useragent": "Mozilla/5.0", "is_live": 0,
             "action": {"type": "HEARTBEAT", "inpoint": i, "outpoint": i + 1, "length": 1,
                        "is_playing": True}, "episode": None}
            for i in range(n)]


@pytest.fixture
def loaded(es_standin, cli_run):  # noqa: F811
    """Templates and pipelines loaded the way an operator does it."""
    result = cli_run("setup", "load-index-templates")
    assert result.exit_code == 0, result.stderr
    return es_standin


def test_useractions_go_to_dated_indices_through_the_pipeline(loaded, monkeypatch):
    monkeypatch.setenv("ES_BULK_SIZE", "100")
    records = actions(250) + actions(10, day="2026-11-24")[:0]
    with open_sink("es", USERACTIONS) as sink:
        sink.write(records)
    assert loaded.ids("useractions-*") == {str(i) for i in range(250)}
    assert loaded.index_names() == ["useractions-2026.11.23"]
    assert loaded.bulk_requests == 3  # 100 + 100 + 50
    assert loaded.doc_requests == 0
    assert sink.delivered == 250 and sink.requests == 3
    assert loaded.pipeline_of("useractions-2026.11.23", "7") == "harvester-useractions"
    doc = loaded.doc("useractions-2026.11.23", "7")
    assert doc["geoip"]["ip"] == "8.8.8.8" and doc["user_agent"]["original"] == "Mozilla/5.0"


def test_rerun_overwrites_instead_of_duplicating(loaded):
    with open_es_sink(USERACTIONS, {}) as sink:
        sink.write(actions(20))
        sink.write(actions(20))
    assert len(loaded.docs("useractions-*")) == 20
    assert loaded.indices["useractions-2026.11.23"].versions["3"] == 2


def test_item_429_is_retried_until_delivered(loaded):
    loaded.inject_item_error(times=3, match=lambda index, id_: id_ in {"4", "5", "6"})
    loaded.inject_item_error(times=1, match=lambda index, id_: id_ == "5")
    with open_es_sink(USERACTIONS, {}) as sink:
        sink.write(actions(10))
    assert loaded.ids("useractions-*") == {str(i) for i in range(10)}
    assert loaded.bulk_requests == 3  # first, retry of 4-6, retry of 5
    assert sink.retried == 4
    bodies = [r.body for r in loaded.requests if r.path.endswith("/_bulk")]
    assert bodies[2].count(b'"index"') == 1  # only the still-rejected document was resent


def test_whole_request_503_is_retried(loaded):
    loaded.inject_unavailable(times=2, path_prefix="/_bulk")
    with open_es_sink(USERACTIONS, {}) as sink:
        sink.write(actions(30))
    assert loaded.ids("useractions-*") == {str(i) for i in range(30)}
    assert loaded.bulk_requests == 3


def test_persistent_429_fails_naming_the_documents(loaded, monkeypatch):
    monkeypatch.setenv("HARVEST_RETRY_ATTEMPTS", "3")
    loaded.inject_item_error(times=None, match=lambda index, id_: id_ == "2")
    sink = open_es_sink(USERACTIONS, {})
    with pytest.raises(DeliveryError) as err:
        sink.write(actions(5))
    assert [rid for rid, _ in err.value.failed] == ["2"]
    assert "es_rejected_execution_exception" in err.value.failed[0][1]
    assert loaded.ids("useractions-*") == {"0", "1", "3", "4"}
    assert loaded.bulk_requests == 3


def test_mapping_errors_are_reported_not_retried(loaded):
    bad = actions(3)
    bad[1]["timestamp"] = "2026-11-23Tnoon"
    bad[2]["action"]["inpoint"] = "not a number"
    sink = open_es_sink(USERACTIONS, {})
    with pytest.raises(DeliveryError) as err:
        sink.write(bad)
    reasons = dict(err.value.failed)
    assert set(reasons) == {"1", "2"}
    assert "not ISO 8601" in reasons["1"]  # refused before any request
    assert "document_parsing_exception" in reasons["2"]
    assert loaded.bulk_requests == 1


def test_missing_pipeline_says_how_to_fix_it(es_standin):  # noqa: F811
    sink = open_es_sink(USERACTIONS, {})
    with pytest.raises(DeliveryError) as err:
        sink.write(actions(2))
    assert "harvest setup load-index-templates" in str(err.value)


def test_options_override_index_host_and_pipeline(es_standin, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ES_HOST", "127.0.0.1:1")  # the option wins over the variable
    sink = open_es_sink(EPISODES, {"es_host": es_standin.url, "index": "episodes-test",
                                   "pipeline": ""})
    sink.write([{"mpid": "abc", "title": "T", "start": "2026-11-23T10:00:00Z"}])
    assert es_standin.doc("episodes-test", "abc")["title"] == "T"
    assert es_standin.pipeline_of("episodes-test", "abc") is None


def test_records_without_id_or_date_are_reported(loaded):
    sink = open_es_sink(ZOOM_MEETINGS, {})
    with pytest.raises(DeliveryError) as err:
        sink.write([{"uuid": "u1", "start_time": "2026-11-23T10:00:00Z"}, {"uuid": "u2"},
                    {"start_time": "2026-11-23T10:00:00Z"}])
    assert dict(err.value.failed).keys() == {"u2", "<no id>"}
    assert loaded.ids("zoom-meetings-*") == {"u1"}


def test_long_ids_are_refused_before_sending(loaded):
    sink = open_es_sink(EPISODES, {"pipeline": "none"})
    with pytest.raises(DeliveryError) as err:
        sink.write([{"mpid": "x" * 600}])
    assert "512" in err.value.failed[0][1]
    assert loaded.bulk_requests == 0


def test_elasticsearch_down_is_a_service_error(monkeypatch):
    monkeypatch.setenv("ES_HOST", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("HARVEST_RETRY_ATTEMPTS", "2")
    sink = open_es_sink(EPISODES, {})
    with pytest.raises(ServiceError) as err:
        sink.write([{"mpid": "a"}])
    assert "connection refused" in str(err.value) and "2 attempt" in str(err.value)
    assert sink.requests == 2


def test_credentials_never_appear_in_errors(es_standin, monkeypatch):  # noqa: F811
    from tests.standins.elasticsearch import plain_auth

    plain_auth(es_standin, monkeypatch)
    monkeypatch.setenv("ES_USER", "elastic")
    monkeypatch.setenv("ES_PASSWORD", "Sup3r-Secret-Pw")

    def deny(request):
        from tests.standins.elasticsearch import error_response
        return error_response(401, "security_exception", "unable to authenticate user [elastic]")

    es_standin.inject(deny, times=None)
    sink = open_es_sink(EPISODES, {})
    with pytest.raises(ServiceError) as err:
        sink.write([{"mpid": "a"}])
    assert "401" in str(err.value) and "Sup3r-Secret-Pw" not in str(err.value)
    auth = es_standin.requests[0].headers["Authorization"]
    assert auth.startswith("Basic ")


def test_an_elasticsearch_9_server_takes_the_same_writes(monkeypatch):
    from tests.standins.elasticsearch import ElasticsearchStandIn

    with ElasticsearchStandIn(major=9) as es9:
        monkeypatch.setenv("ES_HOST", es9.url)
        with open_es_sink(EPISODES, {}) as sink:
            sink.write([{"mpid": "a"}, {"mpid": "b"}])
        assert es9.ids("episodes") == {"a", "b"}
        # GET / first, as plain JSON; then the official client, with compatibility headers
        assert es9.requests[0].path == "/" and "Accept" not in es9.requests[0].headers
        assert es9.requests[-1].path == "/_bulk"
        accept = es9.requests[-1].headers["Accept"]
        assert "compatible-with=8" in accept
