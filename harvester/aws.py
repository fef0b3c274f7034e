"""boto3 clients configured the same way everywhere: standard retries, the user's region.

Endpoints and credentials come from boto3's own configuration chain (AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_SQS, profiles, instance roles); nothing is hard-coded here.
"""

from __future__ import annotations

import click


def credentials_error(service: str, exc: Exception) -> click.UsageError | None:
    """A configuration error (exit 2) when boto3 found no credentials, else None."""
    from botocore.exceptions import NoCredentialsError, PartialCredentialsError

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return click.UsageError(f"no AWS credentials for {service}: set AWS_ACCESS_KEY_ID and "
                                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or give the host a role")
    return None


def client(service: str, *, retry_mode: str = "standard", max_attempts: int = 5,
           max_pool_connections: int = 10):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import NoRegionError

    config = Config(retries={"mode": retry_mode, "max_attempts": max_attempts},
                    connect_timeout=10, read_timeout=30, max_pool_connections=max_pool_connections)
    import os

    # botocore reads only AWS_DEFAULT_REGION; AWS_REGION is what the contract (and most SDKs) use.
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    try:
        return boto3.session.Session(region_name=region).client(service, config=config)
    except NoRegionError:
        raise click.UsageError(
            f"no AWS region configured for {service}: set AWS_REGION (or AWS_DEFAULT_REGION)"
        ) from None
