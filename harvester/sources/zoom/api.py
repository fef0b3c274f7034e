"""How to talk to Zoom API v2: Server-to-Server OAuth, pacing, retries, and Zoom's error shapes.

"What to fetch" lives in harvester.sources.zoom.source; this module knows only how. Zoom's rate
limits are per account and shared by every app on it, so the harvester paces itself per rate
category instead of discovering the limit through 429s; a per-second 429 is still retried
(by harvester.http, honouring Retry-After as seconds or an HTTP date), while a daily-limit
429 stops the run at once because nothing will succeed before midnight UTC.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import requests

from harvester.errors import AuthenticationError, ConfigError, HarvestError, ServiceError
from harvester.http import RetryPolicy, TransientBody, describe, new_session, parse_retry_after, request
from harvester.timeutil import iso_seconds_or_none

log = logging.getLogger("harvester.zoom")

HEAVY = "heavy"
RESOURCE_INTENSIVE = "resource_intensive"

_RATE = re.compile(r"^\s*(\d+)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*$", re.IGNORECASE)
_PERIODS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0,
            "h": 3600.0, "hour": 3600.0}


@dataclass(frozen=True)
class Rate:
    """At most `calls` requests in any window of `period` seconds."""

    calls: int
    period: float

    @classmethod
    def parse(cls, text: str, setting: str) -> Rate:
        """"40/s", "20/min", "1000/h" or a bare number (per second); exit 2 on anything else."""
        m = _RATE.match(text or "")
        if not m or int(m.group(1)) < 1:
            raise ConfigError(
                f"invalid value for {setting}: {text!r} (expected a positive rate such as 40/s or 20/min)")
        return cls(int(m.group(1)), _PERIODS[(m.group(2) or "s").lower()])

    def __str__(self) -> str:
        unit = {1.0: "s", 60.0: "min", 3600.0: "h"}.get(self.period, f"{self.period:g}s")
        return f"{self.calls}/{unit}"


PAGE_SIZE = 300  # Zoom's maximum


@dataclass(frozen=True)
class ZoomSettings:
    """What the Zoom client needs, built once by the job from the options and the registry.

    Nothing below this reads the environment; `rates` empty means unpaced (doctor, tests).
    """

    account_id: str | None
    client_id: str | None
    client_secret: str | None = field(repr=False)
    api_url: str = ""
    oauth_url: str = ""
    rates: Mapping[str, Rate] = field(default_factory=dict)
    page_size: int = PAGE_SIZE

    @property
    def missing(self) -> list[str]:
        """The credential settings not given, by their variable names."""
        return [name for name, value in (("ZOOM_ACCOUNT_ID", self.account_id),
                                          ("ZOOM_CLIENT_ID", self.client_id),
                                          ("ZOOM_CLIENT_SECRET", self.client_secret)) if not value]


class Pacer:
    """Keeps each rate category under its limit: never more than N calls in any window.

    A sliding window rather than fixed spacing, so a short burst up to the limit goes out at
    once, the way Zoom counts, and only the call that would exceed the window waits. A call
    counts from the moment its answer came back (`done`), the latest moment Zoom can have
    counted it: call i+N then leaves at least one period after call i reached Zoom, whatever
    the network delays, so Zoom never sees more than N calls in a window.
    """

    def __init__(self, rates: Mapping[str, Rate], *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.rates = dict(rates)
        self._clock, self._sleep = clock, sleep
        self._sent: dict[str, deque[list[float]]] = {k: deque(maxlen=r.calls) for k, r in self.rates.items()}
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self, category: str) -> list[float] | None:
        """Block until one more call in `category` stays within its rate; returns its slot."""
        rate = self.rates.get(category)
        if rate is None:
            return None
        with self._lock:
            sent = self._sent[category]
            now = self._clock()
            if len(sent) == rate.calls:
                wait = sent[0][0] + rate.period - now
                if wait > 0:
                    self._sleep(wait)
                    self.waited += wait
                    now = max(self._clock(), sent[0][0] + rate.period)
            slot = [now]
            sent.append(slot)
            return slot

    def done(self, slot: list[float] | None) -> None:
        """The call of `slot` has its answer (or failed): it counts from now."""
        if slot is not None:
            with self._lock:
                slot[0] = max(slot[0], self._clock())


class ZoomApiError(ServiceError):
    """Zoom answered with an error that retrying will not fix (a 4xx other than 401/429)."""

    def __init__(self, status: int, code: int | None, message: str, where: str, is_json: bool):
        code_part = f" code {code}" if code is not None else ""
        super().__init__("Zoom", f"GET {where} answered HTTP {status}{code_part}: {message}")
        self.status, self.code, self.zoom_message, self.is_json = status, code, message, is_json

    @property
    def reason(self) -> str:
        """Short form for summaries: "HTTP 404 code 3001: Meeting does not exist"."""
        code_part = f" code {self.code}" if self.code is not None else ""
        return f"HTTP {self.status}{code_part}: {self.zoom_message}"


class DailyLimitReached(HarvestError):
    """Zoom's daily budget for heavy/resource-intensive calls is spent (exit 1)."""

    def __init__(self, where: str, resets: str | None):
        when = f"; it resets at {resets}" if resets else "; it resets at 00:00 UTC"
        super().__init__(f"Zoom: daily rate limit reached (GET {where}){when}")
        self.resets = resets


@dataclass
class ZoomError:
    """The parts of a Zoom error answer: {"code": 3001, "message": "..."} or a non-JSON page."""

    status: int
    code: int | None
    message: str
    is_json: bool

    @classmethod
    def of(cls, resp: requests.Response) -> ZoomError:
        try:
            body = resp.json()
        except ValueError:
            text = " ".join((resp.text or "").split())[:160]
            return cls(resp.status_code, None, text or resp.reason or "no body", False)
        if not isinstance(body, dict):
            return cls(resp.status_code, None, str(body)[:160], True)
        code = body.get("code")
        message = body.get("message") or body.get("reason") or body.get("error") or ""
        return cls(resp.status_code, code if isinstance(code, int) else None, str(message)[:300], True)


class ZoomAuth:
    """Server-to-Server OAuth: one token, reused until shortly before it expires.

    There is no refresh token; a new access token is requested with the account credentials.
    `invalidate()` forces a new one (Zoom answered 401 code 124). The token is never logged.
    """

    def __init__(self, oauth_url: str, account_id: str, client_id: str, client_secret: str, *,
                 session: requests.Session, policy: RetryPolicy, clock: Callable[[], float] = time.monotonic):
        self.oauth_url = oauth_url
        self._account_id, self._client_id, self._client_secret = account_id, client_id, client_secret
        self._session, self._policy, self._clock = session, policy, clock
        self._token: str | None = None
        self._renew_at = 0.0
        self.scopes: list[str] = []
        self.requests = 0

    def token(self) -> str:
        if self._token is None or self._clock() >= self._renew_at:
            self._fetch()
        assert self._token is not None
        return self._token

    def invalidate(self) -> None:
        self._token = None

    def _fetch(self) -> None:
        self.requests += 1
        doc = request(self._session, "POST", self.oauth_url, service="Zoom OAuth", policy=self._policy,
                      check=self._check, ok_status=(400, 401, 403),
                      auth=(self._client_id, self._client_secret),
                      data={"grant_type": "account_credentials", "account_id": self._account_id})
        lifetime = float(doc.get("expires_in") or 3600)
        # Renew a little early: at most five minutes, at most a tenth of the lifetime.
        self._renew_at = self._clock() + lifetime - min(300.0, lifetime / 10)
        self._token = str(doc["access_token"])
        self.scopes = str(doc.get("scope") or "").split()
        log.debug("obtained a Zoom access token valid for %ds", int(lifetime))

    def _check(self, resp: requests.Response) -> dict:
        if resp.status_code >= 400:
            err = ZoomError.of(resp)
            raise AuthenticationError(
                "Zoom OAuth", f"token request refused (HTTP {err.status}: {err.message}); check "
                "ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID (ZOOM_KEY) and ZOOM_CLIENT_SECRET (ZOOM_SECRET)")
        try:
            doc = resp.json()
        except ValueError:
            raise TransientBody("token response is not JSON") from None
        if not isinstance(doc, dict) or not doc.get("access_token"):
            raise TransientBody("token response has no access_token")
        return doc


#: a 429 below the daily limit and every 5xx are worth another attempt
RETRY_STATUS = frozenset({429, *range(500, 600)})
#: answers handed to the check: Zoom's error shapes (401 and 429 never get there)
CHECKED_STATUS = frozenset(range(400, 500)) - {401, 429}


class TokenRefused(Exception):
    """Zoom answered 401: the token expired or was revoked (code 124)."""

    def __init__(self, err: ZoomError):
        super().__init__(err.message)
        self.err = err


class ZoomApi:
    """GET requests against the API base with pacing, token renewal and retries.

    Retries are harvester.http's (`request` with the shared RetryPolicy); Zoom's own rules
    are applied to every attempt by `_Attempts`: the current token, a pacer slot, the call
    count, and leaving the retry loop at once on a 401 (one new token, then the same call
    again) or on the daily limit (nothing succeeds before it resets).
    """

    def __init__(self, base_url: str, auth: ZoomAuth, pacer: Pacer, *, session: requests.Session,
                 policy: RetryPolicy):
        self.base_url = base_url.rstrip("/")
        self.auth, self.pacer, self.session, self.policy = auth, pacer, session, policy
        self.calls: dict[str, int] = {}

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def get(self, path: str, params: Mapping[str, object] | None = None, *, category: str) -> dict:
        """The JSON object at `path` (already URL-encoded); raises ZoomApiError for a 4xx."""
        url = self.base_url + path
        where = describe(url)
        try:
            return self._get(url, where, params, category)
        except TokenRefused as exc:
            log.info("Zoom refused the access token (code %s); requesting a new one", exc.err.code)
            self.auth.invalidate()
        try:
            return self._get(url, where, params, category)
        except TokenRefused as exc:
            raise AuthenticationError("Zoom", f"GET {where} refused a fresh token "
                                      f"(HTTP 401 code {exc.err.code}: {exc.err.message})") from None

    def _get(self, url: str, where: str, params: Mapping[str, object] | None, category: str) -> dict:
        policy = replace(self.policy, retry_status=RETRY_STATUS)

        def check(resp: requests.Response) -> dict:
            if resp.status_code >= 300:
                err = ZoomError.of(resp)
                raise ZoomApiError(err.status, err.code, err.message, where, err.is_json)
            try:
                doc = resp.json()
            except ValueError:
                doc = None
            if not isinstance(doc, dict):
                raise TransientBody("the answer is not a JSON object (cut short?)")
            return doc

        return request(_Attempts(self, category, where), "GET", url, service="Zoom",  # type: ignore[arg-type]
                       policy=policy, check=check, ok_status=CHECKED_STATUS, params=params)


class _Attempts:
    """The session `harvester.http.request` sends one API call's attempts through."""

    def __init__(self, api: ZoomApi, category: str, where: str):
        self.api, self.category, self.where = api, category, where

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        api = self.api
        headers = {"Authorization": f"Bearer {api.auth.token()}", "Accept": "application/json"}
        slot = api.pacer.acquire(self.category)
        api.calls[self.category] = api.calls.get(self.category, 0) + 1
        try:
            resp = api.session.request(method, url, headers=headers, **kwargs)
        finally:
            api.pacer.done(slot)
        if resp.status_code == 401:
            raise TokenRefused(ZoomError.of(resp))
        if resp.status_code == 429:
            err = ZoomError.of(resp)
            if _is_daily(resp, err):
                raise DailyLimitReached(self.where, _reset_time(resp))
        return resp


def _is_daily(resp: requests.Response, err: ZoomError) -> bool:
    kind = resp.headers.get("X-RateLimit-Type", "")
    return kind.lower().startswith("daily") or "daily" in err.message.lower()


def _reset_time(resp: requests.Response) -> str | None:
    seconds = parse_retry_after(resp.headers.get("Retry-After"))
    if seconds is None:
        return None
    return iso_seconds_or_none(datetime.now(UTC) + timedelta(seconds=seconds))


def new_api(settings: ZoomSettings, policy: RetryPolicy) -> ZoomApi:
    """A ready client: one HTTP session shared by OAuth and API calls."""
    session = new_session()
    auth = ZoomAuth(settings.oauth_url, settings.account_id or "", settings.client_id or "",
                    settings.client_secret or "", session=session, policy=policy)
    return ZoomApi(settings.api_url, auth, Pacer(settings.rates), session=session, policy=policy)
