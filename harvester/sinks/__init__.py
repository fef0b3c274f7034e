"""Resolve an `--output` value to a sink.

Commands never construct sinks themselves: they pass the user's `--output` (and optional
`--archive`) here, so a new output kind is added in one place for every command.

Targets: `-` (stdout), `sqs`, `es`, `s3://bucket/prefix/` or `dir:PATH` (archive), and any
other value is a file path receiving JSON lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from harvester.datasets import Dataset
from harvester.sinks.base import Sink, TeeSink

if TYPE_CHECKING:
    from harvester.sinks.settings import SinkSettings


def open_sink(target: str, dataset: Dataset, options: Mapping[str, object] | None = None,
              archive: str | None = None, settings: SinkSettings | None = None) -> Sink:
    """Build the sink for `target`; `options` carries command settings such as queue_name.

    `settings`: the registry's sink tunables (SinkSettings.from_env(), read by the SQS and
    Elasticsearch sinks when not given, so an output that needs none never reads them).
    """
    options = options or {}
    sink = _open_one(target, dataset, options, settings=settings)
    if archive:
        sink = TeeSink(dataset, [sink, _open_one(archive, dataset, options, archive_only=True)])
    return sink


def _open_one(target: str, dataset: Dataset, options: Mapping[str, object],
              archive_only: bool = False, settings: SinkSettings | None = None) -> Sink:
    if target.startswith("s3://") or target.startswith("dir:"):
        from harvester.sinks.archive import open_archive_sink

        return open_archive_sink(target, dataset, options)
    if archive_only:
        from harvester.errors import ConfigError

        raise ConfigError(
            f"{target!r} is not an archive target; use s3://bucket/prefix/ or dir:PATH",
            hint="'--archive'")
    if target == "-":
        from harvester.sinks.jsonlines import StdoutSink

        return StdoutSink(dataset)
    if target == "sqs":
        from harvester.sinks.sqs import SqsSink

        return SqsSink(dataset, str(options["queue_name"]), settings=settings)
    if target == "es":
        from harvester.sinks.elasticsearch import open_es_sink

        return open_es_sink(dataset, options, settings)
    from harvester.sinks.jsonlines import FileSink

    return FileSink(dataset, target)


__all__ = ["Sink", "TeeSink", "open_sink"]
