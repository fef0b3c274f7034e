"""A strict Opencast stand-in: Digest/Basic auth, both usertracking dialects, both search shapes.

Strict where real Opencast is strict: Digest is challenged only when the request carries
`X-Requested-Auth: Digest` (otherwise a login page comes back), wrong credentials never get
JSON, `limit` absent means 10, `offset` is a row offset, page order is not chronological.
Its JSON has the quirks of the internal endpoints (single items as bare objects, empty lists
dropped, numbers where strings were, floats where integers were).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
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
    version: int = 16
    # search/workflow/recordings (see _search and _admin_endpoints)
    admin_role: bool = True  # the user has ROLE_ADMIN (the Digest system account has)
    honours_include_deleted: bool = False  # only the DCE fork; no public release reads it
    workflows: dict[str, list[dict]] = field(default_factory=dict)
    workflow_definitions: set[str] = field(default_factory=set)
    schedules: dict[str, dict] = field(default_factory=dict)
    actions: dict[int, dict] = field(default_factory=dict)
    episodes: dict[str, Episode] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        StandIn.__init__(self)
        self._nonces: set[str] = set()
        self._ordered: list[dict] | None = None
        self._window_cache: dict = {}

    # -- data -------------------------------------------------------------------------------
    def add_action(self, action_id: int, mpid: str, created: datetime, *, session: str = "s1",
                   user: str | int = "user1", ip: str = "10.1.2.3", agent: str = "Mozilla/5.0",
                   type: str = "HEARTBEAT", inpoint: int = 0, outpoint: int = 30, length: int = 30,
                   is_playing: Any = True) -> None:
        with self.lock:
            self._ordered = None
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
            if (user, pw) == (self.user, self.password):
                return None
            return Response(LOGIN_PAGE, status=401, content_type="text/html")
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

    def _actions(self, request: Request) -> Response:
        args = request.args
        limit = min(int(args.get("limit") or 0) or 10, self.max_limit)
        offset = int(args.get("offset") or 0)
        with self.lock:
            if self._ordered is None:
                # No ORDER BY: a stable but non-chronological order (computed once per change).
                self._ordered = sorted(self.actions.values(),
                                       key=lambda r: hashlib.sha1(str(r["id"]).encode()).hexdigest())
            rows = self._ordered
        if self.dialect == "dce" and args.get("start") and args.get("end"):
            start = datetime.strptime(args["start"], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
            end = datetime.strptime(args["end"], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
            key = (start, end, len(rows), id(rows))
            if self._window_cache.get("key") != key:
                self._window_cache = {"key": key, "rows": [
                    r for r in rows if start <= r["created"].replace(microsecond=0) <= end]}
            rows = self._window_cache["rows"]
        elif args.get("day"):
            day = args["day"]
            rows = [r for r in rows if self._local(r["created"]).strftime("%Y%m%d") == day]
        page = [self._render_action(r) for r in rows[offset:offset + limit]]
        if not page:
            wrapper: Any = {"total": len(rows), "offset": offset, "limit": limit}
        elif len(page) == 1:
            wrapper = {"total": len(rows), "offset": offset, "limit": limit, "action": page[0]}
        else:
            wrapper = {"total": len(rows), "offset": offset, "limit": limit, "action": page}
        return json_response({"actions": wrapper})

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
