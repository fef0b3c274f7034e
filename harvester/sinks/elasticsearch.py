"""The one way anything reaches Elasticsearch or OpenSearch: the bulk API.

Every command that indexes (useractions, load-episodes, zoom, logs, mediaconvert, replay)
goes through `open_es_sink`, so `_id`s, dated index names, ingest pipelines, retries and
failure reporting are decided once:

- `_id` is the dataset's deterministic id, so re-running a window overwrites instead of
  duplicating;
- dated datasets go to `<prefix>-YYYY.MM.DD` by the record's own date (UTC), never by the
  time of the run, so a late or replayed record lands beside its neighbours;
- writes are bulk requests of at most `ES_BULK_SIZE` documents (and 10 MiB), sent as the
  batch arrives: memory is bounded by the batch, whatever the size of the run;
- items rejected with 429 (and whole requests answered 429/502/503/504, or not at all) are
  retried with exponential backoff and jitter; anything else is reported with the document
  id and Elasticsearch's reason, and the run fails (exit 1) so its checkpoint stays put.

Which client library serves which server is `harvester.elasticsearch.client`'s business.
The libraries' own retries are switched off: they do not back off, and a retried bulk
request must only resend the items that actually failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from harvester.datasets import Dataset
from harvester.elasticsearch.client import HOST_HINT, SearchClient, describe_host, es_client, es_url
from harvester.elasticsearch.errors import (
    RETRYABLE_STATUS,
    SERVICE,
    EsCallError,
    call,
    es_errors,
    is_transient,
    translate,
)
from harvester.errors import ConfigError, DeliveryError, ServiceError
from harvester.http import RetryPolicy
from harvester.sinks.base import Sink
from harvester.sinks.jsonlines import dumps
from harvester.sinks.settings import SinkSettings

__all__ = ["HOST_HINT", "PIPELINES", "ElasticsearchSink", "EsCallError", "Unindexable", "call",
           "day_of", "describe_host", "es_client", "es_errors", "es_url", "index_name",
           "open_es_sink", "translate", "validate_index"]

log = logging.getLogger("harvester.elasticsearch")

#: The ingest pipeline each dataset is indexed through (files in index_templates/pipelines/).
PIPELINES: dict[str, str] = {
    "useractions": "harvester-useractions",
    "zoom_sessions": "harvester-zoom-sessions",
    "sessions": "harvester-zoom-sessions",
}
MAX_ID_BYTES = 512
MAX_CHUNK_BYTES = 10 * 1024 * 1024


# -- index names and ids ------------------------------------------------------------------------
class Unindexable(ValueError):
    """A record that cannot become a document (no id, no date for a dated index, ...)."""


def day_of(value: str | None) -> str:
    """YYYY.MM.DD (UTC) of an ISO 8601 timestamp or date."""
    if value in (None, ""):
        raise Unindexable("no date for a dated index")
    text = str(value).strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return d.strftime("%Y.%m.%d")
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Unindexable(f"date {text[:40]!r} is not ISO 8601") from None
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y.%m.%d")


def index_name(dataset: Dataset, record: Mapping[str, Any], prefix: str | None = None) -> str:
    """The index a record goes to: the prefix (or name), plus the record's day when dated."""
    from harvester.sinks.es_documents import dated_index

    base = prefix or dataset.index_prefix
    if not dataset.dated_index:
        return base
    return dated_index(base, day_of(dataset.date_of(dict(record))))


def validate_index(name: str, option: str = "--index") -> str:
    """Elasticsearch's index-name rules, checked before any request (exit 2)."""
    bad = set('\\/*?"<>| ,#:')
    if (not name or name != name.lower() or name[0] in "_-+" or set(name) & bad
            or name in (".", "..") or len(name.encode()) > 230):
        raise ConfigError(f"{name!r} is not a valid index name (lowercase, no spaces or "
                                 "\\/*?\"<>|,#:, not starting with _ - +)", hint=f"'{option}'")
    return name


# -- the sink -----------------------------------------------------------------------------------
class ElasticsearchSink(Sink):
    """Bulk-indexes each batch as it arrives; `write` returns only when every item is stored."""

    def __init__(self, dataset: Dataset, client: SearchClient, *, index: str | None = None,
                 pipeline: str | None = None, chunk_size: int = 500,
                 max_chunk_bytes: int = MAX_CHUNK_BYTES, policy: RetryPolicy | None = None,
                 shape: Callable[[dict], dict] | None = None):
        super().__init__(dataset)
        self.shape = shape  # record -> document (harvester.sinks.es_documents)
        self.client = client
        self.index = index
        self.pipeline = pipeline
        self.chunk_size = max(1, chunk_size)
        self.max_chunk_bytes = max_chunk_bytes
        self.policy = policy or SinkSettings.from_env().policy
        self.retried = 0
        self.failed = 0
        self.host = describe_host(client)
        self.name = f"elasticsearch:{self.host}"

    def _encode(self, record: Mapping[str, Any]) -> tuple[str, bytes]:
        try:
            rid = self.dataset.id_of(dict(record))
        except (KeyError, TypeError):
            raise Unindexable("record has no id") from None
        if rid in (None, "", "None"):
            raise Unindexable("record has no id")
        if len(rid.encode()) > MAX_ID_BYTES:
            raise Unindexable(f"_id is {len(rid.encode())} bytes; Elasticsearch allows {MAX_ID_BYTES}")
        action = {"index": {"_index": index_name(self.dataset, record, self.index), "_id": rid}}
        doc = self.shape(dict(record)) if self.shape else dict(record)
        line = (dumps(action) + "\n" + dumps(doc) + "\n").encode("utf-8")
        return rid, line

    def write(self, records: Sequence[dict]) -> None:
        failed: list[tuple[str, str]] = []
        chunk: list[tuple[str, bytes]] = []
        size = 0
        for record in records:
            try:
                rid, line = self._encode(record)
            except Unindexable as exc:
                failed.append((_safe_id(self.dataset, record), str(exc)))
                continue
            if chunk and (len(chunk) >= self.chunk_size or size + len(line) > self.max_chunk_bytes):
                failed += self._send(chunk)
                chunk, size = [], 0
            chunk.append((rid, line))
            size += len(line)
        if chunk:
            failed += self._send(chunk)
        if failed:
            self.failed += len(failed)
            raise DeliveryError(self.name, [(rid, _hint(reason)) for rid, reason in failed])

    def _send(self, chunk: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
        """One bulk request (plus retries of what was retryable); returns what finally failed."""
        pending = chunk
        failed: list[tuple[str, str]] = []
        for attempt in range(1, self.policy.attempts + 1):
            try:
                self.requests += 1
                resp = self.client.bulk([line for _, line in pending], pipeline=self.pipeline)
            except Exception as exc:
                if not is_transient(exc):
                    raise translate(exc, "bulk request") from None
                problem = str(translate(exc, "bulk request")).removeprefix(f"{SERVICE}: bulk request: ")
                if attempt == self.policy.attempts:
                    raise ServiceError(SERVICE, f"bulk request to {self.host} failed after "
                                       f"{attempt} attempt(s): {problem}") from None
                self._backoff(attempt, len(pending), f"whole request: {problem}")
                continue
            retry: list[tuple[str, bytes]] = []
            last_reason = ""
            for (rid, line), item in zip(pending, resp["items"], strict=True):
                result = next(iter(item.values()))
                status = result.get("status", 500)
                if 200 <= status < 300:
                    self.delivered += 1
                    continue
                error = result.get("error") or {}
                reason = (f"HTTP {status} {error.get('type', '')}: {error.get('reason', '')}"
                          if isinstance(error, dict) else f"HTTP {status} {error}")
                if status in RETRYABLE_STATUS and attempt < self.policy.attempts:
                    retry.append((rid, line))
                    last_reason = reason
                else:
                    failed.append((rid, reason))
            if not retry:
                return failed
            self._backoff(attempt, len(retry), last_reason)
            pending = retry
        return failed  # pragma: no cover - the last attempt never schedules a retry

    def _backoff(self, attempt: int, count: int, reason: str) -> None:
        wait = self.policy.delay(attempt)
        self.retried += count
        log.warning("%s: %d document(s) to retry (%s); retry %d/%d in %.1fs", self.name, count,
                    reason, attempt, self.policy.attempts - 1, wait)
        self.policy.sleep(wait)

    def close(self) -> None:
        self.client.close()


def _safe_id(dataset: Dataset, record: Mapping[str, Any]) -> str:
    try:
        return str(dataset.id_of(dict(record)))[:80]
    except Exception:
        return "<no id>"


def _hint(reason: str) -> str:
    if "pipeline with id" in reason and "does not exist" in reason:
        return reason + " (run: harvest setup load-index-templates)"
    return reason


def open_es_sink(dataset: Dataset, options: Mapping[str, object] | None = None,
                 settings: SinkSettings | None = None) -> ElasticsearchSink:
    """The sink for `--output es`.

    options: "es_host" (overrides ES_HOST), "index" (overrides the dataset's index name or
    prefix), "pipeline" (overrides the dataset's ingest pipeline; "" or "none" for none).
    """
    from harvester.geoip import open_geolite
    from harvester.sinks.es_documents import dated_index, needs_geolite, shaper_for

    options = options or {}
    settings = settings or SinkSettings.from_env()
    index = options.get("index") or (settings.es_useractions_index if dataset.name == "useractions" else None)
    if index:
        validate_index(dated_index(str(index), "2026.11.23") if dataset.dated_index else str(index),
                       "--index (ES_USERACTIONS_INDEX)" if dataset.name == "useractions" else "--index")
    geolite = open_geolite(str(options.get("geolite") or "")) if needs_geolite(dataset) else None
    if "pipeline" in options and options["pipeline"] is not None:
        pipeline = str(options["pipeline"]) or None
        if pipeline and pipeline.lower() == "none":
            pipeline = None
    else:
        pipeline = PIPELINES.get(dataset.name)
    client = es_client(str(options["es_host"]) if options.get("es_host") else None)
    return ElasticsearchSink(dataset, client, index=str(index) if index else None, pipeline=pipeline,
                             chunk_size=settings.es_bulk_size, policy=settings.policy,
                             shape=shaper_for(dataset, geolite))
