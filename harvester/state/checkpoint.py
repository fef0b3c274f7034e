"""Checkpoints: where a harvest resumes. An S3 object (the original tool's place) or a file.

Values are opaque strings to this module; useractions stores the original bare
`YYYYMMDDHHmmss` so existing deployments keep their place. Writes are atomic (S3 PUT, or a
temporary file fsynced and renamed), so a crash leaves either the old or the new value.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Protocol

from harvester.aws import credentials_error
from harvester.config import env
from harvester.errors import ServiceError

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
