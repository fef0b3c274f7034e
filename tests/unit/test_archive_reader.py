"""Reading a local archive back: order, filters, wildcards, partial and missing micro-batches."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from harvester.errors import ConfigError
from harvester.sinks.archive import LocalStore, batch_name, encode_batch, partition_name
from harvester.sources.archive import Batch, BatchRef, Filters, Problem, iter_batches, iter_refs, open_source

W1, W2 = "a" * 32, "b" * 32
EARLY = partition_name(datetime(2026, 11, 23, 1, 0, tzinfo=UTC), W2)
LATE = partition_name(datetime(2026, 11, 23, 2, 0, tzinfo=UTC), W1)


def put(root, dataset, day, partition, seq, records):
    path = root / dataset / day / partition / batch_name(seq)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_batch(records))
    return path


@pytest.fixture
def archive(tmp_path):
    root = tmp_path / "arch"
    n = iter(range(1000))
    for seq in (0, 1, 2, 10, 3, 4, 5, 6, 7, 8, 9):  # 10 must come after 9, not after 1
        put(root, "useractions", "2026-11-23", LATE, seq, [{"action_id": f"L{seq}"}])
    put(root, "useractions", "2026-11-23", EARLY, 0, [{"action_id": next(n)} for _ in range(3)])
    put(root, "useractions", "2026-11-22", LATE, 0, [{"action_id": "d22"}])
    put(root, "useractions", "2026-11-24", LATE, 0, [{"action_id": "d24"}])
    put(root, "episodes", "2026-11-23", LATE, 0, [{"mpid": "m1"}])
    (root / "README.txt").write_text("not part of the layout")
    return root


def refs(source, **filters):
    store, location = open_source(source)
    return list(iter_refs(store, location, Filters(**filters)))


def keys(items, root):
    return [os.path.relpath(i.key, root) for i in items]


def test_archive_order(archive):
    got = refs(f"dir:{archive}")
    assert all(isinstance(r, BatchRef) for r in got)
    assert keys(got, archive) == (
        [f"episodes/2026-11-23/{LATE}/0000000.jsonl.gz",
         f"useractions/2026-11-22/{LATE}/0000000.jsonl.gz",
         f"useractions/2026-11-23/{EARLY}/0000000.jsonl.gz"]
        + [f"useractions/2026-11-23/{LATE}/{batch_name(s)}" for s in range(11)]
        + [f"useractions/2026-11-24/{LATE}/0000000.jsonl.gz"])


def test_filters(archive):
    got = refs(str(archive), dataset="useractions", day_from="2026-11-23", day_to="2026-11-23")
    assert {r.day for r in got} == {"2026-11-23"} and {r.dataset for r in got} == {"useractions"}
    assert len(got) == 12
    assert [r.day for r in refs(str(archive), day_from="2026-11-24")] == ["2026-11-24"]
    assert [r.dataset for r in refs(str(archive), dataset="episodes")] == ["episodes"]
    assert refs(str(archive), dataset="zoom_meetings") == []


def test_filters_apply_to_a_deep_source_too(archive):
    day = archive / "useractions" / "2026-11-23"
    assert len(refs(f"dir:{day}")) == 12
    assert refs(f"dir:{day}", day_to="2026-11-22") == []
    assert refs(f"dir:{day}", dataset="episodes") == []
    one = day / LATE / batch_name(10)
    assert [r.seq for r in refs(str(one))] == [10]


def test_wildcards(archive):
    got = refs(f"dir:{archive}/useractions/2026-11-2[34]/20261123T02*")
    assert [(r.day, r.partition, r.seq) for r in got] == \
        [("2026-11-23", LATE, s) for s in range(11)] + [("2026-11-24", LATE, 0)]
    got = refs(f"dir:{archive}/*/2026-11-23/*/0000000.jsonl.gz")
    assert [(r.dataset, r.partition) for r in got] == [("episodes", LATE), ("useractions", EARLY),
                                                        ("useractions", LATE)]
    assert refs(f"dir:{archive}/nothing-*") == []


def test_missing_source_is_a_usage_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file or directory"):
        open_source(f"dir:{tmp_path}/absent")
    with pytest.raises(ConfigError):
        open_source("dir:")


def test_unfinished_and_missing_micro_batches_are_problems_in_place(tmp_path):
    root = tmp_path / "arch"
    part = root / "useractions" / "2026-11-23" / LATE
    put(root, "useractions", "2026-11-23", LATE, 0, [{"action_id": 0}])
    put(root, "useractions", "2026-11-23", LATE, 2, [{"action_id": 2}])  # 1 is missing
    (part / ".0000003.jsonl.gz.0123abcd.tmp").write_bytes(encode_batch([{"action_id": 3}])[:20])
    store, location = open_source(str(root))
    items = list(iter_batches(store, location, Filters()))
    kinds = [(type(i).__name__, os.path.basename(i.key if isinstance(i, Problem) else i.ref.key))
             for i in items]
    assert kinds == [("Batch", "0000000.jsonl.gz"), ("Problem", "0000001.jsonl.gz"),
                     ("Batch", "0000002.jsonl.gz"), ("Problem", ".0000003.jsonl.gz.0123abcd.tmp")]
    assert "gap" in items[1].reason and "stopped while writing" in items[3].reason
    assert [r["action_id"] for i in items if isinstance(i, Batch) for r in i.records] == [0, 2]


def test_truncated_micro_batch_is_a_problem(tmp_path):
    root = tmp_path / "arch"
    path = put(root, "useractions", "2026-11-23", LATE, 0, [{"action_id": i} for i in range(50)])
    path.write_bytes(path.read_bytes()[:-9])
    store, location = open_source(str(root))
    (item,) = iter_batches(store, location, Filters())
    assert isinstance(item, Problem) and "truncated" in item.reason


def test_local_store_children_sorted(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "z.txt").write_text("")
    (tmp_path / "c.txt").write_text("")
    assert LocalStore(str(tmp_path)).children(str(tmp_path)) == (["a", "b"], ["c.txt", "z.txt"])


def test_a_long_gap_is_one_problem(tmp_path):
    root = tmp_path / "arch"
    put(root, "useractions", "2026-11-23", LATE, 0, [{"action_id": 0}])
    put(root, "useractions", "2026-11-23", LATE, 5_000_000, [{"action_id": 1}])
    items = refs(str(root))
    assert [type(i).__name__ for i in items] == ["BatchRef", "Problem", "BatchRef"]
    assert items[1].reason == "missing micro-batches: 0000001.jsonl.gz to 4999999.jsonl.gz (4999999)"
