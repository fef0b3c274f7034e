"""JSON-lines outputs: stdout (`-`) for debugging and pipes, or a file (appended)."""

from __future__ import annotations

import json
import sys
from abc import abstractmethod
from collections.abc import Sequence
from typing import IO

from harvester.datasets import Dataset
from harvester.errors import HarvestError
from harvester.sinks.base import Sink


def dumps(record: dict) -> str:
    """The one serialization of a record used by every text output."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)


class JsonLinesSink(Sink):
    """A text output of one JSON line per record.

    `write_lines` takes lines already encoded (each exactly `dumps(record)`, no newline): an
    engine that can encode records itself hands them over without building dicts.
    """

    def write(self, records: Sequence[dict]) -> None:
        self.write_lines([dumps(r) for r in records])

    @abstractmethod
    def write_lines(self, lines: Sequence[str]) -> None:
        """Write the encoded lines, each followed by a newline."""


class EncodedLines(Sink):
    """A JsonLinesSink fed batches of encoded lines instead of records (by pipeline.deliver)."""

    def __init__(self, sink: JsonLinesSink):
        super().__init__(sink.dataset)
        self.sink = sink
        self.name = sink.name

    def write(self, records: Sequence[str]) -> None:  # type: ignore[override]
        self.sink.write_lines(records)
        self.delivered += len(records)

    def flush(self) -> None:
        self.sink.flush()

    def close(self) -> None:
        self.sink.close()


class StdoutSink(JsonLinesSink):
    """JSON lines on stdout; nothing else is ever written to stdout by the harvester."""

    name = "stdout"

    def write_lines(self, lines: Sequence[str]) -> None:
        out = sys.stdout
        try:
            out.write("".join(line + "\n" for line in lines))
            out.flush()
        except BrokenPipeError:
            raise HarvestError("stdout: the reading end of the pipe was closed") from None
        self.delivered += len(lines)
        self.requests += 1


class FileSink(JsonLinesSink):
    """Appends JSON lines to a file; flushed and fsynced before a checkpoint may move."""

    def __init__(self, dataset: Dataset, path: str):
        super().__init__(dataset)
        self.path = path
        self.name = f"file:{path}"
        self._fh: IO[str] | None = None

    def _open(self) -> IO[str]:
        if self._fh is None:
            try:
                self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
            except OSError as exc:
                raise HarvestError(f"cannot open output file {self.path}: {exc.strerror}") from None
        return self._fh

    def write_lines(self, lines: Sequence[str]) -> None:
        fh = self._open()
        try:
            fh.write("".join(line + "\n" for line in lines))
        except OSError as exc:
            raise HarvestError(f"cannot write output file {self.path}: {exc.strerror}") from None
        self.delivered += len(lines)
        self.requests += 1

    def flush(self) -> None:
        if self._fh is not None:
            import os

            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self.flush()
            self._fh.close()
            self._fh = None
