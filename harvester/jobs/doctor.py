"""The checks of `harvest doctor`: one (service, status, detail) per configured service.

Each check makes one cheap call with a single attempt and a short timeout, so a broken
service is reported in seconds instead of after a full retry cycle. A check never raises:
every failure becomes a "failed" line with the first line of its reason. Packages add their
own checks through a `doctor_check()` function (PLUGINS).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from harvester.config import env, mask
from harvester.errors import ConfigError

Check = tuple[str, str, str]  # (service, status, detail)

# Modules that contribute checks through a `doctor_check()` function returning [Check, ...].
PLUGINS = ("harvester.elasticsearch.doctor", "harvester.jobs.zoom", "harvester.sources.mediaconvert",
           "harvester.sinks.archive", "harvester.aggregate", "harvester.geoip")


def _run(name: str, fn: Callable[[], str]) -> Check:
    try:
        return (name, "ok", fn())
    except Exception as exc:  # every failure becomes a line, never a traceback
        return (name, "failed", _reason(exc))


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, ConfigError) or callable(getattr(exc, "format_message", None)):
        text = exc.format_message()  # type: ignore[attr-defined]  # also click's own errors
    return text.splitlines()[0][:300]


def opencast_checks() -> list[Check]:
    from harvester.http import RetryPolicy
    from harvester.jobs.opencast import opencast_settings
    from harvester.sources.opencast.client import OpencastClient

    out = []
    user, password = env("MATTERHORN_REST_USER"), env("MATTERHORN_REST_PASS")
    nodes = (("opencast engage", "MATTERHORN_ENGAGE_HOST"), ("opencast admin", "MATTERHORN_ADMIN_HOST"))
    for label, var in nodes:
        host = env(var)
        if not host:
            out.append((label, "not configured", f"set {var}"))
        elif not (user and password):
            out.append((label, "failed", "set MATTERHORN_REST_USER and MATTERHORN_REST_PASS"))
        else:
            def probe(host=host) -> str:
                policy = RetryPolicy.from_env(attempts=1, timeout=10.0)
                settings = opencast_settings(host, user, password, policy=policy)
                client = OpencastClient.from_settings(settings)
                return f"{client.base_url}: {client.check()}"

            out.append(_run(label, probe))
            if var == "MATTERHORN_ENGAGE_HOST":
                def tracking(host=host) -> str:
                    policy = RetryPolicy.from_env(attempts=1, timeout=10.0)
                    settings = opencast_settings(host, user, password, policy=policy)
                    client = OpencastClient.from_settings(settings)
                    return client.check_usertracking()

                out.append(_run("opencast usertracking", tracking))
    return out


def redis_check() -> Check:
    url = env("REDIS_URL")
    if not url:
        return ("redis", "not configured", "episode cache in memory, file lock (set REDIS_URL)")

    def probe() -> str:
        import redis

        redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5).ping()
        return f"{mask(url)}: ping ok"

    return _run("redis", probe)


def s3_check() -> Check:
    bucket, key = env("S3_HARVEST_TS_BUCKET"), env("S3_LAST_ACTION_TS_KEY")
    if not (bucket and key):
        from harvester.state.checkpoint import LocalCheckpoint, state_dir

        def local() -> str:
            from harvester.jobs.useractions import CHECKPOINT_NAME

            cp = LocalCheckpoint(state_dir() / CHECKPOINT_NAME)
            return f"checkpoint kept in {state_dir()}; " + _checkpoint_value(cp.read())

        name, status, detail = _run("s3 checkpoint", local)
        return (name, "not configured" if status == "ok" else status, detail)

    def probe() -> str:
        from harvester.state.checkpoint import S3Checkpoint

        cp = S3Checkpoint(bucket, key)
        return f"{cp.description}: " + _checkpoint_value(cp.read())

    return _run("s3 checkpoint", probe)


def _checkpoint_value(value: str | None) -> str:
    """The stored value, the zone it is read in (CHECKPOINT_TZ) and the instant that makes."""
    from harvester.jobs.useractions import checkpoint_zone, describe_zone, parse_checkpoint
    from harvester.timeutil import iso_z

    raw = env("CHECKPOINT_TZ")
    tz = checkpoint_zone(raw)
    if not value:
        return f"no checkpoint yet (CHECKPOINT_TZ={describe_zone(raw)})"
    when = parse_checkpoint(value, "", tz)
    return f"last action {value} (CHECKPOINT_TZ={describe_zone(raw)}: {iso_z(when)})"


def sqs_check() -> Check:
    queue = env("SQS_QUEUE_NAME")
    if not queue:
        return ("sqs", "not configured", "set SQS_QUEUE_NAME")

    def probe() -> str:
        from harvester.datasets import USERACTIONS
        from harvester.sinks.sqs import SqsSink

        return f"{queue}: {SqsSink(USERACTIONS, queue).check()}"

    return _run("sqs", probe)


def plugin_checks() -> list[Check]:
    out: list[Check] = []
    for module_name in PLUGINS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        fn = getattr(module, "doctor_check", None)
        if fn is None:
            continue
        try:
            out.extend(fn())
        except Exception as exc:
            out.append((module_name.rsplit(".", 1)[-1], "failed", _reason(exc)))
    return out


def all_checks() -> list[Check]:
    return [*opencast_checks(), redis_check(), s3_check(), sqs_check(), *plugin_checks()]
