"""Zoom meetings and participant sessions of one day, as plain documents.

What to fetch, in the order that costs the fewest calls: the Dashboard's past meetings
(`type=past`, then `type=pastOne`, which `past` leaves out), then the participants of every
meeting instance addressed by its uuid. Accounts without the Dashboard (or without its
scopes) fall back to the Report API, detected from Zoom's answer and logged once per run.
A failure that belongs to one meeting (it vanished, its host lost the licence, a firewall
page) is counted and listed, and never costs the rest of the day.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import quote

from harvester.errors import ServiceError
from harvester.http import RetryPolicy
from harvester.sources.zoom.api import (
    HEAVY,
    PAGE_SIZE,
    RESOURCE_INTENSIVE,
    ZoomApi,
    ZoomApiError,
    ZoomSettings,
    new_api,
)
from harvester.sources.zoom.records import meeting_doc, number_stays, session_doc

log = logging.getLogger("harvester.zoom")

MAX_LISTING_RESTARTS = 3
DASHBOARD_SCOPE_CODES = (4700, 4711)
SKIP_CODES = (3001, 3161)


def encode_uuid(uuid: str) -> str:
    """A meeting uuid as a path segment: twice encoded when it starts with / or contains //.

    Zoom decodes the path once before routing, so a slash surviving a single encoding would
    split the path and Zoom answers 404 code 3001 for a meeting that exists.
    """
    once = quote(uuid, safe="")
    if uuid.startswith("/") or "//" in uuid:
        return quote(once, safe="")
    return once


def dashboard_unavailable(exc: ZoomApiError) -> bool:
    """Zoom's ways of saying "no Dashboard for this account or app"."""
    text = exc.zoom_message.lower()
    return exc.status in (400, 403) and (
        exc.code in DASHBOARD_SCOPE_CODES or "dashboard" in text or "business or higher" in text
        or "does not contain scope" in text)


def skippable(exc: ZoomApiError) -> bool:
    """Errors that belong to one meeting, not to the run (a scope or auth problem is the run's)."""
    if exc.code in DASHBOARD_SCOPE_CODES or exc.code == 124:
        return False
    if exc.code in SKIP_CODES or exc.status == 404:
        return True
    if exc.status == 403:
        return not exc.is_json  # a web firewall's HTML page, not a Zoom answer
    return exc.status == 400 and exc.code is not None and exc.code != 300


@dataclass
class DayResult:
    day: date
    meetings: int = 0
    sessions: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    source: str = "dashboard"


class ZoomSource:
    """Yields meeting and session documents for one day at a time."""

    def __init__(self, api: ZoomApi, *, page_size: int = PAGE_SIZE):
        self.api = api
        self.page_size = page_size
        self.use_report = False

    # -- listings ---------------------------------------------------------------------
    def _paged(self, path: str, params: dict, key: str, category: str) -> Iterator[dict]:
        """Every item of a listing, following next_page_token.

        An expired or invalid page token (code 300; tokens live 15 minutes) restarts the
        listing from its first page; callers drop items they have already seen.
        """
        restarts = 0
        token = ""
        while True:
            query = {**params, "page_size": self.page_size}
            if token:
                query["next_page_token"] = token
            try:
                page = self.api.get(path, query, category=category)
            except ZoomApiError as exc:
                if exc.code == 300 and token and restarts < MAX_LISTING_RESTARTS:
                    restarts += 1
                    log.warning("Zoom: page token of %s expired; restarting that listing", path)
                    token = ""
                    continue
                raise
            items = page.get(key)
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict):
                    yield item
            token = str(page.get("next_page_token") or "")
            if not token:
                return

    def _dashboard_meetings(self, day: str) -> Iterator[dict]:
        for kind in ("past", "pastOne"):
            yield from self._paged("/metrics/meetings", {"type": kind, "from": day, "to": day},
                                   "meetings", RESOURCE_INTENSIVE)

    def _report_meetings(self, day: str) -> Iterator[dict]:
        users_seen: set[str] = set()
        for user in self._paged("/report/users", {"type": "active", "from": day, "to": day}, "users", HEAVY):
            user_id = str(user.get("id") or "")
            if not user_id or user_id in users_seen:
                continue
            users_seen.add(user_id)
            path = f"/report/users/{quote(user_id, safe='')}/meetings"
            for meeting in self._paged(path, {"type": "past", "from": day, "to": day}, "meetings", HEAVY):
                meeting.setdefault("host_id", user_id)
                yield meeting

    def meetings(self, day: str) -> Iterator[dict]:
        """Raw meeting instances of `day` (may repeat a uuid; the caller de-duplicates)."""
        if not self.use_report:
            try:
                yield from self._dashboard_meetings(day)
                return
            except ZoomApiError as exc:
                if not dashboard_unavailable(exc):
                    raise
                log.warning("Zoom Dashboard not available to this app (%s); using the Report API "
                            "for this run", exc.reason)
                self.use_report = True
        yield from self._report_meetings(day)

    def participants(self, uuid: str) -> Iterator[dict]:
        base = "/report/meetings" if self.use_report else "/metrics/meetings"
        params = {} if self.use_report else {"type": "past"}
        yield from self._paged(f"{base}/{encode_uuid(uuid)}/participants", params, "participants", HEAVY)

    # -- documents --------------------------------------------------------------------
    def harvest_day(self, day: date, result: DayResult | None = None) -> Iterator[dict]:
        """Meeting documents, each followed by its session documents; `result` counts them.

        Memory holds one meeting's sessions and the uuids seen today, never the whole day.
        """
        result = result if result is not None else DayResult(day)
        text_day = day.isoformat()
        seen: set[str] = set()
        for raw in self.meetings(text_day):
            uuid = str(raw.get("uuid") or "")
            if not uuid or uuid in seen:
                continue
            seen.add(uuid)
            source = "report" if self.use_report else "dashboard"
            result.source = source
            try:
                sessions: dict[str, dict] = {}
                for participant in self.participants(uuid):
                    doc = session_doc(participant, raw, source)
                    sessions[doc["session_id"]] = doc
            except ZoomApiError as exc:
                if not skippable(exc):
                    raise
                log.warning("Zoom: participants of meeting %s skipped: %s", uuid, exc.reason)
                result.skipped.append((uuid, exc.reason))
                result.meetings += 1
                yield meeting_doc(raw, source=source, day=text_day, sessions=None, error=exc.reason)
                continue
            number_stays(sessions.values())
            result.meetings += 1
            result.sessions += len(sessions)
            yield meeting_doc(raw, source=source, day=text_day, sessions=sessions.values())
            yield from sessions.values()
        if len(seen) >= 3 and len(result.skipped) == len(seen):
            raise ServiceError("Zoom", f"{text_day}: the participants of every one of {len(seen)} "
                               f"meetings failed (first: {result.skipped[0][1]}); not treating the "
                               "day as harvested")


def open_source(settings: ZoomSettings, policy: RetryPolicy) -> ZoomSource:
    """The source over a new client for `settings`."""
    return ZoomSource(new_api(settings, policy), page_size=settings.page_size)
