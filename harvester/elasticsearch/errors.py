"""Errors of both client libraries as one kind, and retries of what is transient.

The facade in `client` catches what elasticsearch-py or opensearch-py raise and raises
`EsCallError` instead, so nothing above it depends on which library served the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from harvester.errors import AuthenticationError, HarvestError, ServiceError
from harvester.http import RetryPolicy

log = logging.getLogger("harvester.elasticsearch")

SERVICE = "elasticsearch"
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})

T = TypeVar("T")


class EsCallError(Exception):
    """One failed call: `kind` is api, connection, timeout or product; `status` the HTTP status."""

    def __init__(self, kind: str, reason: str, status: int | None = None, body: object = None,
                 auth: str = "basic"):
        super().__init__(reason)
        self.kind, self.reason, self.status, self.body, self.auth = kind, reason, status, body, auth


def api_reason(body: object, fallback: str) -> str:
    """Elasticsearch's `error.type: error.reason`; also the plain-string error of 406s and the
    `message`/`Message` of AWS's own refusals (a bad signature, an IAM denial)."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return f"{err.get('type', 'error')}: {err.get('reason', '')}".strip()
        if isinstance(err, str):
            return err
        for key in ("message", "Message"):
            if isinstance(body.get(key), str):
                return body[key]
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    return fallback


def _connection_reason(text: str) -> str:
    if "refused" in text.lower():
        return "connection refused"
    for marker in ("Name or service not known", "certificate verify failed", "timed out",
                   "Connection reset", "No route to host"):
        if marker.lower() in text.lower():
            return marker.lower()
    return "connection error"


AUTH_HINTS = {
    "basic": "check ES_USER/ES_PASSWORD or ES_API_KEY",
    "sigv4": "check the AWS credentials and the domain's access policy (ES_AWS_AUTH=sigv4)",
}


def translate(exc: Exception, what: str) -> HarvestError:
    """A failed call as the harvester's own error (exit 1), never with credentials in it."""
    if isinstance(exc, HarvestError):
        return exc
    if not isinstance(exc, EsCallError):
        return ServiceError(SERVICE, f"{what}: {type(exc).__name__}: {exc}")
    hint = AUTH_HINTS.get(exc.auth, AUTH_HINTS["basic"])
    if exc.kind == "api" and exc.status == 401:
        return AuthenticationError(SERVICE, f"{what}: credentials refused (HTTP 401); {hint}")
    if exc.kind == "api" and exc.status == 403:
        return AuthenticationError(SERVICE, f"{what}: not allowed (HTTP 403): {exc.reason}"
                                   + (f"; {hint}" if exc.auth == "sigv4" else ""))
    if exc.kind == "product":
        return ServiceError(SERVICE, f"{what}: {exc.reason}")
    if exc.kind == "timeout":
        return ServiceError(SERVICE, f"{what}: no answer in time")
    if exc.kind == "connection":
        return ServiceError(SERVICE, f"{what}: cannot connect ({_connection_reason(exc.reason)})")
    return ServiceError(SERVICE, f"{what}: HTTP {exc.status} {exc.reason}")


def is_transient(exc: Exception) -> bool:
    if not isinstance(exc, EsCallError):
        return False
    return exc.kind in ("connection", "timeout") or (exc.kind == "api" and exc.status in RETRYABLE_STATUS)


def call(what: str, fn: Callable[[], T], policy: RetryPolicy | None = None) -> T:
    """Run one client call with backoff on transient failures; errors become HarvestErrors.

    For the non-bulk calls (templates, searches, health): the same policy as every other
    upstream, HARVEST_RETRY_ATTEMPTS and HARVEST_RETRY_BASE_DELAY.
    """
    policy = policy or RetryPolicy.from_env()
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except HarvestError:
            raise
        except Exception as exc:
            if not is_transient(exc) or attempt == policy.attempts:
                raise translate(exc, what) from None
            wait = policy.delay(attempt)
            log.warning("%s: %s: %s; retry %d/%d in %.1fs", SERVICE, what, translate(exc, what),
                        attempt, policy.attempts - 1, wait)
            policy.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def es_errors(what: str) -> Iterator[None]:
    """Translate client errors raised inside the block (no retries)."""
    try:
        yield
    except EsCallError as exc:
        raise translate(exc, what) from None
