"""HTTP plumbing shared by every upstream client: sessions, timeouts, retries with backoff.

"What to fetch" lives in each source module; "how to retry" lives here once. Transient
failures (connection errors, timeouts, 5xx, 429, and bodies cut short) are retried with
exponential backoff and jitter, honouring Retry-After in seconds or as an HTTP date. What
is left is raised as ServiceError naming the service, the host, the endpoint and the answer,
never the credentials.

`RetryPolicy` is the one policy (attempts, backoff formula, timeout) of the project, read
once from HARVEST_RETRY_ATTEMPTS / HARVEST_RETRY_BASE_DELAY / HARVEST_HTTP_TIMEOUT. Where
its loop runs:
- `request` here: Opencast and every plain HTTP upstream;
- the Zoom client: the same policy and `delay`, plus Zoom's own answers (a refused token is
  renewed once, the daily rate limit is not waited out);
- the Elasticsearch sink and `harvester.elasticsearch.errors.call`: the same policy, around
  the client library's calls (the client's own retries are off), and per-document retries of
  a bulk request's rejected items;
- AWS (S3, MediaConvert): botocore's retries, with HARVEST_RETRY_ATTEMPTS as its total
  attempts (harvester.aws); the SQS sink instead sets botocore to one attempt and retries
  with this policy, because a batch's rejected entries must be re-sent too and the two
  loops would otherwise multiply.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from harvester import __version__
from harvester.config import env_float, env_int
from harvester.errors import ServiceError

log = logging.getLogger("harvester.http")

TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
USER_AGENT = f"harvester/{__version__} (+video analytics harvester)"


@dataclass
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    timeout: float = 30.0
    retry_status: frozenset[int] = field(default=TRANSIENT_STATUS)
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_env(cls, **overrides) -> RetryPolicy:
        """From HARVEST_RETRY_ATTEMPTS / HARVEST_RETRY_BASE_DELAY / HARVEST_HTTP_TIMEOUT (defaults:
        the settings registry, harvester.config)."""
        policy = cls(
            attempts=env_int("HARVEST_RETRY_ATTEMPTS", minimum=1) or 1,
            base_delay=env_float("HARVEST_RETRY_BASE_DELAY") or 0.0,
            timeout=env_float("HARVEST_HTTP_TIMEOUT", minimum=0.001) or 0.001,
        )
        for k, v in overrides.items():
            setattr(policy, k, v)
        return policy

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        backoff = self.base_delay * (2 ** (attempt - 1))
        return min(backoff * (0.5 + random.random()), self.max_delay)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def new_session(headers: dict[str, str] | None = None) -> requests.Session:
    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    if headers:
        s.headers.update(headers)
    return s


def describe(url: str) -> str:
    """host + path of a URL, without query string or credentials (for messages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return f"{host}{parts.path}"


class TransientBody(Exception):
    """Raised by a response check when a body is cut short or garbled: retry the request."""


def request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    service: str,
    policy: RetryPolicy,
    check: Callable[[requests.Response], object] | None = None,
    ok_status: Iterable[int] = (),
    **kwargs,
):
    """Send a request with retries; returns `check(response)` (or the response).

    `check` turns a 2xx response into a value and may raise TransientBody to have the
    request retried (a truncated JSON body, say). Status codes in `ok_status` are handed
    to `check` too instead of being treated as errors (e.g. a 404 that means "not found").
    """
    ok = set(ok_status)
    where = describe(url)
    last = ""
    for attempt in range(1, policy.attempts + 1):
        retry_after = None
        try:
            resp = session.request(method, url, timeout=policy.timeout, **kwargs)
        except requests.Timeout:
            last = f"no answer within {policy.timeout:g}s"
        except requests.ConnectionError as exc:
            last = f"connection failed ({_reason(exc)})"
        except requests.RequestException as exc:
            raise ServiceError(service, f"{method} {where}: {type(exc).__name__}") from None
        else:
            if resp.status_code < 300 or resp.status_code in ok:
                try:
                    return check(resp) if check else resp
                except TransientBody as exc:
                    last = str(exc)
            elif resp.status_code in policy.retry_status:
                last = f"HTTP {resp.status_code} {_snippet(resp)}"
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            else:
                raise ServiceError(service, f"{method} {where} answered HTTP {resp.status_code}"
                                   f" {_snippet(resp)}")
        if attempt < policy.attempts:
            wait = policy.delay(attempt, retry_after)
            log.warning("%s: %s %s: %s; retry %d/%d in %.1fs", service, method, where, last,
                        attempt, policy.attempts - 1, wait)
            policy.sleep(wait)
    raise ServiceError(service, f"{method} {where} failed after {policy.attempts} attempt(s): {last}")


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out",
                   "Connection reset", "Remote end closed"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__


def _snippet(resp: requests.Response, limit: int = 200) -> str:
    text = (resp.text or "").strip().replace("\n", " ")
    return f"({text[:limit]})" if text else ""
