"""Index templates and ingest pipelines: reading the shipped files and loading them into a cluster.

The JSON files in `index_templates/` are the single definition of every mapping and
pipeline (`<name>.json` is the composable template `<name>`, `pipelines/<id>.json` the
ingest pipeline `<id>`). Loading is idempotent and cheap to repeat: each object is stamped
with the SHA-256 of the body sent in `_meta.content_sha256`, so an unchanged object is not
written again, and the report says what was created, updated or left alone. Comparing the
stored body instead would not work for templates: the server normalises settings (numbers
become strings, dotted keys become nested objects) and every run would look like an update.
Each body is first adapted to the server (harvester.elasticsearch.templates): the same files
load on Elasticsearch 7.10+, 8, 9 and OpenSearch. `setup load-index-templates`, `dev init`
and the sink's missing-template check all use this module.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harvester.errors import ConfigError, ServiceError
from harvester.resources import resource

if TYPE_CHECKING:
    from harvester.elasticsearch.client import SearchClient

log = logging.getLogger("harvester.setup")

TEMPLATES_DIR = resource("index_templates")


@dataclass(frozen=True)
class EsObject:
    kind: str  # "pipeline" or "index template"
    name: str
    body: dict
    digest: str
    path: Path


def _read(path: Path) -> tuple[dict, str]:
    try:
        raw = path.read_bytes()
        body = json.loads(raw)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ConfigError(f"{path} must hold one JSON object")
    return body, hashlib.sha256(raw).hexdigest()


def read_objects(directory: Path = TEMPLATES_DIR) -> Iterator[EsObject]:
    """Pipelines first (a template may name one as its default), then templates, by name."""
    if not directory.is_dir():
        raise ConfigError(f"{directory} is not a directory", hint="'--templates-dir'")
    for path in sorted((directory / "pipelines").glob("*.json")):
        body, digest = _read(path)
        yield EsObject("pipeline", path.stem, body, digest, path)
    for path in sorted(directory.glob("*.json")):
        body, digest = _read(path)
        yield EsObject("index template", path.stem, body, digest, path)


def expected_objects(directory: Path = TEMPLATES_DIR) -> tuple[list[str], list[str]]:
    """(template names, pipeline ids) that a loaded cluster must have."""
    templates = sorted(p.stem for p in directory.glob("*.json"))
    pipelines = sorted(p.stem for p in (directory / "pipelines").glob("*.json"))
    return templates, pipelines


def _prepared(client: SearchClient, obj: EsObject, processors: set[str] | None) -> tuple[dict, str]:
    """(body to send, its digest) for this server: adapted, and stamped where it can be."""
    from harvester.elasticsearch.templates import adapt_pipeline, adapt_template, digest

    server = client.server
    if obj.kind == "pipeline":
        body = adapt_pipeline(obj.name, obj.body, server, processors)
    else:
        body = adapt_template(obj.body, server)
    sha = digest(body)
    if obj.kind == "index template" or server.pipeline_meta:
        body["_meta"] = {**body.get("_meta", {}), "content_sha256": sha}
    return body, sha


def _stored_digest(client: SearchClient, obj: EsObject, body: dict) -> str | None:
    """The digest stamped on the object in the cluster; "" when it exists but differs or is
    unstamped; None if absent. Where pipelines cannot carry `_meta`, a pipeline stored exactly
    as it would be sent counts as stamped."""
    from harvester.elasticsearch.errors import call
    from harvester.elasticsearch.templates import digest

    if obj.kind == "pipeline":
        stored = call(f"GET pipeline {obj.name}", lambda: client.get_pipeline(obj.name))
        if stored is None:
            return None
        if "_meta" not in body:
            return digest(body) if stored == body else ""
        return str(stored.get("_meta", {}).get("content_sha256", ""))
    stored = call(f"GET index template {obj.name}", lambda: client.get_index_template(obj.name))
    if stored is None:
        return None
    return str(stored.get("_meta", {}).get("content_sha256", ""))


def load_objects(client: SearchClient, directory: Path = TEMPLATES_DIR) -> list[tuple[EsObject, str]]:
    """Create or update every object that differs from its file; returns (object, outcome)."""
    from harvester.elasticsearch.errors import call

    objects = list(read_objects(directory))
    server = call("GET /", lambda: client.server)
    if not server.opensearch and server.version < (7, 8):  # pragma: no cover - refused on connect
        raise ServiceError("elasticsearch", f"{server.label} has no composable index templates (7.8+)")
    processors = None
    if any(o.kind == "pipeline" for o in objects):
        processors = call("GET _nodes/ingest", client.ingest_processors)
    results = []
    for obj in objects:
        body, sha = _prepared(client, obj, processors)
        stored = _stored_digest(client, obj, body)
        if stored == sha:
            results.append((obj, "unchanged"))
            continue
        if obj.kind == "pipeline":
            call(f"PUT pipeline {obj.name}", lambda o=obj, b=body: client.put_pipeline(o.name, b))
        else:
            call(f"PUT index template {obj.name}", lambda o=obj, b=body: client.put_index_template(o.name, b))
        outcome = "created" if stored is None else "updated"
        log.info("%s %s: %s", obj.kind, obj.name, outcome)
        results.append((obj, outcome))
    return results
