"""`harvest load-episodes` end to end through the CLI: Elasticsearch and Opencast stand-ins."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.wrappers import Response

from tests.conftest import free_port
from tests.standins.elasticsearch import es_standin  # noqa: F401
from tests.standins.opencast import OpencastStandIn, server_error

YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y.%m.%d")
T0 = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
MS = int(T0.timestamp() * 1000)


DCE = "DCE-archive-publish-external"


def capture_workflow(admin: OpencastStandIn, mpid: str, start_ms: int, end_ms: int,
                     available_ms: int, wf_id: int = 11) -> None:
    admin.add_workflow(mpid, wf_id, ("capture", start_ms, end_ms),
                       ("retract-element", available_ms - 10, available_ms))


@pytest.fixture
def opencast_pair():
    engage, admin = OpencastStandIn(), OpencastStandIn()
    admin.episodes = engage.episodes  # one Opencast: workflows carry the episodes' mediapackages
    admin.workflow_definitions.add(DCE)
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
    capture_workflow(admin, "mp-live", MS, MS + 3_500_000, MS + 7_200_000)
    admin.add_schedule("mp-plain", T0, T0 + timedelta(hours=1))  # scheduled: not evidence of live
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
    assert live["live_start"] == "2026-11-01T14:00:00Z" and live["live_source"] == "capture"
    assert live["available"] == "2026-11-01T16:00:00Z"
    assert live["available_source"] == "retract-element"
    plain = es.doc("episodes", "mp-plain")
    assert plain["live_stream"] is False and plain["year"] is None
    assert (plain["live_start"], plain["live_end"], plain["live_source"]) == (None, None, None)
    assert "4 mediapackage(s), 2 episode(s) delivered, 2 skipped" in result.stderr
    assert "not found in search: 1" in result.stderr and "no start time: 1" in result.stderr
    # one search per mpid on the engage node, asked as the original did
    assert served(engage, "/search/episode.json") == 4
    assert all(r.args.get("admin") == "true" and r.args.get("includeDeleted") == "true"
               for r in engage.requests if r.path == "/search/episode.json" and r.status != 401)
    # workflows on the admin node (mp-gone too: a deleted episode keeps its workflows); the
    # definition once per run; no live evidence anywhere, so technical.json is never asked
    assert served(admin, "/search") == 0
    assert served(admin, "/workflow/mediaPackage/") == 3
    assert served(admin, f"/workflow/definition/{DCE}.json") == 1
    assert served(admin, "/recordings/") == 0
    assert es.bulk_requests == 1 and es.doc_requests == 0


def test_old_workflow_api_is_found_once_and_remembered(cli_run, env):
    engage, admin, es = env
    admin.version = 11
    for i in range(3):
        engage.add_episode(f"mp{i}")
        capture_workflow(admin, f"mp{i}", MS, MS + 1000, MS + 2000)
        admin.add_workflow(f"mp{i}", 50, ("capture", MS, MS + 9999), state="FAILED")
    result = load(cli_run, "--mpid", "mp0", "--mpid", "mp1", "--mpid", "mp2")
    assert result.exit_code == 0, result.stderr
    assert served(admin, "/workflow/mediaPackage/") == 1  # tried once, 404, never again
    assert served(admin, "/workflow/instances.json") == 3
    asked = [r.args for r in admin.requests if r.path == "/workflow/instances.json"]
    assert {a["mp"] for a in asked} == {"mp0", "mp1", "mp2"}
    # filtered by the server exactly as the original asked
    assert all(a["state"] == "SUCCEEDED" and a["workflowdefinition"] == DCE for a in asked)
    assert all(es.doc("episodes", f"mp{i}")["live_duration"] == 1000 for i in range(3))


@pytest.mark.parametrize("version", [11, 12, 16])
def test_the_original_meaning_of_available_and_live(cli_run, env, version):
    """Only the newest SUCCEEDED DCE-archive-publish-external workflow counts, as the original."""
    engage, admin, es = env
    admin.version = version
    engage.add_episode("mp1")
    capture_workflow(admin, "mp1", MS, MS + 1000, MS + 2000, wf_id=7)
    capture_workflow(admin, "mp1", MS, MS + 3000, MS + 4000, wf_id=9)  # newest succeeded
    admin.add_workflow("mp1", 12, ("capture", MS, MS + 5000), state="FAILED")
    admin.add_workflow("mp1", 13, ("capture", MS, MS + 6000), ("publish-engage", MS, MS + 7000),
                       template="republish-metadata")
    result = load(cli_run, "--mpid", "mp1")
    assert result.exit_code == 0, result.stderr
    doc = es.doc("episodes", "mp1")
    assert (doc["live_source"], doc["live_duration"]) == ("capture", 3000)
    assert doc["available"] == "2026-11-01T14:00:04Z"

    # A server without the DCE definition: any SUCCEEDED workflow; `available` is publish-engage.
    admin.workflow_definitions.clear()
    result = load(cli_run, "--mpid", "mp1")
    assert result.exit_code == 0, result.stderr
    doc = es.doc("episodes", "mp1")
    assert (doc["live_source"], doc["live_duration"]) == ("capture", 6000)
    assert (doc["available"], doc["available_source"]) == ("2026-11-01T14:00:07Z", "publish-engage")


def accepts_of(standin) -> list[str]:
    return [r.headers.get("Accept", "") for r in standin.requests
            if r.path.startswith("/recordings/") and r.status != 401]


def test_technical_json_is_asked_with_an_accept_it_serves(cli_run, env):
    """Stock 16: @Produces(text/xml), so Accept: application/json alone would get 406."""
    import requests

    engage, admin, es = env
    engage.add_episode("mp1", live=True)  # published by live scheduling: a live track
    admin.add_schedule("mp1", T0 - timedelta(minutes=2), T0 + timedelta(hours=1))
    result = load(cli_run, "--mpid", "mp1")
    assert result.exit_code == 0, result.stderr
    doc = es.doc("episodes", "mp1")
    assert (doc["live_stream"], doc["live_source"]) == (True, "schedule")
    assert doc["live_start"] == "2026-11-01T13:58:00Z" and doc["live_duration"] == 62 * 60 * 1000
    assert [r.status for r in admin.requests if r.path.startswith("/recordings/")][-1] == 200
    assert "text/xml" in accepts_of(admin)[-1]
    # the stand-in is as strict as JAX-RS: a JSON-only Accept is refused
    url = f"{admin.url}/recordings/mp1/technical.json"
    auth = requests.auth.HTTPBasicAuth("admin", admin.directory_users["admin"])  # a directory user
    assert requests.get(url, auth=auth, headers={"Accept": "application/json"}).status_code == 406
    assert requests.get(url, auth=auth, headers={"Accept": "text/xml"}).status_code == 200


def test_technical_json_406_or_404_is_no_data_and_never_aborts(cli_run, env):
    engage, admin, es = env
    mpids = [f"live{i}" for i in range(12)]  # more than the 10 failures in a row that end a run
    for m in mpids:
        engage.add_episode(m, live=True, start="2026-11-01T14:00:00Z", duration=60_000)
    admin.inject(lambda r: Response("", status=406), times=None,
                 match=lambda r: r.path.startswith("/recordings/"))
    result = load(cli_run, *[a for m in mpids for a in ("--mpid", m)])
    assert result.exit_code == 0, result.stderr
    assert es.ids("episodes") == set(mpids)
    assert "Opencast request failed" not in result.stderr
    assert "answers 406" in result.stderr
    assert served(admin, "/recordings/") == 1  # a 406 is asked once per run, not per episode
    doc = es.doc("episodes", "live3")
    assert (doc["live_stream"], doc["live_source"]) == (True, "mediapackage")
    assert (doc["live_start"], doc["live_end"]) == ("2026-11-01T14:00:00Z", "2026-11-01T14:01:00Z")

    # 404 (no such scheduled event, or Opencast before 4.x) is "no data" for that episode only
    admin.clear_faults()
    admin.reset_counters()
    admin.add_schedule("live1", T0, T0 + timedelta(minutes=30))
    result = load(cli_run, "--mpid", "live0", "--mpid", "live1")
    assert result.exit_code == 0, result.stderr
    assert served(admin, "/recordings/") == 2
    assert es.doc("episodes", "live0")["live_source"] == "mediapackage"
    assert es.doc("episodes", "live1")["live_source"] == "schedule"


def test_technical_metadata_as_xml_is_read(cli_run, env):
    engage, admin, es = env
    engage.add_episode("mp1", live=True)
    xml = ('<?xml version="1.0" encoding="UTF-8"?><technicalMetadata><id>mp1</id>'
           '<start>2026-11-01T13:59:00Z</start><end>2026-11-01T14:59:00Z</end></technicalMetadata>')
    admin.inject(lambda r: Response(xml, content_type="text/xml"), times=None,
                 match=lambda r: r.path.startswith("/recordings/") and "Authorization" in r.headers)
    result = load(cli_run, "--mpid", "mp1")
    assert result.exit_code == 0, result.stderr
    doc = es.doc("episodes", "mp1")
    assert (doc["live_source"], doc["live_start"]) == ("schedule", "2026-11-01T13:59:00Z")
    assert doc["live_duration"] == 3_600_000


def test_an_engage_live_publication_is_evidence_of_a_live_stream(cli_run, env):
    engage, admin, es = env
    engage.add_episode("mp1")
    admin.add_workflow("mp1", 3, ("schedule", MS - 10, MS - 5), template="schedule-and-upload",
                       publications=[{"id": "pub-1", "channel": "engage-live",
                                      "mimetype": "text/html", "url": "http://engage/play/mp1"}])
    admin.add_schedule("mp1", T0, T0 + timedelta(minutes=50))
    result = load(cli_run, "--mpid", "mp1")
    assert result.exit_code == 0, result.stderr
    doc = es.doc("episodes", "mp1")
    assert (doc["live_stream"], doc["live_source"], doc["live_duration"]) == (True, "schedule", 3_000_000)


# -- deleted and retracted episodes ---------------------------------------------------------------

def test_deleted_episodes_keep_their_metadata_on_the_dce_fork(cli_run, env):
    """The DCE fork honours includeDeleted: search still returns the episode."""
    engage, admin, es = env
    engage.honours_include_deleted = True
    engage.add_episode("gone", title="Retracted lecture", series="20260112345", deleted=True)
    capture_workflow(admin, "gone", MS, MS + 1000, MS + 2000)
    result = load(cli_run, "--mpid", "gone")
    assert result.exit_code == 0, result.stderr
    doc = es.doc("episodes", "gone")
    assert doc["title"] == "Retracted lecture" and doc["crn"] == "12345"
    assert doc["live_source"] == "capture" and doc["available"] is not None
    assert "skipped" in result.stderr and "not in search" not in result.stderr


@pytest.mark.parametrize("version", [12, 16])
def test_deleted_episodes_on_a_server_that_ignores_include_deleted(cli_run, env, version):
    """Every public release ignores includeDeleted: the workflows' mediapackage stands in."""
    engage, admin, es = env
    engage.version = admin.version = version
    engage.search_shape = "oc16" if version >= 16 else "solr"
    engage.add_episode("gone", title="Retracted lecture", series="20260112345", deleted=True)
    engage.add_episode("here", title="Still published")
    capture_workflow(admin, "gone", MS, MS + 1000, MS + 2000)
    result = load(cli_run, "--mpid", "gone", "--mpid", "here", "--mpid", "never")
    assert result.exit_code == 0, result.stderr
    assert es.ids("episodes") == {"gone", "here"}
    doc = es.doc("episodes", "gone")
    assert (doc["title"], doc["course"] is None, doc["year"]) == ("Retracted lecture", True, "2026")
    assert doc["start"] == "2026-11-01T14:00:00Z" and doc["live_source"] == "capture"
    assert "1 not in search (metadata from their workflows)" in result.stderr
    assert "not found in search: 1" in result.stderr  # "never" has neither


def test_a_user_without_the_admin_role_still_finds_episodes(cli_run, env, monkeypatch):
    """Opencast up to 15 answers admin=true with 401 to a user without ROLE_ADMIN."""
    engage, admin, es = env
    engage.version, engage.admin_role = 15, False
    # Basic is checked against the user directory: a directory user without ROLE_ADMIN
    for server in (engage, admin):
        server.directory_users["lecture-capture"] = "s3cret"
    monkeypatch.setenv("OPENCAST_AUTH", "basic")
    monkeypatch.setenv("MATTERHORN_REST_USER", "lecture-capture")
    monkeypatch.setenv("MATTERHORN_REST_PASS", "s3cret")
    for m in ("a", "b", "c"):
        engage.add_episode(m)
    result = load(cli_run, "--mpid", "a", "--mpid", "b", "--mpid", "c")
    assert result.exit_code == 0, result.stderr
    assert es.ids("episodes") == {"a", "b", "c"}
    asked = [(r.args.get("admin"), r.status) for r in engage.requests if r.path == "/search/episode.json"]
    assert asked == [("true", 401), (None, 200), (None, 200), (None, 200)]
    assert result.stderr.count("refused admin=true") == 1


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
    from harvester.sources.opencast.episodes import mpids_from_indices

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
    from harvester.sources.opencast.episodes import mpids_from_indices

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


def test_bare_hosts_mean_http_as_in_the_original(cli_run, env, monkeypatch):
    """The original recipe writes bare private IPs; the original client prefixed http://."""
    engage, admin, es = env
    monkeypatch.setenv("MATTERHORN_ENGAGE_HOST", engage.url.removeprefix("http://"))
    monkeypatch.setenv("MATTERHORN_ADMIN_HOST", admin.url.removeprefix("http://"))
    engage.add_episode("a")
    capture_workflow(admin, "a", MS, MS + 1000, MS + 2000)
    result = load(cli_run, "--mpid", "a")
    assert result.exit_code == 0, result.stderr
    assert es.doc("episodes", "a")["live_source"] == "capture"
