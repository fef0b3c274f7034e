"""Checkpoints: where a harvest resumes. An S3 object (the original tool's place) or a file.

Two layers. A store (`LocalCheckpoint`, `S3Checkpoint`) keeps a string; writes are atomic
(S3 PUT, or a temporary file fsynced and renamed), so a crash leaves the old or the new value.
A format turns that string into what a command resumes from, and every format of the project
lives here: the original tool's bare `YYYYMMDDHHmmss` (useractions, so existing deployments
keep their place), a `YYYY-MM-DD` day (zoom) and the JSON poll state (mediaconvert). A value
a format cannot read raises the one `CorruptCheckpoint` error, the same exit code everywhere.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from harvester.aws import credentials_error
from harvester.config import env
from harvester.errors import CorruptCheckpoint, ServiceError
from harvester.timeutil import format_compact_in, iso_or_none, parse_compact_in, parse_iso

log = logging.getLogger("harvester.checkpoint")


class Checkpoint(Protocol):
    description: str

    def read(self) -> str | None: ...

    def write(self, value: str) -> None: ...


def state_dir() -> Path:
    return Path(env("HARVEST_STATE_DIR") or "./.harvest-state")


class LocalCheckpoint:
    def __init__(self, path: Path):
        self.path = path
        self.description = f"file {path}"

    def read(self) -> str | None:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ServiceError("checkpoint", f"cannot read {self.path}: {exc.strerror}") from None
        return text or None

    def write(self, value: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(value)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise ServiceError("checkpoint", f"cannot write {self.path}: {exc.strerror}") from None


class S3Checkpoint:
    def __init__(self, bucket: str, key: str):
        self.bucket, self.key = bucket, key
        self.description = f"s3://{bucket}/{key}"
        self._client = None

    @property
    def client(self):
        if self._client is None:
            from harvester.aws import client

            self._client = client("s3")
        return self._client

    def read(self) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "NoSuchBucket", "404"):
                return None
            raise ServiceError("S3", f"cannot read checkpoint {self.description}: {code}") from None
        except BotoCoreError as exc:
            raise credentials_error("S3", exc) or ServiceError(
                "S3", f"cannot read checkpoint {self.description}: {exc}") from None
        return body.decode("utf-8").strip() or None

    def write(self, value: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            try:
                self.client.put_object(Bucket=self.bucket, Key=self.key, Body=value.encode())
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "NoSuchBucket":
                    raise
                self._create_bucket()
                self.client.put_object(Bucket=self.bucket, Key=self.key, Body=value.encode())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise ServiceError("S3", f"cannot write checkpoint {self.description}: {code}") from None
        except BotoCoreError as exc:
            raise credentials_error("S3", exc) or ServiceError(
                "S3", f"cannot write checkpoint {self.description}: {exc}") from None

    def _create_bucket(self) -> None:
        log.info("creating checkpoint bucket %s", self.bucket)
        region = self.client.meta.region_name
        kwargs = {"Bucket": self.bucket}
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        self.client.create_bucket(**kwargs)


def open_checkpoint(name: str, *, s3_bucket: str | None = None,
                    s3_key: str | None = None) -> Checkpoint:
    """S3 when both bucket and key are given, else `$HARVEST_STATE_DIR/<name>`."""
    if s3_bucket and s3_key:
        return S3Checkpoint(s3_bucket, s3_key)
    return LocalCheckpoint(state_dir() / name)


# -- formats ----------------------------------------------------------------------------------

T = TypeVar("T")


class Format(Protocol[T]):
    #: what a readable value looks like, for the corrupt-checkpoint message
    expected: str
    #: how to run without the checkpoint, e.g. "give --start"
    remedy: str

    def parse(self, text: str) -> T: ...

    def format(self, value: T) -> str: ...


class TypedCheckpoint(Generic[T]):
    """A store read and written through a format; `raw` is the text last read."""

    def __init__(self, store: Checkpoint, fmt: Format[T]):
        self.store = store
        self.format = fmt
        self.description = store.description
        self.raw: str | None = None

    def read(self) -> T | None:
        self.raw = self.store.read()
        if self.raw is None:
            return None
        try:
            return self.format.parse(self.raw)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CorruptCheckpoint(self.description, self.raw,
                                    f"is not {self.format.expected} ({exc})", self.format.remedy) from None

    def write(self, value: T) -> str:
        """Store `value`; returns the text written."""
        text = self.format.format(value)
        self.store.write(text)
        return text


@dataclass(frozen=True)
class CompactTime:
    """The original tool's bare `YYYYMMDDHHmmss`, written in `tz` (it wrote server time)."""

    tz: tzinfo = UTC
    expected: str = "YYYYMMDDHHmmss"
    remedy: str = "give --start"

    def parse(self, text: str) -> datetime:
        return parse_compact_in(text, self.tz)

    def format(self, value: datetime) -> str:
        return format_compact_in(value, self.tz)


@dataclass(frozen=True)
class Day:
    """The last day of an unbroken run of harvested days, `YYYY-MM-DD`."""

    expected: str = "a YYYY-MM-DD day"
    remedy: str = "give --date"

    def parse(self, text: str) -> date:
        return date.fromisoformat(text.strip())

    def format(self, value: date) -> str:
        return value.isoformat()


@dataclass
class PollState:
    """When the last poll started and which jobs were still active then (mediaconvert)."""

    last_poll: datetime | None = None
    active: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: finished jobs the next poll's overlapping window lists again: not written twice
    done: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PollStateJson:
    """PollState as versioned JSON; a bare date/time (written by hand) is a last poll."""

    expected: str = "a mediaconvert poll state"
    remedy: str = "delete it to start again from --since (default: the last 24 h)"

    def parse(self, text: str) -> PollState:
        if not text.lstrip().startswith("{"):
            return PollState(parse_iso(text.strip()), {})
        doc = json.loads(text)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        last = parse_iso(doc["last_poll"]) if doc.get("last_poll") else None
        active = doc.get("active") or {}
        if isinstance(active, list):
            active = {str(a): {} for a in active}
        if not isinstance(active, dict):
            raise ValueError("active is not a map")
        done = [str(d) for d in doc.get("done") or []]
        return PollState(last, {str(k): dict(v or {}) for k, v in active.items()}, done)

    def format(self, value: PollState) -> str:
        return json.dumps({"version": 1, "last_poll": iso_or_none(value.last_poll), "active": value.active,
                           "done": value.done}, sort_keys=True, separators=(",", ":"))


def open_typed(name: str, fmt: Format[T], *, s3_bucket: str | None = None,
               s3_key: str | None = None) -> TypedCheckpoint[T]:
    """`open_checkpoint` read and written through `fmt`."""
    return TypedCheckpoint(open_checkpoint(name, s3_bucket=s3_bucket, s3_key=s3_key), fmt)
