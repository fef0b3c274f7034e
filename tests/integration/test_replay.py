"""`harvest replay` through the CLI on local archives: output, batching, filters, exit codes."""

from __future__ import annotations

import json
import math

import pytest

from harvester.datasets import EPISODES, USERACTIONS, ZOOM_MEETINGS
from harvester.sinks.archive import ArchiveSink, LocalStore
from harvester.sinks.jsonlines import dumps


def actions(first: int, n: int, day: str = "2026-11-23") -> list[dict]:
    return [{"action_id": i, "timestamp": f"{day}T10:{i % 60:02d}:00Z", "mpid": f"mp-{i % 3}",
             "action": {"type": "PLAY", "inpoint": i}, "episode": None} for i in range(first, first + n)]


def lines(path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def summary(stderr: str) -> dict:
    for line in stderr.splitlines():
        doc = json.loads(line)
        if doc.get("message", "").startswith("replay done"):
            return doc["summary"]
    raise AssertionError(f"no summary in {stderr!r}")


@pytest.fixture
def archive(tmp_path):
    """Two writers of useractions over three days, and one of episodes."""
    root = tmp_path / "arch"
    for first in (1, 1001):
        sink = ArchiveSink(USERACTIONS, LocalStore(str(root)))
        for day in ("2026-11-22", "2026-11-23", "2026-11-24"):
            sink.write(actions(first, 30, day))
            first += 100
    ep = ArchiveSink(EPISODES, LocalStore(str(root)))
    ep.write([{"mpid": f"mp-{i}", "start": "2026-11-23T14:00:00Z", "title": f"T{i}"} for i in range(3)])
    return root


def test_stdout_carries_only_records(archive, cli_run):
    result = cli_run("replay", f"dir:{archive}", "--dataset", "useractions", "--date", "2026-11-23")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["action_id"] for r in records) == list(range(101, 131)) + list(range(1101, 1131))
    assert {r["timestamp"][:10] for r in records} == {"2026-11-23"}
    assert "replay done" in result.stderr


def test_every_dataset_in_archive_order(archive, cli_run, tmp_path):
    out = tmp_path / "out.jsonl"
    result = cli_run("replay", str(archive), "--output", str(out), "--from", "2026-11-23")
    assert result.exit_code == 0, result.stderr
    got = [json.loads(line) for line in lines(out)]
    assert [r["mpid"] for r in got[:3]] == ["mp-0", "mp-1", "mp-2"] and "title" in got[0]  # episodes
    days = [r["timestamp"][:10] for r in got[3:]]
    assert days == sorted(days) and set(days) == {"2026-11-23", "2026-11-24"} and len(days) == 120


def test_batches_are_regrouped_to_batch_size(archive, cli_run, tmp_path):
    out = tmp_path / "out.jsonl"
    result = cli_run("--log-format", "json", "replay", f"dir:{archive}", "--dataset", "useractions",
                     "-b", "7", "--output", str(out))
    assert result.exit_code == 0, result.stderr
    s = summary(result.stderr)
    assert s["batches"] == 6 and s["records"] == 180 and s["delivered"] == 180
    assert s["sink_requests"] == math.ceil(180 / 7)
    assert s["datasets"] == {"useractions": 180} and s["partial"] == 0
    assert len(lines(out)) == 180


def test_replay_into_another_archive_is_identical(archive, cli_run, tmp_path):
    copy = tmp_path / "copy"
    assert cli_run("replay", f"dir:{archive}", "--output", f"dir:{copy}").exit_code == 0
    a = cli_run("replay", f"dir:{archive}", "--dataset", "useractions")
    b = cli_run("replay", f"dir:{copy}", "--dataset", "useractions")
    assert a.exit_code == b.exit_code == 0
    assert sorted(a.stdout.splitlines()) == sorted(b.stdout.splitlines())
    assert len(a.stdout.splitlines()) == 180


def test_round_trip_through_a_harvest_tee_is_byte_identical(cli_run, tmp_path):
    """`--output FILE --archive dir:` then replay into FILE2: the two files are equal."""
    from harvester.sinks import open_sink

    records = actions(1, 40) + [{"action_id": 99, "timestamp": "2026-11-23T11:00:00.123Z",
                                 "title": "Ünïcødé \u2028 \"quoted\" \\ / \t", "n": 1.5e300, "big": 2**70,
                                 "neg": -0.0, "nested": {"a": [1, None, True, {"b": "c"}]}}]
    sink = open_sink(str(tmp_path / "orig.jsonl"), USERACTIONS, {}, archive=f"dir:{tmp_path / 'a'}")
    with sink:
        sink.write(records[:25])
        sink.write(records[25:])
    result = cli_run("replay", f"dir:{tmp_path / 'a'}", "-o", str(tmp_path / "again.jsonl"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "again.jsonl").read_bytes() == (tmp_path / "orig.jsonl").read_bytes()
    assert (tmp_path / "orig.jsonl").read_text().count("\n") == 41
    assert [dumps(r) + "\n" for r in records] == [line + "\n" for line in lines(tmp_path / "orig.jsonl")]


def test_partial_micro_batch_is_reported_and_others_delivered(archive, cli_run, tmp_path):
    day = archive / "useractions" / "2026-11-23"
    victim = sorted(day.glob("*/0000000.jsonl.gz"))[0]
    victim.write_bytes(victim.read_bytes()[:40])
    leftover = victim.parent / ".0000001.jsonl.gz.deadbeef.tmp"
    leftover.write_bytes(b"\x1f\x8b")
    out = tmp_path / "out.jsonl"
    result = cli_run("replay", f"dir:{archive}", "--dataset", "useractions", "-o", str(out))
    assert result.exit_code == 1
    assert f"{victim}: truncated micro-batch" in result.stderr
    assert f"{leftover}: unfinished micro-batch" in result.stderr
    assert "2 micro-batch(es) partial or missing and not delivered" in result.stderr
    got = {json.loads(line)["action_id"] for line in lines(out)}
    assert len(got) == 150  # every whole micro-batch, none of the broken one
    broken = set(range(101, 131)) | set(range(1101, 1131))
    assert len(broken - got) == 30

    ok = cli_run("replay", f"dir:{archive}", "--dataset", "useractions", "--skip-partial",
                 "-o", str(tmp_path / "skip.jsonl"))
    assert ok.exit_code == 0 and "truncated micro-batch" in ok.stderr
    assert len(lines(tmp_path / "skip.jsonl")) == 150


def test_missing_micro_batch_is_reported(tmp_path, cli_run):
    sink = ArchiveSink(ZOOM_MEETINGS, LocalStore(str(tmp_path / "a")))
    for n in range(3):
        sink.write([{"uuid": f"u{n}", "start_time": "2026-11-23T09:00:00Z"}])
    (tmp_path / "a" / "zoom_meetings" / "2026-11-23" / sink.partition / "0000001.jsonl.gz").unlink()
    result = cli_run("replay", str(tmp_path / "a"))
    assert result.exit_code == 1
    assert "0000001.jsonl.gz: missing micro-batch" in result.stderr
    assert [json.loads(line)["uuid"] for line in result.stdout.splitlines()] == ["u0", "u2"]


def test_verify_only_delivers_nothing(archive, cli_run):
    result = cli_run("--log-format", "json", "replay", f"dir:{archive}", "--verify-only", "-o", "sqs")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    s = summary(result.stderr)
    assert (s["batches"], s["records"], s["delivered"], s["output"]) == (7, 183, 0, None)
    (next(archive.glob("useractions/2026-11-22/*/0000000.jsonl.gz"))).write_bytes(b"")
    bad = cli_run("replay", f"dir:{archive}", "--verify-only")
    assert bad.exit_code == 1 and "the file is empty" in bad.stderr


def test_nothing_found_is_a_warning(archive, cli_run):
    result = cli_run("replay", f"dir:{archive}", "--date", "2025-01-01")
    assert result.exit_code == 0 and result.stdout == ""
    assert "no micro-batches found" in result.stderr


def test_source_from_harvest_archive_setting(archive, cli_run, monkeypatch):
    monkeypatch.setenv("HARVEST_ARCHIVE", f"dir:{archive}")
    result = cli_run("replay", "--dataset", "episodes")
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3


@pytest.mark.parametrize("args, message", [
    (["replay"], "HARVEST_ARCHIVE"),
    (["replay", "dir:{a}", "--from", "2026-13-01"], "--from"),
    (["replay", "dir:{a}", "--to", "yesterday"], "--to"),
    (["replay", "dir:{a}", "--from", "2026-11-24", "--to", "2026-11-23"], "--from"),
    (["replay", "dir:{a}", "--date", "2026-11-23", "--from", "2026-11-23"], "either --date or --from"),
    (["replay", "dir:{a}", "--dataset", "nope"], "--dataset"),
    (["replay", "dir:{a}", "--batch-size", "0"], "--batch-size"),
    (["replay", "dir:{a}", "--output", "sqs"], "SQS_QUEUE_NAME"),
    (["replay", "dir:{a}/absent"], "no such file or directory"),
    (["replay", "s3://Not_A_Bucket/x"], "valid bucket name"),
    (["replay", "dir:{a}", "--output", "dir:"], "expected dir:PATH"),
])
def test_bad_input_exits_2_naming_the_option(archive, cli_run, args, message):
    result = cli_run(*[a.replace("{a}", str(archive)) for a in args])
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_underscore_flags_are_accepted(archive, cli_run):
    result = cli_run("replay", f"dir:{archive}", "--dataset", "episodes", "--batch_size", "2")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 3


def test_unwritable_output_fails_with_exit_1(archive, cli_run, tmp_path):
    result = cli_run("replay", f"dir:{archive}", "-o", str(tmp_path / "no" / "such" / "dir" / "out.jsonl"))
    assert result.exit_code == 1
    assert "cannot open output file" in result.stderr
