"""Zoom documents in the original harvester's shape (`ZOOM_DOC_STYLE=original`, the default).

The original indexed meetings into `meetings-YYYY.MM.DD` and sessions into
`sessions-YYYY.MM.DD` with its own field names (`meeting_series_id`, a `host` object,
`participant_sessions`; sessions with `meeting`, `user_id`, `ip_address`, `country`, `city`,
`geoip`), and the session `_id` was the meeting uuid followed by the participant's `user_id`.
Sites with saved searches and dashboards on those names keep them; the index templates map
the names of the `current` style as field aliases, so queries written for either work.

Zoom API v2 has no `cn`/`city` per participant (v1 had): `country` and `city` come from
Zoom's `location` when it reads "City (CC)", else from the GeoLite2 lookup, else null. A
participant who rejoins keeps the original `_id` for the first stay; later stays get
`#<join time>` appended, so no stay overwrites another.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from harvester.geoip import GeoLite
from harvester.sinks.base import Sink
from harvester.sinks.es_documents import zoom_session_document

STYLES = ("original", "current")

#: current-style name -> original path; the `meetings`/`sessions` templates map them as aliases
MEETING_ALIASES = {"meeting_id": "meeting_series_id", "host_id": "host.host_id",
                   "host_name": "host.name", "host_email": "host.email",
                   "user_type": "host.user_type", "has_recording": "recording"}
SESSION_ALIASES = {"meeting_uuid": "meeting", "participant_id": "user_id", "zoom_user_id": "id",
                   "ip": "ip_address"}

_LOCATION = re.compile(r"^\s*(?P<city>.*?)\s*\((?P<cc>[A-Za-z]{2})\)\s*$")
_MEETING_KEEP = ("doc_type", "uuid", "topic", "start_time", "end_time", "duration", "has_pstn",
                 "has_voip", "has_3rd_party_audio", "has_video", "has_screen_share", "has_sip",
                 "has_archiving", "dept", "participant_count", "session_count",
                 "zoom_participant_count", "custom_keys",
                 "tracking_fields", "source", "harvest_day", "participants_error")
_SESSION_RENAMED = set(SESSION_ALIASES) | {"session_id", "meeting_id"}


def original_meeting(doc: dict) -> dict:
    """A current-style meeting document in the original's shape."""
    out = {k: doc[k] for k in _MEETING_KEEP if k in doc}
    out["meeting_series_id"] = doc.get("meeting_id")
    out["host"] = {"host_id": doc.get("host_id"), "name": doc.get("host_name"),
                   "email": doc.get("host_email"), "user_type": doc.get("user_type")}
    # sessions, not distinct participants (the original's comment); Zoom's count when unread
    count = doc.get("session_count")
    out["participant_sessions"] = count if count is not None else doc.get("zoom_participant_count")
    out["recording"] = doc.get("has_recording")
    return out


def split_location(location: object) -> tuple[str | None, str | None]:
    """Zoom's "Cambridge (US)" as (city, country code)."""
    if not isinstance(location, str) or not location.strip():
        return None, None
    m = _LOCATION.match(location)
    if m:
        return m.group("city") or None, m.group("cc").upper()
    return location.strip(), None


def original_session(doc: dict) -> dict:
    """A current-style session document in the original's shape."""
    city, country = split_location(doc.get("location"))
    out = {"doc_type": "session", "meeting": doc.get("meeting_uuid"), "id": doc.get("zoom_user_id"),
           "user_id": doc.get("participant_id"), "ip_address": doc.get("ip"),
           "country": country, "city": city, "meeting_series_id": doc.get("meeting_id")}
    for key, value in doc.items():
        if key not in _SESSION_RENAMED and key not in out:
            out[key] = value
    return out


def session_converter(original: bool, geolite: GeoLite | None) -> Callable[[dict], dict]:
    """Session documents as the command delivers them: restyled, then located (GeoLite2)."""
    def convert(doc: dict) -> dict:
        return zoom_session_document(original_session(doc) if original else doc, geolite)

    return convert


class RestyledSink(Sink):
    """Hands every record to `inner` after `convert`; everything else is the inner sink's."""

    def __init__(self, inner: Sink, convert: Callable[[dict], dict]):
        super().__init__(inner.dataset)
        self.inner, self.convert = inner, convert
        self.name = inner.name

    def write(self, records: Sequence[dict]) -> None:
        self.inner.write([self.convert(r) for r in records])
        self.delivered = self.inner.delivered

    def flush(self) -> None:
        self.inner.flush()

    def close(self) -> None:
        self.inner.close()
