"""What an engine hands back: closing counters, and the records, batch by batch.

Both engines return an `Aggregation`, so the command (and the test that compares engines)
never cares which engine ran.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass
class Counters:
    """Line counts of one run: every non-blank line is exactly one of these."""

    events: int = 0
    keyless: int = 0
    bad_data: int = 0
    unparsable: dict[str, int] = field(default_factory=dict)  # reason -> lines
    streams: int = 0
    videos: int = 0

    @property
    def unparsable_total(self) -> int:
        return sum(self.unparsable.values())

    @property
    def total(self) -> int:
        return self.events + self.keyless + self.bad_data + self.unparsable_total

    def add_rows(self, rows: Iterable[tuple[str, str | None, int]]) -> None:
        """Fold (status, reason, lines) rows of counters_sql into the counters."""
        for status, reason, n in rows:
            n = int(n)
            if status == "event":
                self.events += n
            elif status == "keyless":
                self.keyless += n
            elif status == "bad-data":
                self.bad_data += n
            else:
                key = reason or "unknown"
                self.unparsable[key] = self.unparsable.get(key, 0) + n

    def as_dict(self) -> dict[str, object]:
        return {"lines": self.total, "events": self.events, "unparsable": self.unparsable_total,
                "unparsable_reasons": dict(sorted(self.unparsable.items())), "bad_data": self.bad_data,
                "keyless": self.keyless, "streams": self.streams, "videos": self.videos}


class Aggregation(ABC):
    """The outcome of one aggregation; `close` releases the engine's resources."""

    by: str
    counters: Counters

    @abstractmethod
    def batches(self, size: int = 1000) -> Iterator[list[dict]]:
        """The records (stream summaries or video rollups) in a stable order, `size` at a time."""

    def json_lines(self, size: int = 5000) -> Iterator[list[str]]:
        """The records of `batches` as JSON lines (`harvester.sinks.jsonlines.dumps`), `size` at a time.

        Engines that can encode the records themselves override this with the same text.
        """
        from harvester.sinks.jsonlines import dumps

        for batch in self.batches(size):
            yield [dumps(r) for r in batch]

    @abstractmethod
    def write_parquet(self, path: str) -> None:
        """Write the records as Parquet (DuckDB: one file; Spark: a directory of part files)."""

    def close(self) -> None:
        """Release the engine (temporary database, Spark session)."""

    def __enter__(self) -> Aggregation:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
