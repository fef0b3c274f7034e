"""Index names, ids and connection settings of the Elasticsearch layer (no server needed)."""

from __future__ import annotations

import click
import pytest

from harvester.datasets import EPISODES, USERACTIONS, ZOOM_SESSIONS
from harvester.sinks.elasticsearch import (
    PIPELINES,
    Unindexable,
    day_of,
    es_client,
    es_url,
    index_name,
    validate_index,
)


@pytest.mark.parametrize("value, expected", [
    ("2026-11-23T14:02:11Z", "2026.11.23"),
    ("2026-11-23T14:02:11.123Z", "2026.11.23"),
    ("2026-11-23T23:30:00-05:00", "2026.11.24"),  # the UTC day, not the local one
    ("2026-11-23", "2026.11.23"),
    ("2026-11-23T00:15:00", "2026.11.23"),
])
def test_day_of_uses_the_utc_day(value, expected):
    assert day_of(value) == expected


@pytest.mark.parametrize("value", [None, "", "yesterday", "2026-13-01", "23/11/2026"])
def test_day_of_refuses_what_is_not_a_date(value):
    with pytest.raises(Unindexable):
        day_of(value)


def test_index_names_follow_the_record_date_and_override():
    record = {"action_id": 1, "timestamp": "2026-11-23T14:02:11Z"}
    assert index_name(USERACTIONS, record) == "useractions-2026.11.23"
    assert index_name(USERACTIONS, record, "ua-test") == "ua-test-2026.11.23"
    assert index_name(EPISODES, {"mpid": "x", "start": None}) == "episodes"
    assert index_name(ZOOM_SESSIONS, {"session_id": "s", "join_time": "2026-11-01T10:00:00Z"}) \
        == "zoom-sessions-2026.11.01"


@pytest.mark.parametrize("name", ["Upper", "_hidden", "-x", "a b", "a,b", "a*", ""])
def test_invalid_index_names_are_usage_errors(name):
    with pytest.raises(click.BadParameter):
        validate_index(name)


@pytest.mark.parametrize("host, url, auth", [
    ("localhost:9200", "http://localhost:9200", None),
    ("es.example.edu", "http://es.example.edu:9200", None),
    ("https://es.example.edu", "https://es.example.edu:443", None),
    ("https://u:s3cret@es.example.edu:9243/", "https://es.example.edu:9243", ("u", "s3cret")),
    ("http://127.0.0.1:9201", "http://127.0.0.1:9201", None),
])
def test_es_url_normalises_hosts(host, url, auth):
    assert es_url(host) == (url, auth)


@pytest.mark.parametrize("host", ["", "ftp://x:21", "http://:9200", "host:notaport"])
def test_es_url_refuses_bad_hosts_naming_the_variable(host):
    with pytest.raises(click.BadParameter) as err:
        es_url(host)
    assert "ES_HOST" in err.value.format_message() or "ES_HOST" in str(err.value.param_hint)


def test_client_settings_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ES_HOST", "https://es.example.edu:9243")
    monkeypatch.setenv("ES_API_KEY", "key-value")
    client = es_client()
    node = next(iter(client.transport.node_pool.all()))
    assert (node.config.scheme, node.config.host, node.config.port) == ("https", "es.example.edu", 9243)
    assert client._headers["authorization"].startswith("ApiKey ")
    monkeypatch.setenv("ES_CA_CERTS", str(tmp_path / "missing.pem"))
    with pytest.raises(click.UsageError, match="ES_CA_CERTS"):
        es_client()


def test_password_without_user_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("ES_PASSWORD", "pw-without-user")
    with pytest.raises(click.UsageError, match="ES_USER"):
        es_client("localhost:9200")


def test_every_pipeline_ships_a_file():
    from harvester.commands.setup import expected_objects

    _, pipelines = expected_objects()
    assert set(PIPELINES.values()) <= set(pipelines)
