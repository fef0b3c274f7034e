"""The stand-in's query evaluator is strict where Elasticsearch is, so passing queries mean something."""

from __future__ import annotations

import pytest

from tests.standins.elasticsearch import Index
from tests.standins.es_query import QueryError, condition_holds, run_search

MAPPINGS = {"properties": {
    "n": {"type": "integer"}, "flag": {"type": "boolean"}, "k": {"type": "keyword"},
    "title": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
    "when": {"type": "date"}, "where": {"type": "geo_point"}, "nick": {"type": "alias", "path": "k"},
    "host": {"properties": {"name": {"type": "keyword"}}},
    "host_name": {"type": "alias", "path": "host.name"},
}}


@pytest.fixture
def index() -> Index:
    idx = Index("t-1", None, MAPPINGS, {})
    docs = {"1": {"n": 0, "flag": True, "k": "a", "title": "Intro to Opencast",
                  "when": "2026-11-01T10:00:00Z", "where": [-71.06, 42.36], "host": {"name": "Prof"}},
            "2": {"n": 1, "flag": False, "k": "b", "title": "Zoom basics", "when": "2026-11-03T23:59:59Z"},
            "3": {"n": 1, "k": "7", "when": "2027-01-15T00:00:00+01:00"}}
    for id_, doc in docs.items():
        idx.check_and_map(doc)
        idx.docs[id_] = doc
    return idx


def ids(index: Index, query: dict) -> list[str]:
    hits, _ = run_search([index], {"query": query})
    return [id_ for _, id_, _ in hits]


def aggs(index: Index, spec: dict) -> dict:
    return run_search([index], {"aggs": {"a": spec}})[1]["a"]


def test_terms_are_typed_by_the_mapping(index):
    assert ids(index, {"term": {"n": 1}}) == ["2", "3"]
    assert ids(index, {"term": {"n": "1"}}) == ["2", "3"]  # numbers given as text, as ES parses them
    assert ids(index, {"term": {"k": 7}}) == ["3"]  # a number against a keyword matches its text
    assert ids(index, {"term": {"flag": "true"}}) == ["1"]
    with pytest.raises(QueryError):
        ids(index, {"term": {"n": True}})
    with pytest.raises(QueryError):
        ids(index, {"term": {"flag": 1}})
    assert ids(index, {"term": {"missing_field": "x"}}) == []


def test_aliases_multi_fields_and_text(index):
    assert ids(index, {"term": {"nick": "b"}}) == ["2"]
    assert ids(index, {"term": {"host_name": "Prof"}}) == ["1"]
    assert ids(index, {"term": {"title.keyword": "Zoom basics"}}) == ["2"]
    assert ids(index, {"match": {"title": "OPENCAST intro"}}) == ["1"]
    assert ids(index, {"term": {"title": "Zoom basics"}}) == []  # not a token of the text field
    with pytest.raises(QueryError, match="Fielddata is disabled"):
        aggs(index, {"terms": {"field": "title"}})
    assert [b["key"] for b in aggs(index, {"terms": {"field": "title.keyword"}})["buckets"]] == \
        ["Intro to Opencast", "Zoom basics"]


def test_bool_range_exists(index):
    assert ids(index, {"bool": {"should": [{"term": {"k": "a"}}, {"term": {"k": "b"}}]}}) == ["1", "2"]
    assert ids(index, {"bool": {"filter": [{"term": {"n": 1}}], "should": [{"term": {"k": "zzz"}}]}}) == \
        ["2", "3"]  # should is optional next to a filter
    assert ids(index, {"bool": {"must_not": [{"exists": {"field": "flag"}}]}}) == ["3"]
    assert ids(index, {"range": {"when": {"gte": "2026-11-02", "lt": "2027-01-01"}}}) == ["2"]
    assert ids(index, {"range": {"when": {"gte": "2027-01-14T23:00:00Z"}}}) == ["3"]  # offsets honoured
    assert ids(index, {"exists": {"field": "where"}}) == ["1"]
    with pytest.raises(QueryError):
        ids(index, {"range": {"when": {"gte": "now-1d"}}})
    with pytest.raises(QueryError):
        ids(index, {"wildcard": {"k": "a*"}})


def test_histograms(index):
    months = aggs(index, {"date_histogram": {"field": "when", "calendar_interval": "month"}})["buckets"]
    assert [(b["key_as_string"][:7], b["doc_count"]) for b in months] == \
        [("2026-11", 2), ("2026-12", 0), ("2027-01", 1)]
    days = aggs(index, {"date_histogram": {"field": "when", "fixed_interval": "1d", "min_doc_count": 1}})
    assert [b["key_as_string"][:10] for b in days["buckets"]] == ["2026-11-01", "2026-11-03", "2027-01-14"]
    with pytest.raises(QueryError, match="calendar_interval"):
        aggs(index, {"date_histogram": {"field": "when", "interval": "day"}})
    with pytest.raises(QueryError):
        aggs(index, {"date_histogram": {"field": "n", "calendar_interval": "day"}})
    flags = aggs(index, {"terms": {"field": "flag"}})["buckets"]
    assert [(b["key"], b["key_as_string"]) for b in flags] == [(0, "false"), (1, "true")]
    near = aggs(index, {"geo_distance": {"field": "where", "unit": "km",
                                         "origin": {"lat": 42.37, "lon": -71.11},
                                         "ranges": [{"to": 10}, {"from": 10}]}})
    assert [b["doc_count"] for b in near["buckets"]] == [1, 0]
    with pytest.raises(QueryError):
        aggs(index, {"terms": {"field": "k", "size": 0}})


def test_processor_conditions():
    assert condition_holds("ctx.geoip == null", {})
    assert not condition_holds("ctx.geoip == null", {"geoip": {}})
    assert condition_holds("ctx.a?.b != null", {"a": {"b": 1}})
    with pytest.raises(QueryError):
        condition_holds("ctx.geoip.size() == 0", {})
