"""A strict MediaConvert stand-in: the rest-json wire format of ListJobs and GetJob.

boto3 reaches it through AWS_ENDPOINT_URL_MEDIACONVERT. Strict where the service is: a SigV4
Authorization header for the mediaconvert service is required, only the documented query
parameters are accepted, maxResults is 1..20 (default 10), status and order are enums,
nextToken is opaque and bound to the query it came from, errors carry x-amzn-ErrorType.
Jobs are listed by creation time (ASCENDING by default, as the service does).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from tests.standins.base import StandIn, json_response

PREFIX = "/2017-08-29"
STATUSES = {"SUBMITTED", "PROGRESSING", "COMPLETE", "CANCELED", "ERROR"}
LIST_PARAMS = {"maxResults", "nextToken", "order", "queue", "status"}
ACCOUNT = "123456789012"
REGION = "us-east-1"


def queue_arn(name: str) -> str:
    return f"arn:aws:mediaconvert:{REGION}:{ACCOUNT}:queues/{name}"


def error(code: str, message: str, status: int) -> Response:
    return json_response({"message": message}, status, {"x-amzn-ErrorType": f"{code}:http://internal"})


def throttle(_request: Request | None = None) -> Response:
    return error("TooManyRequestsException", "Too many requests", 429)


def server_error(_request: Request | None = None) -> Response:
    return error("InternalServerErrorException", "internal failure", 500)


def _epoch(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


@dataclass
class Job:
    id: str
    status: str
    created: datetime
    queue: str = "Default"
    start: datetime | None = None
    finish: datetime | None = None
    percent: int | None = None
    phase: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    retry_count: int = 0
    user_metadata: dict[str, str] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=lambda: ["s3://media-in/lecture.mp4"])
    output_ms: list[int] = field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        """The job as the service sends it: camelCase, epoch-second timestamps, absent = omitted."""
        timing = {k: v for k, v in (("submitTime", _epoch(self.created)), ("startTime", _epoch(self.start)),
                                    ("finishTime", _epoch(self.finish))) if v is not None}
        doc: dict[str, Any] = {
            "id": self.id,
            "arn": f"arn:aws:mediaconvert:{REGION}:{ACCOUNT}:jobs/{self.id}",
            "status": self.status,
            "createdAt": _epoch(self.created),
            "queue": queue_arn(self.queue),
            "priority": 0,
            "role": f"arn:aws:iam::{ACCOUNT}:role/MediaConvertRole",
            "userMetadata": self.user_metadata,
            "settings": {"inputs": [{"fileInput": i} for i in self.inputs], "outputGroups": []},
            "timing": timing,
            "retryCount": self.retry_count,
            "statusUpdateInterval": "SECONDS_60",
            "queueTransitions": [],
        }
        if self.percent is not None:
            doc["jobPercentComplete"] = self.percent
        if self.phase is not None:
            doc["currentPhase"] = self.phase
        if self.error_code is not None:
            doc["errorCode"] = self.error_code
            doc["errorMessage"] = self.error_message or ""
        if self.output_ms:
            doc["outputGroupDetails"] = [{"outputDetails": [{"durationInMs": ms} for ms in self.output_ms]}]
        return doc


class MediaConvertStandIn(StandIn):
    """Holds jobs; `on_get[job_id]` is a list of changes applied one per GetJob of that job."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, Job] = {}
        self.on_get: dict[str, list[Callable[[Job], None]]] = {}
        self.data_lock = threading.Lock()

    def add(self, job_id: str, status: str, created: datetime, **kwargs: Any) -> Job:
        job = Job(job_id, status, created, **kwargs)
        self.jobs[job_id] = job
        return job

    # -- protocol -------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 ") or "/mediaconvert/aws4_request" not in auth:
            return error("ForbiddenException", "missing or wrong SigV4 signature", 403)
        if request.method != "GET":
            return error("BadRequestException", f"{request.method} not supported here", 400)
        path = request.path
        if path == f"{PREFIX}/jobs":
            return self._list(request)
        if path.startswith(f"{PREFIX}/jobs/"):
            return self._get(path[len(PREFIX) + len("/jobs/"):])
        return error("NotFoundException", f"no route {path}", 404)

    def _get(self, job_id: str) -> Response:
        with self.data_lock:
            job = self.jobs.get(job_id)
            if job is None:
                return error("NotFoundException", f"The job {job_id} doesn't exist", 404)
            changes = self.on_get.get(job_id)
            if changes:
                changes.pop(0)(job)
            return json_response({"job": job.wire()})

    def _list(self, request: Request) -> Response:
        args = request.args
        unknown = set(args) - LIST_PARAMS
        if unknown:
            return error("BadRequestException", f"unknown parameters {sorted(unknown)}", 400)
        try:
            size = int(args.get("maxResults", "10"))
        except ValueError:
            return error("BadRequestException", "maxResults must be an integer", 400)
        if not 1 <= size <= 20:
            return error("BadRequestException", "maxResults must be between 1 and 20", 400)
        order = args.get("order", "ASCENDING")
        status = args.get("status")
        queue = args.get("queue")
        if order not in ("ASCENDING", "DESCENDING") or (status is not None and status not in STATUSES):
            return error("BadRequestException", "invalid order or status", 400)
        query = f"{order}|{status}|{queue}"
        offset = 0
        if "nextToken" in args:
            try:
                bound, _, pos = base64.b64decode(args["nextToken"]).decode().rpartition("#")
                offset = int(pos)
            except ValueError:
                return error("BadRequestException", "invalid nextToken", 400)
            if bound != query:
                return error("BadRequestException", "nextToken does not belong to this query", 400)
        with self.data_lock:
            jobs = [j for j in self.jobs.values()
                    if (status is None or j.status == status)
                    and (queue is None or queue in (j.queue, queue_arn(j.queue)))]
            jobs.sort(key=lambda j: (j.created, j.id), reverse=order == "DESCENDING")
            page = [j.wire() for j in jobs[offset:offset + size]]
        doc: dict[str, Any] = {"jobs": page}
        if offset + size < len(jobs):
            doc["nextToken"] = base64.b64encode(f"{query}#{offset + size}".encode()).decode()
        return Response(json.dumps(doc), 200, content_type="application/json")


@pytest.fixture
def mediaconvert(monkeypatch):
    """A running stand-in with boto3 pointed at it (and only MediaConvert: SQS stays on moto)."""
    with MediaConvertStandIn() as standin:
        monkeypatch.setenv("AWS_ENDPOINT_URL_MEDIACONVERT", standin.url)
        yield standin


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
