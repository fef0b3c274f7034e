"""Talking to MediaConvert: the boto3 client, listing and fetching jobs, its errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from harvester.aws import NO_CREDENTIALS
from harvester.errors import AuthenticationError, ConfigError, ServiceError
from harvester.sources.mediaconvert.jobs import ACTIVE, PAGE_SIZE, SERVICE, STATUSES

_AUTH_CODES = {"ForbiddenException", "AccessDeniedException", "UnrecognizedClientException",
               "InvalidSignatureException", "ExpiredTokenException", "InvalidClientTokenId"}



# -- talking to MediaConvert ------------------------------------------------------------------

@contextlib.contextmanager
def _aws_errors(service: str, what: str) -> Iterator[None]:
    """botocore failures -> the contract's errors (service failure exit 1, no credentials exit 2)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except NoCredentialsError:
        raise ConfigError(f"no AWS credentials for {service}: {NO_CREDENTIALS}") from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code = err.get("Code") or "error"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = f"{what}: {code} (HTTP {status}): {err.get('Message') or ''}".rstrip(": ")
        if code in _AUTH_CODES:
            raise AuthenticationError(service, message) from None
        raise ServiceError(service, message) from None
    except BotoCoreError as exc:
        raise ServiceError(service, f"{what}: {exc}") from None


def aws_client(service: str, *, attempts: int | None = None) -> Any:
    """harvester.aws.client with adaptive retries: MediaConvert's request quotas are low, so
    throttling slows the client down before it retries. `attempts` as there (total attempts,
    the first included; default HARVEST_RETRY_ATTEMPTS). Missing region or credentials exit 2
    before any call."""
    from harvester.aws import client

    return client(service, attempts=attempts, retry_mode="adaptive", require_credentials=True)


def make_client(*, attempts: int | None = None) -> Any:
    """The MediaConvert client (the regional endpoint boto3 resolves; no describe_endpoints)."""
    return aws_client("mediaconvert", attempts=attempts)


class JobLister:
    """Lists and fetches jobs; keeps a count of API requests for the run summary."""

    def __init__(self, client: Any, *, queue: str | None = None):
        self.client = client
        self.queue = queue
        self.requests = 0

    def list(self, status: str | None, since: datetime | None) -> Iterator[dict]:
        """Jobs created at or after `since`, newest first; stops paging at the first older one."""
        kwargs: dict[str, Any] = {"Order": "DESCENDING", "PaginationConfig": {"PageSize": PAGE_SIZE}}
        if status:
            kwargs["Status"] = status
        if self.queue:
            kwargs["Queue"] = self.queue
        what = f"list_jobs status={status or 'any'} queue={self.queue or 'any'}"
        paginator = self.client.get_paginator("list_jobs")
        with _aws_errors(SERVICE, what):
            for page in paginator.paginate(**kwargs):
                self.requests += 1
                for job in page.get("Jobs") or []:
                    created = job.get("CreatedAt")
                    if since is not None and created is not None and created < since:
                        return
                    yield job

    def get(self, job_id: str) -> dict | None:
        """One job by id; None when MediaConvert no longer has it (jobs expire after 90 days)."""
        from botocore.exceptions import ClientError

        self.requests += 1
        with _aws_errors(SERVICE, f"get_job {job_id}"):
            try:
                return self.client.get_job(Id=job_id)["Job"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "NotFoundException":
                    return None
                raise


def statuses_to_list(requested: Iterable[str]) -> list[str | None]:
    """Which listings one poll makes: all jobs at once, or each status in lifecycle order.

    With a status filter the active statuses are listed too (not emitted): they are what the
    next poll needs to re-poll, so that a job finishing later is not missed.
    """
    wanted = set(requested)
    if not wanted or wanted >= set(STATUSES):
        return [None]
    return [s for s in STATUSES if s in wanted or s in ACTIVE]
