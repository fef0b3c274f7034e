"""The Elasticsearch part of `harvest doctor`."""

from __future__ import annotations

from harvester.elasticsearch.doctor import doctor_check
from tests.conftest import free_port
from tests.standins.elasticsearch import es_standin  # noqa: F401


def test_not_configured_without_es_host():
    assert doctor_check() == [("elasticsearch", "not configured", "ES_HOST is not set")]


def test_ok_once_templates_are_loaded(cli_run, es_standin):  # noqa: F811
    (name, status, detail), = doctor_check()
    assert status == "failed" and "harvest setup load-index-templates" in detail
    assert "template episodes" in detail
    assert cli_run("setup", "load-index-templates").exit_code == 0
    (name, status, detail), = doctor_check()
    assert (name, status) == ("elasticsearch", "ok")
    name = "OpenSearch" if es_standin.flavor.distribution == "opensearch" else "Elasticsearch"
    assert ("AWS SigV4 (us-east-1/es)" in detail) == es_standin.sigv4
    assert f"{name} {es_standin.version}" in detail and "9 templates and 2 pipelines loaded" in detail


def test_unreachable_is_failed_with_the_reason(monkeypatch):
    monkeypatch.setenv("ES_HOST", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("HARVEST_RETRY_ATTEMPTS", "1")
    (_, status, detail), = doctor_check()
    assert status == "failed" and "connection refused" in detail


def test_secrets_never_in_the_detail(es_standin, monkeypatch):  # noqa: F811
    from tests.standins.elasticsearch import plain_auth

    plain_auth(es_standin, monkeypatch)
    monkeypatch.setenv("ES_USER", "elastic")
    monkeypatch.setenv("ES_PASSWORD", "Doctor-Secret-77")
    monkeypatch.setenv("ES_HOST", es_standin.url.replace("http://", "http://elastic:Url-Secret-88@"))
    (_, _, detail), = doctor_check()
    assert "Doctor-Secret-77" not in detail and "Url-Secret-88" not in detail
    assert es_standin.requests[0].headers["Authorization"].startswith("Basic ")


def test_bad_settings_are_failed_not_raised(monkeypatch):
    monkeypatch.setenv("ES_HOST", "ftp://x")
    (_, status, detail), = doctor_check()
    assert status == "failed" and "ES_HOST" in detail
