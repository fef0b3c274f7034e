"""Source -> sink delivery with counts; checkpoints move only after the sink has flushed.

Commands hand over an iterable of batches (lists of records) and a sink. `deliver` writes
each batch as it comes (memory stays bounded by one batch) and flushes at the end; only when
it returns may the caller advance its checkpoint. Any exception leaves the checkpoint alone.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
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
            progress: Progress | None = None, overlap: bool = True) -> Delivery:
    """Write every batch to `sink` (after `transform`), then flush. Raises on any failure.

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
    return result


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
