"""Zoom's answers turned into the two documents the harvest delivers: meetings and sessions.

Every quirk of the Zoom API is normalized here, once: Dashboard durations are "HH:MM:SS"
strings while Report durations are minutes, Dashboard participants have no duration at all,
the Report API names fields differently, guest emails come back empty and `ip_address` is not
always an address. Everything downstream (Elasticsearch mappings, the geoip pipeline) sees
clean, typed values. These functions never raise on odd input: a field that cannot be read
becomes null.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Mapping

from harvester.timeutil import iso_seconds_or_none, parse_iso_or_none, span_seconds

MEETING_FLAGS = ("has_pstn", "has_voip", "has_3rd_party_audio", "has_video", "has_screen_share",
                 "has_recording", "has_sip", "has_archiving")

# Participant fields copied as they are (strings or booleans), when Zoom sends them.
SESSION_PASSTHROUGH = ("participant_uuid", "leave_reason", "status", "role", "device", "os",
                       "version", "location", "network_type", "data_center", "connection_type",
                       "camera", "microphone", "speaker", "audio_quality", "video_quality",
                       "screen_share_quality", "share_application", "share_desktop",
                       "share_whiteboard", "recording", "customer_key", "registrant_id",
                       "attentiveness_score", "failover")

_CLOCK = re.compile(r"^\s*(?:(\d+):)?(\d{1,2}):(\d{1,2})\s*$")


def _text(value: object) -> str | None:
    """A non-empty string, else None (Zoom sends "" for unknown guest emails and names)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def clock_seconds(value: object) -> int | None:
    """A Dashboard duration ("HH:MM:SS" or "MM:SS") in seconds."""
    text = _text(value)
    if text is None:
        return None
    m = _CLOCK.match(text)
    if not m:
        return None
    hours, minutes, seconds = int(m.group(1) or 0), int(m.group(2)), int(m.group(3))
    return hours * 3600 + minutes * 60 + seconds


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _int(value: object) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def valid_ip(value: object) -> str | None:
    """An address Elasticsearch's `ip` type and the geoip processor accept, else None."""
    text = _text(value)
    if text is None:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def session_id(meeting_uuid: str, participant: str, join_time: str | None) -> str:
    """The stable `_id` of a session: re-harvesting a day overwrites, never duplicates.

    A participant who rejoins keeps its participant id but has a new join time, so every
    stay in the meeting is its own session.
    """
    key = "\x1f".join((meeting_uuid, participant, join_time or ""))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def participant_key(raw: Mapping) -> str:
    """What identifies a participant inside one meeting instance (user_id is per instance)."""
    for name in ("user_id", "id", "participant_uuid", "participant_user_id", "email", "user_email",
                 "user_name", "name"):
        text = _text(raw.get(name))
        if text is not None:
            return text
    return ""


def session_doc(raw: Mapping, meeting: Mapping, source: str) -> dict:
    """One participant session; `meeting` is the raw meeting it belongs to."""
    uuid = str(meeting.get("uuid") or "")
    join = parse_iso_or_none(raw.get("join_time"))
    leave = parse_iso_or_none(raw.get("leave_time"))
    join_iso = iso_seconds_or_none(join)
    duration = span_seconds(join, leave)
    if duration is None:
        duration = _int(raw.get("duration"))  # the Report API gives seconds
    doc: dict = {
        "doc_type": "session",
        "session_id": session_id(uuid, participant_key(raw), join_iso or _text(raw.get("join_time"))),
        "meeting_uuid": uuid,
        "meeting_id": _text(meeting.get("id")),
        "topic": _text(meeting.get("topic")),
        "host_id": _text(meeting.get("host_id")),
        "participant_id": _text(raw.get("user_id")),
        "zoom_user_id": _text(raw.get("id")) or _text(raw.get("participant_user_id")),
        "user_name": _text(raw.get("user_name")) or _text(raw.get("name")),
        "email": _text(raw.get("email")) or _text(raw.get("user_email")),
        "join_time": join_iso,
        "leave_time": iso_seconds_or_none(leave),
        "duration": duration,
        "ip": valid_ip(raw.get("ip_address")),
        "source": source,
    }
    for name in SESSION_PASSTHROUGH:
        value = raw.get(name)
        if isinstance(value, bool):
            doc[name] = value
        elif isinstance(value, (int, float)):
            if _number(value) is not None:
                doc[name] = value
        elif isinstance(value, str) and value.strip():
            doc[name] = value.strip()
    return doc


def number_stays(sessions: Iterable[dict]) -> None:
    """Set `stay` (1, 2, ...) on the sessions of one meeting: a participant's stays in order
    of joining, so a rejoin is told from the first stay (the original-style `_id` needs it)."""
    stays: dict[str, list[dict]] = {}
    for doc in sessions:
        who = (doc.get("participant_id") or doc.get("zoom_user_id") or doc.get("user_name")
               or doc.get("email") or doc.get("session_id") or "")
        stays.setdefault(str(who), []).append(doc)
    for docs in stays.values():
        for n, doc in enumerate(sorted(docs, key=lambda d: (d.get("join_time") or "", d["session_id"])), 1):
            doc["stay"] = n


def meeting_doc(raw: Mapping, *, source: str, day: str, sessions: Iterable[Mapping] | None,
                error: str | None = None) -> dict:
    """One meeting instance (`_id` = uuid) with its participant and session counts.

    `sessions` are the session documents already built for it, or None when its participants
    could not be read (`error` says why): the meeting is still recorded.
    """
    start = parse_iso_or_none(raw.get("start_time"))
    end = parse_iso_or_none(raw.get("end_time"))
    duration = span_seconds(start, end)
    if duration is None:
        duration = clock_seconds(raw.get("duration"))
    if duration is None and source == "report":
        minutes = _int(raw.get("duration"))
        duration = None if minutes is None else minutes * 60
    session_count = participant_count = None
    if sessions is not None:
        session_list = list(sessions)
        session_count = len(session_list)
        participant_count = len({(s.get("participant_id") or s.get("zoom_user_id") or s.get("email")
                                  or s.get("user_name") or s.get("session_id"))
                                 for s in session_list})
    doc: dict = {
        "doc_type": "meeting",
        "uuid": str(raw.get("uuid") or ""),
        "meeting_id": _text(raw.get("id")),
        "topic": _text(raw.get("topic")),
        "host_id": _text(raw.get("host_id")),
        "host_name": _text(raw.get("host")) or _text(raw.get("user_name")),
        "host_email": _text(raw.get("email")) or _text(raw.get("user_email")),
        "user_type": _text(raw.get("user_type")),
        "dept": _text(raw.get("dept")),
        "start_time": iso_seconds_or_none(start),
        "end_time": iso_seconds_or_none(end),
        "duration": duration,
        "zoom_participant_count": _int(raw.get("participants", raw.get("participants_count"))),
        "participant_count": participant_count,
        "session_count": session_count,
        "source": source,
        "harvest_day": day,
    }
    for flag in MEETING_FLAGS:
        doc[flag] = _flag(raw.get(flag))
    if isinstance(raw.get("custom_keys"), list):
        doc["custom_keys"] = [k for k in raw["custom_keys"] if isinstance(k, dict)]
    if isinstance(raw.get("tracking_fields"), list):
        doc["tracking_fields"] = [k for k in raw["tracking_fields"] if isinstance(k, dict)]
    if error is not None:
        doc["participants_error"] = error
    return doc
