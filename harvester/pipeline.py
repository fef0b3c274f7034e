"""The one delivery loop: source -> sinks -> flush -> checkpoint, for every command.

The rule that protects production data, "a checkpoint moves only after every record before
it was delivered and the sinks flushed", is written here and nowhere else. Jobs hand over an
iterable of batches (lists of records), a sink (or a `RoutedSink` sending each record to the
sink of its dataset) and a `commit` callback that advances their checkpoint. `deliver`
writes each batch as it comes (memory stays bounded by a batch or two), flushes, and only
then calls `commit`. Any exception on the way leaves the checkpoint alone.
"""

from __future__ import annotations

import itertools
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from harvester.sinks.base import Sink


@dataclass
class Delivery:
    batches: int = 0
    delivered: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


class Progress:
    """A one-line progress display on an interactive terminal; silent under cron."""

    def __init__(self, label: str, enabled: bool | None = None):
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._last = 0.0

    def update(self, done: int, extra: str = "") -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.5:
            return
        self._last = now
        sys.stderr.write(f"\r{self.label}: {done:,} delivered {extra}".ljust(70))
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self._last:
            sys.stderr.write("\r" + " " * 70 + "\r")
            sys.stderr.flush()


def deliver(batches: Iterable[list[dict]], sink: Sink, *,
            transform: Callable[[list[dict]], list[dict]] | None = None,
            on_batch: Callable[[list[dict]], None] | None = None,
            progress: Progress | None = None, overlap: bool = True,
            commit: Callable[[Delivery], None] | None = None) -> Delivery:
    """Write every batch to `sink` (after `transform`), flush, then `commit`. Raises on any failure.

    `commit` (the caller's checkpoint advance) runs only after the flush returned, and not at
    all when anything before it raised.

    With `overlap`, a writer thread delivers batch N while batch N+1 is fetched and enriched:
    the upstream and the sink wait on the network at the same time instead of in turn. At
    most two batches are in memory besides the one being prepared; `on_batch` runs after a
    batch was written, in order.
    """
    result = Delivery()

    def write(batch: list[dict]) -> None:
        sink.write(batch)
        result.batches += 1
        result.delivered += len(batch)
        if on_batch is not None:
            on_batch(batch)

    try:
        if overlap:
            _deliver_overlapped(batches, transform, write, progress, result)
        else:
            for batch in batches:
                if transform is not None:
                    batch = transform(batch)
                if batch:
                    write(batch)
                    if progress is not None:
                        progress.update(result.delivered)
        sink.flush()
    finally:
        if progress is not None:
            progress.close()
    if commit is not None:
        commit(result)
    return result


def batched(records: Iterable[dict], size: int) -> Iterator[list[dict]]:
    """Records in lists of at most `size`, for sources that yield one record at a time."""
    it = iter(records)
    while batch := list(itertools.islice(it, size)):
        yield batch


class RoutedSink(Sink):
    """Sends each record to the sink of its kind (`key(record)`), in batches of `batch_size`.

    One run may produce several datasets (zoom: meetings and sessions). Records are buffered
    per kind and written when a buffer is full, so each sink sees batches as large as if it
    were fed alone; `flush` writes the rest and flushes every sink once. A sink may be the
    target of several kinds.
    """

    def __init__(self, sinks: Mapping[str, Sink], key: Callable[[dict], str], batch_size: int = 500):
        first = next(iter(sinks.values()))
        super().__init__(first.dataset)
        self.sinks = dict(sinks)
        self.key = key
        self.batch_size = batch_size
        self.name = " and ".join(dict.fromkeys(s.name for s in self.sinks.values()))
        self._buffers: dict[str, list[dict]] = {kind: [] for kind in self.sinks}

    def write(self, records: Sequence[dict]) -> None:
        for record in records:
            kind = self.key(record)
            if kind not in self._buffers:
                raise ValueError(f"no sink for records of kind {kind!r}")
            buffer = self._buffers[kind]
            buffer.append(record)
            if len(buffer) >= self.batch_size:
                self._write(kind)

    def _write(self, kind: str) -> None:
        buffer, self._buffers[kind] = self._buffers[kind], []
        self.sinks[kind].write(buffer)
        self.delivered += len(buffer)

    def flush(self) -> None:
        for kind, buffer in self._buffers.items():
            if buffer:
                self._write(kind)
        for sink in self._distinct():
            sink.flush()

    def close(self) -> None:
        for sink in self._distinct():
            sink.close()

    def _distinct(self) -> list[Sink]:
        return list({id(s): s for s in self.sinks.values()}.values())

    @property
    def requests(self) -> int:  # type: ignore[override]
        return sum(s.requests for s in self._distinct())

    @requests.setter
    def requests(self, _value: int) -> None:
        pass


def _deliver_overlapped(batches: Iterable[list[dict]], transform, write, progress: Progress | None,
                        result: Delivery) -> None:
    handoff: queue.Queue[list[dict] | None] = queue.Queue(maxsize=1)
    failure: list[BaseException] = []

    def writer() -> None:
        while True:
            batch = handoff.get()
            if batch is None:
                return
            if failure:
                continue  # drain: the producer stops at its next batch
            try:
                write(batch)
            except BaseException as exc:  # re-raised in the calling thread
                failure.append(exc)

    thread = threading.Thread(target=writer, name="deliver", daemon=True)
    thread.start()
    try:
        for batch in batches:
            if failure:
                break
            if transform is not None:
                batch = transform(batch)
            if batch:
                handoff.put(batch)
            if progress is not None:
                progress.update(result.delivered)
    finally:
        handoff.put(None)
        thread.join()
    if failure:
        raise failure[0]
