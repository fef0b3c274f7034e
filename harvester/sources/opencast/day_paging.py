"""Day paging that loses nothing on a stock Opencast server.

Stock Opencast builds the `day` filter from a fresh calendar with only the hour and minute
set (UserTrackingServiceImpl.getUserActionsByDay), so a request handled at second SS of the
server's minute selects [00:00:SS, 23:59:SS] of that server-local day, and `total` counts the
same window. The listing has no ORDER BY, and as SS moves from one page request to the next
the set changes under offset paging. Three measures make a day complete anyway:

- Pages overlap, and each must contain the last row of the previous page that every window
  holds (a core row, created between 00:01:00 and 23:59:00): if rows left the set in front of
  it, the page is asked for again further back.
- Counting: rows collected from a finished day are a subset of that day, so when the
  collected rows falling in one answer's window number at least that answer's `total`, the
  collection holds that whole window. The window of an answer is known from the server's
  Date headers: it was handled between the Date of the answer before it and its own.
- The first and the last minute of a day, which no single window covers, are covered by
  answers timed to the matching second of the server's minute (0 for the first minute, 59
  for the last), checked the same way.

A day that is not finished yet (rows still arrive, so counts cannot prove anything) is proven
by an answer that held its whole window on one page. A day that cannot be proven complete
fails the run: the checkpoint stays where it was and the next run tries again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from harvester.errors import ServiceError
from harvester.sources.opencast.client import as_int, as_str

if TYPE_CHECKING:
    from harvester.sources.opencast.useractions import UserActionSource

log = logging.getLogger("harvester.useractions")

CORE_FIRST = 60  # 00:01:00, in seconds of the day: inside every window from here ...
CORE_LAST = 23 * 3600 + 59 * 60  # ... to 23:59:00
DAY = 24 * 3600
EVERY_SECOND = frozenset(range(60))
ROUNDS = 4  # extra passes or timed answers before a day is given up on
SETTLE = timedelta(minutes=2)  # after midnight, a day is finished once this has passed too
_WALL = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})")


def wall_time(created: str) -> tuple[str, int] | None:
    """(yyyyMMdd, second of the day) of `created` as the server wrote it, in its own zone."""
    m = _WALL.match(created.strip())
    if not m:
        return None
    y, mo, d, h, mi, s = m.groups()
    return f"{y}{mo}{d}", int(h) * 3600 + int(mi) * 60 + int(s)


def handled_seconds(before: datetime | None, after: datetime | None) -> frozenset[int]:
    """Which seconds of the minute an answer can have been handled in.

    `before` is the Date of the answer received before the request was sent, `after` the
    answer's own Date; both are whole seconds of the server's clock. Unknown: any second.
    """
    if before is None or after is None:
        return EVERY_SECOND
    span = int((after - before).total_seconds())
    if span < 0 or span >= 59:
        return EVERY_SECOND
    return frozenset((before.second + k) % 60 for k in range(span + 1))


@dataclass(frozen=True)
class Answer:
    seconds: frozenset[int]  # the second of the minute it was handled in is one of these
    total: int | None
    whole: bool  # the page held every row of its window (offset 0, nothing left over)


class DayRows:
    """Rows collected from one server-local day: action id -> second of the day."""

    def __init__(self) -> None:
        self.second: dict[int, int] = {}
        self.edges = 0  # rows in the first or last minute: the only ones that come and go

    def add(self, action_id: int, second: int) -> None:
        if action_id in self.second:
            return
        self.second[action_id] = second
        if second < CORE_FIRST or second > CORE_LAST:
            self.edges += 1

    def counts(self) -> list[int]:
        """For each SS: how many collected rows lie in [00:00:SS, 23:59:SS]."""
        first = [0] * 60  # rows at 00:00:x, by x
        last = [0] * 60  # rows at 23:59:x, by x
        core = 0
        for sec in self.second.values():
            if sec < CORE_FIRST:
                first[sec] += 1
            elif sec >= CORE_LAST:
                last[sec - CORE_LAST] += 1
            else:
                core += 1
        out = []
        for ss in range(60):
            out.append(core + sum(first[ss:]) + sum(last[:ss + 1]))
        return out


class DayHarvest:
    """Every action of one server-local day that lies in the source's window, proven complete."""

    def __init__(self, source: UserActionSource, day: str):
        self.src, self.day = source, day
        self.rows = DayRows()
        self.answers: list[Answer] = []
        self.pass_ok = False

    # -- asking -----------------------------------------------------------------------------
    def _ask(self, offset: int, limit: int, pause: bool = True) -> tuple[list[dict], list[dict], Answer]:
        """One answer: (its actions, the new in-window records among them, what it proves)."""
        raw, total, before, after = self.src._get_dated(
            {"day": self.day, "limit": limit, "offset": offset}, pause=pause)
        for action in raw:
            action_id, wall = as_int(action.get("id")), wall_time(as_str(action.get("created")) or "")
            if action_id is not None and wall is not None and wall[0] == self.day:
                self.rows.add(action_id, wall[1])
        whole = offset == 0 and total is not None and len(raw) >= total
        answer = Answer(handled_seconds(before, after), total, whole)
        self.answers.append(answer)
        records, _ = self.src._accept(raw)
        return raw, records, answer

    def _pass(self) -> Iterator[list[dict]]:
        """Offset paging with overlapping pages anchored on core rows."""
        limit = self.src.batch_size
        offset, anchor, back, retries = 0, None, 1 + self.rows.edges, 0
        self.pass_ok = False
        while True:
            raw, records, answer = self._ask(offset, limit)
            if records:
                yield records
            ids = [as_int(a.get("id")) for a in raw]
            if anchor is not None and anchor not in ids:
                # Rows left the set in front of the anchor: this page may have skipped some.
                retries += 1
                if offset == 0 or retries > 30:
                    return
                offset, back = max(0, offset - back), back * 2
                continue
            end = offset + len(raw)
            if not raw or (answer.total is not None and end >= answer.total) or (
                    answer.total is None and len(raw) < limit):
                self.pass_ok = True
                return
            core = [i for a, i in zip(raw, ids, strict=True) if i is not None and self._is_core(a)]
            anchor = core[-1] if core else None
            overlap = min(1 + self.rows.edges, len(raw) - 1)
            offset = end - overlap

    @staticmethod
    def _is_core(action: dict) -> bool:
        wall = wall_time(as_str(action.get("created")) or "")
        return wall is not None and CORE_FIRST <= wall[1] <= CORE_LAST

    # -- timing -----------------------------------------------------------------------------
    def _server_now(self) -> datetime | None:
        stamp = self.src.server_time()
        return None if stamp is None else datetime.fromtimestamp(stamp, UTC)

    def _wait_for_second(self, second: int) -> None:
        """Sleep until the server's clock has just entered `second` of its minute."""
        stamp = self.src.server_time()
        if stamp is None:
            return
        delay = (second + 0.02 - stamp % 60) % 60
        if delay > 59.7:  # just inside that second already
            delay = 0.0
        self.src.sleep(delay)

    def _timed(self, first: int, last: int, whole: bool) -> Iterator[list[dict]]:
        """An answer handled at a second within [first, last] of the server's minute.

        A tick (a one-row answer) whose Date is inside that range opens it; the answer right
        after it is then known to be inside too when its own Date still is. With `whole`,
        that answer asks for every row of the day at once, so it proves its window without
        counting.
        """
        wanted = frozenset(range(first, last + 1))
        for _ in range(4):
            self._wait_for_second(first)
            _, records, _ = self._ask(0, 1, pause=False)
            if records:
                yield records
            if self.src.last_date is None or self.src.last_date.second not in wanted:
                continue
            if whole:
                known = max((a.total or 0) for a in self.answers)
                limit = max(self.src.batch_size, known + max(100, known // 10))
                _, records, answer = self._ask(0, limit, pause=False)
            else:
                _, records, answer = self._ask(0, 1, pause=False)
            if records:
                yield records
            if answer.seconds <= wanted and (answer.whole or not whole):
                return

    # -- proving ----------------------------------------------------------------------------
    def _ensure_offset(self) -> None:
        if self.src._server_offset is None:
            raw, _ = self.src._get({"limit": 1})  # any action shows the server's UTC offset
            for action in raw:
                self.src._learn_offset(as_str(action.get("created")) or "")

    def _needs(self) -> tuple[int | None, int | None] | None:
        """(latest SS that covers the needed part of the first minute, earliest SS for the last
        minute); None when the window does not touch this day at all."""
        offset = self.src._server_offset
        if offset is None:
            return None  # not one action on the whole server
        start = datetime.strptime(self.day, "%Y%m%d")
        lo = (self.src.start.astimezone(UTC) + offset).replace(tzinfo=None, microsecond=0)
        hi = (self.src.end.astimezone(UTC) + offset).replace(tzinfo=None, microsecond=0)
        a, b = max(lo, start), min(hi, start + timedelta(seconds=DAY - 1))
        if a > b:
            return None
        a_sec, b_sec = int((a - start).total_seconds()), int((b - start).total_seconds())
        return (a_sec if a_sec < CORE_FIRST else None,
                b_sec - CORE_LAST if b_sec > CORE_LAST else None)

    def _finished(self) -> bool:
        now, offset = self._server_now(), self.src._server_offset
        if now is None or offset is None:
            return False
        local = (now + offset).replace(tzinfo=None)
        return local >= datetime.strptime(self.day, "%Y%m%d") + timedelta(days=1) + SETTLE

    def _proven(self, finished: bool) -> list[Answer]:
        counts = self.rows.counts() if finished else []
        out = []
        for a in self.answers:
            if a.whole or (finished and a.total is not None
                           and min(counts[s] for s in a.seconds) >= a.total):
                out.append(a)
        return out

    def run(self) -> Iterator[list[dict]]:
        yield from self._pass()
        self._ensure_offset()
        needs = self._needs()
        if needs is None:
            return
        need_first, need_last = needs
        for attempt in range(ROUNDS + 1):
            finished = self._finished()
            proven = self._proven(finished)
            core_ok = bool(proven) or (not finished and self.pass_ok)
            first_ok = need_first is None or any(max(a.seconds) <= need_first for a in proven)
            last_ok = need_last is None or any(min(a.seconds) >= need_last for a in proven)
            if core_ok and first_ok and last_ok:
                return
            if attempt == ROUNDS:
                break
            self.src.stats.day_rounds += 1
            if not core_ok:
                log.info("day %s: the rows listed do not add up to the server's total yet "
                         "(the set moved between pages); listing the day again", self.day)
                yield from self._pass()
                continue
            whole = not finished or attempt > 0
            if not first_ok:
                log.info("day %s: asking at second 0 of the server's minute for the first minute "
                         "of the day", self.day)
                yield from self._timed(0, need_first, whole)
            if not last_ok:
                log.info("day %s: asking at second 59 of the server's minute for the last minute "
                         "of the day", self.day)
                yield from self._timed(need_last, 59, whole)
        raise ServiceError("Opencast", f"day {self.day}: could not prove that every action of the day "
                           f"was listed (the `day` filter of stock Opencast moves with the second of "
                           f"each request; {len(self.answers)} answers, {len(self.rows.second)} actions "
                           f"collected); nothing is lost: the checkpoint stays and the next run "
                           f"tries again")
