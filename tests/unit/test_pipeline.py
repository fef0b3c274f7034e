"""deliver(): every batch reaches the sink in order, the flush comes last, and a failure anywhere
propagates, so a caller that advances its checkpoint after deliver() returns never skips a record."""

from __future__ import annotations

import threading

import pytest

from harvester.datasets import USERACTIONS
from harvester.errors import DeliveryError
from harvester.pipeline import RoutedSink, batched, deliver
from harvester.sinks.base import Sink, TeeSink


class RecordingSink(Sink):
    """Keeps what it was given and the order of write/flush calls; can fail on a chosen batch."""

    name = "recording"

    def __init__(self, fail_on: int | None = None, fail_flush: bool = False):
        super().__init__(USERACTIONS)
        self.events: list[str] = []
        self.records: list[dict] = []
        self.fail_on, self.fail_flush = fail_on, fail_flush
        self.threads: set[str] = set()

    def write(self, records):
        self.threads.add(threading.current_thread().name)
        n = sum(1 for e in self.events if e.startswith("write")) + 1
        if n == self.fail_on:
            raise DeliveryError(self.name, [(str(r["action_id"]), "refused") for r in records])
        self.events.append(f"write{n}")
        self.records.extend(records)
        self.delivered += len(records)

    def flush(self):
        if self.fail_flush:
            raise DeliveryError(self.name, [("buffered", "flush failed")])
        self.events.append("flush")


def batches(n: int, size: int = 3):
    for b in range(n):
        yield [{"action_id": b * size + i} for i in range(size)]


@pytest.mark.parametrize("overlap", [True, False])
def test_every_batch_in_order_then_one_flush(overlap):
    sink = RecordingSink()
    result = deliver(batches(4), sink, overlap=overlap)
    assert [r["action_id"] for r in sink.records] == list(range(12))
    assert sink.events == ["write1", "write2", "write3", "write4", "flush"]
    assert (result.batches, result.delivered) == (4, 12)


def test_overlap_writes_on_another_thread_than_the_one_fetching():
    sink = RecordingSink()
    deliver(batches(2), sink, overlap=True)
    assert sink.threads == {"deliver"}


@pytest.mark.parametrize("overlap", [True, False])
def test_a_failed_write_raises_and_never_flushes(overlap):
    sink = RecordingSink(fail_on=2)
    with pytest.raises(DeliveryError):
        deliver(batches(5), sink, overlap=overlap)
    assert "flush" not in sink.events
    assert [r["action_id"] for r in sink.records] == [0, 1, 2]


def test_a_failed_flush_raises():
    with pytest.raises(DeliveryError):
        deliver(batches(2), RecordingSink(fail_flush=True))


@pytest.mark.parametrize("overlap", [True, False])
def test_a_failing_source_raises_after_what_was_already_written(overlap):
    def source():
        yield [{"action_id": 1}]
        raise ConnectionError("upstream went away")

    sink = RecordingSink()
    with pytest.raises(ConnectionError):
        deliver(source(), sink, overlap=overlap)
    assert "flush" not in sink.events


def test_transform_runs_before_the_write_and_empty_batches_are_not_written():
    sink = RecordingSink()
    seen: list[int] = []
    result = deliver(batches(3), sink, transform=lambda b: [r for r in b if r["action_id"] % 2],
                     on_batch=lambda b: seen.extend(r["action_id"] for r in b), overlap=False)
    assert [r["action_id"] for r in sink.records] == [1, 3, 5, 7]
    assert seen == [1, 3, 5, 7] and result.delivered == 4


def test_on_batch_runs_after_each_write_in_order():
    sink = RecordingSink()
    calls: list[tuple[int, int]] = []
    deliver(batches(3), sink, on_batch=lambda b: calls.append((b[0]["action_id"], len(sink.records))))
    assert calls == [(0, 3), (3, 6), (6, 9)]


def test_a_tee_delivers_to_every_sink_and_flushes_each():
    main, archive = RecordingSink(), RecordingSink()
    tee = TeeSink(USERACTIONS, [main, archive])
    deliver(batches(2), tee)
    assert main.records == archive.records and len(main.records) == 6
    assert main.events[-1] == archive.events[-1] == "flush"


# -- commit: the checkpoint advance belongs to the loop ------------------------------------------

@pytest.mark.parametrize("overlap", [True, False])
def test_commit_runs_once_after_the_flush(overlap):
    sink = RecordingSink()
    seen: list[tuple[list[str], int]] = []
    deliver(batches(3), sink, overlap=overlap,
            commit=lambda result: seen.append((list(sink.events), result.delivered)))
    assert seen == [(["write1", "write2", "write3", "flush"], 9)]


@pytest.mark.parametrize("overlap", [True, False])
@pytest.mark.parametrize("failure", [{"fail_on": 2}, {"fail_flush": True}])
def test_commit_never_runs_when_delivery_or_flush_fails(overlap, failure):
    sink = RecordingSink(**failure)
    commits: list[object] = []
    with pytest.raises(DeliveryError):
        deliver(batches(3), sink, overlap=overlap, commit=commits.append)
    assert commits == []


def test_commit_never_runs_when_the_source_fails():
    def broken():
        yield [{"action_id": 1}]
        raise RuntimeError("upstream went away")

    sink = RecordingSink()
    commits: list[object] = []
    with pytest.raises(RuntimeError):
        deliver(broken(), sink, commit=commits.append)
    assert commits == [] and "flush" not in sink.events


# -- several datasets in one run ---------------------------------------------------------------

def kinds(n_meetings: int, n_sessions: int):
    docs = [{"doc_type": "meeting", "action_id": f"m{i}"} for i in range(n_meetings)]
    docs += [{"doc_type": "session", "action_id": f"s{i}"} for i in range(n_sessions)]
    return docs


def test_routed_sink_sends_each_record_to_its_datasets_sink_in_full_batches():
    meetings, sessions = RecordingSink(), RecordingSink()
    routed = RoutedSink({"meeting": meetings, "session": sessions}, key=lambda r: r["doc_type"],
                        batch_size=4)
    deliver(batched(kinds(5, 9), 3), routed, overlap=False)
    assert [r["action_id"] for r in meetings.records] == [f"m{i}" for i in range(5)]
    assert [r["action_id"] for r in sessions.records] == [f"s{i}" for i in range(9)]
    # full batches of 4 while running, the rest at the flush, then each sink flushed once
    assert meetings.events == ["write1", "write2", "flush"]
    assert sessions.events == ["write1", "write2", "write3", "flush"]
    assert routed.delivered == 14


def test_routed_sink_flushes_a_shared_sink_once():
    both = RecordingSink()
    routed = RoutedSink({"meeting": both, "session": both}, key=lambda r: r["doc_type"], batch_size=10)
    routed.write(kinds(2, 2))
    routed.flush()
    assert both.events == ["write1", "write2", "flush"] and len(both.records) == 4


def test_routed_sink_refuses_a_record_of_an_unknown_kind():
    routed = RoutedSink({"meeting": RecordingSink()}, key=lambda r: r["doc_type"])
    with pytest.raises(ValueError, match="recording"):
        routed.write([{"doc_type": "recording"}])


def test_a_routed_delivery_that_fails_in_one_dataset_commits_nothing():
    meetings, sessions = RecordingSink(), RecordingSink(fail_flush=True)
    routed = RoutedSink({"meeting": meetings, "session": sessions}, key=lambda r: r["doc_type"])
    commits: list[object] = []
    with pytest.raises(DeliveryError):
        deliver([kinds(1, 1)], routed, commit=commits.append)
    assert commits == []


def test_batched_keeps_order_and_bounds_size():
    out = list(batched(({"n": i} for i in range(7)), 3))
    assert [len(b) for b in out] == [3, 3, 1]
    assert [r["n"] for b in out for r in b] == list(range(7))
    assert list(batched([], 3)) == []
