"""Episode documents for `load-episodes`: which mpids, and what Opencast knows about each.

What to fetch, per mediapackage: search (either response shape, asked with `admin=true&
includeDeleted=true` as the original did) on the engage node, then the workflow instances and,
only when needed, the scheduler's technical metadata on the admin node. How to page,
authenticate and retry belongs to the Opencast client and the Elasticsearch layer.

What the fields mean (the original's meaning first, then where a stock server differs):
- workflows that count: SUCCEEDED ones, and where the `DCE-archive-publish-external`
  definition exists on the server (asked once per run), only the newest of those, exactly as
  the original filtered (`state=SUCCEEDED&workflowdefinition=DCE-archive-publish-external`);
- `live_*`: the `capture` operation of that workflow (`live_source: capture`). Otherwise a
  stream is live only with evidence that it was: a live track or an `engage-live` publication
  (Opencast's live scheduling); its times then come from `/recordings/{id}/technical.json`
  (`live_source: schedule`), or the mediapackage's start + duration (`mediapackage`). The
  scheduler's times alone never make a stream live: stock Opencast has them for every
  scheduled event. No evidence: `live_stream` false and no live times, as in the original;
- `available`: the `retract-element` operation of that workflow (the original), or, on a
  server without the DCE definition, the newest SUCCEEDED `publish-engage` (a broader
  meaning: when the episode was published); `available_source` names the operation.

Version differences handled here, once:
- workflows: `GET /workflow/mediaPackage/{id}/instances.json` (Opencast 12+, every instance,
  filtered here) and the older `GET /workflow/instances.json?mp=&state=` (up to 11, filtered
  by the server); whichever answers is remembered for the run; operations are named by `id`
  up to 11 and by `template` (with a numeric `id`) since 12;
- `technical.json` declares `@Produces(text/xml)` (4.x to develop) but writes JSON: it is asked
  with an Accept it serves and its body read as JSON or XML; 404 and 406 mean "no data".

One episode that cannot be fetched, is unknown to search or has no start is skipped and
counted with its reason; only wrong credentials (every call would fail the same way) or a
run of consecutive fetch failures (Opencast is down) end the run.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from harvester.errors import AuthenticationError, ServiceError
from harvester.sources.opencast.client import as_int, as_list, as_str, episode_fields
from harvester.timeutil import iso_z, parse_iso

if TYPE_CHECKING:
    from harvester.elasticsearch.client import SearchClient
    from harvester.sources.opencast.client import OpencastClient

log = logging.getLogger("harvester.episodes")

MAX_CONSECUTIVE_FAILURES = 10
DCE_DEFINITION = "DCE-archive-publish-external"
LIVE_CHANNEL = "engage-live"  # the publication channel of Opencast's live scheduling
# technical.json produces text/xml only: Accept must name it, or JAX-RS answers 406.
TECHNICAL_ACCEPT = "application/json, text/xml;q=0.9, application/xml;q=0.9, */*;q=0.1"
_TIME_REF = re.compile(r"time=T(\d+):(\d+):(\d+)(?::(\d+)F(\d+))?")


# -- which mpids ---------------------------------------------------------------------------------
def default_source_pattern(now: datetime | None = None) -> str:
    """Yesterday's (UTC) useraction indices, whatever their prefix variant."""
    day = (now or datetime.now(UTC)) - timedelta(days=1)
    return f"useractions*-{day.strftime('%Y.%m.%d')}"


def mpids_from_indices(client: SearchClient, pattern: str, *, page_size: int = 1000,
                       field_name: str = "mpid") -> Iterator[str]:
    """Every distinct mpid in the indices matching `pattern`, paged with a composite aggregation.

    `terms` with size 0 is refused by every Elasticsearch since 5.0, and a large `terms` size
    is memory on the cluster; composite paging costs one request per `page_size` mpids.
    Indices written before the templates existed map `mpid` as text: then `mpid.keyword`.
    """
    from harvester.elasticsearch.errors import call

    after: dict | None = None
    fields = [field_name, f"{field_name}.keyword"]
    while True:
        composite: dict[str, Any] = {"size": page_size,
                                     "sources": [{"mpid": {"terms": {"field": fields[0]}}}]}
        if after is not None:
            composite["after"] = after
        try:
            resp = call(f"composite aggregation over {pattern}", lambda c=composite: client.search(
                pattern, {"size": 0, "aggs": {"mpids": {"composite": c}}},
                ignore_unavailable=True, allow_no_indices=True))
        except ServiceError as exc:
            # A text field cannot be aggregated: real clusters report that as "all shards
            # failed" with the fielddata reason only in root_cause; try the .keyword sub-field.
            text = str(exc)
            if ("Fielddata is disabled" in text or "all shards failed" in text) and len(fields) > 1 \
                    and after is None:
                fields.pop(0)
                continue
            raise
        shards = resp.get("_shards") or {}
        if shards.get("failed") or resp.get("timed_out"):
            # Partial buckets would silently drop mpids: fail the run instead.
            raise ServiceError("Elasticsearch", f"composite aggregation over {pattern}: "
                               f"{shards.get('failed', 0)} of {shards.get('total', '?')} shard(s) failed"
                               f"{' (timed out)' if resp.get('timed_out') else ''}")
        agg = resp.get("aggregations", {}).get("mpids", {})
        buckets = agg.get("buckets", [])
        for bucket in buckets:
            value = bucket["key"]["mpid"]
            if value not in (None, ""):
                yield str(value)
        if not buckets or len(buckets) < page_size or "after_key" not in agg:
            return
        after = agg["after_key"]


# -- normalizers ---------------------------------------------------------------------------------
def epoch_or_iso(value: Any) -> datetime | None:
    """Workflow and scheduler times: epoch milliseconds (number or digits) or ISO 8601."""
    if isinstance(value, dict):
        value = value.get("$")
    if value in (None, "") or isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        ms = float(value)
        if ms <= 0:
            return None
        try:
            return datetime.fromtimestamp(ms / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        return parse_iso(str(value))
    except ValueError:
        return None


def workflow_list(doc: Any) -> list[dict]:
    """Workflow instances from any of the shapes the two endpoints return."""
    if isinstance(doc, dict):
        if "workflows" in doc:
            doc = doc["workflows"]
            if isinstance(doc, dict):
                doc = doc.get("workflow")
        elif "workflow" in doc:
            doc = doc["workflow"]
        else:
            doc = [doc] if "operations" in doc else []
    out = []
    for item in as_list(doc):
        if isinstance(item, dict) and isinstance(item.get("workflow"), dict):
            item = item["workflow"]
        if isinstance(item, dict):
            out.append(item)
    return out


def operations(workflow: dict) -> list[dict]:
    ops = workflow.get("operations")
    if isinstance(ops, dict):
        ops = ops.get("operation")
    return [op for op in as_list(ops) if isinstance(op, dict)]


def operation_name(op: dict) -> str | None:
    for key in ("id", "template", "operation"):
        value = as_str(op.get(key))
        if value and not value.isdigit():
            return value
    return None


@dataclass
class OperationTimes:
    started: datetime | None
    completed: datetime | None


def find_operation(workflows: Iterable[dict], name: str) -> OperationTimes | None:
    """The latest run of an operation over every workflow of the mediapackage."""
    best: OperationTimes | None = None
    for wf in workflows:
        for op in operations(wf):
            if operation_name(op) != name:
                continue
            times = OperationTimes(epoch_or_iso(op.get("started")), epoch_or_iso(op.get("completed")))
            if times.started is None and times.completed is None:
                continue
            key = times.started or times.completed
            if best is None or (best.started or best.completed) < key:  # type: ignore[operator]
                best = times
    return best


def slide_time_ms(ref: str | None) -> int | None:
    """`track:...;time=T00:01:23:0F1000` (hours:minutes:seconds:frames F framerate) -> ms."""
    m = _TIME_REF.search(ref or "")
    if not m:
        return None
    hours, minutes, seconds = int(m.group(1)), int(m.group(2)), int(m.group(3))
    ms = ((hours * 60 + minutes) * 60 + seconds) * 1000
    if m.group(4) and m.group(5) and int(m.group(5)) > 0:
        ms += round(int(m.group(4)) * 1000 / int(m.group(5)))
    return ms


def attachments(result: dict) -> list[dict]:
    mp = result.get("mediapackage") if isinstance(result.get("mediapackage"), dict) else {}
    wrapper = mp.get("attachments")
    if isinstance(wrapper, dict):
        wrapper = wrapper.get("attachment")
    return [a for a in as_list(wrapper) if isinstance(a, dict)]


def _still(items: list[dict], flavor: str) -> str | None:
    for kind in (f"{flavor}/player+preview", f"{flavor}/search+preview"):
        for a in items:
            if as_str(a.get("type")) == kind and as_str(a.get("url")):
                return as_str(a.get("url"))
    return None


def images(result: dict) -> dict[str, Any]:
    """presenter_still, presentation_still and slides [{img, time}] from the attachments."""
    items = attachments(result)
    slides = []
    for a in items:
        if as_str(a.get("type")) == "presentation/segment+preview" and as_str(a.get("url")):
            slides.append({"img": as_str(a.get("url")), "time": slide_time_ms(as_str(a.get("ref")))})
    slides.sort(key=lambda s: (s["time"] is None, s["time"] or 0))
    return {"presenter_still": _still(items, "presenter"),
            "presentation_still": _still(items, "presentation"), "slides": slides}


def technical_times(doc: Any) -> tuple[datetime | None, datetime | None]:
    """(start, end) of a scheduled recording from /recordings/{id}/technical.json."""
    if not isinstance(doc, dict):
        return None, None
    start = next((epoch_or_iso(doc.get(k)) for k in ("start", "startDate") if doc.get(k)), None)
    end = next((epoch_or_iso(doc.get(k)) for k in ("end", "endDate") if doc.get(k)), None)
    return start, end


def technical_from_xml(body: bytes) -> dict[str, str]:
    """The flat values of an XML technical-metadata body: {local name: text}, first wins.

    Every public release writes JSON; an XML body (a fork, a proxy that converts) is read
    for the same names instead of failing the episode.
    """
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return {}
    values: dict[str, str] = {}
    for el in root.iter():
        for key, value in [(el.tag, el.text), *el.attrib.items()]:
            name = key.rsplit("}", 1)[-1]
            if value and value.strip() and name not in values:
                values[name] = value.strip()
    return values


def _plus_ms(start: datetime, ms: int | None) -> datetime | None:
    if not ms or ms < 0:
        return None
    try:
        return start + timedelta(milliseconds=ms)
    except OverflowError:  # a garbage duration must not fail the episode
        return None


def _ms(a: datetime | None, b: datetime | None) -> int | None:
    if a is None or b is None or b < a:
        return None
    return int((b - a).total_seconds() * 1000)


def _state(item: dict) -> str:
    return (as_str(item.get("state")) or "").upper()


def counted_workflows(workflows: Iterable[dict], dce: bool) -> list[dict]:
    """The workflows whose operations count, newest first (by instance id, as the original).

    SUCCEEDED only; with the DCE definition on the server, only the newest SUCCEEDED
    `DCE-archive-publish-external` one, the single workflow the original read.
    """
    done = [wf for wf in workflows if _state(wf) == "SUCCEEDED"]
    if dce:
        done = [wf for wf in done if as_str(wf.get("template")) == DCE_DEFINITION]
    done.sort(key=lambda wf: as_int(wf.get("id")) or 0, reverse=True)
    return done[:1] if dce else done


def newest_operation(workflows: list[dict], names: tuple[str, ...]) -> tuple[str, OperationTimes] | None:
    """The first of `names` run (not skipped) by the newest workflow that ran one."""
    for wf in workflows:
        ran = [op for op in operations(wf) if _state(op) not in ("SKIPPED", "INSTANTIATED")]
        for name in names:
            times = find_operation([{"operations": {"operation": ran}}], name)
            if times is not None:
                return name, times
    return None


def _mediapackages(result: dict, workflows: Iterable[dict]) -> Iterator[dict]:
    for mp in [result.get("mediapackage"), *(wf.get("mediapackage") for wf in workflows)]:
        if isinstance(mp, dict):
            yield mp


def _items(mp: dict, wrapper: str, item: str) -> list[dict]:
    value = mp.get(wrapper)
    if isinstance(value, dict):
        value = value.get(item)
    return [v for v in as_list(value) if isinstance(v, dict)]


def live_evidence(result: dict, workflows: Iterable[dict]) -> bool:
    """A live track or an `engage-live` publication in the episode's mediapackages."""
    for mp in _mediapackages(result, workflows):
        if any(as_str(t.get("live")) == "true" for t in _items(mp, "media", "track")):
            return True
        if any(as_str(p.get("channel")) == LIVE_CHANNEL for p in _items(mp, "publications", "publication")):
            return True
    return False


def episode_document(mpid: str, result: dict, *, workflows: list[dict], technical: Any,
                     dce: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """The episodes-index document (`_id` = mpid). Raises ValueError when it has no start.

    `dce`: the server has the `DCE-archive-publish-external` definition (see the module).
    """
    fields = episode_fields(result)
    if not fields.get("start"):
        raise ValueError("no start time")
    start = parse_iso(fields["start"])
    counted = counted_workflows(workflows, dce)
    capture = newest_operation(counted, ("capture",))
    live_start = live_end = live_source = None
    if capture is not None:
        live_start, live_end, live_source = capture[1].started, capture[1].completed, "capture"
    elif live_evidence(result, workflows):
        tech_start, tech_end = technical_times(technical)
        if tech_start is not None:
            live_start, live_end, live_source = tech_start, tech_end, "schedule"
        else:
            live_start, live_end = start, _plus_ms(start, fields.get("duration"))
            live_source = "mediapackage"
    names = ("retract-element",) if dce else ("retract-element", "publish-engage")
    available = newest_operation(counted, names)
    available_at = (available[1].completed or available[1].started) if available else None
    doc: dict[str, Any] = {
        "mpid": mpid,
        "title": fields.get("title"),
        "duration": fields.get("duration"),
        "start": fields["start"],
        "course": fields.get("course"),
        "series": fields.get("series"),
        "year": fields.get("year"),
        "term": fields.get("term"),
        "crn": fields.get("cdn"),
        "type": fields.get("type"),
        "description": fields.get("description"),
        **images(result),
        "live_stream": live_source is not None,
        "live_start": iso_z(live_start) if live_start else None,
        "live_end": iso_z(live_end) if live_end else None,
        "live_duration": _ms(live_start, live_end),
        "live_source": live_source,
        "available": iso_z(available_at) if available_at else None,
        "available_source": available[0] if available_at else None,
        "harvested_at": iso_z(now or datetime.now(UTC)),
    }
    return doc


def needs_schedule(result: dict, workflows: list[dict], dce: bool) -> bool:
    """Whether technical.json could give this episode's live times (saves a call otherwise)."""
    return newest_operation(counted_workflows(workflows, dce), ("capture",)) is None \
        and live_evidence(result, workflows)


# -- fetching ------------------------------------------------------------------------------------
def get_optional(client: OpencastClient, path: str, params: dict | None = None, *,
                 accept: str | None = None, decode: Callable[[Any], Any] | None = None,
                 handled: tuple[int, ...] = ()) -> Any:
    """GET JSON, or None when the endpoint or the object does not exist (HTTP 404).

    `decode` replaces the JSON decoding (the client's, with its login-page checks) and is
    also handed the error statuses in `handled` (406 for technical.json).
    """
    from harvester.http import request

    url = f"{client.base_url}/{path.lstrip('/')}"
    client.requests += 1
    return request(client.session, "GET", url, service=client.service, policy=client.policy,
                   params=params, allow_redirects=False,
                   headers={"Accept": accept} if accept else None,
                   ok_status=(301, 302, 303, 307, 401, 404, *handled),
                   check=lambda r: None if r.status_code == 404 else (decode or client._decode)(r))


def _workflow_mediapackage(mpid: str, workflows: list[dict]) -> dict | None:
    """The mediapackage of the newest workflow: the metadata of an episode search no longer has."""
    for wf in sorted(workflows, key=lambda w: as_int(w.get("id")) or 0, reverse=True):
        mp = wf.get("mediapackage")
        if isinstance(mp, dict) and as_str(mp.get("id")) == mpid:
            return mp
    return None


@dataclass
class EpisodeFetcher:
    """Builds one episode document per mpid; counts what it skipped and why."""

    engage: OpencastClient
    admin: OpencastClient
    wait: float = 0.0
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    fetched: int = 0
    from_workflows: int = 0  # episodes search did not return (deleted, retracted), from workflows
    _workflow_api: str | None = None  # "mediapackage" or "instances", once one has answered
    _dce: bool | None = None  # the DCE-archive-publish-external definition exists, once known
    _technical: bool = True  # False once technical.json answered 406 (it will for the whole run)
    _failures_in_a_row: int = 0

    def documents(self, mpids: Iterable[str]) -> Iterator[dict]:
        first = True
        for mpid in mpids:
            if not first and self.wait > 0:
                self.sleep(self.wait)
            first = False
            doc = self.document(mpid)
            if doc is not None:
                yield doc

    def _skip(self, mpid: str, reason: str) -> None:
        self.skipped[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < 5:
            self.examples[reason].append(mpid)
        log.warning("episode %s skipped: %s", mpid, reason, extra={"mpid": mpid, "reason": reason})

    def document(self, mpid: str) -> dict | None:
        try:
            results = self.engage.search_episode(mpid)
            workflows: list[dict] | None = None
            if not results:
                # Deleted or retracted: search no longer has it (every public release ignores
                # includeDeleted), but its workflows still carry the mediapackage.
                workflows = self.workflows(mpid)
                mp = _workflow_mediapackage(mpid, workflows)
                if mp is None:
                    self._ok()
                    self._skip(mpid, "not found in search")
                    return None
                results = [{"mediapackage": mp}]
                self.from_workflows += 1
                log.info("episode %s: not in search (deleted or retracted?); metadata from its "
                         "workflows", mpid, extra={"mpid": mpid})
            result = results[0]
            if not episode_fields(result).get("start"):
                self._ok()
                self._skip(mpid, "no start time")  # before spending admin calls on it
                return None
            if workflows is None:
                workflows = self.workflows(mpid)
            dce = self.dce_definition()
            technical = self.technical(mpid) if needs_schedule(result, workflows, dce) else None
        except AuthenticationError:
            raise
        except ServiceError as exc:
            self._failures_in_a_row += 1
            self._skip(mpid, "Opencast request failed")
            log.warning("episode %s: %s", mpid, exc)
            if self._failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
                raise ServiceError("Opencast", f"{self._failures_in_a_row} episodes in a row could not "
                                   f"be fetched; giving up (last: {exc})") from None
            return None
        self._ok()
        try:
            doc = episode_document(mpid, result, workflows=workflows, technical=technical, dce=dce,
                                   now=self.now())
        except ValueError as exc:
            self._skip(mpid, str(exc))
            return None
        self.fetched += 1
        return doc

    def _ok(self) -> None:
        self._failures_in_a_row = 0

    def dce_definition(self) -> bool:
        """Whether the admin node has the DCE workflow definition the original filtered on."""
        if self._dce is None:
            found = get_optional(self.admin, f"/workflow/definition/{DCE_DEFINITION}.json")
            self._dce = found is not None
            log.info("workflow definition %s %s on %s", DCE_DEFINITION,
                     "exists" if self._dce else "does not exist", self.admin.service,
                     extra={"dce_definition": self._dce})
        return self._dce

    def technical(self, mpid: str) -> Any:
        """Scheduled times of one event, or None: unknown (404), or not served as asked (406)."""
        if not self._technical:
            return None
        statuses: list[int] = []

        def decode(resp):
            statuses.append(resp.status_code)
            if resp.status_code == 406:
                return None
            body = resp.content.lstrip()
            if resp.status_code < 300:  # 401 and login redirects: the client's own checks
                if not body:
                    return None
                if body[:1] == b"<" and "html" not in resp.headers.get("Content-Type", ""):
                    return technical_from_xml(body)
            return self.admin._decode(resp)

        doc = get_optional(self.admin, f"/recordings/{mpid}/technical.json", accept=TECHNICAL_ACCEPT,
                           decode=decode, handled=(406,))
        if 406 in statuses:
            self._technical = False
            log.warning("%s answers 406 to /recordings/{id}/technical.json even with Accept %r; "
                        "scheduled times are not used this run", self.admin.service, TECHNICAL_ACCEPT)
        return doc

    def workflows(self, mpid: str) -> list[dict]:
        """Workflow instances of one mediapackage from whichever API this Opencast has."""
        if self._workflow_api in (None, "mediapackage"):
            doc = get_optional(self.admin, f"/workflow/mediaPackage/{mpid}/instances.json")
            if doc is not None or self._workflow_api == "mediapackage":
                self._workflow_api = "mediapackage" if doc is not None else self._workflow_api
                return workflow_list(doc)
        # Up to 11: the server filters, as the original asked.
        params: dict[str, Any] = {"mp": mpid, "state": "SUCCEEDED", "count": 100, "startPage": 0}
        if self.dce_definition():
            params["workflowdefinition"] = DCE_DEFINITION
        doc = get_optional(self.admin, "/workflow/instances.json", params)
        if doc is not None:
            self._workflow_api = "instances"
        return workflow_list(doc)


def summarize(fetcher: EpisodeFetcher, indexed: int, mpids: int) -> str:
    reasons = ", ".join(f"{reason}: {n}" for reason, n in fetcher.skipped.most_common())
    skipped = sum(fetcher.skipped.values())
    text = f"{mpids} mediapackage(s), {indexed} episode(s) delivered, {skipped} skipped"
    text += f" ({reasons})" if reasons else ""
    if fetcher.from_workflows:
        text += f", {fetcher.from_workflows} not in search (metadata from their workflows)"
    return text
