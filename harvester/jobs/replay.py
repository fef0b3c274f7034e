"""The replay run: verified micro-batches from an archive, regrouped, through the live sinks.

Micro-batches are read in archive order and checked whole; their records are regrouped into
batches of `batch_size` and written through the same sinks and the same `deliver` loop (so
the same retries, counts and exit codes) as a live harvest. A micro-batch that is not whole
is skipped entirely and reported (`ReplayResult.problems`); `partial_error` says what the
command raises for them unless the operator accepted it.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from harvester.datasets import REGISTRY
from harvester.errors import HarvestError

log = logging.getLogger("harvester.replay")

#: problems named one by one in the final error; the rest are counted
SHOWN_PROBLEMS = 10


@dataclass
class ReplayResult:
    batches: int = 0
    records: int = 0
    delivered: int = 0
    requests: int = 0
    datasets: dict[str, int] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)
    problem_count: int = 0
    seconds: float = 0.0


def run_replay(source: str, output: str | None, *, filters, batch_size: int = 1000,
               options: Mapping[str, object] | None = None) -> ReplayResult:
    """Replay `source` into `output` (None: only read and verify); returns the counts.

    One sink per dataset met in the archive, fed by the harvests' own `deliver` loop, so
    batching, retries and failure handling are those of a live harvest. Memory holds one
    micro-batch and one output batch. A sink failure stops the run at once (exit 1).
    """
    from harvester.pipeline import Progress, batched, deliver
    from harvester.sinks import open_sink
    from harvester.sources.archive import Batch, Problem, iter_batches, open_source

    store, location = open_source(source)
    result = ReplayResult()
    started = time.monotonic()
    last: list[str] = []

    def verified() -> Iterator[Batch]:
        for item in iter_batches(store, location, filters):
            if isinstance(item, Problem):
                result.problem_count += 1
                if len(result.problems) < SHOWN_PROBLEMS:
                    result.problems.append((item.key, item.reason))
                log.error("skipped %s: %s", item.key, item.reason)
                continue
            name = item.ref.dataset
            if name not in REGISTRY:
                log.warning("skipped %s: unknown dataset %r", item.ref.key, name)
                continue
            result.batches += 1
            result.records += len(item.records)
            result.datasets[name] = result.datasets.get(name, 0) + len(item.records)
            last[:] = [item.ref.key]
            yield item

    try:
        for name, group in itertools.groupby(verified(), key=lambda b: b.ref.dataset):
            batches = batched((r for b in group for r in b.records), batch_size)
            if output is None:
                for _ in batches:
                    pass
                continue
            sink = open_sink(output, REGISTRY[name], options or {})
            log.info("replaying %s from %s into %s", name, source, sink.name)
            try:
                with sink:
                    deliver(batches, sink, progress=Progress(f"replay {name}"))
            finally:
                result.delivered += sink.delivered
                result.requests += sink.requests
    except HarvestError:
        log.error("replay stopped after delivering %d records; last micro-batch read: %s",
                  result.delivered, last[0] if last else "none")
        raise
    finally:
        result.seconds = time.monotonic() - started
    return result


def partial_error(result: ReplayResult) -> HarvestError:
    """The exit-1 error for micro-batches that were partial or missing (named, then counted)."""
    shown = "; ".join(f"{key}: {reason}" for key, reason in result.problems)
    more = result.problem_count - len(result.problems)
    return HarvestError(f"archive: {result.problem_count} micro-batch(es) partial or missing and not "
                        f"delivered: {shown}{f' (and {more} more)' if more > 0 else ''}; every other "
                        "record was delivered (use --skip-partial to accept this)")
