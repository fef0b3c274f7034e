"""`harvest doctor`'s Elasticsearch check: reachable, which server, how authenticated, loaded.

Kept apart from the sink: it reads the environment itself (it reports on it) and answers in
seconds, with one attempt and a short timeout.
"""

from __future__ import annotations

import os

from harvester.elasticsearch.client import describe_host, es_client
from harvester.elasticsearch.errors import es_errors
from harvester.errors import ConfigError, HarvestError
from harvester.http import RetryPolicy


def doctor_check() -> list[tuple[str, str, str]]:
    """Reachable, which server and version, how authenticated, whether templates and pipelines
    are loaded."""
    if not os.environ.get("ES_HOST"):
        return [("elasticsearch", "not configured", "ES_HOST is not set")]
    try:
        client = es_client(timeout=min(RetryPolicy.from_env().timeout, 10.0))
    except ConfigError as exc:
        return [("elasticsearch", "failed", exc.format_message())]
    host = describe_host(client)
    try:
        with es_errors("info"):
            server = client.server
        with es_errors("cluster health"):
            health = "serverless" if server.serverless else client.health().get("status", "unknown")
        from harvester.elasticsearch.loading import expected_objects

        missing = []
        templates, pipelines = expected_objects()
        for name in templates:
            with es_errors("index templates"):
                if client.get_index_template(name) is None:
                    missing.append(f"template {name}")
        for name in pipelines:
            with es_errors("ingest pipelines"):
                if client.get_pipeline(name) is None:
                    missing.append(f"pipeline {name}")
    except HarvestError as exc:
        return [("elasticsearch", "failed", f"{host}: {exc}")]
    finally:
        client.close()
    auth = {"sigv4": f"AWS SigV4 ({'/'.join(client.settings.sigv4 or ())})"}.get(
        client.settings.auth, "API key" if client.settings.api_key else
        "basic auth" if client.settings.basic else "no auth")
    detail = f"{host}: {server.label}, cluster {health}, {auth}"
    if missing:
        return [("elasticsearch", "failed", f"{detail}; not loaded: {', '.join(missing[:4])}"
                 f"{' ...' if len(missing) > 4 else ''} (run: harvest setup load-index-templates)")]
    return [("elasticsearch", "ok", f"{detail}; {len(templates)} templates and {len(pipelines)} "
             "pipelines loaded")]
