"""The load-episodes run: which mpids, the Opencast fetch, delivery, summary.

The mpids come from `--mpid` or from a composite aggregation over the useraction indices
(default: yesterday's); each becomes one episode document (harvester.sources.opencast.episodes)
delivered through harvester.pipeline.deliver in batches of BATCH. There is no checkpoint: a
run for the same day indexes the same `_id`s again, which is what makes a rerun safe.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harvester.sources.opencast.client import OpencastSettings

log = logging.getLogger("harvester.load_episodes")

#: documents per sink write: one bulk request to Elasticsearch
BATCH = 100


@dataclass(frozen=True)
class LoadEpisodesSettings:
    """Everything one run needs, read once from the options and the settings registry."""

    engage: OpencastSettings
    admin: OpencastSettings
    es_host: str
    target_index: str
    source_pattern: str  # the indices whose mpids are loaded (unused with mpids)
    mpids: tuple[str, ...]
    wait: float
    output: str
    archive: str | None
    redis_url: str | None

    @classmethod
    def from_options(cls, *, admin_host: str, engage_host: str, user: str, password: str, es_host: str,
                     target_index: str, source_index_pattern: str | None, mpids: tuple[str, ...],
                     wait: float, output: str, archive: str | None) -> LoadEpisodesSettings:
        """Options as the command received them; a bad index name is a usage error (exit 2)."""
        from harvester.config import env
        from harvester.jobs.opencast import opencast_settings
        from harvester.sinks.elasticsearch import validate_index
        from harvester.sources.opencast.episodes import default_source_pattern

        validate_index(target_index, "--target-index")
        engage = opencast_settings(engage_host, user, password)
        return cls(engage=engage, admin=engage.on(admin_host), es_host=es_host, target_index=target_index,
                   source_pattern=source_index_pattern or default_source_pattern(),
                   mpids=tuple(dict.fromkeys(mpids)), wait=wait, output=output, archive=archive,
                   redis_url=env("REDIS_URL"))


@dataclass
class LoadEpisodesSummary:
    where: str  # "--mpid" or the source index pattern
    line: str
    fields: dict[str, Any] = field(default_factory=dict)


def _counted(values: Iterable[str], seen: list[int]) -> Iterator[str]:
    for value in values:
        seen[0] += 1
        yield value


def run(settings: LoadEpisodesSettings) -> LoadEpisodesSummary:
    """One load: every wanted mpid fetched from Opencast and delivered to the sink."""
    from harvester.datasets import EPISODES
    from harvester.elasticsearch.client import es_client
    from harvester.pipeline import batched, deliver
    from harvester.sinks import open_sink
    from harvester.sources.opencast.client import OpencastClient
    from harvester.sources.opencast.episodes import EpisodeFetcher, mpids_from_indices, summarize
    from harvester.state.lock import run_lock

    engage = OpencastClient.from_settings(settings.engage)
    admin = OpencastClient.from_settings(settings.admin)
    fetcher = EpisodeFetcher(engage, admin, wait=settings.wait)
    seen = [0]
    with run_lock("load-episodes", settings.redis_url):
        source_client = None
        if settings.mpids:
            wanted: Iterable[str] = iter(settings.mpids)
            where = "--mpid"
        else:
            source_client = es_client(settings.es_host)
            wanted = mpids_from_indices(source_client, settings.source_pattern)
            where = settings.source_pattern
        sink = open_sink(settings.output, EPISODES,
                         {"es_host": settings.es_host, "index": settings.target_index, "pipeline": ""},
                         archive=settings.archive)
        try:
            with sink:
                result = deliver(batched(fetcher.documents(_counted(wanted, seen)), BATCH), sink)
        finally:
            if source_client is not None:
                source_client.close()

    skipped = sum(fetcher.skipped.values())
    return LoadEpisodesSummary(where, summarize(fetcher, result.delivered, seen[0]), {
        "mpids": seen[0], "indexed": result.delivered, "skipped": skipped,
        "skipped_by_reason": dict(fetcher.skipped), "skipped_examples": fetcher.examples,
        "opencast_requests": engage.requests + admin.requests, "es_requests": sink.requests,
        "target": settings.target_index if settings.output == "es" else "stdout"})
