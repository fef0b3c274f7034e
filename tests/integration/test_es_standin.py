"""The Elasticsearch stand-in itself, driven by the official client over real HTTP.

A stand-in that accepted anything would prove nothing, so its refusals are tested as much
as its answers.
"""

from __future__ import annotations

import pytest
import requests
from elasticsearch import ApiError, Elasticsearch

from tests.standins.elasticsearch import ElasticsearchStandIn

NDJSON = {"Content-Type": "application/x-ndjson"}


@pytest.fixture
def es_standin():
    """These tests drive the stand-in with the official 8.x client: Elasticsearch 8 only."""
    with ElasticsearchStandIn() as standin:
        yield standin


@pytest.fixture
def es(es_standin):  # noqa: F811
    return Elasticsearch(es_standin.url, max_retries=0)


def test_info_carries_the_product_header(es, es_standin):  # noqa: F811
    assert es.info()["version"]["number"].startswith("8.")
    assert requests.get(es_standin.url, timeout=5).headers["X-Elastic-Product"] == "Elasticsearch"


def test_bulk_stores_documents_and_reports_per_item(es, es_standin):  # noqa: F811
    resp = es.bulk(operations=[{"index": {"_index": "a-2026.11.23", "_id": "1"}}, {"x": 1},
                               {"create": {"_index": "a-2026.11.23", "_id": "1"}}, {"x": 2}])
    assert resp["errors"] is True
    assert resp["items"][0]["index"]["status"] == 201
    assert resp["items"][1]["create"]["status"] == 409
    assert es_standin.doc("a-2026.11.23", "1") == {"x": 1}
    assert es_standin.bulk_requests == 1


@pytest.mark.parametrize("body, message", [
    (b'{"index":{"_index":"a","_id":"1"}}\n{"x":1}', "terminated by a newline"),
    (b'{"index":{"_index":"a","_type":"doc","_id":"1"}}\n{"x":1}\n', "unknown parameter [_type]"),
    (b'{"upsert":{"_index":"a","_id":"1"}}\n{"x":1}\n', "but found [upsert]"),
    (b'{"index":{"_id":"1"}}\n{"x":1}\n', "index is missing"),
])
def test_bulk_framing_is_enforced(es_standin, body, message):  # noqa: F811
    r = requests.post(es_standin.url + "/_bulk", data=body, headers=NDJSON, timeout=5)
    assert r.status_code == 400
    assert message in r.text


def test_index_names_must_be_lowercase_and_ids_short(es, es_standin):  # noqa: F811
    resp = es.bulk(operations=[{"index": {"_index": "Upper", "_id": "1"}}, {"x": 1},
                               {"index": {"_index": "ok", "_id": "x" * 513}}, {"x": 1}])
    errors = [next(iter(item.values()))["error"]["type"] for item in resp["items"]]
    assert errors == ["invalid_index_name_exception", "illegal_argument_exception"]
    assert es_standin.index_names() == []


def test_wrong_content_type_and_compat_version_are_refused(es_standin):  # noqa: F811
    r = requests.post(es_standin.url + "/_bulk", data=b'{"index":{"_index":"a"}}\n{}\n',
                      headers={"Content-Type": "text/plain"}, timeout=5)
    assert r.status_code == 406
    r = requests.get(es_standin.url, headers={
        "Accept": "application/vnd.elasticsearch+json; compatible-with=9"}, timeout=5)
    assert r.status_code == 400


def test_item_429_and_whole_503_injection(es, es_standin):  # noqa: F811
    es_standin.inject_item_error(times=1, match=lambda index, id_: id_ == "2")
    resp = es.bulk(operations=[{"index": {"_index": "a", "_id": "1"}}, {"x": 1},
                               {"index": {"_index": "a", "_id": "2"}}, {"x": 2}])
    statuses = [item["index"]["status"] for item in resp["items"]]
    assert statuses == [201, 429]
    assert resp["items"][1]["index"]["error"]["type"] == "es_rejected_execution_exception"
    es_standin.inject_unavailable(times=1)
    with pytest.raises(ApiError) as err:
        es.bulk(operations=[{"index": {"_index": "a", "_id": "2"}}, {"x": 2}])
    assert err.value.meta.status == 503
    es.bulk(operations=[{"index": {"_index": "a", "_id": "2"}}, {"x": 2}])
    assert es_standin.ids("a") == {"1", "2"}


def test_templates_apply_mappings_and_reject_bad_values(es, es_standin):  # noqa: F811
    es.indices.put_index_template(name="t", index_patterns=["ev-*"], template={
        "mappings": {"dynamic_templates": [{"s": {"match_mapping_type": "string",
                                                  "mapping": {"type": "keyword"}}}],
                     "properties": {"when": {"type": "date"}, "ip": {"type": "ip", "ignore_malformed": True},
                                    "n": {"type": "long"}}}})
    resp = es.bulk(operations=[{"index": {"_index": "ev-1", "_id": "1"}},
                               {"when": "2026-11-23T14:02:11Z", "ip": "-omitted-", "n": 3, "s": "x"},
                               {"index": {"_index": "ev-1", "_id": "2"}}, {"when": "yesterday"},
                               {"index": {"_index": "ev-1", "_id": "3"}}, {"n": "three"}])
    assert [next(iter(i.values()))["status"] for i in resp["items"]] == [201, 400, 400]
    assert es_standin.indices["ev-1"].template == "t"
    assert es_standin.indices["ev-1"].field_mapping("s") == {"type": "keyword"}


@pytest.mark.parametrize("body, message", [
    ({"index_patterns": ["x-*"], "mappings": {}}, "unknown field [mappings]"),
    ({"index_patterns": ["x-*"], "template": {"mappings": {"properties": {"a": {"type": "string"}}}}},
     "No handler for type [string]"),
    ({"index_patterns": ["x-*"], "template": {"mappings": {"doc": {"properties": {}}}}},
     "unsupported parameters"),
    ({"index_patterns": ["x-*"], "template": {"mappings": {"properties": {
        "a": {"type": "keyword", "index": "not_analyzed"}}}}}, "to boolean"),
    ({"template": "x-*"}, "index patterns are missing"),
])
def test_legacy_templates_are_refused(es_standin, body, message):  # noqa: F811
    r = requests.put(es_standin.url + "/_index_template/x", json=body, timeout=5)
    assert r.status_code == 400, r.text
    assert message in r.text


def test_pipelines_must_exist_and_use_known_processors(es, es_standin):  # noqa: F811
    r = requests.put(es_standin.url + "/_ingest/pipeline/p", json={"processors": [{"geoipp": {}}]},
                     timeout=5)
    assert r.status_code == 400
    es.ingest.put_pipeline(id="p", processors=[
        {"geoip": {"field": "ip", "ignore_missing": True, "ignore_failure": True}},
        {"user_agent": {"field": "useragent", "ignore_missing": True}}])
    resp = es.bulk(operations=[{"index": {"_index": "a", "_id": "1"}}, {"ip": "8.8.8.8", "useragent": "UA/1"},
                               {"index": {"_index": "a", "_id": "2", "pipeline": "nope"}}, {}],
                   pipeline="p")
    assert resp["items"][1]["index"]["error"]["reason"] == "pipeline with id [nope] does not exist"
    assert es_standin.doc("a", "1")["geoip"]["ip"] == "8.8.8.8"
    assert es_standin.doc("a", "1")["user_agent"]["original"] == "UA/1"
    assert es_standin.pipeline_of("a", "1") == "p"


def test_composite_aggregation_pages_and_terms_size_zero_is_refused(es, es_standin):  # noqa: F811
    es_standin.add_docs("u-2026.11.22", [(str(i), {"mpid": f"mp{i % 7}"}) for i in range(30)])
    es_standin.add_docs("u-2026.11.23", [("x", {"mpid": "other"})])
    seen, after, pages = [], None, 0
    while True:
        comp = {"size": 3, "sources": [{"mpid": {"terms": {"field": "mpid.keyword"}}}]}
        if after:
            comp["after"] = after
        resp = es.search(index="u-*-2026.11.22,u-2026.11.22", size=0, aggs={"m": {"composite": comp}})
        buckets = resp["aggregations"]["m"]["buckets"]
        if not buckets:
            break
        pages += 1
        seen += [b["key"]["mpid"] for b in buckets]
        after = resp["aggregations"]["m"]["after_key"]
    assert seen == [f"mp{i}" for i in range(7)]
    assert pages == 3
    with pytest.raises(ApiError) as err:
        es.search(index="u-*", size=0, aggs={"m": {"terms": {"field": "mpid.keyword", "size": 0}}})
    assert err.value.meta.status == 400
    with pytest.raises(ApiError) as err:
        es.search(index="u-*", size=0, aggs={"m": {"terms": {"field": "mpid"}}})
    assert "Fielddata is disabled" in str(err.value)


def test_missing_concrete_index_is_404_but_wildcards_are_empty(es, es_standin):  # noqa: F811
    assert es.search(index="nothing-*")["hits"]["total"]["value"] == 0
    with pytest.raises(ApiError) as err:
        es.search(index="nothing")
    assert err.value.meta.status == 404


def test_a_nine_x_server_accepts_the_eight_x_client():
    with ElasticsearchStandIn(major=9) as es9:
        client = Elasticsearch(es9.url, max_retries=0)
        assert client.info()["version"]["number"].startswith("9.")


# -- the other servers: their real answers and refusals -----------------------------------------
@pytest.mark.parametrize("flavor, distribution, number", [
    ("es7", None, "7.10.2"), ("os1", "opensearch", "1.3.20"), ("os2", "opensearch", "2.19.2"),
    ("os3", "opensearch", "3.1.0")])
def test_legacy_servers_answer_plain_json_without_the_product_header(flavor, distribution, number):
    with ElasticsearchStandIn(flavor=flavor) as standin:
        resp = requests.get(standin.url, timeout=5)
        assert "X-Elastic-Product" not in resp.headers
        assert resp.headers["Content-Type"] == "application/json; charset=UTF-8"
        version = resp.json()["version"]
        assert version["number"] == number and version.get("distribution") == distribution
        refused = requests.post(f"{standin.url}/_bulk", data=b'{"index":{"_index":"a"}}\n{}\n', timeout=5,
                                headers={"Content-Type": "application/vnd.elasticsearch+x-ndjson; "
                                                         "compatible-with=8"})
        assert refused.status_code == 406
        assert refused.json() == {"error": "Content-Type header [application/vnd.elasticsearch+x-ndjson; "
                                           "compatible-with=8] is not supported", "status": 406}
        # the official 8.x client cannot talk to them
        with pytest.raises(Exception, match="not Elasticsearch|406"):
            Elasticsearch(standin.url, max_retries=0).info()


@pytest.mark.parametrize("flavor", ["es7", "os1", "os2", "os3"])
def test_legacy_servers_refuse_what_they_lack(flavor):
    with ElasticsearchStandIn(flavor=flavor) as standin:
        def put(path, body):
            return requests.put(f"{standin.url}{path}", json=body, timeout=5)

        resp = put("/_index_template/t", {"index_patterns": ["t-*"], "template": {
            "mappings": {"properties": {"x": {"type": "flattened"}}}}})
        assert resp.status_code == 400 and "No handler for type [flattened]" in resp.text
        resp = put("/_ingest/pipeline/p", {"processors": [{"set": {"field": "a", "value": 1}}],
                                            "_meta": {"k": "v"}})
        assert resp.status_code == 400
        assert "doesn't support one or more provided configuration parameters ['_meta']" in resp.text
        resp = put("/_index_template/t", {"index_patterns": ["t-*"], "allow_auto_create": True})
        assert resp.status_code == 400 and "unknown field [allow_auto_create]" in resp.text
        flat = put("/_index_template/f", {"index_patterns": ["f-*"], "template": {
            "mappings": {"properties": {"x": {"type": "flat_object"}}}}})
        assert flat.status_code == (200 if flavor in ("os2", "os3") else 400)


def _signed(standin, method, path, body=b"", *, secret="testing", region="us-east-1", service="es"):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=f"{standin.url}{path}", data=body)
    SigV4Auth(Credentials("testing", secret), service, region).add_auth(request)
    headers = dict(request.headers.items())
    headers["Content-Type"] = "application/json"
    return requests.request(method, f"{standin.url}{path}", data=body, headers=headers, timeout=5)


def test_sigv4_mode_checks_every_part_of_the_signature():
    with ElasticsearchStandIn(flavor="os2", sigv4=True) as standin:
        assert requests.get(standin.url, timeout=5).status_code == 403  # unsigned
        good = _signed(standin, "GET", "/")
        assert good.status_code == 200 and good.json()["version"]["distribution"] == "opensearch"
        assert standin.signed[-1]["signed_headers"] == ["host", "x-amz-date"]
        assert "does not match" in _signed(standin, "GET", "/", secret="wrong").text
        assert "scoped" in _signed(standin, "GET", "/", region="eu-west-1").text
        assert "scoped" in _signed(standin, "GET", "/", service="aoss").text
        body = b'{"processors":[]}'
        assert _signed(standin, "PUT", "/_ingest/pipeline/p", body).status_code == 200
        # a body changed after signing
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        request = AWSRequest(method="PUT", url=f"{standin.url}/_ingest/pipeline/q", data=body)
        SigV4Auth(Credentials("testing", "testing"), "es", "us-east-1").add_auth(request)
        tampered = requests.put(f"{standin.url}/_ingest/pipeline/q", data=b'{"processors":[1]}', timeout=5,
                                headers={**dict(request.headers.items()), "Content-Type": "application/json"})
        assert tampered.status_code == 403 and "q" not in standin.pipelines
