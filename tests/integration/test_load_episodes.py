"""`harvest load-episodes` end to end through the CLI: Elasticsearch and Opencast stand-ins."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.wrappers import Request, Response

from tests.conftest import free_port
from tests.standins.base import json_response
from tests.standins.elasticsearch import es_standin  # noqa: F401
from tests.standins.opencast import OpencastStandIn, server_error

YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y.%m.%d")
T0 = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
MS = int(T0.timestamp() * 1000)


@dataclass
class AdminStandIn(OpencastStandIn):
    """Opencast with the admin endpoints load-episodes reads: workflows and recordings."""

    workflow_api: str = "mediapackage"  # "mediapackage" (12+) or "instances" (<= 11)
    workflows: dict[str, list[dict]] = field(default_factory=dict)
    technical: dict[str, dict] = field(default_factory=dict)

    def handle(self, request: Request) -> Response:
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        path = request.path
        if path.startswith("/workflow/mediaPackage/") and path.endswith("/instances.json"):
            if self.workflow_api != "mediapackage":
                return Response("Not Found", status=404)
            mpid = path.split("/")[3]
            return json_response(self._workflows_doc(mpid))
        if path == "/workflow/instances.json":
            if self.workflow_api != "instances":
                return Response("Not Found", status=404)
            return json_response(self._workflows_doc(request.args.get("mp", "")))
        if path.startswith("/recordings/") and path.endswith("/technical.json"):
            mpid = path.split("/")[2]
            if mpid not in self.technical:
                return Response("Not Found", status=404)
            return json_response(self.technical[mpid])
        return super().handle(request)

    def _workflows_doc(self, mpid: str) -> dict:
        wfs = self.workflows.get(mpid, [])
        if not wfs:  # an empty list drops its key
            return {"workflows": {"totalCount": 0}}
        # one item comes back as a bare object
        return {"workflows": {"totalCount": len(wfs), "workflow": wfs[0] if len(wfs) == 1 else wfs}}


def capture_workflow(start_ms: int, end_ms: int, available_ms: int) -> dict:
    return {"id": 11, "state": "SUCCEEDED", "operations": {"operation": [
        {"id": "capture", "state": "SUCCEEDED", "started": start_ms, "completed": end_ms},
        {"id": "retract-element", "state": "SUCCEEDED", "started": available_ms - 10,
         "completed": available_ms}]}}


@pytest.fixture
def opencast_pair():
    engage, admin = OpencastStandIn(), AdminStandIn()
    engage.start()
    admin.start()
    yield engage, admin
    engage.stop()
    admin.stop()


@pytest.fixture
def env(opencast_pair, es_standin, monkeypatch):  # noqa: F811
    engage, admin = opencast_pair
    monkeypatch.setenv("MATTERHORN_ENGAGE_HOST", engage.url)
    monkeypatch.setenv("MATTERHORN_ADMIN_HOST", admin.url)
    monkeypatch.setenv("MATTERHORN_REST_USER", engage.user)
    monkeypatch.setenv("MATTERHORN_REST_PASS", engage.password)
    return engage, admin, es_standin


def seed_actions(es, mpids: list[str], day: str = YESTERDAY, per_mpid: int = 3) -> None:
    docs = []
    for n, mpid in enumerate(mpids):
        for k in range(per_mpid):
            docs.append((f"{n}-{k}", {"action_id": n * 100 + k, "mpid": mpid,
                                      "timestamp": "2026-11-23T10:00:00Z"}))
    es.add_docs(f"useractions-{day}", docs)


def served(standin, prefix: str) -> int:
    """Requests answered (Digest's 401 challenges are part of the handshake, not calls)."""
    return sum(1 for r in list(standin.requests) if r.path.startswith(prefix) and r.status != 401)


def load(cli_run, *args: str):
    return cli_run("load-episodes", "-w", "0", *args)


@pytest.mark.parametrize("shape", ["solr", "oc16"])
def test_yesterdays_mpids_become_episode_documents(cli_run, env, shape):
    engage, admin, es = env
    engage.search_shape = shape
    cli_run("setup", "load-index-templates")
    engage.add_episode("mp-live", title="Live lecture", series="20260112345", seriestitle="CSCI E-1",
                       start="2026-11-01T14:00:00Z", duration=3_600_000, dc_type="L01",
                       description="week 9")
    engage.add_episode("mp-plain", title="Recorded", series="abc-series", start="2026-11-02T09:00:00Z",
                       duration=60_000)
    engage.add_episode("mp-nostart", start=None)
    admin.workflows["mp-live"] = [capture_workflow(MS, MS + 3_500_000, MS + 7_200_000)]
    seed_actions(es, ["mp-live", "mp-plain", "mp-nostart", "mp-gone"])
    seed_actions(es, ["mp-other-day"], day="2020.01.01")

    result = load(cli_run)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert es.ids("episodes") == {"mp-live", "mp-plain"}
    live = es.doc("episodes", "mp-live")
    assert live["title"] == "Live lecture" and live["course"] == "CSCI E-1"
    assert (live["year"], live["term"], live["crn"], live["type"]) == ("2026", "01", "12345", "L01")
    assert live["live_stream"] is True and live["live_duration"] == 3_500_000
    assert live["live_start"] == "2026-11-01T14:00:00Z"
    assert live["available"] == "2026-11-01T16:00:00Z"
    plain = es.doc("episodes", "mp-plain")
    assert plain["live_stream"] is False and plain["year"] is None
    assert plain["live_end"] == "2026-11-02T09:01:00Z"  # start + duration
    assert "4 mediapackage(s), 2 episode(s) delivered, 2 skipped" in result.stderr
    assert "not found in search: 1" in result.stderr and "no start time: 1" in result.stderr
    # exactly one search per mpid, on the engage node; workflows and recordings on the admin node
    assert served(engage, "/search/episode.json") == 4
    assert served(admin, "/search") == 0
    assert served(admin, "/workflow/mediaPackage/") == 2 and served(admin, "/recordings/") == 2
    assert es.bulk_requests == 1 and es.doc_requests == 0


def test_old_workflow_api_is_found_once_and_remembered(cli_run, env):
    engage, admin, es = env
    admin.workflow_api = "instances"
    for i in range(3):
        engage.add_episode(f"mp{i}")
        admin.workflows[f"mp{i}"] = [capture_workflow(MS, MS + 1000, MS + 2000)]
    result = load(cli_run, "--mpid", "mp0", "--mpid", "mp1", "--mpid", "mp2")
    assert result.exit_code == 0, result.stderr
    assert served(admin, "/workflow/mediaPackage/") == 1  # tried once, 404, never again
    assert served(admin, "/workflow/instances.json") == 3
    assert {r.args["mp"] for r in admin.requests if r.path == "/workflow/instances.json"} == \
        {"mp0", "mp1", "mp2"}
    assert all(es.doc("episodes", f"mp{i}")["live_duration"] == 1000 for i in range(3))


def test_scheduler_technical_metadata_gives_live_times_on_current_opencast(cli_run, env):
    engage, admin, es = env
    engage.add_episode("mp1", start="2026-11-01T14:00:00Z")
    admin.technical["mp1"] = {"agentId": "room-1", "start": "2026-11-01T13:58:00Z",
                              "end": "2026-11-01T15:00:00Z"}
    result = load(cli_run, "--mpid", "mp1")
    assert result.exit_code == 0, result.stderr
    doc = es.doc("episodes", "mp1")
    assert doc["live_stream"] is True and doc["live_start"] == "2026-11-01T13:58:00Z"
    assert doc["live_duration"] == 62 * 60 * 1000


def test_output_dash_prints_documents_and_needs_no_elasticsearch(cli_run, env, monkeypatch):
    engage, _, es = env
    monkeypatch.setenv("ES_HOST", f"127.0.0.1:{free_port()}")  # nothing listens there
    engage.add_episode("mp1", title="Über")
    result = load(cli_run, "--mpid", "mp1", "--mpid", "mp1", "--output", "-")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["mpid"] == "mp1" and doc["title"] == "Über"
    assert es.requests == []


def test_archive_keeps_the_indexed_documents(cli_run, env, tmp_path):
    import gzip

    engage, _, es = env
    for mpid in ("a", "b"):
        engage.add_episode(mpid, title=f"Episode {mpid}")
    result = load(cli_run, "--mpid", "a", "--mpid", "b", "--archive", f"dir:{tmp_path / 'lake'}")
    assert result.exit_code == 0, result.stderr
    files = sorted((tmp_path / "lake" / "episodes").rglob("*.jsonl.gz"))
    archived = [json.loads(line) for f in files for line in gzip.decompress(f.read_bytes()).splitlines()]
    assert sorted(d["mpid"] for d in archived) == ["a", "b"]
    assert archived[0] == es.doc("episodes", archived[0]["mpid"])


def test_one_failing_episode_is_skipped_not_fatal(cli_run, env, monkeypatch):
    engage, _, es = env
    monkeypatch.setenv("HARVEST_RETRY_ATTEMPTS", "2")
    for mpid in ("a", "b", "c"):
        engage.add_episode(mpid)
    engage.inject(server_error, times=None, match=lambda r: r.args.get("id") == "b")
    result = load(cli_run, "--mpid", "a", "--mpid", "b", "--mpid", "c")
    assert result.exit_code == 0, result.stderr
    assert es.ids("episodes") == {"a", "c"}
    assert "Opencast request failed: 1" in result.stderr
    assert served(engage, "/search/episode.json") == 4  # b was retried once


def test_opencast_down_ends_the_run(cli_run, env, monkeypatch):
    engage, _, es = env
    monkeypatch.setenv("HARVEST_RETRY_ATTEMPTS", "1")
    engage.inject(server_error, times=None)
    ids = [f"m{i}" for i in range(30)]
    result = load(cli_run, *[a for m in ids for a in ("--mpid", m)])
    assert result.exit_code == 1
    assert "10 episodes in a row could not be fetched" in result.stderr
    assert served(engage, "/search/episode.json") == 10


def test_wrong_password_exits_1_without_leaking_it(cli_run, env, monkeypatch):
    engage, _, es = env
    monkeypatch.setenv("MATTERHORN_REST_PASS", "wrong-Secret-123")
    engage.add_episode("a")
    result = load(cli_run, "--mpid", "a")
    assert result.exit_code == 1
    assert "credentials" in result.stderr or "login" in result.stderr
    assert "wrong-Secret-123" not in result.stderr + result.stdout
    assert es.requests == []


def test_missing_settings_are_usage_errors_naming_the_variable(cli_run, env, monkeypatch):
    monkeypatch.delenv("MATTERHORN_ADMIN_HOST")
    result = load(cli_run, "--mpid", "a")
    assert result.exit_code == 2
    assert "MATTERHORN_ADMIN_HOST" in result.stderr
    monkeypatch.setenv("MATTERHORN_ADMIN_HOST", "http://127.0.0.1:1")
    result = load(cli_run, "--mpid", "a", "--target-index", "Episodes")
    assert result.exit_code == 2 and "--target-index" in result.stderr


def test_composite_paging_over_many_mpids(cli_run, env):
    from harvester.sinks.elasticsearch import es_client
    from harvester.sources.episodes import mpids_from_indices

    _, _, es = env
    assert cli_run("setup", "load-index-templates").exit_code == 0
    mpids = [f"mp{i:03d}" for i in range(25)]
    seed_actions(es, mpids, per_mpid=2)
    client = es_client()
    es.reset_counters()
    assert list(mpids_from_indices(client, f"useractions*-{YESTERDAY}", page_size=10)) == mpids
    searches = [json.loads(r.body) for r in es.requests if r.path.endswith("/_search")]
    assert len(searches) == 3
    assert "after" not in searches[0]["aggs"]["mpids"]["composite"]
    assert searches[1]["aggs"]["mpids"]["composite"]["after"] == {"mpid": "mp009"}
    assert all(s["size"] == 0 for s in searches)


def test_indices_from_before_the_templates_use_the_keyword_subfield(cli_run, env):
    from harvester.sinks.elasticsearch import es_client
    from harvester.sources.episodes import mpids_from_indices

    _, _, es = env  # no templates loaded: mpid is dynamically mapped as text + keyword
    seed_actions(es, ["x", "y"])
    assert list(mpids_from_indices(es_client(), f"useractions*-{YESTERDAY}")) == ["x", "y"]


def test_no_source_indices_is_nothing_to_do(cli_run, env):
    result = load(cli_run)
    assert result.exit_code == 0, result.stderr
    assert "0 mediapackage(s), 0 episode(s) delivered, 0 skipped" in result.stderr


def test_elasticsearch_rejections_are_retried_then_fail_the_run(cli_run, env, monkeypatch):
    engage, _, es = env
    for mpid in ("a", "b"):
        engage.add_episode(mpid)
    es.inject_item_error(times=2, match=lambda index, id_: id_ == "a")
    result = load(cli_run, "--mpid", "a", "--mpid", "b")
    assert result.exit_code == 0, result.stderr
    assert es.ids("episodes") == {"a", "b"} and es.bulk_requests == 3
    monkeypatch.setenv("HARVEST_RETRY_ATTEMPTS", "2")
    es.inject_item_error(times=None, match=lambda index, id_: id_ == "b")
    result = load(cli_run, "--mpid", "a", "--mpid", "b")
    assert result.exit_code == 1
    assert "b: HTTP 429" in result.stderr


def test_original_spellings_are_accepted(cli_run, env):
    engage, _, es = env
    engage.add_episode("a")
    result = cli_run("load_episodes", "--mpid", "a", "--es_host", es.url, "--target_index", "eps", "-w", "0")
    assert result.exit_code == 0, result.stderr
    assert es.ids("eps") == {"a"}


def test_a_second_concurrent_run_is_skipped(cli_run, env):
    from harvester.state.lock import run_lock

    with run_lock("load-episodes", None):
        result = load(cli_run, "--mpid", "a")
    assert result.exit_code == 3
