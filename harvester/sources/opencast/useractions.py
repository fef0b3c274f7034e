"""Opencast user-tracking actions for a time window, in pages, enriched with their episodes.

Two server dialects exist. The DCE fork filters `/usertracking/actions.json` by `start`/`end`;
stock Opencast silently ignores those parameters and only filters by `day` (server-local).
`auto` asks for the window and falls back to day paging as soon as an action outside the
window comes back. Whatever the mode, every action is filtered by its `created` time on this
side too and de-duplicated by id (pages have no defined order), so a misdetected server can
cost requests but never deliver wrong records.

Day paging is in day_paging: the server's `day` filter is not a whole day and changes from
one request to the next, so what it returns is proven complete by counting.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from harvester.sources.opencast.client import (
    OpencastClient,
    actions_envelope,
    as_str,
    episode_fields,
    normalize_action,
)
from harvester.timeutil import COMPACT, format_compact, parse_iso

log = logging.getLogger("harvester.useractions")

MODES = ("auto", "window", "day")
WINDOW_TZ = ("utc", "server")


class Clock:
    """Wall clock and sleep of the harvesting side (a test shares one with its stand-in)."""

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


CLOCK = Clock()
ENDPOINT = "/usertracking/actions.json"
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})$")


@dataclass
class FetchStats:
    requests: int = 0
    fetched: int = 0
    duplicates: int = 0
    outside_window: int = 0
    invalid: int = 0
    mode: str = ""
    episode_lookups: int = 0
    cache_hits: int = 0
    unknown_episodes: int = 0
    day_rounds: int = 0  # extra passes or timed answers needed to prove a day complete
    errors: list[str] = field(default_factory=list)


class UserActionSource:
    """Yields lists of normalized records (one per page) for [start, end], each id once."""

    def __init__(self, client: OpencastClient, start: datetime, end: datetime, *, batch_size: int,
                 wait: float = 0.0, mode: str = "auto", sleep: Callable[[float], None] | None = None,
                 window_tz: str = "utc", clock: Clock | None = None):
        self.client, self.start, self.end = client, start, end
        self.batch_size, self.wait, self.mode = batch_size, wait, mode
        self.clock = clock or CLOCK
        self.sleep = sleep or self.clock.sleep
        self.window_tz = window_tz
        self.stats = FetchStats(mode=mode)
        self._seen: set[int] = set()
        self._server_offset: timedelta | None = None
        self.last_date: datetime | None = None  # the server's Date on the last usertracking answer
        # What the server's clock minus ours can be, from every Date seen (sent, received, Date).
        self.offset_bounds: tuple[float, float] | None = None

    # -- requests ---------------------------------------------------------------------------
    def _get(self, params: dict[str, Any]) -> tuple[list[dict], int | None]:
        raw, total, _, _ = self._get_dated(params)
        return raw, total

    def _get_dated(self, params: dict[str, Any], pause: bool = True
                   ) -> tuple[list[dict], int | None, datetime | None, datetime | None]:
        """(actions, total, Date of the previous answer, Date of this one)."""
        if pause and self.stats.requests and self.wait > 0:
            self.sleep(self.wait)
        self.stats.requests += 1
        before = self.last_date
        sent = self.clock.time()
        doc, date = self.client.usertracking(params)
        if date is not None:
            self._learn_clock(sent, self.clock.time(), date)
        raw, total = actions_envelope(doc)
        return raw, total, before, date

    def _learn_clock(self, sent: float, received: float, date: datetime) -> None:
        """The server wrote `date` (whole seconds) between `sent` and `received` on our clock."""
        self.last_date = date
        stamp = date.timestamp()
        lo, hi = stamp - received, stamp + 1 - sent
        if self.offset_bounds is not None:
            old_lo, old_hi = self.offset_bounds
            if max(lo, old_lo) <= min(hi, old_hi):  # else a clock jumped: start again
                lo, hi = max(lo, old_lo), min(hi, old_hi)
        self.offset_bounds = (lo, hi)

    def server_time(self) -> float | None:
        """The earliest the server's clock can read now (epoch seconds), None before any Date."""
        if self.offset_bounds is None:
            return None
        return self.clock.time() + self.offset_bounds[0]

    def _pages(self, params: dict[str, Any]) -> Iterator[list[dict]]:
        offset = 0
        while True:
            raw, total = self._get({**params, "limit": self.batch_size, "offset": offset})
            yield raw
            offset += len(raw)
            # Trust `total` when the server reports it: a server that caps `limit` below the
            # batch size returns short pages long before the end.
            if not raw or (offset >= total if total is not None else len(raw) < self.batch_size):
                return

    # -- filtering ---------------------------------------------------------------------------
    def _accept(self, raw_actions: list[dict]) -> tuple[list[dict], int]:
        """(new in-window records, number of actions outside the window)."""
        out, outside = [], 0
        for raw in raw_actions:
            try:
                record = normalize_action(raw)
            except ValueError as exc:
                self.stats.invalid += 1
                if len(self.stats.errors) < 20:
                    self.stats.errors.append(str(exc))
                continue
            if self._server_offset is None:
                self._learn_offset(as_str(raw.get("created")) or "")
            when = parse_iso(record["timestamp"])
            if not (self.start <= when.replace(microsecond=0) <= self.end):
                outside += 1
                continue
            if record["action_id"] in self._seen:
                self.stats.duplicates += 1
                continue
            self._seen.add(record["action_id"])
            out.append(record)
        self.stats.fetched += len(out)
        self.stats.outside_window += outside
        return out, outside

    def _learn_offset(self, created: str) -> None:
        m = _OFFSET.search(created)
        if created.endswith(("Z", "z")):
            self._server_offset = timedelta(0)
        elif m:
            sign = -1 if m.group(1) == "-" else 1
            self._server_offset = sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))

    # -- modes -------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[list[dict]]:
        if self.mode == "day":
            yield from self._by_day()
            return
        window = self._window_params()
        if window is None:  # OPENCAST_WINDOW_TZ=server and not one action near the window
            self.stats.mode = "window"
            return
        warned = False
        for raw in self._pages(window):
            records, outside = self._accept(raw)
            if outside and self.mode == "auto":
                log.warning("the Opencast server answered start=%s end=%s with actions outside that "
                            "window: either it ignores start/end (stock usertracking) or it reads "
                            "them in another time zone (OPENCAST_WINDOW_TZ=%s now; utc or server). "
                            "Paging by day and filtering here instead, so nothing is dropped "
                            "(OPENCAST_USERTRACKING_MODE=day skips this check)",
                            window["start"], window["end"], self.window_tz)
                self.stats.mode = "day"
                if records:
                    yield records
                yield from self._by_day()
                return
            if outside and not warned:
                warned = True
                log.warning("OPENCAST_USERTRACKING_MODE=window: the server returned actions outside "
                            "start=%s end=%s; if it reads them in another time zone, set "
                            "OPENCAST_WINDOW_TZ (utc or server), or use OPENCAST_USERTRACKING_MODE="
                            "auto, which then pages by day", window["start"], window["end"])
            if records:
                yield records
        self.stats.mode = "window"

    def _window_params(self) -> dict[str, str] | None:
        """start/end as the server is told them: UTC, or its own wall time (OPENCAST_WINDOW_TZ).

        The server's offset is learnt as day paging learns it, from `created`: one action asked
        for around the window (wide enough for any zone) shows the server's offset there.
        """
        if self.window_tz != "server":
            return {"start": format_compact(self.start), "end": format_compact(self.end)}
        if self._server_offset is None:
            wide = {"start": format_compact(self.start - timedelta(hours=14)),
                    "end": format_compact(self.end + timedelta(hours=14)), "limit": 1}
            raw, _ = self._get(wide)
            for action in raw:
                self._learn_offset(as_str(action.get("created")) or "")
            if self._server_offset is None:
                log.info("no action within 14 hours of the window; nothing to harvest")
                return None
        off = self._server_offset
        return {"start": (self.start + off).strftime(COMPACT), "end": (self.end + off).strftime(COMPACT)}

    def _days(self) -> list[str]:
        """Server-local days covering the window (all candidate offsets until one is known)."""
        if self._server_offset is not None:
            lo, hi = self.start + self._server_offset, self.end + self._server_offset
        else:
            lo, hi = self.start - timedelta(hours=12), self.end + timedelta(hours=14)
        day, days = lo.date(), []
        while day <= hi.date():
            days.append(day.strftime("%Y%m%d"))
            day += timedelta(days=1)
        return days

    def _by_day(self) -> Iterator[list[dict]]:
        from harvester.sources.opencast.day_paging import DayHarvest

        done: set[str] = set()
        # The first day fetched teaches the server's UTC offset, which narrows the rest.
        first = self.start.astimezone(UTC).strftime("%Y%m%d")
        queue = [first]
        while queue:
            day = queue.pop(0)
            if day in done:
                continue
            done.add(day)
            yield from DayHarvest(self, day).run()
            if not queue:
                queue = [d for d in self._days() if d not in done]


class EpisodeEnricher:
    """Attaches `episode` to records: each distinct mpid of a batch is looked up once."""

    def __init__(self, client: OpencastClient, cache, *, ttl: int, stats: FetchStats,
                 concurrency: int = 4):
        self.client, self.cache, self.ttl, self.stats = client, cache, ttl, stats
        self.concurrency = concurrency
        self._pool = None
        self.missing_ttl = min(ttl, 300)

    def _lookup(self, mpid: str) -> dict | None:
        results = self.client.search_episode(mpid)
        return episode_fields(results[0]) if results else None

    def _lookup_all(self, mpids: list[str]) -> list[dict | None]:
        """Look up episodes with a few requests in flight: a cold cache costs round trips."""
        if self.concurrency <= 1 or len(mpids) <= 1:
            return [self._lookup(m) for m in mpids]
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            # Kept for the whole run: each thread keeps its Digest nonce, so only the first
            # request of each thread pays for a challenge round trip.
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="episode")
        return list(self._pool.map(self._lookup, mpids))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def enrich(self, records: list[dict]) -> list[dict]:
        mpids = sorted({r["mpid"] for r in records if r.get("mpid")})
        found = self.cache.get_many(mpids)
        self.stats.cache_hits += len(found)
        wanted = [m for m in mpids if m not in found]
        self.stats.episode_lookups += len(wanted)
        fresh: dict[str, Any] = dict(zip(wanted, self._lookup_all(wanted), strict=True))
        if fresh:
            self.cache.set_many(fresh, self.ttl, self.missing_ttl)
        episodes = {**found, **fresh}
        for record in records:
            episode = episodes.get(record.get("mpid") or "")
            if episode is None:
                self.stats.unknown_episodes += 1
            record["episode"] = episode
        return records
