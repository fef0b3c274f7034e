"""Error paths: bad settings exit 2 naming the variable, secrets are never echoed, the
checkpoint never moves past now, failed shards fail the run."""


import pytest

from harvester.errors import ServiceError


def test_es_host_credentials_never_appear_in_errors_or_config(cli_run, monkeypatch):
    monkeypatch.setenv("ES_HOST", "http://elastic:S3cretPW1@127.0.0.1:notaport")
    result = cli_run("setup", "load-index-templates")
    assert result.exit_code == 2
    assert "S3cretPW1" not in result.output and "elastic:***@" in result.stderr
    monkeypatch.setenv("ES_HOST", "elastic:Pw4Secret9@127.0.0.1:1")
    result = cli_run("config", "--only-set")
    assert "Pw4Secret9" not in result.output and "elastic:***@127.0.0.1:1" in result.stdout


def test_a_malformed_dotenv_line_does_not_echo_its_value(cli_run, tmp_path):
    (tmp_path / ".env").write_text("MATTERHORN_REST_PASS Hunter2Secret\n")
    result = cli_run("doctor")
    assert result.exit_code == 2
    assert "Hunter2Secret" not in result.output
    assert "MATTERHORN_REST_PASS" in result.stderr and "line 1" in result.stderr


@pytest.mark.parametrize("var,value,needle", [
    ("MATTERHORN_ENGAGE_HOST", "http://127.0.0.1:99999", "MATTERHORN_ENGAGE_HOST"),
    ("MATTERHORN_ENGAGE_HOST", "http://", "MATTERHORN_ENGAGE_HOST"),
    ("REDIS_URL", "localhost:6379", "REDIS_URL"),
    ("HARVEST_LOG_LEVEL", "verbose", "HARVEST_LOG_LEVEL"),
])
def test_invalid_settings_exit_2_naming_the_variable(cli_run, monkeypatch, var, value, needle):
    monkeypatch.setenv("MATTERHORN_ENGAGE_HOST", "engage.example.edu")
    monkeypatch.setenv("MATTERHORN_REST_USER", "u")
    monkeypatch.setenv("MATTERHORN_REST_PASS", "p")
    monkeypatch.setenv(var, value)
    result = cli_run("useractions", "-o", "-")
    assert result.exit_code == 2, result.output
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_empty_output_is_a_usage_error(cli_run, monkeypatch):
    monkeypatch.setenv("MATTERHORN_ENGAGE_HOST", "engage.example.edu")
    monkeypatch.setenv("MATTERHORN_REST_USER", "u")
    monkeypatch.setenv("MATTERHORN_REST_PASS", "p")
    result = cli_run("useractions", "-o", "")
    assert result.exit_code == 2 and "--output" in result.stderr


def test_missing_aws_credentials_for_s3_are_a_configuration_error(cli_run, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("MATTERHORN_ENGAGE_HOST", "engage.example.edu")
    monkeypatch.setenv("MATTERHORN_REST_USER", "u")
    monkeypatch.setenv("MATTERHORN_REST_PASS", "p")
    monkeypatch.setenv("S3_HARVEST_TS_BUCKET", "b")
    monkeypatch.setenv("S3_LAST_ACTION_TS_KEY", "k")
    result = cli_run("useractions", "-o", "-", "--update-last-ts")
    assert result.exit_code == 2, result.output
    assert "no AWS credentials for S3" in result.stderr


def test_a_future_end_never_moves_the_checkpoint_past_now(cli_run, oc, tmp_path):
    result = cli_run("useractions", "-s", "20261124000000", "-e", "20991231000000", "-w", "0",
                     "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 0, result.stderr
    stored = (tmp_path / ".harvest-state" / "useractions-last-action-ts").read_text()
    assert stored < "20991231000000"
    # and the next cron run still works
    assert cli_run("useractions", "-w", "0", "-o", str(tmp_path / "o.jsonl")).exit_code == 0


def test_failed_shards_in_the_mpid_search_fail_the_run():
    from harvester.elasticsearch.client import es_client
    from harvester.sources.opencast.episodes import mpids_from_indices
    from tests.standins.elasticsearch import ElasticsearchStandIn, es_response

    body = {"_shards": {"total": 3, "successful": 2, "failed": 1}, "timed_out": False,
            "aggregations": {"mpids": {"buckets": [{"key": {"mpid": "a"}}]}}}
    with ElasticsearchStandIn() as es:
        es.inject(lambda r: es_response(body), times=None, match=lambda r: r.path.endswith("/_search"))
        client = es_client(es.url)
        with pytest.raises(ServiceError, match="1 of 3 shard"):
            list(mpids_from_indices(client, "useractions*"))
        client.close()


from tests.standins.opencast import oc  # noqa: E402,F401 (fixture)
