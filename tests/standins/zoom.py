"""A strict in-process Zoom API v2 stand-in: OAuth, Dashboard and Report endpoints, paging, limits.

What it enforces, as Zoom does:
- `POST /oauth/token` with Basic client credentials and `grant_type=account_credentials`,
  `account_id`; tokens expire (`token_ttl`) and can be revoked (`revoke_tokens()`), after which
  API calls answer 401 code 124. A token in the query string is refused (code 124).
- paging: `page_size` at most 300 (the effective size is capped by `max_page_size` to force
  paging in tests), `next_page_token` bound to its listing; `expire_page_tokens()` makes the
  outstanding ones answer 400 code 300.
- `/metrics/meetings?type=past` leaves out meetings with one participant; `type=pastOne`
  returns only those. Without the Dashboard (`dashboard=False`) the metrics endpoints answer
  400 as Zoom does, either the plan message or a missing-scope 4711 (`dashboard_error`).
- meeting instances are addressed by uuid; the path is decoded once before routing, so a uuid
  starting with `/` or containing `//` that was encoded only once answers 404 code 3001.
- rate categories: arrivals are recorded per category (`arrivals`), and `limits` (category ->
  (calls, seconds)) answers 429 QPS when exceeded. Per-meeting errors: `fail_participants()`.
"""

from __future__ import annotations

import base64
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from werkzeug.wrappers import Request, Response

from tests.standins.base import StandIn, json_response

MAX_PAGE_SIZE = 300
HEAVY, RESOURCE = "heavy", "resource_intensive"
PLAN_MESSAGE = ("Only available for Paid or ZMP account with Business or higher accounts that have "
                "enabled the Dashboard feature.")
SCOPE_MESSAGE = "Invalid access token, does not contain scopes:[dashboard_meetings:read:admin]."


@dataclass
class ZoomMeeting:
    uuid: str
    id: int
    day: str
    topic: str
    host_id: str
    host: str
    email: str
    start_time: str
    end_time: str
    participants: list[dict] = field(default_factory=list)
    error: str | None = None  # "3001", "3161" or "firewall" for its participants

    def dashboard(self) -> dict:
        seconds = int((_t(self.end_time) - _t(self.start_time)).total_seconds())
        h, rest = divmod(seconds, 3600)
        duration = f"{h:02d}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"
        return {"uuid": self.uuid, "id": self.id, "topic": self.topic, "host": self.host,
                "email": self.email, "user_type": "Licensed", "dept": "Extension School",
                "start_time": self.start_time, "end_time": self.end_time, "duration": duration,
                "participants": len({p["user_id"] for p in self.participants}), "has_pstn": False,
                "has_voip": True, "has_3rd_party_audio": False, "has_video": True,
                "has_screen_share": True, "has_recording": False, "has_sip": False,
                "has_archiving": False, "custom_keys": [], "tracking_fields": []}

    def report(self) -> dict:
        minutes = int((_t(self.end_time) - _t(self.start_time)).total_seconds() // 60)
        return {"uuid": self.uuid, "id": self.id, "host_id": self.host_id, "type": 2,
                "topic": self.topic, "user_name": self.host, "user_email": self.email,
                "start_time": self.start_time, "end_time": self.end_time, "duration": minutes,
                "total_minutes": minutes, "participants_count": len(self.participants), "source": "Zoom"}


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def participant(user_id: str, name: str, join: str, leave: str, **extra) -> dict:
    """A Dashboard participant row."""
    row = {"id": extra.pop("id", ""), "user_id": user_id, "user_name": name,
           "email": extra.pop("email", ""), "join_time": join, "leave_time": leave,
           "device": "Mac", "ip_address": "203.0.113.7", "location": "Cambridge (US)",
           "network_type": "Wifi", "data_center": "US", "connection_type": "P2P",
           "audio_quality": "good", "video_quality": "good", "screen_share_quality": "",
           "leave_reason": "left the meeting", "role": "attendee", "version": "6.2.0"}
    row.update(extra)
    return row


def report_participant(row: dict) -> dict:
    seconds = int((_t(row["leave_time"]) - _t(row["join_time"])).total_seconds())
    return {"id": row.get("id", ""), "user_id": row["user_id"], "name": row["user_name"],
            "user_email": row.get("email", ""), "join_time": row["join_time"],
            "leave_time": row["leave_time"], "duration": seconds, "status": "in_meeting"}


class ZoomStandIn(StandIn):
    def __init__(self, *, account_id: str = "acct-1", client_id: str = "client-1",
                 client_secret: str = "zoom-secret-XYZ", dashboard: bool = True,
                 dashboard_error: str = "plan", max_page_size: int = MAX_PAGE_SIZE,
                 token_ttl: int = 3600, limits: dict[str, tuple[int, float]] | None = None):
        super().__init__()
        self.account_id, self.client_id, self.client_secret = account_id, client_id, client_secret
        self.dashboard, self.dashboard_error = dashboard, dashboard_error
        self.max_page_size, self.token_ttl = max_page_size, token_ttl
        self.limits = dict(limits or {})
        self.meetings: list[ZoomMeeting] = []
        self.tokens: dict[str, float] = {}
        self.issued = 0
        self.page_tokens: dict[str, tuple[tuple, int]] = {}
        self.arrivals: dict[str, list[float]] = {HEAVY: [], RESOURCE: []}
        self.rate_limited = 0
        self.raw_paths: list[str] = []
        self._ids = itertools.count(900000001)
        self._state = threading.Lock()

    # -- data ---------------------------------------------------------------------------
    def add_meeting(self, day: str, participants: list[dict] | int = 2, *, uuid: str | None = None,
                    host_id: str = "host-1", error: str | None = None, start_hour: int = 14,
                    topic: str | None = None) -> ZoomMeeting:
        """A meeting instance on `day`; an int makes that many participants, one session each."""
        number = next(self._ids)
        uuid = uuid or base64.b64encode(secrets.token_bytes(16)).decode()
        start = f"{day}T{start_hour:02d}:00:00Z"
        end = f"{day}T{start_hour + 1:02d}:15:30Z"
        if isinstance(participants, int):
            participants = [participant(f"{number}-{i}", f"Student {i}",
                                        f"{day}T{start_hour:02d}:{i % 60:02d}:00Z",
                                        f"{day}T{start_hour + 1:02d}:10:00Z", email=f"s{i}@example.edu")
                            for i in range(participants)]
        meeting = ZoomMeeting(uuid, number, day, topic or f"Course {number}", host_id, f"Host {host_id}",
                              f"{host_id}@example.edu", start, end, participants, error)
        self.meetings.append(meeting)
        return meeting

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def expire_page_tokens(self) -> None:
        self.page_tokens.clear()

    def participant_calls(self, uuid: str | None = None) -> int:
        """Participants requests (faulted ones included), for one meeting uuid or all."""
        return sum(1 for raw in list(self.raw_paths) if raw.endswith("/participants")
                   and (uuid is None or self._uuid_from(raw.split("/")[-2]) == uuid))

    def _app(self, environ, start_response):
        # Recorded paths are decoded once; uuids with slashes need the path as sent.
        self.raw_paths.append(urlsplit(environ.get("RAW_URI") or environ.get("PATH_INFO", "")).path)
        return super()._app(environ, start_response)

    # -- HTTP ---------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        raw_path = urlsplit(request.environ.get("RAW_URI") or request.path).path
        if raw_path == "/oauth/token":
            return self._oauth(request)
        if not raw_path.startswith("/v2/"):
            return json_response({"code": 404, "message": "Not found"}, 404)
        if request.method != "GET":
            return json_response({"code": 405, "message": "Method not allowed"}, 405)
        denied = self._authorize(request)
        if denied is not None:
            return denied
        parts = raw_path[len("/v2/"):].split("/")
        category = RESOURCE if parts == ["metrics", "meetings"] else HEAVY
        limited = self._rate(category)
        if limited is not None:
            return limited
        args = {k: v[-1] for k, v in parse_qs(urlsplit(request.environ.get("RAW_URI", "")).query).items()}
        try:
            page_size = int(args.get("page_size", "30"))
        except ValueError:
            return _error(400, 300, "Invalid field: page_size")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            return _error(400, 300, f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if parts[0] == "metrics" and not self.dashboard:
            if self.dashboard_error == "scope":
                return _error(400, 4711, SCOPE_MESSAGE)
            return _error(400, 200, PLAN_MESSAGE)
        if parts == ["metrics", "meetings"]:
            return self._list_meetings(args, page_size)
        if len(parts) == 4 and parts[:2] == ["metrics", "meetings"] and parts[3] == "participants":
            return self._participants(parts[2], args, page_size, report=False)
        if parts == ["report", "users"]:
            return self._report_users(args, page_size)
        if len(parts) == 4 and parts[:2] == ["report", "users"] and parts[3] == "meetings":
            return self._report_meetings(unquote(parts[2]), args, page_size)
        if len(parts) == 4 and parts[:2] == ["report", "meetings"] and parts[3] == "participants":
            return self._participants(parts[2], args, page_size, report=True)
        return _error(404, 3001, "Meeting does not exist.")

    def _oauth(self, request: Request) -> Response:
        if request.method != "POST":
            return json_response({"reason": "Method not allowed", "error": "invalid_request"}, 405)
        auth = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if auth != f"Basic {expected}":
            return json_response({"reason": "Invalid client_id or client_secret", "error": "invalid_client"},
                                 400)
        form = {**request.args.to_dict(), **request.form.to_dict()}
        if form.get("grant_type") != "account_credentials":
            return json_response({"reason": "Unsupported grant type", "error": "unsupported_grant_type"}, 400)
        if form.get("account_id") != self.account_id:
            return json_response({"reason": "Invalid account_id", "error": "invalid_request"}, 400)
        token = "tok-" + secrets.token_hex(16)
        with self._state:
            self.tokens[token] = time.monotonic() + self.token_ttl
            self.issued += 1
        return json_response({"access_token": token, "token_type": "bearer", "expires_in": self.token_ttl,
                              "scope": "dashboard_meetings:read:admin report:read:admin",
                              "api_url": "https://api.zoom.us"})

    def _authorize(self, request: Request) -> Response | None:
        if "access_token" in request.args:
            return _error(401, 124, "Invalid access token.")
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        expires = self.tokens.get(token)
        if expires is None or expires < time.monotonic():
            return _error(401, 124, "Invalid access token.")
        return None

    def _rate(self, category: str) -> Response | None:
        now = time.monotonic()
        with self._state:
            self.arrivals[category].append(now)
            limit = self.limits.get(category)
            if limit is None:
                return None
            calls, period = limit
            recent = [t for t in self.arrivals[category] if t > now - period]
            if len(recent) <= calls:
                return None
            self.rate_limited += 1
        return json_response({"code": 429, "message": "You have reached the maximum per-second rate limit "
                              "for this API. Try again later."}, 429,
                             {"X-RateLimit-Type": "QPS", "Retry-After": "1"})

    # -- paging -------------------------------------------------------------------------
    def _page(self, key: tuple, items: list, args: dict, page_size: int, name: str) -> Response:
        token = args.get("next_page_token", "")
        offset = 0
        if token:
            with self._state:
                found = self.page_tokens.get(token)
            if found is None or found[0] != key:
                return _error(400, 300, "The next page token is invalid or expired.")
            offset = found[1]
        size = min(page_size, self.max_page_size)
        chunk = items[offset:offset + size]
        next_token = ""
        if offset + size < len(items):
            next_token = secrets.token_urlsafe(12)
            with self._state:
                self.page_tokens[next_token] = (key, offset + size)
        return json_response({"page_size": page_size, "total_records": len(items),
                              "next_page_token": next_token, name: chunk})

    def _check_range(self, args: dict) -> Response | None:
        for name in ("from", "to"):
            try:
                datetime.strptime(args.get(name, ""), "%Y-%m-%d")
            except ValueError:
                return _error(400, 300, f"Invalid field: {name}")
        return None

    def _list_meetings(self, args: dict, page_size: int) -> Response:
        bad = self._check_range(args)
        if bad is not None:
            return bad
        kind = args.get("type")
        if kind not in ("past", "pastOne", "live"):
            return _error(400, 300, "Invalid field: type")
        days = (args["from"], args["to"])
        rows = [m.dashboard() for m in self.meetings if days[0] <= m.day <= days[1]
                and kind != "live" and ((m.dashboard()["participants"] == 1) == (kind == "pastOne"))]
        return self._page(("metrics", kind, days), rows, args, page_size, "meetings")

    def _uuid_from(self, segment: str) -> str | None:
        """Decode as Zoom does: once before routing, where a leading `/` or a `//` breaks the path.

        A double-encoded uuid still holds `%` after that first decoding and is decoded again.
        """
        once = unquote(segment)
        if "%" in once:
            return unquote(once)
        if once.startswith("/") or "//" in once:
            return None
        return once

    def _participants(self, segment: str, args: dict, page_size: int, report: bool) -> Response:
        if not report and args.get("type") not in ("past", "pastOne", "live"):
            return _error(400, 300, "Invalid field: type")
        uuid = self._uuid_from(segment)
        meeting = next((m for m in self.meetings if m.uuid == uuid), None)
        if meeting is None:
            return _error(404, 3001, "Meeting does not exist.")
        if meeting.error == "3001":
            return _error(404, 3001, f"Meeting {meeting.id} is not found or has expired.")
        if meeting.error == "3161":
            return _error(400, 3161, "Meeting hosting and scheduling capabilities are not allowed for "
                          "your user account.")
        if meeting.error == "firewall":
            return Response("<html><body>Request blocked by the firewall</body></html>", status=403,
                            content_type="text/html")
        rows = [report_participant(p) for p in meeting.participants] if report else meeting.participants
        return self._page(("participants", report, uuid), rows, args, page_size, "participants")

    def _report_users(self, args: dict, page_size: int) -> Response:
        bad = self._check_range(args)
        if bad is not None:
            return bad
        if args.get("type", "active") != "active":
            return _error(400, 300, "Invalid field: type")
        hosts = sorted({m.host_id for m in self.meetings if args["from"] <= m.day <= args["to"]})
        rows = [{"id": h, "email": f"{h}@example.edu", "user_name": f"Host {h}", "type": 2,
                 "meetings": 1} for h in hosts]
        return self._page(("users", args["from"], args["to"]), rows, args, page_size, "users")

    def _report_meetings(self, user_id: str, args: dict, page_size: int) -> Response:
        bad = self._check_range(args)
        if bad is not None:
            return bad
        rows = [m.report() for m in self.meetings
                if m.host_id == user_id and args["from"] <= m.day <= args["to"]]
        return self._page(("report-meetings", user_id, args["from"]), rows, args, page_size, "meetings")


def _error(status: int, code: int, message: str) -> Response:
    return json_response({"code": code, "message": message}, status)


def too_many(daily: bool = False, retry_after: str | None = "1") -> Response:
    """A 429 as Zoom sends it; `retry_after` is seconds or an HTTP date."""
    headers = {"X-RateLimit-Type": "Daily-limit" if daily else "QPS"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    message = ("You have reached the maximum daily rate limit for this API. Refer to the response header "
               "for details on when you can make another rate limited API request." if daily else
               "You have reached the maximum per-second rate limit for this API. Try again later.")
    return json_response({"code": 429, "message": message}, 429, headers)


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


@pytest.fixture(name="zoom_standin")
def zoom_standin_fixture(monkeypatch):
    """A running Zoom stand-in with ZOOM_* settings pointing at it (paced only lightly)."""
    with ZoomStandIn() as zoom:
        monkeypatch.setenv("ZOOM_API_URL", f"{zoom.url}/v2")
        monkeypatch.setenv("ZOOM_OAUTH_URL", f"{zoom.url}/oauth/token")
        monkeypatch.setenv("ZOOM_ACCOUNT_ID", zoom.account_id)
        monkeypatch.setenv("ZOOM_CLIENT_ID", zoom.client_id)
        monkeypatch.setenv("ZOOM_CLIENT_SECRET", zoom.client_secret)
        monkeypatch.setenv("ZOOM_RATE_HEAVY", "1000/s")
        monkeypatch.setenv("ZOOM_RATE_RESOURCE_INTENSIVE", "1000/s")
        yield zoom
