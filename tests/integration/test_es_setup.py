"""`harvest setup load-index-templates` through the CLI against the strict stand-in."""

from __future__ import annotations

import json
import shutil

from harvester.elasticsearch.loading import TEMPLATES_DIR, expected_objects
from tests.conftest import free_port
from tests.standins.elasticsearch import es_standin  # noqa: F401


def puts(es) -> list[str]:
    return [r.path for r in es.requests if r.method == "PUT"]


def test_loads_everything_then_is_idempotent(cli_run, es_standin):  # noqa: F811
    templates, pipelines = expected_objects()
    first = cli_run("setup", "load-index-templates")
    assert first.exit_code == 0, first.stderr
    assert sorted(es_standin.templates) == templates
    assert sorted(es_standin.pipelines) == pipelines
    assert len(templates) == 9 and len(pipelines) == 2
    assert f"{len(templates) + len(pipelines)} created, 0 updated, 0 unchanged" in first.stderr
    assert first.stdout == ""
    # pipelines go in before the templates
    order = puts(es_standin)
    assert all(p.startswith("/_ingest/") for p in order[:len(pipelines)])

    es_standin.reset_counters()
    second = cli_run("setup", "load_index_templates")  # the original spelling
    assert second.exit_code == 0, second.stderr
    assert puts(es_standin) == []
    assert f"0 created, 0 updated, {len(templates) + len(pipelines)} unchanged" in second.stderr


def test_a_changed_file_is_updated_alone(cli_run, es_standin, tmp_path):  # noqa: F811
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, copy)
    assert cli_run("setup", "load-index-templates", "--templates-dir", str(copy)).exit_code == 0
    path = copy / "episodes.json"
    body = json.loads(path.read_text())
    body["template"]["mappings"]["properties"]["note"] = {"type": "text"}
    path.write_text(json.dumps(body))
    es_standin.reset_counters()
    result = cli_run("setup", "load-index-templates", "--templates-dir", str(copy))
    assert result.exit_code == 0, result.stderr
    assert puts(es_standin) == ["/_index_template/episodes"]
    assert "index template episodes: updated" in result.stderr
    assert "note" in es_standin.templates["episodes"]["template"]["mappings"]["properties"]


def test_es_host_option_and_underscore_alias(cli_run, es_standin, monkeypatch):  # noqa: F811
    monkeypatch.delenv("ES_HOST")
    result = cli_run("setup", "load-index-templates", "--es_host", es_standin.url)
    assert result.exit_code == 0, result.stderr
    assert es_standin.templates


def test_elasticsearch_down_exits_1_naming_it(cli_run, monkeypatch):
    monkeypatch.setenv("ES_HOST", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("HARVEST_RETRY_ATTEMPTS", "2")
    result = cli_run("setup", "load-index-templates")
    assert result.exit_code == 1
    assert "elasticsearch" in result.stderr and "connection refused" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_host_and_bad_files_are_usage_errors(cli_run, es_standin, tmp_path, monkeypatch):  # noqa: F811
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "broken.json").write_text("{not json")
    result = cli_run("setup", "load-index-templates", "--templates-dir", str(tmp_path / "t"))
    assert result.exit_code == 2
    assert "broken.json is not valid JSON" in result.stderr
    monkeypatch.setenv("ES_HOST", "ftp://nowhere")
    result = cli_run("setup", "load-index-templates")
    assert result.exit_code == 2
    assert "ES_HOST" in result.stderr


def test_a_rejected_template_fails_the_run(cli_run, es_standin, tmp_path):  # noqa: F811
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "old.json").write_text(json.dumps(
        {"template": "old-*", "mappings": {"doc": {"properties": {"a": {"type": "string"}}}}}))
    result = cli_run("setup", "load-index-templates", "--templates-dir", str(tmp_path / "t"))
    assert result.exit_code == 1
    assert "HTTP 400" in result.stderr and "index template old" in result.stderr


def test_secrets_never_appear_even_at_debug(cli_run, es_standin, monkeypatch):  # noqa: F811
    from tests.standins.elasticsearch import error_response, plain_auth

    plain_auth(es_standin, monkeypatch)
    monkeypatch.setenv("ES_USER", "elastic")
    monkeypatch.setenv("ES_PASSWORD", "Pw-Setup-Secret-1")
    es_standin.inject(lambda r: error_response(401, "security_exception", "unable to authenticate"),
                      times=None)
    result = cli_run("--log-level", "debug", "setup", "load-index-templates")
    assert result.exit_code == 1
    assert "credentials refused" in result.stderr
    assert "Pw-Setup-Secret-1" not in result.stderr + result.stdout
    monkeypatch.delenv("ES_USER")
    monkeypatch.delenv("ES_PASSWORD")
    monkeypatch.setenv("ES_API_KEY", "QXBpLUtleS1TZWNyZXQtMg==")
    result = cli_run("--log-level", "debug", "setup", "load-index-templates")
    assert result.exit_code == 1
    assert "QXBpLUtleS1TZWNyZXQtMg==" not in result.stderr + result.stdout
    assert es_standin.requests[-1].headers["Authorization"] == "ApiKey QXBpLUtleS1TZWNyZXQtMg=="


def test_templates_and_pipelines_are_adapted_to_each_server(cli_run, es_standin):  # noqa: F811
    result = cli_run("setup", "load-index-templates")
    assert result.exit_code == 0, result.stderr
    flavor = es_standin.flavor
    assert f"({'OpenSearch' if flavor.distribution == 'opensearch' else 'Elasticsearch'} {flavor.number})" \
        in result.stderr
    custom_keys = es_standin.templates["zoom-meetings"]["template"]["mappings"]["properties"]["custom_keys"]
    expected = {"es8": {"type": "flattened"}, "es9": {"type": "flattened"}, "os2": {"type": "flat_object"},
                "os3": {"type": "flat_object"}}.get(flavor.name, {"type": "object", "enabled": False})
    assert custom_keys == expected
    pipeline = es_standin.pipelines["harvester-useractions"]
    assert ("_meta" in pipeline) == flavor.pipeline_meta
    assert [next(iter(p)) for p in pipeline["processors"]] == ["geoip", "user_agent"]
    # a document with the free-form object is stored on every server
    assert es_standin.templates["zoom-meetings"]["_meta"]["content_sha256"]
    if es_standin.sigv4:
        assert all(r.headers["Authorization"].startswith("AWS4-HMAC-SHA256 ") for r in es_standin.requests)


def test_a_server_without_a_processor_gets_the_pipeline_without_it(cli_run, monkeypatch):
    from tests.standins.elasticsearch import ElasticsearchStandIn

    with ElasticsearchStandIn(flavor="es7", missing_processors=["geoip"]) as es:
        monkeypatch.setenv("ES_HOST", es.url)
        result = cli_run("setup", "load-index-templates")
        assert result.exit_code == 0, result.stderr
        assert "pipeline harvester-useractions: Elasticsearch 7.10.2 has no geoip processor" in result.stderr
        assert [next(iter(p)) for p in es.pipelines["harvester-useractions"]["processors"]] == ["user_agent"]
        assert es.pipelines["harvester-zoom-sessions"]["processors"] == []
        es.reset_counters()
        again = cli_run("setup", "load-index-templates")
        assert again.exit_code == 0 and puts(es) == []
        assert "0 created, 0 updated, 11 unchanged" in again.stderr
