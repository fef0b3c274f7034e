"""A strict Opencast stand-in: Digest/Basic auth, both usertracking dialects, both search shapes.

Strict where real Opencast is strict: Digest is challenged only when the request carries
`X-Requested-Auth: Digest` (otherwise a login page comes back), wrong credentials never get
JSON, `limit` absent means 10, `offset` is a row offset, page order is not chronological.
Its JSON has the quirks of the internal endpoints (single items as bare objects, empty lists
dropped, numbers where strings were, floats where integers were).

User tracking behaves as UserTrackingRestService and UserTrackingServiceImpl do: `day` selects
[00:00:SS, 23:59:SS] of that server-local day, SS being the second of the server clock when the
request is handled (a calendar with only hour and minute set); `total` counts the same window;
no ORDER BY; since 13.0 the endpoint exists only with the usertracking plugin; with session
logging off every action shares the first client's `-omitted-` session row.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from tests.standins.base import StandIn, json_response

LOGIN_PAGE = "<!DOCTYPE html><html><head><title>Opencast – Login</title></head><body>login</body></html>"


@dataclass
class Episode:
    mpid: str
    title: str = "An episode"
    series: str | None = None
    seriestitle: str | None = None
    start: str | None = "2026-11-01T14:00:00Z"
    duration: int = 3_600_000
    dc_created: str | None = None
    dc_type: str | None = "L01"
    description: str | None = None
    deleted: bool = False  # deleted or retracted: search keeps it marked (oc_deleted / deleted_date)
    live: bool = False  # Opencast's live scheduling published it with a live track


class FakeClock:
    """A server clock a test controls: `sleep` advances it, every request costs `latency`.

    Shared with the harvester (its wall clock and its sleep), so that waiting for a given
    second of the server's minute costs no real time in tests.
    """

    def __init__(self, start: datetime, latency: float = 0.0):
        self._now = start.timestamp()
        self.latency = latency
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


@dataclass
class OpencastStandIn(StandIn):
    user: str = "opencast_system_account"
    password: str = "CHANGE_ME"
    dialect: str = "dce"  # "dce" honours start/end; "stock" ignores them (day paging only)
    search_shape: str = "solr"  # "solr" (<= 15) or "oc16"
    action_format: str = "nested"  # "nested" (>= 2.0) or "flat" (Matterhorn 1.x)
    tz_offset_hours: int = -5
    realm: str = "Opencast"
    max_limit: int = 1_000_000  # some deployments cap page sizes below what was asked
    version: int = 16  # 13+: usertracking is the optional plugin `opencast-plugin-usertracking`
    # search/workflow/recordings (see _search and _admin_endpoints)
    admin_role: bool = True  # the user has ROLE_ADMIN (the Digest system account has)
    honours_include_deleted: bool = False  # only the DCE fork; no public release reads it
    workflows: dict[str, list[dict]] = field(default_factory=dict)
    workflow_definitions: set[str] = field(default_factory=set)
    schedules: dict[str, dict] = field(default_factory=dict)
    usertracking_plugin: bool = True  # only consulted from version 13 on
    log_session: bool = True  # org.opencastproject.usertracking.log.session (false since 6.x)
    window_tz: str = "utc"  # dce dialect: start/end read as "utc" or as "server" wall time
    day_fraction: bool = False  # the day bounds also carry the request's milliseconds
    order: str = "hash"  # no ORDER BY: "hash" (any stable order) or "created" (index range scan)
    clock: FakeClock | None = None  # the server clock; None: the real one
    # Basic auth (5.x+) checks the user directory's hashes; the Digest system account is not there.
    directory_users: dict[str, str] = field(default_factory=lambda: {"admin": "opencast"})
    on_request: Callable[[], None] | None = None  # runs before each usertracking request
    actions: dict[int, dict] = field(default_factory=dict)
    episodes: dict[str, Episode] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        StandIn.__init__(self)
        self._nonces: set[str] = set()
        self._ordered: list[dict] | None = None
        self._window_cache: dict = {}
        self._omitted_session: dict | None = None
        self.day_windows: list[tuple[datetime, datetime]] = []  # server-local, per day request

    # -- data -------------------------------------------------------------------------------
    def add_action(self, action_id: int, mpid: str, created: datetime, *, session: str = "s1",
                   user: str | int = "user1", ip: str = "10.1.2.3", agent: str = "Mozilla/5.0",
                   type: str = "HEARTBEAT", inpoint: int = 0, outpoint: int = 30, length: int = 30,
                   is_playing: Any = True) -> None:
        with self.lock:
            self._ordered = None
            if not self.log_session:
                # populateSession finds the one `-omitted-` row: the first client's values stay.
                if self._omitted_session is None:
                    self._omitted_session = dict(session="-omitted-", user=user, ip=ip, agent=agent)
                session, user = "-omitted-", self._omitted_session["user"]
                ip, agent = self._omitted_session["ip"], self._omitted_session["agent"]
            self.actions[action_id] = dict(id=action_id, mpid=mpid, created=created, session=session,
                                           user=user, ip=ip, agent=agent, type=type, inpoint=inpoint,
                                           outpoint=outpoint, length=length, is_playing=is_playing)

    def add_episode(self, mpid: str, **kwargs) -> Episode:
        ep = Episode(mpid, **kwargs)
        self.episodes[mpid] = ep
        return ep

    def add_workflow(self, mpid: str, wf_id: int, *ops: tuple[str, int | None, int | None],
                     state: str = "SUCCEEDED", template: str = "DCE-archive-publish-external",
                     publications: list[dict] | None = None) -> None:
        """A workflow instance of `mpid`; ops are (operation, started ms, completed ms)."""
        self.workflows.setdefault(mpid, []).append(
            {"id": wf_id, "state": state, "template": template, "ops": list(ops),
             "publications": publications or []})

    def add_schedule(self, mpid: str, start: datetime, end: datetime, agent: str = "room-1") -> None:
        """A scheduled event: what /recordings/{id}/technical.json knows (planned, not actual)."""
        self.schedules[mpid] = {"start": start, "end": end, "agent": agent}

    # -- HTTP -------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path == "/login.html":
            return Response(LOGIN_PAGE, content_type="text/html")
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        if request.path.startswith("/usertracking/") and self.version >= 13 and not self.usertracking_plugin:
            # The REST endpoint is not registered: Opencast's 404 page.
            return Response("<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>", status=404,
                            content_type="text/html")
        if request.path == "/usertracking/actions.json":
            return self._actions(request)
        if request.path == "/search/episode.json":
            return self._search(request)
        if request.path == "/info/me.json":
            return json_response({"user": {"username": self.user}})

        if request.path.startswith(("/workflow/", "/recordings/")):
            return self._admin_endpoints(request)
        return Response("not found", status=404)

    def _authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            import base64

            try:
                user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
            except Exception:
                return Response("bad auth", status=400)
            if self.directory_users.get(user) == pw:
                return None
            return Response(LOGIN_PAGE, status=401, content_type="text/html",
                            headers={"WWW-Authenticate": 'Basic realm="Opencast"'})
        if header.startswith("Digest "):
            return None if self._digest_ok(request, header) else self._challenge()
        if request.headers.get("X-Requested-Auth") == "Digest":
            return self._challenge()
        # Stock Opencast: no challenge, a redirect to the login page.
        return Response(LOGIN_PAGE, status=302, headers={"Location": "/login.html"},
                        content_type="text/html")

    def _challenge(self) -> Response:
        nonce = os.urandom(8).hex()
        self._nonces.add(nonce)
        return Response("", status=401, headers={
            "WWW-Authenticate": f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}"'})

    def _digest_ok(self, request: Request, header: str) -> bool:
        import re

        parts = dict(re.findall(r'(\w+)="?([^",]+)"?', header[7:]))
        if parts.get("username") != self.user or parts.get("nonce") not in self._nonces:
            return False

        def h(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = h(f"{self.user}:{self.realm}:{self.password}")
        ha2 = h(f"{request.method}:{parts.get('uri')}")
        expected = h(f"{ha1}:{parts['nonce']}:{parts.get('nc')}:{parts.get('cnonce')}:auth:{ha2}")
        return parts.get("response") == expected

    # -- usertracking -----------------------------------------------------------------------
    def _local(self, when: datetime) -> datetime:
        return when.astimezone(timezone(timedelta(hours=self.tz_offset_hours)))

    def _render_action(self, a: dict) -> dict:
        created = self._local(a["created"]).isoformat()
        user = a["user"]
        if self.action_format == "flat":
            return {"id": a["id"], "mediapackageId": a["mpid"], "sessionId": a["session"],
                    "userId": user, "userIp": a["ip"], "inpoint": a["inpoint"],
                    "outpoint": a["outpoint"], "length": a["length"], "type": a["type"],
                    "isPlaying": a["is_playing"], "created": created}
        # Quirks: numeric-looking user ids come back as numbers, integers as floats.
        if isinstance(user, str) and user.isdigit():
            user = int(user)
        return {"id": a["id"], "mediapackageId": a["mpid"],
                "sessionId": {"sessionId": a["session"], "userId": user, "userIp": a["ip"],
                              "userAgent": a["agent"]},
                "inpoint": float(a["inpoint"]), "outpoint": a["outpoint"], "length": a["length"],
                "type": a["type"], "isPlaying": a["is_playing"], "created": created}

    def server_now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(UTC)

    def _rows(self) -> list[dict]:
        with self.lock:
            if self._ordered is None:
                if self.order == "created":
                    self._ordered = sorted(self.actions.values(), key=lambda r: (r["created"], r["id"]))
                else:
                    # No ORDER BY: a stable but non-chronological order (computed once per change).
                    self._ordered = sorted(self.actions.values(),
                                           key=lambda r: hashlib.sha1(str(r["id"]).encode()).hexdigest())
            return self._ordered

    def _day_bounds(self, day: str) -> tuple[datetime, datetime]:
        """`new GregorianCalendar()` then `set(y, m, d, 0, 0)` / `set(y, m, d, 23, 59)`: seconds
        (and milliseconds) stay those of now, in the server's zone."""
        now = self._local(self.server_now())
        year, month, date = int(day[0:4]), int(day[4:6]), int(day[6:8])
        base = datetime(year, month, 1) + timedelta(days=date - 1)  # lenient, as the calendar is
        micro = (now.microsecond // 1000) * 1000 if self.day_fraction else 0
        begin = base.replace(hour=0, minute=0, second=now.second, microsecond=micro)
        end = base.replace(hour=23, minute=59, second=now.second, microsecond=micro)
        return begin, end

    def _stored(self, r: dict) -> datetime:
        """`created` as a DATETIME column holds it: server-local wall time, whole seconds."""
        return self._local(r["created"]).replace(tzinfo=None, microsecond=0)

    def _actions(self, request: Request) -> Response:
        if self.on_request is not None:
            self.on_request()
        if self.clock is not None:
            self.clock.advance(self.clock.latency / 2)
        args = request.args
        try:
            limit, offset = int(args.get("limit") or 0), int(args.get("offset") or 0)
        except ValueError:
            return Response("not found", status=404)  # JAX-RS cannot convert the int parameter
        if limit < 0 or offset < 0:
            return Response("", status=400)
        limit = min(limit or 10, self.max_limit)
        rows = self._rows()
        kind, day = args.get("type"), args.get("day")
        if self.dialect == "dce" and args.get("start") and args.get("end"):
            start, end = self._window_bounds(args["start"]), self._window_bounds(args["end"])
            key = (start, end, len(rows), id(rows))
            if self._window_cache.get("key") != key:
                self._window_cache = {"key": key, "rows": [
                    r for r in rows if start <= r["created"].replace(microsecond=0) <= end]}
            rows = self._window_cache["rows"]
        elif args.get("id") and kind:
            rows = [r for r in rows if r["mpid"] == args["id"] and r["type"] == kind]
        elif day:
            begin, end = self._day_bounds(day)
            self.day_windows.append((begin, end))
            rows = [r for r in rows if begin <= self._stored(r) <= end and (not kind or r["type"] == kind)]
        elif kind:
            rows = [r for r in rows if r["type"] == kind]
        page = [self._render_action(r) for r in rows[offset:offset + limit]]
        if not page:
            wrapper: Any = {"total": len(rows), "offset": offset, "limit": limit}
        elif len(page) == 1:
            wrapper = {"total": len(rows), "offset": offset, "limit": limit, "action": page[0]}
        else:
            wrapper = {"total": len(rows), "offset": offset, "limit": limit, "action": page}
        if self.clock is not None:
            self.clock.advance(self.clock.latency / 2)
        return json_response({"actions": wrapper})

    def http_date(self) -> str | None:
        if self.clock is None:
            return None
        return format_datetime(self.clock.now().replace(microsecond=0), usegmt=True)

    def _window_bounds(self, value: str) -> datetime:
        """The DCE fork's start/end: UTC, or the server's wall time (`window_tz="server"`)."""
        naive = datetime.strptime(value, "%Y%m%d%H%M%S")
        if self.window_tz == "server":
            return naive.replace(tzinfo=timezone(timedelta(hours=self.tz_offset_hours))).astimezone(UTC)
        return naive.replace(tzinfo=UTC)

    # -- search -----------------------------------------------------------------------------
    def _search(self, request: Request) -> Response:
        """`id`, and `admin` as Opencast up to 15 reads it: an administrative read that needs
        the admin role (else 401 "unauthorized"); 16+ has no such parameter. Deleted or
        retracted episodes are never returned, except by the DCE fork with includeDeleted."""
        mpid = request.args.get("id")
        ep = self.episodes.get(mpid or "")
        admin = (request.args.get("admin") or "").lower() == "true"  # Boolean.valueOf
        if admin and self.version <= 15 and not self.admin_role:
            return Response("unauthorized", status=401, content_type="text/plain")
        with_deleted = self.honours_include_deleted and \
            (request.args.get("includeDeleted") or "").lower() == "true"
        if ep is not None and ep.deleted and not with_deleted:
            ep = None
        if self.search_shape == "oc16":
            results = [] if ep is None else [self._oc16(ep)]
            return json_response({"result": results, "total": len(results), "offset": 0, "limit": 10})
        if ep is None:
            return json_response({"search-results": {"total": 0, "offset": 0, "limit": 10}})
        return json_response({"search-results": {"total": 1, "offset": 0, "limit": 10,
                                                 "result": self._solr(ep)}})

    @staticmethod
    def _series_value(series: str | None) -> Any:
        return int(series) if series and series.isdigit() else series

    def _solr(self, ep: Episode) -> dict:
        mp: dict[str, Any] = {"id": ep.mpid, "title": ep.title, "duration": ep.duration,
                              "series": self._series_value(ep.series),
                              "seriestitle": ep.seriestitle}
        if ep.start:
            mp["start"] = ep.start
        if ep.live:
            mp["media"] = {"track": self._live_track(ep)}
        doc: dict[str, Any] = {"id": ep.mpid, "mediapackage": mp, "dcTitle": ep.title,
                               "dcType": ep.dc_type, "dcDescription": ep.description}
        if ep.dc_created:
            doc["dcCreated"] = ep.dc_created
        return {k: v for k, v in doc.items() if v is not None}

    def _oc16(self, ep: Episode) -> dict:
        mp: dict[str, Any] = {"id": ep.mpid, "title": ep.title, "duration": float(ep.duration)}
        if ep.series:
            mp["series"], mp["seriestitle"] = ep.series, ep.seriestitle
        if ep.start:
            mp["start"] = ep.start
        if ep.live:
            mp["media"] = {"track": [self._live_track(ep)]}
        dc: dict[str, list] = {"title": [ep.title]}
        if ep.dc_created:
            dc["created"] = [ep.dc_created]
        if ep.dc_type:
            dc["type"] = [ep.dc_type]
        if ep.description:
            dc["description"] = [ep.description]
        return {"mediapackage": mp, "dc": dc, "org": "mh_default_org", "type": "mediapackage",
                "acl": [], "modified": "2026-11-01T00:00:00Z"}

    @staticmethod
    def _live_track(ep: Episode) -> dict:
        return {"id": "live-1", "type": "presenter/delivery", "mimetype": "video/mp4",
                "url": f"rtmp://streaming.example.edu/live/{ep.mpid}", "live": True,
                "duration": float(ep.duration)}

    # -- admin node: workflows and recordings --------------------------------------------------
    def _admin_endpoints(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/workflow/definition/") and path.endswith(".json"):
            definition = path[len("/workflow/definition/"):-len(".json")]
            if definition not in self.workflow_definitions:
                return Response("The resource you requested does not exist.", status=404,
                                content_type="text/plain")
            return json_response({"definition": {"id": definition, "title": definition}})
        if path.startswith("/workflow/mediaPackage/") and path.endswith("/instances.json"):
            if self.version < 12:
                return Response("Not Found", status=404)
            mpid = path[len("/workflow/mediaPackage/"):-len("/instances.json")]
            rendered = [self._workflow(mpid, wf) for wf in self.workflows.get(mpid, [])]
            # 12+: every instance of the mediapackage, unfiltered, no paging fields
            return json_response({"workflows": self._jettison(rendered, {})})
        if path == "/workflow/instances.json":
            if self.version >= 12:
                return Response("Not Found", status=404)
            return self._old_instances(request)
        if path.startswith("/recordings/") and path.endswith("/technical.json"):
            return self._technical(request, path[len("/recordings/"):-len("/technical.json")])
        return Response("Not Found", status=404)

    @staticmethod
    def _jettison(items: list[dict], wrapper: dict) -> Any:
        """Jettison's list quirks: one item is a bare object, none drops the key (or all: "")."""
        if not items:
            return wrapper or ""
        return {**wrapper, "workflow": items[0] if len(items) == 1 else items}

    def _old_instances(self, request: Request) -> Response:
        """Up to 11: filtered by the server (mp, state with `-` negation, workflowdefinition);
        count below 1 means 20, startPage is a page index."""
        args = request.args
        wfs = list(self.workflows.get(args.get("mp", ""), [])) if args.get("mp") else \
            [wf for m in self.workflows for wf in self.workflows[m]]
        states = [s.upper() for s in args.getlist("state") if s.strip()]
        wanted = {s for s in states if not s.startswith("-")}
        unwanted = {s[1:] for s in states if s.startswith("-")}
        wfs = [wf for wf in wfs if (not wanted or wf["state"] in wanted) and wf["state"] not in unwanted]
        if args.get("workflowdefinition"):
            wfs = [wf for wf in wfs if wf["template"] == args["workflowdefinition"]]
        count = int(args.get("count") or 0)
        count = 20 if count < 1 else count
        page = int(args.get("startPage") or 0)
        total = len(wfs)
        mpid_of = {id(wf): m for m in self.workflows for wf in self.workflows[m]}
        rendered = [self._workflow(mpid_of[id(wf)], wf) for wf in wfs[page * count:(page + 1) * count]]
        return json_response({"workflows": self._jettison(
            rendered, {"totalCount": total, "startPage": page, "count": count, "searchTime": 3})})

    def _workflow(self, mpid: str, wf: dict) -> dict:
        """One instance as Jettison writes it: up to 11 an operation's `id` is its name; since 12
        it is a number and the name is `template`. Times are epoch milliseconds."""
        ops = []
        for n, (name, started, completed) in enumerate(wf["ops"]):
            op: dict[str, Any] = {"id": name} if self.version < 12 else \
                {"id": wf["id"] * 100 + n, "template": name}
            op.update({"state": "SUCCEEDED" if started else "SKIPPED", "fail-on-error": True})
            if started:
                op["started"] = started
            if completed:
                op["completed"] = completed
            ops.append(op)
        ep = self.episodes.get(mpid)
        mp: dict[str, Any] = {"id": mpid}
        if ep is not None:  # workflows keep the mediapackage, deleted from search or not
            mp.update({"title": ep.title, "duration": ep.duration, "start": ep.start,
                       "series": self._series_value(ep.series), "seriestitle": ep.seriestitle})
            mp = {k: v for k, v in mp.items() if v is not None}
        if wf["publications"]:
            mp["publications"] = {"publication": wf["publications"][0] if len(wf["publications"]) == 1
                                  else wf["publications"]}
        return {"id": wf["id"], "state": wf["state"], "template": wf["template"],
                "title": wf["template"], "mediapackage": mp,
                "operations": {"operation": ops[0] if len(ops) == 1 else ops} if ops else ""}

    @staticmethod
    def _serves(accept: str | None, produced: str) -> bool:
        """JAX-RS content negotiation: does some media range (q > 0) of Accept cover `produced`?"""
        if not accept:
            return True
        kind, _, sub = produced.partition("/")
        for item in accept.split(","):
            media, *params = [x.strip() for x in item.split(";")]
            q = 1.0
            for param in params:
                if param.startswith("q="):
                    try:
                        q = float(param[2:])
                    except ValueError:
                        q = 0.0
            m_kind, _, m_sub = media.lower().partition("/")
            if q > 0 and m_kind in ("*", kind) and m_sub in ("*", sub):
                return True
        return False

    def _technical(self, request: Request, mpid: str) -> Response:
        """SchedulerRestService (4.x to develop): `@Produces(TEXT_XML)`, so an Accept without
        text/xml gets 406; the body is JSON anyway (typed application/json), with the
        scheduled start/end of any scheduled event; an unknown event is a bare 404."""
        if self.version < 4:
            return Response("Not Found", status=404)
        if not self._serves(request.headers.get("Accept"), "text/xml"):
            return Response("", status=406)
        event = self.schedules.get(mpid)
        if event is None:
            return Response("", status=404)

        def utc(when: datetime) -> str:
            return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        return json_response({"id": mpid, "location": event["agent"], "start": utc(event["start"]),
                              "end": utc(event["end"]), "presenters": [], "wfProperties": {},
                              "agentConfig": {}, "state": "", "lastHeardFrom": ""})


# -- faults -----------------------------------------------------------------------------------

def server_error(_request: Request) -> Response:
    return Response("Internal Server Error", status=500)


def truncated_json(_request: Request) -> Response:
    return Response('{"actions": {"total": 5, "action": [{"id": 1, "medi', status=200,
                    content_type="application/json")


def slow(seconds: float):
    def fault(_request: Request) -> Response | None:
        time.sleep(seconds)
        return None

    return fault


def only(path: str):
    return lambda r: r.path == path


@pytest.fixture
def oc(monkeypatch):
    """A running Opencast stand-in, with the MATTERHORN_* settings pointing at it."""
    server = OpencastStandIn()
    server.start()
    monkeypatch.setenv("MATTERHORN_ENGAGE_HOST", server.url)
    monkeypatch.setenv("MATTERHORN_REST_USER", server.user)
    monkeypatch.setenv("MATTERHORN_REST_PASS", server.password)
    yield server
    server.stop()


def dump(doc: Any) -> str:
    return json.dumps(doc)
