"""`harvest dev`: a local Elasticsearch + Kibana (docker compose) ready to look at the data.

`init` is the one command an analyst needs: it starts the stack, waits until Elasticsearch
answers and its cluster is at least yellow, loads the index templates and pipelines, waits
for Kibana and imports the saved objects (data views and dashboards) through Kibana's import
API. Every step is idempotent, so `init` is also how to update a running stack.

Docker, readiness and imports live in harvester.devstack; these commands call it and print.
"""

from __future__ import annotations

import logging

import click

from harvester.cli import HarvestGroup
from harvester.config import EnvOption, mask_url
from harvester.devstack import compose, init_stack, wait_for_elasticsearch, wait_for_kibana
from harvester.errors import HarvestError

log = logging.getLogger("harvester.dev")

KOPF_TEXT = """\
kopf was a site plugin for Elasticsearch 2. Site plugins were removed in Elasticsearch 5 and
kopf is no longer maintained, so there is nothing to install.

Kibana replaces it, and `harvest dev init` starts one next to a local Elasticsearch:
  - Dev Tools > Console          {kibana}/app/dev_tools#/console   (run any REST request)
  - Stack Management > Index Management   indices, index templates, data streams
  - Stack Management > Ingest Pipelines   the harvester-* pipelines
  - Stack Monitoring / _cat APIs          nodes, shards, cluster health
For a remote cluster, point KIBANA_URL at its Kibana; the same pages are there."""


# -- commands ------------------------------------------------------------------------------------
@click.group(cls=HarvestGroup, aliases={"install_kopf": "install-kopf"})
def dev() -> None:
    """Local Elasticsearch + Kibana (docker/docker-compose.yml) with templates and dashboards."""


@dev.command()
def up() -> None:
    """Start Elasticsearch and Kibana in the background."""
    compose("up", "-d")
    log.info("started elasticsearch (127.0.0.1:9200) and kibana (127.0.0.1:5601)")


@dev.command()
@click.option("--volumes", is_flag=True, help="Also delete the Elasticsearch data volume.")
def down(volumes: bool) -> None:
    """Stop the stack (data is kept unless --volumes)."""
    compose("down", *(["--volumes"] if volumes else []))
    log.info("stopped the local stack%s", " and deleted its data" if volumes else "")


@dev.command()
@click.option("--es-host", cls=EnvOption, envvar="ES_HOST", default="localhost:9200", show_default=True)
@click.option("--kibana-url", cls=EnvOption, envvar="KIBANA_URL", default="http://localhost:5601",
              show_default=True)
def status(es_host: str, kibana_url: str) -> None:
    """Containers, Elasticsearch health and Kibana status."""
    click.echo(compose("ps"))
    try:
        state = wait_for_elasticsearch(es_host, timeout=0)
        click.echo(f"elasticsearch {mask_url(es_host)}: cluster {state}")
    except HarvestError as exc:
        click.echo(f"elasticsearch {mask_url(es_host)}: {exc}")
    try:
        wait_for_kibana(kibana_url.rstrip("/"), timeout=0)
        click.echo(f"kibana {kibana_url}: available")
    except HarvestError as exc:
        click.echo(f"kibana {kibana_url}: {exc}")


@dev.command()
@click.option("--es-host", cls=EnvOption, envvar="ES_HOST", default="localhost:9200", show_default=True)
@click.option("--kibana-url", cls=EnvOption, envvar="KIBANA_URL", default="http://localhost:5601",
              show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0), default=300, show_default=True,
              help="Seconds to wait for each service to become ready.")
@click.option("--no-up", is_flag=True, help="Use a stack that is already running (skip docker compose).")
def init(es_host: str, kibana_url: str, timeout: float, no_up: bool) -> None:
    """Start the stack, wait for it, load templates and pipelines, import Kibana dashboards.

    \b
    Examples:
      harvest dev init
      harvest dev init --no-up --es-host http://es.internal:9200 --kibana-url http://kibana.internal:5601
    """
    changed, current, count = init_stack(es_host, kibana_url, timeout, up=not no_up)
    log.info("kibana: imported %d saved objects (data views and dashboards); open %s/app/dashboards",
             count, kibana_url.rstrip("/"), extra={"saved_objects": count, "templates_changed": changed})


@dev.command("install-kopf")
@click.option("--kibana-url", cls=EnvOption, envvar="KIBANA_URL", default="http://localhost:5601")
def install_kopf(kibana_url: str) -> None:
    """Explain what replaces the kopf plugin (nothing is installed)."""
    click.echo(KOPF_TEXT.format(kibana=kibana_url.rstrip("/")))
