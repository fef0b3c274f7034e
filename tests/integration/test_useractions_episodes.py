"""useractions enrichment against Opencast's real search: deleted episodes, admin reads, bare hosts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from harvester.timeutil import format_compact
from tests.standins.opencast import OpencastStandIn, oc  # noqa: F401

START = datetime(2026, 11, 23, 14, 0, 0, tzinfo=UTC)
WINDOW = ["--start", format_compact(START), "--end", format_compact(START + timedelta(hours=1))]


def run(cli_run, tmp_path) -> tuple[object, dict[int, dict]]:
    out = tmp_path / "out.jsonl"
    result = cli_run("useractions", *WINDOW, "-w", "0", "-o", str(out))
    records = {} if not out.exists() else \
        {r["action_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    return result, records


def seed(oc: OpencastStandIn) -> None:
    oc.add_action(1, "mp-live", START + timedelta(minutes=1))
    oc.add_action(2, "mp-gone", START + timedelta(minutes=2))
    oc.add_action(3, "mp-gone", START + timedelta(minutes=3))
    oc.add_episode("mp-live", title="Published")
    oc.add_episode("mp-gone", title="Retracted", series="20260112345", deleted=True)


def searches(oc: OpencastStandIn) -> list[dict]:
    return [r.args for r in oc.requests if r.path == "/search/episode.json" and r.status != 401]


def test_deleted_episodes_keep_their_enrichment_where_include_deleted_is_honoured(cli_run, oc, tmp_path):
    oc.honours_include_deleted = True  # the DCE fork the original client ran against
    seed(oc)
    result, records = run(cli_run, tmp_path)
    assert result.exit_code == 0, result.stderr
    assert records[2]["episode"]["title"] == "Retracted" and records[3]["episode"]["cdn"] == "12345"
    assert records[1]["episode"]["title"] == "Published"
    assert all(a.get("admin") == "true" and a.get("includeDeleted") == "true" for a in searches(oc))


@pytest.mark.parametrize("version,shape", [(12, "solr"), (15, "solr"), (16, "oc16")])
def test_servers_that_ignore_the_parameters_still_work(cli_run, oc, tmp_path, version, shape):
    oc.version, oc.search_shape = version, shape
    seed(oc)
    result, records = run(cli_run, tmp_path)
    assert result.exit_code == 0, result.stderr
    assert sorted(records) == [1, 2, 3]  # every action delivered
    assert records[1]["episode"]["title"] == "Published"
    assert records[2]["episode"] is None  # search no longer has it: nothing to enrich with
    assert len(searches(oc)) == 2


def test_a_user_without_the_admin_role_is_asked_again_without_admin(cli_run, oc, tmp_path, monkeypatch):
    oc.version, oc.admin_role = 15, False
    # Basic is checked against the user directory: a directory user without ROLE_ADMIN
    oc.directory_users["lecture-capture"] = "s3cret"
    monkeypatch.setenv("OPENCAST_AUTH", "basic")
    monkeypatch.setenv("MATTERHORN_REST_USER", "lecture-capture")
    monkeypatch.setenv("MATTERHORN_REST_PASS", "s3cret")
    monkeypatch.setenv("OPENCAST_LOOKUP_CONCURRENCY", "1")
    seed(oc)
    oc.episodes["mp-gone"].deleted = False
    result, records = run(cli_run, tmp_path)
    assert result.exit_code == 0, result.stderr
    assert records[2]["episode"]["title"] == "Retracted"
    asked = [(r.args.get("admin"), r.status) for r in oc.requests if r.path == "/search/episode.json"]
    assert asked == [("true", 401), (None, 200), (None, 200)]
    assert "refused admin=true" in result.stderr


def test_a_bare_engage_host_means_http_as_in_the_original(cli_run, oc, tmp_path, monkeypatch):
    monkeypatch.setenv("MATTERHORN_ENGAGE_HOST", oc.url.removeprefix("http://"))  # 127.0.0.1:PORT
    seed(oc)
    result, records = run(cli_run, tmp_path)
    assert result.exit_code == 0, result.stderr
    assert sorted(records) == [1, 2, 3] and records[1]["episode"]["title"] == "Published"
