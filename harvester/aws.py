"""boto3 clients configured the same way everywhere: one retry policy, the user's region.

Endpoints and credentials come from boto3's own configuration chain (AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_SQS, profiles, instance roles); nothing is hard-coded here. ``attempts`` always
means attempts in all, the first one included (botocore's ``total_max_attempts``), the same
number HARVEST_RETRY_ATTEMPTS gives every other upstream.
"""

from __future__ import annotations

import os
from typing import Any

from harvester.errors import ConfigError

NO_CREDENTIALS = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
                  "or give the host a role")


def credentials_error(service: str, exc: Exception) -> ConfigError | None:
    """A configuration error (exit 2) when boto3 found no credentials, else None."""
    from botocore.exceptions import NoCredentialsError, PartialCredentialsError

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ConfigError(f"no AWS credentials for {service}: {NO_CREDENTIALS}")
    return None


def region() -> str | None:
    """AWS_REGION, else AWS_DEFAULT_REGION; botocore alone reads only the latter (and profiles)."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def client(service: str, *, attempts: int | None = None, retry_mode: str = "standard",
           max_pool_connections: int = 10, require_credentials: bool = False) -> Any:
    """A boto3 client for ``service``.

    ``retry_mode`` "adaptive" also slows the client down when the service throttles (for APIs
    with low request quotas, such as MediaConvert's). With ``require_credentials`` a host
    without credentials is a configuration error (exit 2) before any call is made.
    """
    import boto3
    from botocore.config import Config
    from botocore.exceptions import NoRegionError

    if attempts is None:
        from harvester.config import env_int

        attempts = env_int("HARVEST_RETRY_ATTEMPTS", minimum=1) or 1
    config = Config(retries={"mode": retry_mode, "total_max_attempts": attempts},
                    connect_timeout=10, read_timeout=30, max_pool_connections=max_pool_connections)
    session = boto3.session.Session(region_name=region())
    if session.region_name is None:
        raise ConfigError(f"no AWS region configured for {service}: set AWS_REGION "
                               "(or AWS_DEFAULT_REGION, or a region in the AWS profile)")
    if require_credentials and session.get_credentials() is None:
        raise ConfigError(f"no AWS credentials for {service}: {NO_CREDENTIALS}")
    try:
        return session.client(service, config=config)
    except NoRegionError:  # pragma: no cover - the region was checked above
        raise ConfigError(f"no AWS region configured for {service}: set AWS_REGION") from None
