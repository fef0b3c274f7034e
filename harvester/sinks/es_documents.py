"""What a record becomes on its way into Elasticsearch: the documents analysts already query.

The original deployment indexed useractions through Logstash (SQS in, Elasticsearch out). Its
filters added `@timestamp` (from `timestamp`), `@version`, `hostname` (a copy of `ip`),
`geoip.*` (from `ip`) and `ua.*` (the useragent filter's fields), and wrote one document per
action (`document_id => "%{action_id}"`) into `<prefix>-%{+YYYY.MM.dd}`. Real analyses
date-histogram on `@timestamp`, measure distances on `geoip.location` and split by browser
on `ua.*`, so `--output es` writes the same documents.

The shaping is done here, in Python, not in an ingest pipeline: it then gives the same
documents on Elasticsearch 7.10 to 9 and on OpenSearch, including Amazon's managed clusters,
which have no geoip processor, and clusters without internet access, which never get the
databases Elasticsearch downloads. The user agent is parsed with ua-parser, the Python port
of the same uap-core rules the Logstash filter and Elasticsearch's user_agent processor use,
and written twice: with the Logstash filter's names (`ua.*`) and with ECS names
(`user_agent.*`, what the user_agent processor writes). Geolocation needs a GeoLite2 City
file (`GEOLITE_PATH`, as in the original `.env`); without one, the ingest pipeline's geoip
processor fills `geoip` where the cluster can (with Elasticsearch's own field names; only
`geoip.location` is common to both). The record sent to SQS or written to files is unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from harvester.datasets import Dataset
from harvester.geoip import GeoLite

Shaper = Callable[[dict], dict]

_JODA = (("yyyy", "%Y"), ("YYYY", "%Y"), ("MM", "%m"), ("dd", "%d"))
_PATTERN = re.compile(r"%\{\+([^}]*)\}")


def dated_index(base: str, day: str) -> str:
    """The index of a record of `day` (YYYY.MM.DD): `base-YYYY.MM.DD`, or `base` with its
    Logstash-style date (`useractions-prod-%{+YYYY.MM.dd}`) filled in."""
    if "%{+" not in base:
        return f"{base}-{day}"
    when = datetime.strptime(day, "%Y.%m.%d")

    def fill(match: re.Match) -> str:
        fmt = match.group(1)
        for joda, strf in _JODA:
            fmt = fmt.replace(joda, strf)
        return when.strftime(fmt)

    return _PATTERN.sub(fill, base)


def _version(*parts: str | None) -> str | None:
    """uap-core version segments joined as the parsers print them ("10.12.6")."""
    segments = [p for p in parts if p]
    return ".".join(segments) or None


@lru_cache(maxsize=100_000)
def parse_user_agent(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(`ua` with the Logstash useragent filter's names, ECS `user_agent`) for one string."""
    from ua_parser import parse

    result = parse(text).with_defaults()
    agent, os_, device = result.user_agent, result.os, result.device
    os_version = _version(os_.major, os_.minor, os_.patch, os_.patch_minor)
    ua: dict[str, Any] = {
        "name": agent.family,
        "os": f"{os_.family} {os_version}" if os_version else os_.family,
        "os_name": os_.family,
        "os_major": os_.major,
        "os_minor": os_.minor,
        "device": device.family,
        "major": agent.major,
        "minor": agent.minor,
        "patch": agent.patch,
        "build": agent.patch_minor,
    }
    ecs: dict[str, Any] = {
        "original": text,
        "name": agent.family,
        "version": _version(agent.major, agent.minor, agent.patch, agent.patch_minor),
        "os": {"name": os_.family, "version": os_version,
               "full": f"{os_.family} {os_version}" if os_version else os_.family},
        "device": {"name": device.family},
    }
    ecs["os"] = {k: v for k, v in ecs["os"].items() if v is not None}
    return ({k: v for k, v in ua.items() if v is not None},
            {k: v for k, v in ecs.items() if v is not None})


def useraction_document(record: Mapping[str, Any], geolite: GeoLite | None = None) -> dict:
    """The record plus what the Logstash stage added (the record itself is left untouched)."""
    doc = dict(record)
    if record.get("timestamp"):
        doc["@timestamp"] = record["timestamp"]
    doc["@version"] = "1"
    ip = record.get("ip")
    if ip:
        doc["hostname"] = ip
    agent = record.get("useragent")
    if isinstance(agent, str) and agent.strip():
        ua, ecs = parse_user_agent(agent)
        doc["ua"] = dict(ua)
        doc["user_agent"] = {**ecs, "os": dict(ecs["os"]), "device": dict(ecs["device"])}
    if geolite is not None:
        located = geolite.lookup(ip) if isinstance(ip, str) else None
        if located:
            doc["geoip"] = dict(located)
    return doc


def zoom_session_document(record: Mapping[str, Any], geolite: GeoLite | None = None) -> dict:
    """A Zoom session with `geoip` from its address (either document style); as it is without a database."""
    if geolite is None:
        return dict(record)
    doc = dict(record)
    located = geolite.lookup(record.get("ip_address") or record.get("ip"))
    if located:
        doc["geoip"] = dict(located)
        # original-style sessions: country and city when Zoom's `location` did not give them
        if "country" in doc and doc["country"] is None:
            doc["country"] = located.get("country_code2")
        if "city" in doc and doc["city"] is None:
            doc["city"] = located.get("city_name")
    return doc


def shaper_for(dataset: Dataset, geolite: GeoLite | None) -> Shaper | None:
    """The shaping function of a dataset's documents, or None when they go in as they are.

    Zoom sessions are located by `harvest zoom` itself (as the original did), so that its
    stdout output and archive carry `geoip` too.
    """
    if dataset.name == "useractions":
        return lambda record: useraction_document(record, geolite)
    return None


def needs_geolite(dataset: Dataset) -> bool:
    return dataset.name == "useractions"
