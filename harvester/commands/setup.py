"""`harvest setup load-index-templates`: index templates and ingest pipelines into Elasticsearch.

What is loaded and how (idempotent, stamped with a digest, adapted to the server) lives in
harvester.elasticsearch.loading; this module is the command line over it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from harvester.cli import HarvestGroup
from harvester.config import EnvOption
from harvester.elasticsearch.loading import TEMPLATES_DIR, load_objects

log = logging.getLogger("harvester.setup")


@click.group(cls=HarvestGroup, aliases={"load_index_templates": "load-index-templates"})
def setup() -> None:
    """Prepare Elasticsearch: index templates and ingest pipelines."""


@setup.command("load-index-templates")
@click.option("-e", "--es-host", cls=EnvOption, envvar="ES_HOST", default="localhost:9200",
              show_default=True, help="Elasticsearch host:port or URL.")
@click.option("--templates-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of template JSON files (with pipelines/ inside); default: the shipped "
                   "index_templates/.")
def load_index_templates(es_host: str, templates_dir: Path | None) -> None:
    """Load every index template and ingest pipeline from index_templates/ (idempotent).

    \b
    Examples:
      harvest setup load-index-templates
      ES_HOST=https://es.example.edu:9243 ES_API_KEY=... harvest setup load-index-templates
    """
    from harvester.elasticsearch.client import describe_host, es_client

    directory = templates_dir or TEMPLATES_DIR
    client = es_client(es_host)
    try:
        results = load_objects(client, directory)
    finally:
        client.close()
    counts = {k: sum(1 for _, o in results if o == k) for k in ("created", "updated", "unchanged")}
    log.info("loaded index templates and pipelines into %s (%s): %d created, %d updated, "
             "%d unchanged", describe_host(client), client.server.label,
             counts["created"], counts["updated"], counts["unchanged"],
             extra={"templates_created": counts["created"], "templates_updated": counts["updated"],
                    "templates_unchanged": counts["unchanged"],
                    "objects": [f"{o.kind}:{o.name}:{outcome}" for o, outcome in results]})
