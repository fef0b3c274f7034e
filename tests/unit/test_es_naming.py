"""Index names, ids and connection settings of the Elasticsearch layer (no server needed)."""

from __future__ import annotations

import pytest

from harvester.datasets import EPISODES, USERACTIONS, ZOOM_SESSIONS
from harvester.errors import ConfigError
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
    with pytest.raises(ConfigError):
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
    with pytest.raises(ConfigError) as err:
        es_url(host)
    assert "ES_HOST" in err.value.format_message() or "ES_HOST" in str(err.value.hint)


def test_client_settings_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ES_HOST", "https://es.example.edu:9243")
    monkeypatch.setenv("ES_API_KEY", "key-value")
    client = es_client()
    assert client.settings.url == "https://es.example.edu:9243" and client.host == "es.example.edu:9243"
    assert client.settings.api_key == "key-value" and client.settings.sigv4 is None
    # both libraries get the key as an ApiKey header
    from harvester.elasticsearch.client import _ElasticsearchPy, _OpenSearchPy

    assert _ElasticsearchPy(client.settings).client._headers["authorization"] == "ApiKey key-value"
    assert _OpenSearchPy(client.settings).client.transport.kwargs["headers"] == {
        "authorization": "ApiKey key-value"}
    monkeypatch.setenv("ES_CA_CERTS", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="ES_CA_CERTS"):
        es_client()


@pytest.mark.parametrize("host, region, service", [
    ("https://search-video-abc123.us-east-1.es.amazonaws.com", "us-east-1", "es"),
    ("https://vpc-logs-x1y2.eu-central-1.es.amazonaws.com:443", "eu-central-1", "es"),
    ("https://abcdef123.us-west-2.aoss.amazonaws.com", "us-west-2", "aoss"),
    ("https://search-d.cn-north-1.es.amazonaws.com.cn", "cn-north-1", "es"),
])
def test_an_aws_host_is_signed_with_its_region_and_service(monkeypatch, host, region, service):
    client = es_client(host)
    assert client.settings.sigv4 == (region, service) and client.settings.auth == "sigv4"


def test_sigv4_choices(monkeypatch):
    aws = "https://search-video-abc123.us-east-1.es.amazonaws.com"
    monkeypatch.setenv("ES_USER", "admin")  # fine-grained access control's own users: basic
    monkeypatch.setenv("ES_PASSWORD", "pw")
    assert es_client(aws).settings.sigv4 is None
    monkeypatch.setenv("ES_AWS_AUTH", "sigv4")
    with pytest.raises(ConfigError, match="ES_AWS_AUTH=sigv4"):
        es_client(aws)
    monkeypatch.delenv("ES_USER")
    monkeypatch.delenv("ES_PASSWORD")
    # a custom domain name: the region comes from AWS_REGION
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert es_client("https://search.example.edu").settings.sigv4 == ("eu-west-1", "es")
    monkeypatch.setenv("ES_AWS_SERVICE", "aoss")
    assert es_client("https://search.example.edu").settings.sigv4 == ("eu-west-1", "aoss")
    monkeypatch.setenv("ES_AWS_SERVICE", "s3")
    with pytest.raises(ConfigError, match="ES_AWS_SERVICE"):
        es_client("https://search.example.edu")
    monkeypatch.delenv("ES_AWS_SERVICE")
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ConfigError, match="AWS_REGION"):
        es_client("https://search.example.edu")
    monkeypatch.setenv("ES_AWS_AUTH", "none")
    assert es_client(aws).settings.sigv4 is None
    monkeypatch.setenv("ES_AWS_AUTH", "iam")
    with pytest.raises(ConfigError, match="ES_AWS_AUTH"):
        es_client(aws)


def test_sigv4_without_aws_credentials_is_a_usage_error(monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigError, match="no AWS credentials"):
        es_client("https://search-video-abc123.us-east-1.es.amazonaws.com")


@pytest.mark.parametrize("body, label, meta, flat", [
    ({"version": {"number": "7.10.2", "build_flavor": "oss"}, "tagline": "You Know, for Search"},
     "Elasticsearch 7.10.2", False, None),
    ({"version": {"number": "7.17.9", "build_flavor": "default"}}, "Elasticsearch 7.17.9", False,
     "flattened"),
    ({"version": {"number": "8.19.3", "build_flavor": "default"}}, "Elasticsearch 8.19.3", True, "flattened"),
    ({"version": {"number": "9.1.0", "build_flavor": "default"}}, "Elasticsearch 9.1.0", True, "flattened"),
    ({"version": {"distribution": "opensearch", "number": "1.3.20"}}, "OpenSearch 1.3.20", False, None),
    ({"version": {"distribution": "opensearch", "number": "2.19.2"}}, "OpenSearch 2.19.2", False,
     "flat_object"),
    # Amazon's compatibility mode reports 7.10.2 but stays OpenSearch
    ({"version": {"distribution": "opensearch", "number": "7.10.2"},
      "tagline": "The OpenSearch Project: https://opensearch.org/"}, "OpenSearch 7.10.2", False, None),
])
def test_the_server_is_told_from_get_root(body, label, meta, flat):
    from harvester.elasticsearch.client import parse_info

    info = parse_info(body, "h:9200")
    assert (info.label, info.pipeline_meta, info.flattened_type) == (label, meta, flat)


@pytest.mark.parametrize("body", [{"version": {"number": "6.8.23"}}, {"ok": True}, "<html>"])
def test_unsupported_servers_are_named(body):
    from harvester.elasticsearch.client import parse_info
    from harvester.elasticsearch.errors import EsCallError

    with pytest.raises(EsCallError) as err:
        parse_info(body, "h:9200")
    assert err.value.kind == "product" and "h:9200" in err.value.reason


def test_password_without_user_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("ES_PASSWORD", "pw-without-user")
    with pytest.raises(ConfigError, match="ES_USER"):
        es_client("localhost:9200")


def test_every_pipeline_ships_a_file():
    from harvester.elasticsearch.loading import expected_objects

    _, pipelines = expected_objects()
    assert set(PIPELINES.values()) <= set(pipelines)
