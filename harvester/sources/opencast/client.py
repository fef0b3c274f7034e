"""A small Opencast (Matterhorn) client and the one place where its JSON quirks are normalized.

Why not pyhorn: it is unmaintained, Digest-only, has no useful retries or timeouts, and wraps
endpoints that Opencast 12 and 16 removed or reshaped. This client is one requests.Session
with Digest (plus the headers Opencast needs to issue a challenge) or Basic auth, the shared
retry policy, and a clear authentication error when a login page comes back instead of JSON.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

from harvester.config import normalize_host
from harvester.errors import AuthenticationError, ServiceError
from harvester.http import RetryPolicy, TransientBody, describe, new_session, request
from harvester.timeutil import iso_z, parse_iso

log = logging.getLogger("harvester.opencast")

OMITTED = "-omitted-"
USERTRACKING = "/usertracking/actions.json"
PLUGIN_HINT = ("since Opencast 13 user tracking is the optional plugin opencast-plugin-usertracking, "
               "off by default: set `opencast-plugin-usertracking = on` in "
               "etc/org.opencastproject.plugin.impl.PluginManagerImpl.cfg on this node")
BASIC_HINT = ("with OPENCAST_AUTH=basic the user must be a user of Opencast's user directory (Basic "
              "is checked against its stored passwords, Opencast 5.x and later); the Digest system "
              "account (org.opencastproject.security.digest.user) only works with OPENCAST_AUTH=digest")
DCE_SERIES = re.compile(r"^(\d{4})(\d{2})(\d{5})")


# -- normalizers: every JSON quirk of the internal endpoints, handled once -----------------

def as_list(value: Any) -> list:
    """A list with one item arrives as a bare object, an empty one as missing or ""."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    return [value]


def as_str(value: Any) -> str | None:
    """Strings, with numbers that were strings upstream (4160.0 -> "4160") and `$` text nodes."""
    if isinstance(value, dict):
        value = value.get("$")
    if isinstance(value, list):
        value = value[0] if value else None
        if isinstance(value, dict):
            value = value.get("$")
    if value is None or isinstance(value, bool):
        return None if value is None else str(value).lower()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value)
    return None if text == OMITTED else text


def as_int(value: Any) -> int | None:
    """Integers that may arrive as floats (4160.0) or strings ("4160", "4160.0")."""
    if isinstance(value, dict):
        value = value.get("$")
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return int(number)


def as_time(value: Any) -> str | None:
    """Any Opencast timestamp -> ISO 8601 UTC with Z, or None when absent or unreadable."""
    text = as_str(value)
    if not text:
        return None
    try:
        return iso_z(parse_iso(text))
    except (ValueError, OverflowError):
        return None


def search_results(doc: Any) -> list[dict]:
    """Results of /search/episode.json in either shape (Solr up to 15, OpenSearch 16+)."""
    if not isinstance(doc, dict):
        return []
    if "search-results" in doc:
        wrapper = doc["search-results"]
        if not isinstance(wrapper, dict):
            return []
        return [r for r in as_list(wrapper.get("result")) if isinstance(r, dict)]
    return [r for r in as_list(doc.get("result")) if isinstance(r, dict)]


def _dc(result: dict, name: str) -> str | None:
    """A Dublin Core value: OC16 `dc: {name: [..]}`, or the flat `dcName` of older versions."""
    dc = result.get("dc")
    if isinstance(dc, dict) and dc.get(name) not in (None, "", []):
        return as_str(dc.get(name))
    return as_str(result.get("dc" + name[:1].upper() + name[1:]))


def series_parts(series: str | None) -> dict[str, str | None]:
    """year, term and cdn from a DCE-style series id (YYYYTTCCCCC...); None otherwise."""
    m = DCE_SERIES.match(series or "")
    if not m:
        return {"year": None, "term": None, "cdn": None}
    return {"year": m.group(1), "term": m.group(2), "cdn": m.group(3)}


def episode_fields(result: dict) -> dict[str, Any]:
    """The enrichment fields of the original record, from one search result of either shape."""
    mp = result.get("mediapackage") if isinstance(result.get("mediapackage"), dict) else {}
    series = as_str(mp.get("series")) or _dc(result, "isPartOf")
    fields: dict[str, Any] = {
        "title": as_str(mp.get("title")) or _dc(result, "title"),
        "duration": as_int(mp.get("duration")),
        "start": as_time(mp.get("start")) or as_time(_dc(result, "created")),
        "course": as_str(mp.get("seriestitle")),
        "series": series,
    }
    fields.update(series_parts(series))
    fields["type"] = _dc(result, "type")
    fields["description"] = _dc(result, "description")
    return fields


def normalize_action(raw: dict) -> dict[str, Any]:
    """One usertracking action (Opencast 2.0+ nested or Matterhorn 1.x flat) -> the record.

    Raises ValueError for an action without a usable id or `created` (it is reported, not sent).
    """
    action_id = as_int(raw.get("id"))
    if action_id is None:
        raise ValueError("action without an id")
    created = as_str(raw.get("created"))
    if not created:
        raise ValueError(f"action {action_id} without a created time")
    try:
        when = parse_iso(created)
    except ValueError:
        raise ValueError(f"action {action_id} has an unreadable created time {created!r}") from None
    session = raw.get("sessionId")
    if isinstance(session, dict):
        session_id, user_id = session.get("sessionId"), session.get("userId")
        user_ip, agent = session.get("userIp"), session.get("userAgent")
        if isinstance(session_id, str) and session_id.strip() == OMITTED:
            # Session logging off (the default since 6.x): every action points at the one
            # `-omitted-` session row, which holds the first client's user, address and agent.
            # They are not this action's, so none of them is reported.
            user_id = user_ip = agent = None
    else:
        session_id, user_id = session, raw.get("userId")
        user_ip, agent = raw.get("userIp"), raw.get("userAgent")
    is_playing_raw = raw.get("isPlaying")
    playing_number = as_int(is_playing_raw)
    if isinstance(is_playing_raw, str) and playing_number is None:
        is_playing = is_playing_raw.strip().lower() == "true"
    else:
        is_playing = bool(is_playing_raw) if playing_number is None else playing_number != 0
    record: dict[str, Any] = {
        "action_id": action_id,
        "timestamp": iso_z(when),
        "mpid": as_str(raw.get("mediapackageId")),
        "session_id": as_str(session_id),
        "huid": as_str(user_id),
        "useragent": as_str(agent),
    }
    ips = [p.strip() for p in (as_str(user_ip) or "").split(",") if p.strip() and p.strip() != OMITTED]
    record["ip"] = ips[0] if ips else None
    for n, proxy in enumerate(ips[1:], 1):
        record[f"proxy{n}"] = proxy
    record["is_live"] = 1 if playing_number == 2 else 0
    record["action"] = {
        "type": as_str(raw.get("type")),
        "inpoint": as_int(raw.get("inpoint")),
        "outpoint": as_int(raw.get("outpoint")),
        "length": as_int(raw.get("length")),
        "is_playing": is_playing,
    }
    return record


def actions_envelope(doc: Any) -> tuple[list[dict], int | None]:
    """(actions, total) from `{"actions": {"total", "offset", "limit", "action": ...}}`."""
    if not isinstance(doc, dict):
        raise TransientBody("usertracking answered JSON without an `actions` object")
    wrapper = doc.get("actions")
    if wrapper in (None, ""):
        return [], 0
    if not isinstance(wrapper, dict):
        raise TransientBody("usertracking answered an unexpected `actions` value")
    actions = [a for a in as_list(wrapper.get("action")) if isinstance(a, dict)]
    return actions, as_int(wrapper.get("total"))


# -- the client ------------------------------------------------------------------------------

AUTH_SCHEMES = ("digest", "basic")


@dataclass(frozen=True)
class OpencastSettings:
    """How to reach one Opencast node; built once per run (harvester.jobs.opencast)."""

    host: str
    user: str
    password: str
    auth: str = "digest"  # OPENCAST_AUTH: one of AUTH_SCHEMES
    policy: RetryPolicy | None = None  # None: the shared policy from the environment

    def on(self, host: str) -> OpencastSettings:
        """The same credentials for another node (engage and admin share them)."""
        return replace(self, host=host)


class OpencastClient:
    """GET JSON from one Opencast node with auth, retries and readable errors."""

    def __init__(self, base_url: str, user: str, password: str, *, auth: str = "digest",
                 policy: RetryPolicy | None = None, service: str = "Opencast"):
        # A bare host means http, as in the original (`"http://" + host`): its deployments
        # write the nodes' private IPs. Give an https:// URL for TLS.
        self.base_url = normalize_host(base_url, "MATTERHORN_ENGAGE_HOST / MATTERHORN_ADMIN_HOST",
                                       scheme="http")
        self.service = f"{service} {describe(self.base_url)}"
        self.policy = policy or RetryPolicy.from_env()
        self.session = new_session({"Accept": "application/json"})
        if auth == "basic":
            self.session.auth = HTTPBasicAuth(user, password)
        else:
            # Without these headers Opencast answers Digest requests with a login redirect.
            self.session.auth = HTTPDigestAuth(user, password)
            self.session.headers["X-Requested-Auth"] = "Digest"
            self.session.headers["X-Opencast-Matterhorn-Authorization"] = "true"
        self.requests = 0
        self.search_admin = True  # False once the server refused `admin=true` to this user
        self.auth = auth

    @classmethod
    def from_settings(cls, settings: OpencastSettings, **kwargs: Any) -> OpencastClient:
        kwargs.setdefault("policy", settings.policy)
        return cls(settings.host, settings.user, settings.password, auth=settings.auth, **kwargs)

    def get_json(self, path: str, params: dict | None = None) -> Any:
        url = f"{self.base_url}/{path.lstrip('/')}"
        self.requests += 1
        return request(self.session, "GET", url, service=self.service, policy=self.policy,
                       params=params, check=self._decode, ok_status=(301, 302, 303, 307, 401),
                       allow_redirects=False)

    def usertracking(self, params: dict) -> tuple[Any, datetime | None]:
        """GET /usertracking/actions.json: (JSON, the server's Date header or None).

        The Date says which second of the server's minute the request was handled in, which
        the `day` filter depends on. A 404 means the service is not there (a plugin since 13).
        """
        url = f"{self.base_url}{USERTRACKING}"
        self.requests += 1
        return request(self.session, "GET", url, service=self.service, policy=self.policy,
                       params=params, check=self._decode_dated,
                       ok_status=(301, 302, 303, 307, 401, 404), allow_redirects=False)

    def _decode_dated(self, resp: requests.Response) -> tuple[Any, datetime | None]:
        if resp.status_code == 404:
            raise ServiceError(self.service, f"GET {describe(resp.url)} answered HTTP 404: the "
                               f"user-tracking service is not installed on this node; {PLUGIN_HINT}")
        return self._decode(resp), server_date(resp)

    def _auth_hint(self) -> str:
        return f"; {BASIC_HINT}" if self.auth == "basic" else ""

    def _decode(self, resp: requests.Response) -> Any:
        where = describe(resp.url)
        if resp.status_code == 401:
            raise AuthenticationError(self.service, f"GET {where}: credentials refused (HTTP 401); "
                                      "check MATTERHORN_REST_USER / MATTERHORN_REST_PASS and OPENCAST_AUTH"
                                      + self._auth_hint())
        if resp.is_redirect:
            target = describe(resp.headers.get("Location", "") or "?")
            raise AuthenticationError(self.service, f"GET {where}: redirected to {target} (a login "
                                      "page) instead of answering; the credentials or OPENCAST_AUTH "
                                      "are wrong" + self._auth_hint())
        ctype = resp.headers.get("Content-Type", "")
        body = resp.content.lstrip()
        if "html" in ctype or body[:1] == b"<":
            raise AuthenticationError(self.service, f"GET {where}: a login page came back instead of "
                                      "JSON; the credentials or OPENCAST_AUTH are wrong" + self._auth_hint())
        try:
            return json.loads(resp.content)
        except ValueError:
            raise TransientBody(f"truncated or invalid JSON ({len(resp.content)} bytes)") from None

    def search_episode(self, mpid: str) -> list[dict]:
        """Search results for one mediapackage, deleted or retracted ones included where possible.

        Asked as the original client did (`admin=true&includeDeleted=true`). Opencast up to 15
        honours `admin` (an administrative read, no ACL filter) and answers 401 to a user
        without the admin role: then the episode is asked again without it, and `admin` is
        left out for the rest of the run. `includeDeleted` is honoured only by the DCE fork;
        every public release ignores it (and 16+ ignores `admin` too), which is harmless.
        """
        params = {"id": mpid, "includeDeleted": "true"}
        if self.search_admin:
            try:
                return search_results(self.get_json("/search/episode.json", {**params, "admin": "true"}))
            except AuthenticationError:
                doc = self.get_json("/search/episode.json", params)  # still refused: credentials
                if self.search_admin:
                    self.search_admin = False
                    log.warning("%s refused admin=true on /search/episode.json: the user has no "
                                "admin role, so deleted or retracted episodes may not be found",
                                self.service)
                return search_results(doc)
        return search_results(self.get_json("/search/episode.json", params))

    def check(self) -> str:
        """For doctor: one cheap authenticated call."""
        try:
            self.get_json("/info/me.json")
        except AuthenticationError:
            raise
        except ServiceError:
            self.get_json("/search/episode.json", {"limit": 1})
        return "reachable, credentials accepted"

    def check_usertracking(self) -> str:
        """For doctor: is the user-tracking service there (a plugin, off by default, since 13)?"""
        doc, _ = self.usertracking({"limit": 1})
        _, total = actions_envelope(doc)
        return f"{USERTRACKING} answers ({total if total is not None else '?'} actions stored)"


def server_date(resp: requests.Response) -> datetime | None:
    """The response's Date header as an aware UTC datetime (None when absent or unreadable)."""
    value = resp.headers.get("Date")
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
