"""Replacing a running deployment of the original tool must be a non-event.

The scenario of an analytics node: the original's `.env` (its variable names, its quoting),
its cron.d command lines (`./harvest.py useractions -b 10000`, `load_episodes`, `zoom`),
Redis on localhost unconfigured, and a bare `YYYYMMDDHHmmss` checkpoint object already in
S3. The new harvester runs from those, unchanged, as a real process against the Opencast
stand-in and moto's S3 and SQS; the records must be field-for-field the contract's.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from tests.conftest import DATA, ROOT
from tests.integration.test_load_episodes import MS, YESTERDAY, seed_actions
from tests.integration.test_useractions import drain
from tests.standins.elasticsearch import es_standin  # noqa: F401
from tests.standins.mmdb import tiny_geolite
from tests.standins.opencast import OpencastStandIn
from tests.standins.zoom import participant, zoom_standin_fixture  # noqa: F401
from tests.unit.test_ops_deploy import resolve_argv

#: The original node's cron.d commands, as its deployment recipe wrote them.
ORIGINAL_CRON = {
    "useractions": "cd /home/ua_harvester/harvester && source venv/bin/activate && "
                   "/usr/bin/run-one ./harvest.py useractions -b 10000 2>&1 | logger -t info",
    "load_episodes": "cd /home/ua_harvester/harvester && source venv/bin/activate && "
                     "/usr/bin/run-one ./harvest.py load_episodes 2>&1 | logger -t info",
    "zoom": "cd /home/ua_harvester/harvester && source venv/bin/activate && "
            "/usr/bin/run-one ./harvest.py zoom 2>&1 | logger -t info",
    "templates": "cd /home/ua_harvester/harvester && source venv/bin/activate && "
                 "./harvest.py setup load_index_templates 2>&1 | logger -t info",
}

BUCKET, KEY, QUEUE = "stack-ua-harvester", "stack-last-action-ts", "stack-user-actions"

#: Fields of the useraction record (docs/cli.md): what the downstream pipeline reads.
RECORD_FIELDS = {"action_id", "timestamp", "mpid", "session_id", "huid", "useragent", "ip", "proxy1",
                 "proxy2", "is_live", "action", "episode"}
ACTION_FIELDS = {"type", "inpoint", "outpoint", "length", "is_playing"}
EPISODE_FIELDS = {"title", "duration", "start", "course", "series", "year", "term", "cdn", "type",
                  "description"}


def original_env(oc: OpencastStandIn, es_host: str = "127.0.0.1:9") -> str:
    """The original node's .env: every one of its names, quoted as its deployment wrote them."""
    return "\n".join([
        "",
        'AWS_DEFAULT_REGION="us-east-1"',
        f'MATTERHORN_REST_USER="{oc.user}"',
        f'MATTERHORN_REST_PASS="{oc.password}"',
        # bare, as the recipe wrote the nodes' private IPs: http, as the original prefixed
        f'MATTERHORN_ENGAGE_HOST="{oc.url.removeprefix("http://")}"',
        f'MATTERHORN_ADMIN_HOST="{oc.url.removeprefix("http://")}"',
        f'ES_HOST="{es_host}"',
        "ZOOM_KEY=original-zoom-key",
        "ZOOM_SECRET=original-zoom-secret",
        f'S3_HARVEST_TS_BUCKET="{BUCKET}"',
        f'S3_LAST_ACTION_TS_KEY="{KEY}"',
        f'SQS_QUEUE_NAME="{QUEUE}"',
        "MAX_START_END_SPAN=7200",
        'LOGGLY_TAGS="stack"',
        "DEFAULT_INTERVAL=",
        "BANNER_ENDPOINT_BASE=",
        "GEOLITE_PATH=",
        "",
    ])


def cron_argv(line: str) -> list[str]:
    """`./harvest.py ...` out of a cron command: after the cd/activate, without run-one and redirections."""
    segment = next(s for s in line.split("&&") if "harvest.py" in s)
    segment = re.split(r"\s+2>&1|\|", segment)[0]
    argv = shlex.split(segment)
    if argv[0].endswith("run-one"):
        argv = argv[1:]  # the harvester's own lock replaces run-one
    assert argv[0] == "./harvest.py"
    return argv


@pytest.fixture
def oc():
    server = OpencastStandIn()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def node(tmp_path, oc, aws):
    """/home/ua_harvester/harvester: harvest.py, the original .env, nothing else."""
    home = tmp_path / "home" / "ua_harvester" / "harvester"
    home.mkdir(parents=True)
    shutil.copy2(ROOT / "harvest.py", home / "harvest.py")
    (home / ".env").write_text(original_env(oc))
    return home


def run_cron(home: Path, name: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a cron line's harvest command as cron would: a new process in the node's directory."""
    env = {k: v for k, v in os.environ.items() if k != "AWS_DEFAULT_REGION"}  # the .env provides it
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # python3 of this venv
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra_env or {})
    return subprocess.run(cron_argv(ORIGINAL_CRON[name]), cwd=home, env=env, capture_output=True, text=True,
                          timeout=120)


def compact(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S")


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def add_actions(oc: OpencastStandIn, first_id: int, times: list[datetime]) -> dict[int, dict]:
    """Actions with every field set, and the record the contract says each becomes."""
    expected = {}
    for n, created in enumerate(times):
        aid = first_id + n
        mpid = f"mp-{aid % 3}"
        live = aid % 4 == 0
        oc.add_action(aid, mpid, created, session=f"sess-{aid}", user=str(40000000 + aid),
                      ip=f"10.0.0.{n % 250}, 192.168.1.1, 172.16.0.9", agent=f"Mozilla/5.0 ({aid})",
                      type="PLAY" if n % 2 else "HEARTBEAT", inpoint=n * 30, outpoint=n * 30 + 30, length=30,
                      is_playing=2 if live else True)
        expected[aid] = {
            "action_id": aid, "timestamp": iso(created), "mpid": mpid, "session_id": f"sess-{aid}",
            "huid": str(40000000 + aid), "useragent": f"Mozilla/5.0 ({aid})", "ip": f"10.0.0.{n % 250}",
            "proxy1": "192.168.1.1", "proxy2": "172.16.0.9", "is_live": 1 if live else 0,
            "action": {"type": "PLAY" if n % 2 else "HEARTBEAT", "inpoint": n * 30, "outpoint": n * 30 + 30,
                       "length": 30, "is_playing": True},
            "episode": EPISODES.get(mpid),
        }
    return expected


#: mp-0 is a DCE course episode, mp-1 has a non-DCE series, mp-2 is unknown to Opencast.
EPISODES = {
    "mp-0": {"title": "Lecture 1", "duration": 3600000, "start": "2026-11-01T14:00:00Z",
             "course": "CSCI E-50", "series": "20260112345", "year": "2026", "term": "01", "cdn": "12345",
             "type": "L01", "description": None},
    "mp-1": {"title": "Town hall", "duration": 1800000, "start": "2026-11-02T16:30:00Z",
             "course": "Events", "series": "events-2026", "year": None, "term": None, "cdn": None,
             "type": "L01", "description": None},
}


def add_episodes(oc: OpencastStandIn) -> None:
    oc.add_episode("mp-0", title="Lecture 1", series="20260112345", seriestitle="CSCI E-50",
                   duration=3600000, start="2026-11-01T14:00:00Z")
    oc.add_episode("mp-1", title="Town hall", series="events-2026", seriestitle="Events", duration=1800000,
                   start="2026-11-02T16:30:00Z")


def s3_checkpoint() -> str:
    return boto3.client("s3").get_object(Bucket=BUCKET, Key=KEY)["Body"].read().decode()


def test_the_original_node_keeps_harvesting_unchanged(node, oc):
    now = datetime.now(UTC).replace(microsecond=0)
    checkpoint = now - timedelta(minutes=20)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=compact(checkpoint).encode())  # the original's bare format
    add_episodes(oc)
    # Harvested by the original tool already (before its checkpoint): must not come again.
    add_actions(oc, 1, [checkpoint - timedelta(minutes=m) for m in (1, 5, 30)])
    expected = add_actions(oc, 100, [checkpoint + timedelta(seconds=20 + 40 * i) for i in range(25)])

    # First cron tick of the new harvester: the S3 checkpoint is where it starts.
    result = run_cron(node, "useractions")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # cron mails stdout: nothing but data ever goes there
    assert "start from checkpoint" in result.stderr
    records = drain(QUEUE)
    by_id = {r["action_id"]: r for r in records}
    assert len(records) == len(by_id) == 25
    assert by_id == expected  # field for field, value for value
    for record in records:
        assert set(record) == RECORD_FIELDS
        assert set(record["action"]) == ACTION_FIELDS
        assert record["episode"] is None or set(record["episode"]) == EPISODE_FIELDS
    newest = max(expected.values(), key=lambda r: r["timestamp"])["timestamp"]
    assert s3_checkpoint() == re.sub(r"\D", "", newest)  # still bare YYYYMMDDHHmmss
    # The summary line that monitoring reads.
    assert "fetched 25, delivered 25, episode lookups 3" in result.stderr

    # Next tick: only what is new since, and the checkpoint moves on.
    later = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
    fresh = add_actions(oc, 500, [later - timedelta(seconds=1), later])
    result = run_cron(node, "useractions")
    assert result.returncode == 0, result.stderr
    second = {r["action_id"]: r for r in drain(QUEUE)}
    assert {k: second[k] for k in fresh} == fresh
    # The window starts at the checkpoint's second, inclusive: at most the action(s) of that very
    # second come again (at-least-once, same action_id), never anything older.
    again = {k: v for k, v in second.items() if k not in fresh}
    assert all(r["timestamp"] == newest and r == expected[k] for k, r in again.items())
    assert s3_checkpoint() == compact(later)


def test_records_match_the_contract_document():
    """The field lists above are the ones the command-line contract gives, so the test above checks it."""
    cli_md = DATA / "contract" / "cli.md"
    block = cli_md.read_text().split("#### The useraction record", 1)[1].split("```")[1]
    top = set(re.findall(r'^\s*"(\w+)":', block, re.M)) | set(re.findall(r'"(proxy\d)":', block))
    assert top == RECORD_FIELDS
    action = re.search(r'"action": \{(.*?)\}', block).group(1)
    assert set(re.findall(r'"(\w+)":', action)) == ACTION_FIELDS
    episode = re.search(r'"episode": \{(.*?)\}', block).group(1)
    assert set(re.findall(r'"(\w+)"', episode)) == EPISODE_FIELDS


def test_original_span_protection_still_refuses_a_long_gap(node, oc):
    """MAX_START_END_SPAN from the original .env: a stale checkpoint is refused with exit 3."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    stale = datetime.now(UTC) - timedelta(hours=5)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=compact(stale).encode())
    result = run_cron(node, "useractions")
    assert result.returncode == 3, result.stderr
    assert "MAX_START_END_SPAN=7200" in result.stderr and "--disable-start-end-span-check" in result.stderr
    assert s3_checkpoint() == compact(stale)


def test_every_original_cron_line_parses_against_the_new_cli(node, monkeypatch):
    """Underscore command names and the original's flags resolve to real commands and options."""
    from harvester.config import parse_dotenv

    for name, value in parse_dotenv(node / ".env").items():  # the original .env, as harvest reads it
        if value:
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("ZOOM_ACCOUNT_ID", "added-for-server-to-server-oauth")
    paths = {name: resolve_argv(cron_argv(line)[1:])[0] for name, line in ORIGINAL_CRON.items()}
    assert paths == {"useractions": ["useractions"], "load_episodes": ["load-episodes"], "zoom": ["zoom"],
                     "templates": ["setup", "load-index-templates"]}
    # The original's long flags, underscore spelling, as operators typed them by hand.
    _, ctx = resolve_argv(["useractions", "--engage_host", "engage.example.edu", "--batch-size", "100",
                           "--interval", "1", "--output", "-", "--disable-start-end-span-check"])
    assert ctx.params["engage_host"] == "engage.example.edu" and ctx.params["output"] == "-"
    _, ctx = resolve_argv(["zoom", "--es_host", "localhost:9200", "--key", "k", "--secret", "s"])
    assert ctx.params["es_host"] == "localhost:9200"


def test_original_daily_lines_load_templates_and_episodes(tmp_path, es_standin, monkeypatch):  # noqa: F811
    """`setup load_index_templates`, then `load_episodes`, as the original node ran them."""
    monkeypatch.delenv("ES_HOST")  # the .env says where Elasticsearch is
    opencast = OpencastStandIn()  # engage and admin endpoints on one stand-in
    opencast.workflow_definitions.add("DCE-archive-publish-external")  # the DCE server's
    opencast.start()
    try:
        home = tmp_path / "harvester"
        home.mkdir()
        shutil.copy2(ROOT / "harvest.py", home / "harvest.py")
        (home / ".env").write_text(original_env(opencast, es_host=es_standin.url))
        opencast.add_episode("mp-0", title="Lecture 1", series="20260112345", seriestitle="CSCI E-50",
                             start="2026-11-01T14:00:00Z")
        opencast.add_workflow("mp-0", 4, ("capture", MS, MS + 600_000), ("retract-element", MS, MS + 900_000))
        seed_actions(es_standin, ["mp-0", "mp-unknown"], day=YESTERDAY)

        result = run_cron(home, "templates")
        assert result.returncode == 0, result.stderr
        assert any(name.startswith("useractions") for name in es_standin.templates)
        result = run_cron(home, "load_episodes")
        assert result.returncode == 0, result.stderr
        assert es_standin.ids("episodes") == {"mp-0"}
        episode = es_standin.doc("episodes", "mp-0")
        assert (episode["title"], episode["course"], episode["series"]) == ("Lecture 1", "CSCI E-50",
                                                                          "20260112345")
        # the original's meaning: live and available from the SUCCEEDED DCE workflow
        assert (episode["live_stream"], episode["live_duration"]) == (True, 600_000)
        assert episode["available"] == "2026-11-01T14:15:00Z"
        assert "2 mediapackage(s), 1 episode(s) delivered, 1 skipped" in result.stderr
    finally:
        opencast.stop()


def test_zoom_with_the_original_jwt_credentials_says_what_to_add(node):
    """Zoom retired JWT apps: the one new setting is ZOOM_ACCOUNT_ID, and the error says so (exit 2)."""
    result = run_cron(node, "zoom")
    assert result.returncode == 2
    assert "--account-id" in result.stderr and "ZOOM_ACCOUNT_ID" in result.stderr
    assert "original-zoom-secret" not in result.stderr and "Traceback" not in result.stderr


def test_zoom_with_the_original_names_and_the_account_id_added(tmp_path, es_standin, zoom_standin,  # noqa: F811
                                                              monkeypatch):
    """The original ZOOM_KEY/ZOOM_SECRET names carry the new app's credentials; ZOOM_ACCOUNT_ID is added."""
    for name in ("ES_HOST", "ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"):
        monkeypatch.delenv(name)  # all of these come from the .env
    opencast = OpencastStandIn()
    home = tmp_path / "harvester"
    home.mkdir()
    shutil.copy2(ROOT / "harvest.py", home / "harvest.py")
    text = original_env(opencast, es_host=es_standin.url)
    text = text.replace("ZOOM_KEY=original-zoom-key", f"ZOOM_KEY={zoom_standin.client_id}")
    text = text.replace("ZOOM_SECRET=original-zoom-secret", f"ZOOM_SECRET={zoom_standin.client_secret}")
    # the recipe's GEOLITE_PATH, pointing at a GeoLite2 City file as on the original node
    geolite = tiny_geolite(tmp_path / "GeoLite2-City.mmdb")
    text = text.replace("GEOLITE_PATH=", f"GEOLITE_PATH={geolite}")
    (home / ".env").write_text(text + f"ZOOM_ACCOUNT_ID={zoom_standin.account_id}\n")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    meeting = zoom_standin.add_meeting(yesterday, [
        participant("16778240", "Ann", f"{yesterday}T14:00:00Z", f"{yesterday}T14:30:00Z",
                    ip_address="18.10.0.1"),
        participant("16779264", "Bob", f"{yesterday}T14:05:00Z", f"{yesterday}T14:30:00Z")])

    assert run_cron(home, "templates").returncode == 0
    result = run_cron(home, "zoom")
    assert result.returncode == 0, result.stderr
    # the original's indices, ids and field names
    day = yesterday.replace("-", ".")
    assert es_standin.ids(f"meetings-{day}") == {meeting.uuid}
    assert es_standin.ids(f"sessions-{day}") == {meeting.uuid + "16778240", meeting.uuid + "16779264"}
    doc = es_standin.doc(f"meetings-{day}", meeting.uuid)
    assert set(doc["host"]) == {"host_id", "name", "email", "user_type"} and doc["participant_sessions"] == 2
    ann = es_standin.doc(f"sessions-{day}", meeting.uuid + "16778240")
    assert (ann["meeting"], ann["user_id"], ann["ip_address"]) == (meeting.uuid, "16778240", "18.10.0.1")
    assert ann["geoip"]["city_name"] == "Boston" and ann["geoip"]["location"] == [-71.0631, 42.3562]
    assert (ann["city"], ann["country"]) == ("Cambridge", "US")  # Zoom's own "Cambridge (US)"
    assert zoom_standin.client_secret not in result.stderr


def test_config_shows_the_original_env_file_as_the_source(node):
    env = {k: v for k, v in os.environ.items() if k != "AWS_DEFAULT_REGION"}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "harvest.py", "config", "--format", "json"], cwd=node, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    rows = {s["name"]: s for s in doc["settings"]}
    dotenv = str(node / ".env")
    assert rows["S3_LAST_ACTION_TS_KEY"]["value"] == KEY  # quotes removed
    assert rows["S3_LAST_ACTION_TS_KEY"]["where"] == f"dotenv file {dotenv}"
    assert rows["ZOOM_CLIENT_SECRET"] == rows["ZOOM_CLIENT_SECRET"] | {"value": "***", "secret": True}
    assert rows["ZOOM_CLIENT_SECRET"]["where"] == f"dotenv file {dotenv} (as ZOOM_SECRET)"
    assert rows["AWS_REGION"]["value"] == "us-east-1"
    assert rows["DEFAULT_INTERVAL"]["source"] == "default"  # an empty line means not set
    assert "original-zoom-secret" not in result.stdout
    assert doc["unused"] == []  # empty original-only names are simply not set
