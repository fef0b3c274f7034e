"""The sink interface every output implements.

A sink receives batches of plain dicts and either delivers every record of the batch or
raises DeliveryError naming the records it could not deliver (after its own retries). The
pipeline advances checkpoints only after `write` returned, so a sink must not report success
for a record it has merely buffered: `flush` is called before any checkpoint moves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from harvester.datasets import Dataset


class Sink(ABC):
    #: shown in logs and errors, e.g. "sqs:my-queue"
    name: str = "sink"

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.delivered = 0
        self.requests = 0

    @abstractmethod
    def write(self, records: Sequence[dict]) -> None:
        """Deliver every record or raise DeliveryError (after retries)."""

    def flush(self) -> None:
        """Deliver anything buffered; called before a checkpoint advances."""

    def close(self) -> None:
        """Release resources; called once at the end of a run, also after a failure."""

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class TeeSink(Sink):
    """Writes every batch to several sinks (the main output plus an archive)."""

    def __init__(self, dataset: Dataset, sinks: Sequence[Sink]):
        super().__init__(dataset)
        self.sinks = list(sinks)
        self.name = " + ".join(s.name for s in self.sinks)

    def write(self, records: Sequence[dict]) -> None:
        for sink in self.sinks:
            sink.write(records)
        self.delivered += len(records)

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()

    @property
    def requests(self) -> int:  # type: ignore[override]
        return sum(s.requests for s in self.sinks)

    @requests.setter
    def requests(self, _value: int) -> None:
        pass
