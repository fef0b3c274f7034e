"""Reading an archive back: micro-batches in order, each verified whole before it is used.

A SOURCE is an S3 location (`s3://bucket/prefix/`), a local one (`dir:PATH` or a plain path),
at any depth of the layout (archive root, dataset, day, partition, single micro-batch), and
may contain shell wildcards in any part (`.../useractions/2026-11-2?/*`). Micro-batches come
out in archive order: dataset, day, partition (start time, then writer id), sequence.

A micro-batch that is not complete is never half-used: it is read and checked entirely
(gzip end-of-stream and CRC, every line a JSON object, the record count its S3 writer
declared) and reported as a `Problem` instead. So are leftover temporary files of a writer
that stopped mid-write, and sequence gaps inside a partition (a lost micro-batch).
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import logging
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from harvester.errors import ConfigError, ServiceError
from harvester.sinks.archive import (
    BATCH_RE,
    DAY_RE,
    ENCODING_ERRORS,
    TEMP_RE,
    LocalStore,
    S3Store,
    Store,
    batch_name,
    open_store,
    s3_error,
)

log = logging.getLogger("harvester.archive")

_WILDCARDS = set("*?[")


@dataclass(frozen=True)
class BatchRef:
    """Where one micro-batch lives, and what its path says about it."""

    key: str
    dataset: str
    day: str
    partition: str
    seq: int


@dataclass(frozen=True)
class Problem:
    """A micro-batch that cannot be used whole: reported, never partly delivered."""

    key: str
    reason: str
    dataset: str | None = None


@dataclass
class Batch:
    ref: BatchRef
    records: list[dict]


@dataclass(frozen=True)
class Filters:
    dataset: str | None = None
    day_from: str | None = None  # inclusive, YYYY-MM-DD
    day_to: str | None = None

    def day_ok(self, day: str) -> bool:
        return (self.day_from is None or day >= self.day_from) and (self.day_to is None or day <= self.day_to)

    def ok(self, dataset: str, day: str) -> bool:
        return (self.dataset is None or dataset == self.dataset) and self.day_ok(day)


def open_source(source: str) -> tuple[Store, str]:
    """The store and the (possibly wildcarded) location within it that SOURCE names."""
    if source.startswith("s3://"):
        store = open_store(source, what="'SOURCE'")
        return store, store.root
    location = source[len("dir:"):] if source.startswith("dir:") else source
    store = LocalStore("/")
    if not location.strip():
        raise ConfigError(f"{source!r}: expected s3://bucket/prefix/, dir:PATH or a path",
                                 hint="'SOURCE'")
    location = os.path.abspath(os.path.expanduser(location))
    if not _has_wildcard(location) and not os.path.exists(location):
        raise ConfigError(f"{source!r}: no such file or directory", hint="'SOURCE'")
    return store, location


def _has_wildcard(text: str) -> bool:
    return any(c in _WILDCARDS for c in text)


def parse_ref(key: str) -> BatchRef | None:
    """`.../<dataset>/<day>/<partition>/<seq>.jsonl.gz` to a BatchRef; None for other paths."""
    parts = key.rstrip("/").split("/")
    if len(parts) < 4:
        return None
    m = BATCH_RE.match(parts[-1])
    if not m or not DAY_RE.match(parts[-3]) or not parts[-4]:
        return None
    return BatchRef(key, parts[-4], parts[-3], parts[-2], int(m.group(1)))


def _join(base: str, name: str) -> str:
    if not base:
        return name
    return base.rstrip("/") + "/" + name


def expand(store: Store, location: str) -> list[str]:
    """Resolve wildcards part by part (sorted), listing only the directories that can match."""
    if not _has_wildcard(location):
        return [location]
    parts = location.split("/")
    first = next(i for i, p in enumerate(parts) if _has_wildcard(p))
    base = "/".join(parts[:first])
    if isinstance(store, LocalStore) and not base:
        base = "/"
    current = [base]
    for depth, pattern in enumerate(parts[first:], start=first):
        if pattern == "" and depth == len(parts) - 1:  # trailing slash
            break
        last = depth == len(parts) - 1
        matched = []
        for prefix in current:
            dirs, files = _children(store, prefix)
            names = sorted(set(dirs) | set(files)) if last else dirs
            matched.extend(_join(prefix, n) for n in names if fnmatch.fnmatchcase(n, pattern))
        current = matched
    return current


def _children(store: Store, prefix: str) -> tuple[list[str], list[str]]:
    if isinstance(store, LocalStore):
        try:
            return store.children(prefix)
        except (NotADirectoryError, FileNotFoundError):
            return [], []
        except OSError as exc:
            raise ServiceError("archive", f"cannot list {prefix}: {exc.strerror}") from None
    try:
        return store.children(prefix)
    except Exception as exc:
        _raise_s3(store, f"list s3://{store.bucket}/{prefix}", exc)
        raise


def _raise_s3(store: S3Store, action: str, exc: Exception) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, BotoCoreError | ClientError):
        raise ServiceError("S3", s3_error(store, action, exc)) from None


def iter_refs(store: Store, location: str, filters: Filters) -> Iterator[BatchRef | Problem]:
    """Every micro-batch (or problem) under `location`, in archive order, filters applied."""
    for item in expand(store, location):
        if store.is_file(item):
            ref = parse_ref(item)
            if ref is None:
                log.warning("%s is not a micro-batch of an archive (expected "
                            "<dataset>/<YYYY-MM-DD>/<partition>/<sequence>.jsonl.gz); ignored", item)
            elif filters.ok(ref.dataset, ref.day):
                yield ref
        else:
            yield from _walk(store, item, filters)


def _walk(store: Store, prefix: str, filters: Filters) -> Iterator[BatchRef | Problem]:
    dirs, files = _children(store, prefix)
    name = prefix.rstrip("/").rsplit("/", 1)[-1]
    if files:
        yield from _partition(prefix, files, filters)
    for child in dirs:
        if DAY_RE.match(child):
            # `prefix` is a dataset directory: prune other datasets and days out of range
            if filters.dataset is not None and name != filters.dataset:
                return
            if not filters.day_ok(child):
                continue
        yield from _walk(store, _join(prefix, child), filters)


def _partition(prefix: str, files: list[str], filters: Filters) -> Iterator[BatchRef | Problem]:
    """The micro-batches of one directory in sequence order, with temp files and gaps reported."""
    entries: list[tuple[int, int, str]] = []  # (seq, kind, name); kind 0 batch, 1 unfinished
    for f in files:
        if m := BATCH_RE.match(f):
            entries.append((int(m.group(1)), 0, f))
        elif m := TEMP_RE.match(f):
            entries.append((int(m.group(1)), 1, f))
    if not entries:
        return
    probe = parse_ref(_join(prefix, batch_name(entries[0][0])))
    if probe is None:
        log.warning("%s holds files named like micro-batches but is not laid out as "
                    "<dataset>/<YYYY-MM-DD>/<partition>/; ignored", prefix)
        return
    if not filters.ok(probe.dataset, probe.day):
        return
    entries.sort()
    expected = 0
    for seq, kind, f in entries:
        key = _join(prefix, f)
        if seq == expected + 1:
            yield Problem(_join(prefix, batch_name(expected)),
                          "missing micro-batch: a gap in the partition's sequence", probe.dataset)
        elif seq > expected:
            yield Problem(_join(prefix, batch_name(expected)), f"missing micro-batches: "
                          f"{batch_name(expected)} to {batch_name(seq - 1)} ({seq - expected})",
                          probe.dataset)
        expected = max(expected, seq + 1)
        if kind == 1:
            yield Problem(key, "unfinished micro-batch: its writer stopped while writing it",
                          probe.dataset)
            continue
        ref = parse_ref(key)
        if ref is not None:
            yield ref


def read_batch(store: Store, ref: BatchRef) -> Batch | Problem:
    """Read one micro-batch completely and check it; a Problem if any part is wrong."""
    try:
        raw, declared = store.get(ref.key)
    except FileNotFoundError:
        return Problem(ref.key, "micro-batch vanished while the archive was read", ref.dataset)
    except OSError as exc:
        raise ServiceError("archive", f"cannot read {ref.key}: {exc.strerror}") from None
    except Exception as exc:
        if isinstance(store, S3Store):
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404"):
                return Problem(ref.key, "micro-batch vanished while the archive was read", ref.dataset)
            _raise_s3(store, f"GET s3://{store.bucket}/{ref.key}", exc)
        raise
    return decode_batch(ref, raw, declared)


def decode_batch(ref: BatchRef, raw: bytes, declared: int | None = None) -> Batch | Problem:
    """Decompress and parse a whole micro-batch, or say why it is not complete."""
    if not raw:
        return Problem(ref.key, "truncated micro-batch: the file is empty", ref.dataset)
    try:
        text = gzip.decompress(raw).decode("utf-8", ENCODING_ERRORS)
    except EOFError:
        return Problem(ref.key, "truncated micro-batch: the gzip stream ends early", ref.dataset)
    except (OSError, zlib.error) as exc:
        return Problem(ref.key, f"corrupt micro-batch: {exc}", ref.dataset)
    except UnicodeDecodeError:
        return Problem(ref.key, "corrupt micro-batch: not UTF-8 text", ref.dataset)
    if text and not text.endswith("\n"):
        return Problem(ref.key, "truncated micro-batch: the last line is incomplete", ref.dataset)
    records: list[dict] = []
    # split on "\n" only: JSON escapes it inside strings, but not U+2028 and friends
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        try:
            record = json.loads(line)
        except ValueError:
            return Problem(ref.key, f"corrupt micro-batch: line {number} is not JSON", ref.dataset)
        if not isinstance(record, dict):
            return Problem(ref.key, f"corrupt micro-batch: line {number} is not a JSON object",
                           ref.dataset)
        records.append(record)
    if declared is not None and declared != len(records):
        return Problem(ref.key, f"incomplete micro-batch: {len(records)} records, its writer "
                       f"declared {declared}", ref.dataset)
    return Batch(ref, records)


def iter_batches(store: Store, location: str, filters: Filters) -> Iterator[Batch | Problem]:
    """Verified micro-batches (and problems) in archive order; one micro-batch in memory at a time."""
    for item in iter_refs(store, location, filters):
        yield item if isinstance(item, Problem) else read_batch(store, item)
