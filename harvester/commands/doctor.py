"""`harvest doctor`: one line per configured service: ok, failed (with the reason), not configured.

The checks live in harvester.jobs.doctor; this prints them. Secrets never appear: hosts are
shown without credentials and every line passes the log redaction list.
"""

from __future__ import annotations

import click

from harvester.cli import HarvestCommand
from harvester.config import secret_values


@click.command(cls=HarvestCommand)
def doctor() -> None:
    """Check every configured service; exit 1 when any configured service fails.

    \b
    Example:
      harvest doctor
      ok              opencast engage   https://engage.example.edu: reachable, credentials accepted
      not configured  redis             episode cache in memory, file lock (set REDIS_URL)
    """
    from harvester.jobs.doctor import all_checks

    checks = all_checks()
    secrets = secret_values()
    width = max(len(c[0]) for c in checks)
    for name, status, detail in checks:
        for secret in secrets:
            detail = detail.replace(secret, "***")
        click.echo(f"{status:<15} {name:<{width}}  {detail}")
    if any(status == "failed" for _, status, _ in checks):
        raise click.exceptions.Exit(1)
