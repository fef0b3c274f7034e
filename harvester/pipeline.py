"""Source -> sink delivery with counts; checkpoints move only after the sink has flushed.

Commands hand over an iterable of batches (lists of records) and a sink. `deliver` writes
each batch as it comes (memory stays bounded by one batch) and flushes at the end; only when
it returns may the caller advance its checkpoint. Any exception leaves the checkpoint alone.
"""

from __future__ import annotations

import sys
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
            progress: Progress | None = None) -> Delivery:
    """Write every batch to `sink` (after `transform`), then flush. Raises on any failure."""
    result = Delivery()
    try:
        for batch in batches:
            if transform is not None:
                batch = transform(batch)
            if not batch:
                continue
            sink.write(batch)
            result.batches += 1
            result.delivered += len(batch)
            if on_batch is not None:
                on_batch(batch)
            if progress is not None:
                progress.update(result.delivered)
        sink.flush()
    finally:
        if progress is not None:
            progress.close()
    return result
