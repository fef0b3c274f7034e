"""Video-player event logs: the line format, stream keys, and where the lines come from.

`parse_line` is the reference definition of the format (docs/player-logs.md). The engines
of `harvest logs aggregate` evaluate the same rules in SQL (harvester/aggregate/sql.py) for
speed; tests hold the two to the same answers. A line never makes a run fail: it is an
event, or keyless, or bad data, or unparsable with a reason.

Inputs are local files, directories (recursive), globs, `.gz` files and `s3://bucket/prefix/`
locations; S3 is listed and fetched with boto3, so `AWS_ENDPOINT_URL` and the usual
credential chain apply.
"""

from __future__ import annotations

import glob
import gzip
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

#: event types with a meaning in the stream summary
EVENT_TYPES = (
    "MediaStarted", "MediaEnded", "MediaCompleted", "MediaFailed", "MediaInitialBufferStart",
    "MediaInitialBufferEnd", "MediaBufferingStart", "MediaBufferingEnd", "MediaScrub",
    "MediaQualityChange", "MediaQualityChangeAuto",
)
#: tracking ids shorter than this were reused across videos by old players: key += "-" + tpmid
STREAM_KEY_MIN_LENGTH = 30

_TIMESTAMP = re.compile(
    r"([1-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]) "
    r"([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])(?:[.,]([0-9]+))?(?: |\Z)")
_TOKEN = re.compile(r'(?s)(?:^| )([A-Za-z0-9_-]+)=("(?:[^"\\]|\\.)*"|[^ ]*)')
_UNESCAPE = re.compile(r"(?s)\\(.)")
_HEADER = re.compile(r" (?:- )?(?:([^ =\[\]]+) )?\[([A-Za-z]+)\]")
_BLANK = re.compile(r"[ \t]*\Z")
_DIGITS = re.compile(r"[0-9]{1,18}\Z")

UNPARSABLE_REASONS = ("not-utf8", "no-timestamp", "bad-timestamp", "no-fields", "line-too-long")


@dataclass(frozen=True)
class Unparsable:
    """A line that is not an event, and why (one of UNPARSABLE_REASONS)."""

    reason: str


@dataclass(frozen=True)
class LogLine:
    """A parsed line: UTC timestamp (no zone in the logs: they are taken as UTC), header, fields."""

    timestamp: datetime
    fields: dict[str, str]
    logger: str | None = None
    level: str | None = None

    @property
    def epoch_ms(self) -> int:
        return int(self.timestamp.timestamp() * 1000)

    def get(self, key: str) -> str | None:
        """A field's value; an empty value counts as missing (as in the original analyzer)."""
        value = self.fields.get(key)
        return value if value else None

    @property
    def stream_key(self) -> str | None:
        """x_tracking_id, + "-" + x_tpmid when the tracking id is short; None when keyless."""
        tracking, tpmid = self.get("x_tracking_id"), self.get("x_tpmid")
        if tracking is None or tpmid is None:
            return None
        return tracking if len(tracking) >= STREAM_KEY_MIN_LENGTH else f"{tracking}-{tpmid}"

    @property
    def status(self) -> str:
        """keyless, bad-data (x_buffering_length not a whole non-negative number) or event."""
        if self.stream_key is None:
            return "keyless"
        buffering = self.get("x_buffering_length")
        if buffering is not None and not _DIGITS.match(buffering):
            return "bad-data"
        return "event"


def unquote(value: str) -> str:
    """`"a \\"b\\""` -> `a "b"`; unquoted values are returned as they are."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        return _UNESCAPE.sub(r"\1", inner) if "\\" in inner else inner
    return value


def is_blank(line: str) -> bool:
    """Blank lines are not events and are not counted at all."""
    return bool(_BLANK.match(line))


def parse_line(line: str) -> LogLine | Unparsable:
    """One log line (without its line break) -> LogLine, or Unparsable with the reason.

    Accepts `YYYY-MM-DD HH:MM:SS` with optional `,mmm`/`.mmm` (any number of digits, read
    to the millisecond), an optional ` - `, logger name and `[LEVEL]`, then `key=value`
    pairs: keys of letters, digits, `_` and `-`; values quoted (spaces and `\\"` escapes
    allowed) or bare. A pair starts at the beginning of the line or after a space; the first
    occurrence of a key wins; unknown keys are kept.
    """
    if "\ufffd" in line:
        return Unparsable("not-utf8")
    m = _TIMESTAMP.match(line)
    if not m:
        return Unparsable("no-timestamp")
    year, month, day, hour, minute, second, frac = m.groups()
    millis = int((frac or "")[:3].ljust(3, "0"))
    try:
        ts = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                      millis * 1000, tzinfo=UTC)
    except ValueError:
        return Unparsable("bad-timestamp")
    fields: dict[str, str] = {}
    for key, value in _TOKEN.findall(line):
        if key not in fields:
            fields[key] = unquote(value)
    if not fields:
        return Unparsable("no-fields")
    header = _HEADER.match(line, m.end(7) if frac is not None else m.end(6))
    logger, level = (header.group(1), header.group(2)) if header else (None, None)
    return LogLine(ts, fields, logger, level)


# -- inputs ---------------------------------------------------------------------------------


class InputError(ValueError):
    """An INPUT argument that names nothing (exit 2)."""


@dataclass(frozen=True)
class InputFile:
    """One file to read: a local path or an s3:// URI, and its size in bytes (as stored)."""

    uri: str
    size: int

    @property
    def is_s3(self) -> bool:
        return is_s3(self.uri)


def is_remote(uri: str) -> bool:
    """A URI that only a Spark cluster can read (not local, not S3): gs://, hdfs://, ..."""
    return "://" in uri and not is_s3(uri) and not uri.startswith("file://")


def is_s3(uri: str) -> bool:
    """s3:// (and s3a://, the Hadoop connector's spelling, kept as given for Spark clusters)."""
    return uri.startswith(("s3://", "s3a://"))


@dataclass
class Inputs:
    files: list[InputFile] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)  # specs (dirs, globs, prefixes) that matched nothing

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def _hidden(name: str) -> bool:
    # Spark/Hadoop markers (_SUCCESS, .crc files) and editor droppings are not logs.
    return name.startswith((".", "_"))


def _local(spec: str) -> tuple[list[InputFile], bool]:
    """Files for a local spec; the bool says whether the spec was a pattern or directory."""
    paths: list[str]
    pattern = any(c in spec for c in "*?[")
    if pattern:
        paths = sorted(glob.glob(spec, recursive=True))
    elif os.path.isdir(spec) or os.path.isfile(spec):
        paths = [spec]
    else:
        raise InputError(f"{spec}: no such file or directory")
    out: list[InputFile] = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not _hidden(d))
                for name in sorted(names):
                    if not _hidden(name):
                        full = os.path.join(root, name)
                        out.append(InputFile(full, os.path.getsize(full)))
        elif os.path.isfile(p):
            out.append(InputFile(p, os.path.getsize(p)))
    return out, pattern or os.path.isdir(spec)


def split_s3(uri: str) -> tuple[str, str]:
    """s3://bucket/some/prefix -> ("bucket", "some/prefix")."""
    rest = uri.split("://", 1)[1]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise InputError(f"{uri}: no bucket name")
    return bucket, prefix


def _s3(spec: str, client) -> list[InputFile]:
    """Objects under an S3 prefix (a key itself, or everything below `prefix/`)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from harvester.errors import ServiceError

    bucket, prefix = split_s3(spec)
    out = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                below = key[len(prefix):]
                if key.endswith("/") or _hidden(key.rsplit("/", 1)[-1]):
                    continue
                if prefix and not prefix.endswith("/") and below and not below.startswith("/"):
                    continue  # s3://b/logs must not pick up s3://b/logs-old/...
                out.append(InputFile(f"{spec.split('://', 1)[0]}://{bucket}/{key}", int(obj.get("Size", 0))))
    except ClientError as exc:
        err = exc.response.get("Error", {})
        reason = f"{err.get('Code', '?')}: {err.get('Message', '')}"
        raise ServiceError("s3", f"listing {spec}: {reason}") from None
    except BotoCoreError as exc:
        raise ServiceError("s3", f"listing {spec}: {exc}") from None
    return out


def s3_client():
    """A boto3 S3 client from the standard configuration (AWS_ENDPOINT_URL(_S3) honoured)."""
    import boto3

    return boto3.session.Session().client("s3")


def resolve_inputs(specs: Sequence[str], client=None) -> Inputs:
    """Expand INPUT arguments into files, in a stable order, each file once."""
    result = Inputs()
    seen: set[str] = set()
    for spec in specs:
        if is_s3(spec):
            client = client or s3_client()
            files, is_collection = _s3(spec, client), True
        elif "://" in spec:  # gs://, hdfs://, abfss://...: for a Spark cluster to read
            files, is_collection = [InputFile(spec, 0)], False
        else:
            files, is_collection = _local(spec)
        if not files and is_collection:
            result.empty.append(spec)
        for f in files:
            if f.uri not in seen:
                seen.add(f.uri)
                result.files.append(f)
    return result


def fetch_s3(files: Iterable[InputFile], dest: Path, client=None) -> list[str]:
    """Local paths for `files`, downloading S3 objects into `dest` (streamed to disk, not memory).

    The file name keeps the object's suffix (`.gz`) so that compression is still recognised.
    """
    from boto3.s3.transfer import TransferConfig
    from botocore.exceptions import BotoCoreError, ClientError

    from harvester.errors import ServiceError

    paths = []
    config = TransferConfig(max_concurrency=4)
    for i, f in enumerate(files):
        if not f.is_s3:
            paths.append(f.uri)
            continue
        client = client or s3_client()
        bucket, key = split_s3(f.uri)
        local = dest / f"{i:06d}-{key.rsplit('/', 1)[-1]}"
        try:
            client.download_file(bucket, key, str(local), Config=config)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise ServiceError("s3", f"reading {f.uri}: {err.get('Code', '?')}: {err.get('Message', '')}") \
                from None
        except BotoCoreError as exc:
            raise ServiceError("s3", f"reading {f.uri}: {exc}") from None
        paths.append(str(local))
    return paths


def open_binary(path: str):
    """A local file for reading bytes, transparently gunzipped when it ends in .gz."""
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")  # noqa: SIM115


def iter_lines(paths: Iterable[str]) -> Iterator[str]:
    """Lines of local files (\\n, \\r\\n or \\r breaks), decoded as UTF-8 (bad bytes -> U+FFFD)."""
    for path in paths:
        with open_binary(path) as fh:
            for raw in fh:
                for piece in raw.splitlines():
                    yield piece.decode("utf-8", errors="replace")
