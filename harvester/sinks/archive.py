"""The archive: records kept as gzip JSON-lines micro-batches in S3 or a local directory.

Every harvest can keep what it delivered, so that it can be delivered again later (re-index
after a mapping change, refill a lost queue, move to a new cluster) with `harvest replay`.
The layout lets any number of writers share one archive without coordinating::

    <root>/<dataset>/<YYYY-MM-DD>/<partition start>-<writer id>/<sequence>.jsonl.gz
    e.g. useractions/2026-11-23/20261124T031500Z-3f0c...e1/0000000.jsonl.gz

The day is the record's own date (the dataset's date field, in UTC), so a day is replayed by
prefix. Each writer (one sink) owns a partition named after its start time and a random id,
and numbers its micro-batches from 0 without gaps. A micro-batch becomes visible only once it
is complete and durable: an S3 PUT is atomic, and a local file is written under a temporary
name, fsynced and renamed into place. `write` returns only after that, because checkpoints
advance once `write`/`flush` have returned.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from harvester.datasets import Dataset
from harvester.errors import ConfigError, DeliveryError
from harvester.sinks.base import Sink
from harvester.sinks.jsonlines import dumps

log = logging.getLogger("harvester.archive")

#: records per micro-batch at most; a larger `write` is split into several micro-batches
MAX_BATCH_RECORDS = 10_000
SEQ_DIGITS = 7
BATCH_SUFFIX = ".jsonl.gz"
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BATCH_RE = re.compile(r"^(\d+)\.jsonl\.gz$")
TEMP_RE = re.compile(r"^\.(\d+)\.jsonl\.gz\.[0-9a-f]+\.tmp$")
#: lines are UTF-8; surrogatepass keeps a lone surrogate from an upstream JSON escape intact
ENCODING_ERRORS = "surrogatepass"


# -- layout -------------------------------------------------------------------------------

def partition_name(started: datetime, writer_id: str) -> str:
    """`<partition start>-<writer id>`: sorts by start time, unique per writer."""
    return f"{started.astimezone(UTC):%Y%m%dT%H%M%SZ}-{writer_id}"


def batch_name(seq: int) -> str:
    return f"{seq:0{SEQ_DIGITS}d}{BATCH_SUFFIX}"


def record_day(value: str | None, fallback: str) -> str:
    """The UTC day (YYYY-MM-DD) of an ISO 8601 timestamp or date; `fallback` when there is none.

    Offsets are converted to UTC so that a day partition means the same day for every
    dataset; naive timestamps are taken as UTC (the harvester's records are UTC).
    """
    if not value:
        return fallback
    text = value.strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        head = text[:10]
        return head if DAY_RE.match(head) and _valid_day(head) else fallback
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d")


def _valid_day(day: str) -> bool:
    try:
        datetime.strptime(day, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def encode_batch(records: Sequence[dict]) -> bytes:
    """gzip of one JSON line per record, serialized exactly as every other text output does."""
    text = "".join(dumps(r) + "\n" for r in records)
    return gzip.compress(text.encode("utf-8", ENCODING_ERRORS), compresslevel=6, mtime=0)


def join_key(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


# -- stores ---------------------------------------------------------------------------------

class LocalStore:
    """A directory tree; keys are absolute paths with `/` separators."""

    def __init__(self, root: str):
        self.root = os.path.abspath(os.path.expanduser(root))
        self.description = f"dir:{self.root}"

    def key(self, *parts: str) -> str:
        return "/" + join_key(self.root, *parts)

    def put(self, key: str, data: bytes, records: int) -> None:
        """Write under a temporary name, fsync, rename into place, fsync the directory."""
        path = Path(key)
        created = not path.parent.is_dir()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        if created:  # make the new partition (and day, dataset) directories durable too
            for parent in list(path.parents)[1:4]:
                _fsync_dir(parent)

    def get(self, key: str) -> tuple[bytes, int | None]:
        with open(key, "rb") as fh:
            return fh.read(), None

    def children(self, prefix: str) -> tuple[list[str], list[str]]:
        """Sub-directory and file names directly under `prefix`, sorted."""
        dirs, files = [], []
        with os.scandir(prefix or "/") as it:
            for entry in it:
                (dirs if entry.is_dir() else files).append(entry.name)
        return sorted(dirs), sorted(files)

    def is_file(self, key: str) -> bool:
        return os.path.isfile(key)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class S3Store:
    """An S3 bucket; keys are object keys. Requests retry with boto3's standard mode."""

    def __init__(self, bucket: str, prefix: str, *, attempts: int | None = None):
        self.bucket = bucket
        self.root = prefix.strip("/")
        self.attempts = attempts  # None: HARVEST_RETRY_ATTEMPTS
        self.description = f"s3://{bucket}/{self.root + '/' if self.root else ''}"
        self._client = None

    @property
    def client(self):
        if self._client is None:
            from harvester.aws import client

            self._client = client("s3", attempts=self.attempts)
        return self._client

    def key(self, *parts: str) -> str:
        return join_key(self.root, *parts)

    def put(self, key: str, data: bytes, records: int) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/gzip",
                               Metadata={"records": str(records)})

    def get(self, key: str) -> tuple[bytes, int | None]:
        """The object's bytes and the record count its writer declared (None if absent)."""
        resp = self.client.get_object(Bucket=self.bucket, Key=key)
        declared = resp.get("Metadata", {}).get("records")
        body = resp["Body"].read()
        return body, int(declared) if declared and declared.isdigit() else None

    def children(self, prefix: str) -> tuple[list[str], list[str]]:
        """Common prefixes and object names directly under `prefix` (S3 lists in key order)."""
        base = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        dirs, files = [], []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base, Delimiter="/"):
            dirs.extend(p["Prefix"][len(base):].rstrip("/") for p in page.get("CommonPrefixes", []))
            files.extend(o["Key"][len(base):] for o in page.get("Contents", []) if o["Key"] != base)
        return dirs, files

    def is_file(self, key: str) -> bool:
        """A key whose last part is a micro-batch name; anything else is read as a prefix."""
        return bool(BATCH_RE.match(key.rsplit("/", 1)[-1]))


Store = LocalStore | S3Store


def s3_error(store: S3Store, action: str, exc: Exception) -> str:
    """A one-line reason from a botocore error (the error code, never request signatures)."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = err.get("Code", "error")
        if code == "NoSuchBucket":
            return f"{action}: bucket {store.bucket} does not exist"
        return f"{action}: {code} {err.get('Message', '')}".strip()
    return f"{action}: {exc}"


# -- the sink -------------------------------------------------------------------------------

class ArchiveSink(Sink):
    """Writes each batch as one durable micro-batch per record day; never buffers."""

    def __init__(self, dataset: Dataset, store: Store, *, max_batch: int = MAX_BATCH_RECORDS,
                 clock: Callable[[], datetime] | None = None):
        super().__init__(dataset)
        self.store = store
        self.name = f"archive:{store.description}"
        self.max_batch = max(1, max_batch)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.writer_id = uuid.uuid4().hex
        self.partition = partition_name(self._clock(), self.writer_id)
        self._next_seq: dict[str, int] = {}
        self.batches = 0

    def key_for(self, day: str, seq: int) -> str:
        return self.store.key(self.dataset.name, day, self.partition, batch_name(seq))

    def write(self, records: Sequence[dict]) -> None:
        today = self._clock().astimezone(UTC).strftime("%Y-%m-%d")
        by_day: dict[str, list[dict]] = {}
        for record in records:
            by_day.setdefault(record_day(self.dataset.date_of(record), today), []).append(record)
        for day, day_records in by_day.items():
            for start in range(0, len(day_records), self.max_batch):
                self._put(day, day_records[start:start + self.max_batch])
        self.delivered += len(records)

    def _put(self, day: str, records: list[dict]) -> None:
        seq = self._next_seq.get(day, 0)
        key = self.key_for(day, seq)
        data = encode_batch(records)
        self.requests += 1
        try:
            self.store.put(key, data, len(records))
        except OSError as exc:
            self._fail(records, f"cannot write {key}: {exc.strerror or exc}")
        except Exception as exc:
            if isinstance(self.store, S3Store) and _is_botocore(exc):
                self._fail(records, s3_error(self.store, f"PUT {key}", exc))
            raise
        self._next_seq[day] = seq + 1  # only after the micro-batch is durable: no gaps
        self.batches += 1
        log.debug("archived %d records as %s", len(records), key)

    def _fail(self, records: list[dict], reason: str) -> None:
        failed = []
        for r in records:
            try:
                failed.append((self.dataset.id_of(r), reason))
            except (KeyError, TypeError):
                failed.append(("?", reason))
        raise DeliveryError(self.name, failed) from None

    def close(self) -> None:
        if self.batches:
            log.info("archived %d %s records in %d micro-batch(es) under %s", self.delivered,
                     self.dataset.name, self.batches, self.store.key(self.dataset.name),
                     extra={"archive": self.store.description, "archive_partition": self.partition,
                            "archive_records": self.delivered, "archive_batches": self.batches})


def _is_botocore(exc: Exception) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, BotoCoreError | ClientError)


# -- targets --------------------------------------------------------------------------------

def is_archive_target(target: str) -> bool:
    return target.startswith(("s3://", "dir:"))


def open_store(target: str, *, what: str = "'--output' / '--archive'") -> Store:
    """`s3://bucket/prefix/` or `dir:PATH` to a store; a malformed target is a usage error."""
    if target.startswith("s3://"):
        bucket, _, prefix = target[len("s3://"):].partition("/")
        if not bucket or not re.match(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$", bucket):
            raise ConfigError(f"{target!r}: expected s3://bucket/prefix/ with a valid bucket name",
                                     hint=what)
        return S3Store(bucket, prefix)
    if target.startswith("dir:"):
        path = target[len("dir:"):]
        if not path.strip():
            raise ConfigError(f"{target!r}: expected dir:PATH", hint=what)
        if os.path.exists(path) and not os.path.isdir(path):
            raise ConfigError(f"{target!r}: {path} exists and is not a directory",
                                     hint=what)
        return LocalStore(path)
    raise ConfigError(f"{target!r} is not an archive; use s3://bucket/prefix/ or dir:PATH",
                             hint=what)


def open_archive_sink(target: str, dataset: Dataset, options: Mapping[str, object] | None = None) -> Sink:
    """The sink for `--output`/`--archive` values `s3://bucket/prefix/` and `dir:PATH`."""
    return ArchiveSink(dataset, open_store(target))


# -- doctor -----------------------------------------------------------------------------------

def doctor_check() -> list[tuple[str, str, str]]:
    """Check the default archive (HARVEST_ARCHIVE): S3 bucket reachable or directory writable."""
    from harvester.config import env

    target = env("HARVEST_ARCHIVE")
    if not target:
        return [("archive", "not configured", "HARVEST_ARCHIVE is not set")]
    try:
        store = open_store(target, what="HARVEST_ARCHIVE")
    except ConfigError as exc:
        return [("archive", "failed", exc.format_message())]
    if isinstance(store, S3Store):
        store.attempts = 1  # doctor answers in seconds: one attempt, no retry cycle
    if isinstance(store, LocalStore):
        root = Path(store.root)
        probe = root if root.exists() else next((p for p in root.parents if p.exists()), root)
        if os.access(probe, os.W_OK | os.X_OK):
            return [("archive", "ok", f"{store.description} is writable")]
        return [("archive", "failed", f"{store.description}: {probe} is not writable")]
    try:
        store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.root, MaxKeys=1)
    except ConfigError as exc:  # no region configured
        return [("archive", "failed", exc.format_message())]
    except Exception as exc:
        if not _is_botocore(exc):
            raise
        return [("archive", "failed", s3_error(store, f"list {store.description}", exc))]
    return [("archive", "ok", f"{store.description} is readable")]


__all__ = ["ArchiveSink", "LocalStore", "S3Store", "doctor_check", "open_archive_sink", "open_store",
           "record_day"]
