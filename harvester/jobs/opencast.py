"""Opencast settings for a run, read once from the options and the settings registry."""

from __future__ import annotations

from harvester.config import env
from harvester.errors import ConfigError
from harvester.http import RetryPolicy
from harvester.sources.opencast.client import AUTH_SCHEMES, OpencastSettings


def opencast_settings(host: str, user: str, password: str, *,
                      policy: RetryPolicy | None = None) -> OpencastSettings:
    """One node's settings: the given host and credentials, OPENCAST_AUTH, the retry policy.

    Engage and admin nodes share credentials and OPENCAST_AUTH, so a second node is
    `settings.on(other_host)` rather than a second read of the environment.
    """
    auth = (env("OPENCAST_AUTH") or "").strip().lower()
    if auth not in AUTH_SCHEMES:
        raise ConfigError(f"invalid value for OPENCAST_AUTH: {auth!r} (digest or basic)")
    return OpencastSettings(host, user, password, auth=auth, policy=policy or RetryPolicy.from_env())
