"""The shipped templates and pipelines, adapted to the server they are loaded into.

The files in `index_templates/` are written for Elasticsearch 8/9. What the other supported
servers lack, and what is sent there instead:

- `flattened` (Elasticsearch's default distribution only): OpenSearch 2.7+ gets its
  `flat_object`; the OSS 7.10 build (Amazon Elasticsearch Service) and OpenSearch 1 get an
  object with `enabled: false`, kept in `_source` and returned, but not searchable;
- `_meta` on ingest pipelines (Elasticsearch 8.0+): left out elsewhere; whether a stored
  pipeline is current is then decided by comparing it with what would be sent (pipelines
  are stored as sent, unlike templates, whose settings the server normalises);
- ingest processors the server does not have (Amazon OpenSearch Service has no `geoip`):
  left out, with a warning naming them, so the rest of the pipeline still runs.

Composable templates themselves (`_index_template`, `priority`, `_meta`) exist on every
supported server (Elasticsearch 7.8+, every OpenSearch).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging

from harvester.elasticsearch.client import ServerInfo

log = logging.getLogger("harvester.setup")


def digest(body: dict) -> str:
    """SHA-256 of a body as sent (canonical JSON), stamped into `_meta.content_sha256`."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def adapt_template(body: dict, server: ServerInfo) -> dict:
    """A composable template as this server accepts it."""
    out = copy.deepcopy(body)
    template = out.get("template")
    mappings = template.get("mappings") if isinstance(template, dict) else None
    if not isinstance(mappings, dict):
        return out  # not a composable template: the server says what is wrong with it
    if isinstance(mappings.get("properties"), dict):
        _adapt_properties(mappings["properties"], server)
    for entry in mappings.get("dynamic_templates") or []:
        for spec in entry.values() if isinstance(entry, dict) else []:
            if isinstance(spec, dict) and isinstance(spec.get("mapping"), dict):
                spec["mapping"] = _adapt_field(spec["mapping"], server)
    return out


def _adapt_properties(props: dict, server: ServerInfo) -> None:
    for name, spec in list(props.items()):
        if isinstance(spec, dict):
            props[name] = _adapt_field(spec, server)


def _adapt_field(spec: dict, server: ServerInfo) -> dict:
    if spec.get("type") == "flattened":
        kind = server.flattened_type
        if kind == "flattened":
            return spec
        return {"type": kind} if kind else {"type": "object", "enabled": False}
    if isinstance(spec.get("properties"), dict):
        _adapt_properties(spec["properties"], server)
    return spec


def adapt_pipeline(name: str, body: dict, server: ServerInfo, processors: set[str] | None) -> dict:
    """An ingest pipeline as this server accepts it (see the module's list)."""
    out = copy.deepcopy(body)
    if not server.pipeline_meta:
        out.pop("_meta", None)
    if processors is not None:
        kept, dropped = [], []
        for proc in out.get("processors", []):
            (kind,) = proc.keys() if isinstance(proc, dict) and len(proc) == 1 else (None,)
            (kept if kind is None or kind in processors else dropped).append(proc)
        if dropped:
            kinds = sorted({next(iter(p)) for p in dropped})
            log.warning("pipeline %s: %s has no %s processor; loaded without it (documents lack "
                        "what it adds)", name, server.label, "/".join(kinds),
                        extra={"pipeline": name, "processors_dropped": kinds})
            out["processors"] = kept
    return out
