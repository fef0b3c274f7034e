"""What every sink needs to know about a kind of record: its name, its id, its date.

Sinks stay generic: SQS uses the id for FIFO de-duplication, Elasticsearch for `_id` and the
date for dated index names, the archive for its day partitions. A new harvest declares a
Dataset here instead of teaching each sink about its records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Dataset:
    name: str
    id_of: Callable[[dict], str]
    date_of: Callable[[dict], str | None]  # ISO 8601 timestamp (or date) the record belongs to
    index_prefix: str  # Elasticsearch index (dated ones get "-YYYY.MM.DD")
    dated_index: bool = True


def _field(name: str) -> Callable[[dict], str | None]:
    def get(record: dict) -> str | None:
        value = record.get(name)
        return None if value is None else str(value)

    return get


USERACTIONS = Dataset("useractions", lambda r: str(r["action_id"]), _field("timestamp"),
                      "useractions")
EPISODES = Dataset("episodes", lambda r: str(r["mpid"]), _field("start"), "episodes",
                   dated_index=False)

REGISTRY: dict[str, Dataset] = {d.name: d for d in (USERACTIONS, EPISODES)}


def register(dataset: Dataset) -> Dataset:
    """Declare a dataset (idempotent); returns it for assignment at module level."""
    REGISTRY.setdefault(dataset.name, dataset)
    return REGISTRY[dataset.name]

# Datasets of the other harvests. Each record carries the id field named here; the
# Elasticsearch index templates in index_templates/ cover these index names.
ZOOM_MEETINGS = register(Dataset("zoom_meetings", lambda r: str(r["uuid"]), _field("start_time"),
                                 "zoom-meetings"))
ZOOM_SESSIONS = register(Dataset("zoom_sessions", lambda r: str(r["session_id"]),
                                 _field("join_time"), "zoom-sessions"))
PLAYER_STREAMS = register(Dataset("player_streams", lambda r: str(r["stream_id"]),
                                  _field("earliest_time"), "player-streams"))
PLAYER_VIDEOS = register(Dataset("player_videos", lambda r: str(r["video_id"]), _field("date"),
                                 "player-videos"))
MEDIACONVERT_JOBS = register(Dataset("mediaconvert_jobs", lambda r: str(r["job_id"]),
                                     _field("submit_time"), "mediaconvert-jobs"))


def original_session_id(doc: dict) -> str:
    """The original harvester's session `_id`: meeting uuid + user_id. A participant who
    rejoins keeps it for the first stay; later stays get `#<join time>` so none overwrites
    another (harvester.sources.zoom.original_style)."""
    who = doc.get("user_id") or doc.get("id") or doc.get("user_name") or ""
    base = f"{doc.get('meeting') or ''}{who}"
    stay = doc.get("stay") or 1
    return base if stay == 1 else f"{base}#{doc.get('join_time') or stay}"


# Zoom documents in the original harvester's shape (ZOOM_DOC_STYLE=original) and indices.
MEETINGS = register(Dataset("meetings", lambda r: str(r["uuid"]), _field("start_time"), "meetings"))
SESSIONS = register(Dataset("sessions", original_session_id, _field("join_time"), "sessions"))
