"""Generate kibana/harvester.ndjson: a data view per dataset and the dashboards over them.

Kibana saved objects are verbose JSON-in-JSON; writing them by hand invites typos in field
names that only show up as an empty panel. They are generated from this short description
instead, and a test checks that every field a panel uses is mapped (and aggregatable) in
the index templates and that the shipped file is what this script produces.

The objects use the 7.17 export format (aggregation-based visualizations), which every
Kibana 8.x and 9.x imports and migrates on import.

    python kibana/generate.py        # rewrite kibana/harvester.ndjson
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).with_name("harvester.ndjson")
VERSION = "7.17.0"

# data view id -> (index pattern, time field)
DATA_VIEWS: dict[str, tuple[str, str]] = {
    "harvester-useractions": ("useractions-*", "@timestamp"),
    "harvester-episodes": ("episodes*", "start"),
    "harvester-meetings": ("meetings-*", "start_time"),
    "harvester-sessions": ("sessions-*", "join_time"),
    "harvester-zoom-meetings": ("zoom-meetings-*", "start_time"),
    "harvester-zoom-sessions": ("zoom-sessions-*", "join_time"),
    "harvester-player-streams": ("player-streams-*", "earliest_time"),
    "harvester-player-videos": ("player-videos-*", "date"),
    "harvester-mediaconvert-jobs": ("mediaconvert-jobs-*", "submit_time"),
}


def over_time(title: str, view: str, *, metric: dict | None = None, split: str | None = None,
              kind: str = "histogram") -> dict:
    aggs = [metric or {"type": "count", "schema": "metric", "params": {}},
            {"type": "date_histogram", "schema": "segment",
             "params": {"field": DATA_VIEWS[view][1], "interval": "auto", "min_doc_count": 1}}]
    if split:
        aggs.append({"type": "terms", "schema": "group",
                     "params": {"field": split, "size": 5, "order": "desc", "orderBy": "1"}})
    return {"title": title, "view": view, "type": kind, "aggs": aggs}


def top(title: str, view: str, field: str, *, size: int = 10, metrics: list[dict] | None = None,
        kind: str = "table") -> dict:
    aggs = list(metrics or [{"type": "count", "schema": "metric", "params": {}}])
    aggs.append({"type": "terms", "schema": "bucket" if kind == "table" else "segment",
                 "params": {"field": field, "size": size, "order": "desc", "orderBy": "1"}})
    return {"title": title, "view": view, "type": kind, "aggs": aggs}


def metric(agg: str, field: str, label: str | None = None) -> dict:
    params = {"field": field}
    if label:
        params["customLabel"] = label
    return {"type": agg, "schema": "metric", "params": params}


DASHBOARDS: dict[str, dict] = {
    "harvester-useractions-dashboard": {
        "title": "Opencast viewing (useractions)",
        "description": "Views over time, top episodes and courses, live vs on-demand, where viewers are.",
        "panels": [
            over_time("Actions over time, live vs on-demand", "harvester-useractions", split="is_live"),
            over_time("Viewing sessions over time", "harvester-useractions",
                      metric=metric("cardinality", "session_id", "sessions"), kind="line"),
            top("Top episodes", "harvester-useractions", "episode.title.keyword",
                metrics=[metric("cardinality", "session_id", "sessions"),
                         {"type": "count", "schema": "metric", "params": {}}]),
            top("Top courses", "harvester-useractions", "episode.course.keyword",
                metrics=[metric("cardinality", "huid", "viewers")]),
            top("Live (1) vs on-demand (0)", "harvester-useractions", "is_live", kind="pie"),
            top("Action types", "harvester-useractions", "action.type", kind="pie"),
            top("Viewer countries", "harvester-useractions", "geoip.country_name", kind="pie"),
            top("Browsers", "harvester-useractions", "ua.name", kind="pie"),
            top("Operating systems", "harvester-useractions", "ua.os_name", kind="pie"),
        ],
    },
    "harvester-episodes-dashboard": {
        "title": "Opencast episodes",
        "description": "Episodes by course and type, and which were streamed live.",
        "panels": [
            over_time("Episodes by start date", "harvester-episodes"),
            top("Episodes per course", "harvester-episodes", "course.keyword", size=20),
            top("Episode types", "harvester-episodes", "type", kind="pie"),
            top("Live streamed", "harvester-episodes", "live_stream", kind="pie"),
            top("Live times from", "harvester-episodes", "live_source", kind="pie"),
            top("Longest episodes", "harvester-episodes", "title.keyword",
                metrics=[metric("max", "duration", "duration (ms)")]),
        ],
    },
    "harvester-zoom-original-dashboard": {
        "title": "Zoom meetings and participants",
        "description": "Meetings and participants per day, hosts, devices, where participants are "
                       "(meetings-*, sessions-*: the original document style).",
        "panels": [
            over_time("Meetings per day", "harvester-meetings"),
            over_time("Participant sessions per day", "harvester-meetings",
                      metric=metric("sum", "participant_sessions", "participant sessions")),
            over_time("Sessions per day", "harvester-sessions", kind="line"),
            top("Busiest hosts", "harvester-meetings", "host.email",
                metrics=[{"type": "count", "schema": "metric", "params": {}},
                         metric("sum", "duration", "seconds")]),
            top("Devices", "harvester-sessions", "device", kind="pie"),
            top("Participant countries", "harvester-sessions", "country", kind="pie"),
        ],
    },
    "harvester-zoom-dashboard": {
        "title": "Zoom meetings and participants (current style)",
        "description": "Meetings and participants per day, durations, devices.",
        "panels": [
            over_time("Meetings per day", "harvester-zoom-meetings"),
            over_time("Participants per day", "harvester-zoom-meetings",
                      metric=metric("sum", "participant_count", "participants")),
            over_time("Participant sessions per day", "harvester-zoom-sessions", kind="line"),
            top("Busiest hosts", "harvester-zoom-meetings", "host_email",
                metrics=[{"type": "count", "schema": "metric", "params": {}},
                         metric("sum", "duration", "seconds")]),
            top("Departments", "harvester-zoom-meetings", "dept", kind="pie"),
            top("Devices", "harvester-zoom-sessions", "device", kind="pie"),
            top("Session length by role", "harvester-zoom-sessions", "role",
                metrics=[metric("avg", "duration", "average seconds")]),
        ],
    },
    "harvester-player-dashboard": {
        "title": "Video player: buffering and completion",
        "description": "Streams over time, and buffering and completion per video.",
        "panels": [
            over_time("Streams over time", "harvester-player-streams"),
            over_time("Buffering events over time", "harvester-player-streams",
                      metric=metric("sum", "buffering_events", "buffering events"), kind="line"),
            top("Completion rate per video", "harvester-player-videos", "media_id", size=20,
                metrics=[metric("avg", "completion_rate", "completion rate"),
                         metric("sum", "streams", "streams")]),
            top("Buffering ratio per video", "harvester-player-videos", "media_id", size=20,
                metrics=[metric("avg", "buffering_ratio", "buffering ratio"),
                         metric("sum", "viewers", "viewers")]),
            top("Finished playback", "harvester-player-streams", "finished_playback", kind="pie"),
        ],
    },
    "harvester-mediaconvert-dashboard": {
        "title": "MediaConvert jobs",
        "description": "Jobs by status over time, durations and failures.",
        "panels": [
            over_time("Jobs by status", "harvester-mediaconvert-jobs", split="status"),
            over_time("Median transcoding time", "harvester-mediaconvert-jobs",
                      metric={"type": "median", "schema": "metric",
                              "params": {"field": "progressing_duration",
                                         "customLabel": "progressing seconds"}}, kind="line"),
            top("Failures by error code", "harvester-mediaconvert-jobs", "error_code",
                metrics=[{"type": "count", "schema": "metric", "params": {}}]),
            top("Durations per queue", "harvester-mediaconvert-jobs", "queue",
                metrics=[metric("avg", "queued_duration", "avg queued s"),
                         metric("avg", "progressing_duration", "avg progressing s"),
                         metric("max", "total_duration", "max total s")]),
            top("Status", "harvester-mediaconvert-jobs", "status", kind="pie"),
        ],
    },
}


def _search_source(with_index: bool) -> str:
    doc: dict = {"query": {"query": "", "language": "kuery"}, "filter": []}
    if with_index:
        doc["indexRefName"] = "kibanaSavedObjectMeta.searchSourceJSON.index"
    return json.dumps(doc)


def _vis_params(kind: str) -> dict:
    if kind == "table":
        return {"perPage": 10, "showPartialRows": False, "showMetricsAtAllLevels": False,
                "showTotal": False, "totalFunc": "sum", "percentageCol": ""}
    if kind == "pie":
        return {"type": "pie", "addTooltip": True, "addLegend": True, "legendPosition": "right",
                "isDonut": True, "labels": {"show": False, "values": True, "last_level": True,
                                            "truncate": 100}}
    return {"type": kind, "addTooltip": True, "addLegend": True, "legendPosition": "right",
            "times": [], "addTimeMarker": False}


def visualization(vis_id: str, panel: dict) -> dict:
    aggs = [{"id": str(n), "enabled": True, **agg} for n, agg in enumerate(panel["aggs"], 1)]
    vis_state = {"title": panel["title"], "type": panel["type"], "aggs": aggs,
                 "params": _vis_params(panel["type"])}
    return {
        "id": vis_id, "type": "visualization",
        "attributes": {"title": panel["title"], "description": "", "version": 1,
                       "uiStateJSON": "{}", "visState": json.dumps(vis_state),
                       "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source(True)}},
        "references": [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index",
                        "type": "index-pattern", "id": panel["view"]}],
        "migrationVersion": {"visualization": VERSION}, "coreMigrationVersion": VERSION,
    }


def data_view(view_id: str) -> dict:
    pattern, time_field = DATA_VIEWS[view_id]
    return {"id": view_id, "type": "index-pattern",
            "attributes": {"title": pattern, "timeFieldName": time_field},
            "references": [], "migrationVersion": {"index-pattern": "7.11.0"},
            "coreMigrationVersion": VERSION}


def dashboard(dash_id: str, spec: dict) -> tuple[dict, list[dict]]:
    visualizations, panels, refs = [], [], []
    for n, panel in enumerate(spec["panels"]):
        vis_id = f"{dash_id}-vis-{n + 1}"
        visualizations.append(visualization(vis_id, panel))
        panels.append({"version": VERSION, "type": "visualization", "panelIndex": str(n + 1),
                       "gridData": {"x": (n % 2) * 24, "y": (n // 2) * 15, "w": 24, "h": 15,
                                    "i": str(n + 1)},
                       "embeddableConfig": {"enhancements": {}}, "panelRefName": f"panel_{n}"})
        refs.append({"name": f"panel_{n}", "type": "visualization", "id": vis_id})
    obj = {"id": dash_id, "type": "dashboard",
           "attributes": {"title": spec["title"], "description": spec["description"], "version": 1,
                          "hits": 0, "timeRestore": True, "timeFrom": "now-30d", "timeTo": "now",
                          "refreshInterval": {"pause": True, "value": 0},
                          "optionsJSON": json.dumps({"useMargins": True, "syncColors": False,
                                                     "hidePanelTitles": False}),
                          "panelsJSON": json.dumps(panels),
                          "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source(False)}},
           "references": refs, "migrationVersion": {"dashboard": "7.17.0"},
           "coreMigrationVersion": VERSION}
    return obj, visualizations


def saved_objects() -> list[dict]:
    objects = [data_view(v) for v in DATA_VIEWS]
    for dash_id, spec in DASHBOARDS.items():
        dash, visualizations = dashboard(dash_id, spec)
        objects += visualizations
        objects.append(dash)
    return objects


def render() -> str:
    return "".join(json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n" for obj in saved_objects())


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")  # noqa: T201 - a developer tool, not the harvester
