"""Options shared by several commands, declared once so flags and env vars cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable

import click

from harvester.config import EnvOption


def opencast_credentials(fn: Callable) -> Callable:
    """`-u/--user` (MATTERHORN_REST_USER) and `-p/--password` (MATTERHORN_REST_PASS)."""
    fn = click.option("-p", "--password", cls=EnvOption, envvar="MATTERHORN_REST_PASS",
                      help="Opencast REST password.")(fn)
    return click.option("-u", "--user", cls=EnvOption, envvar="MATTERHORN_REST_USER",
                        help="Opencast REST user.")(fn)
