"""What one poll leaves for the next: when it ran and which jobs were still active.

Listing is by creation time, so a job created before the window that finishes later would
otherwise never be seen again; the active ones are re-polled by id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harvester.errors import HarvestError
from harvester.sources.mediaconvert.jobs import iso, parse_time

# -- state between polls ----------------------------------------------------------------------

@dataclass
class PollState:
    """The checkpoint: when the last poll started and which jobs were still active then."""

    last_poll: datetime | None = None
    active: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: finished jobs the next poll's overlapping window lists again: not written twice
    done: list[str] = field(default_factory=list)

    def dumps(self) -> str:
        return json.dumps({"version": 1, "last_poll": iso(self.last_poll), "active": self.active,
                           "done": self.done}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None, where: str = "checkpoint") -> PollState:
        if not text:
            return cls()
        try:
            if text.lstrip().startswith("{"):
                doc = json.loads(text)
                last = parse_time(doc["last_poll"]) if doc.get("last_poll") else None
                active = doc.get("active") or {}
                if isinstance(active, list):
                    active = {str(a): {} for a in active}
                if not isinstance(active, dict):
                    raise ValueError("active is not a map")
                done = [str(d) for d in doc.get("done") or []]
                return cls(last, {str(k): dict(v or {}) for k, v in active.items()}, done)
            return cls(parse_time(text), {})  # a bare date/time written by hand
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise HarvestError(f"the mediaconvert checkpoint ({where}) cannot be read: {exc}; fix it, "
                               "or delete it to start again from --since (default: the last 24 h)") from None
