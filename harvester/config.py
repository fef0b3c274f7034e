"""The one settings layer shared by every command: dotenv files, the environment, options.

Precedence is option > environment > dotenv file > default. Dotenv values are placed into
``os.environ`` only where the real environment has no value, so click's ``envvar=`` support
resolves every option the same way for every command; which keys came from a file is
remembered so that ``harvest config`` can say where each value came from.

Every setting is declared once in ``SETTINGS``: example.env, ``config`` and the secret
redaction in logs are all derived from that list, so they cannot drift apart.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import click

from harvester.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    name: str
    help: str
    default: str | None = None
    secret: bool = False
    group: str = "general"


def _s(group: str, *items: tuple) -> list[Setting]:
    out = []
    for item in items:
        name, help_, *rest = item
        default = rest[0] if rest else None
        secret = rest[1] if len(rest) > 1 else False
        out.append(Setting(name, help_, default, secret, group))
    return out


SETTINGS: list[Setting] = [
    *_s(
        "general",
        ("HARVEST_STATE_DIR", "directory for local checkpoints and lock files", "./.harvest-state"),
        ("HARVEST_LOG_LEVEL", "default for --log-level (debug, info, warning or warn, error, critical)",
         "info"),
        ("HARVEST_LOG_FORMAT", "default for --log-format (text or json)", "text"),
        ("HARVEST_HTTP_TIMEOUT", "seconds to wait for any HTTP response", "30"),
        ("HARVEST_RETRY_ATTEMPTS", "attempts for a transient failure before giving up", "5"),
        ("HARVEST_RETRY_BASE_DELAY", "first retry delay in seconds; doubles each attempt", "1"),
        ("LOGGLY_TOKEN", "when set, logs are also shipped to Loggly's bulk endpoint", None, True),
        ("LOGGLY_TAGS", "comma-separated tags attached to events shipped to Loggly"),
        ("LOGGLY_URL", "Loggly bulk endpoint base", "https://logs-01.loggly.com"),
    ),
    *_s(
        "opencast",
        ("MATTERHORN_ENGAGE_HOST", "Opencast engage node: hostname or IP (plain http, as the "
         "original) or URL such as https://engage.example.edu"),
        ("MATTERHORN_ADMIN_HOST", "Opencast admin node: hostname or IP (plain http, as the "
         "original) or URL such as https://admin.example.edu"),
        ("MATTERHORN_REST_USER", "Opencast REST (system) user"),
        ("MATTERHORN_REST_PASS", "Opencast REST password", None, True),
        ("OPENCAST_AUTH", "digest (default, with X-Requested-Auth) or basic", "digest"),
        ("OPENCAST_USERTRACKING_MODE", "auto, window (start/end) or day paging", "auto"),
        ("OPENCAST_WINDOW_TZ", "how start/end are sent in window mode: UTC, or server (its own wall "
         "time, learnt from the offsets of `created`, as the original tool sent them)", "UTC"),
        ("DEFAULT_INTERVAL", "minutes to harvest when there is no --start and no checkpoint", "2"),
        ("MAX_START_END_SPAN", "refuse windows longer than this many seconds (unset: no check)"),
        ("EPISODE_CACHE_EXPIRE", "seconds an episode stays in the cache", "1800"),
        ("OPENCAST_LOOKUP_CONCURRENCY", "episode lookups in flight at once on a cold cache", "4"),
    ),
    *_s(
        "state",
        ("REDIS_URL", "Redis for the episode cache and the run lock (unset: memory + file lock)",
         None, True),
        ("S3_HARVEST_TS_BUCKET", "S3 bucket holding the useractions checkpoint"),
        ("S3_LAST_ACTION_TS_KEY", "S3 key of the useractions checkpoint"),
        ("CHECKPOINT_TZ", "zone of the bare YYYYMMDDHHmmss useractions checkpoint: UTC, an offset "
         "(-04:00) or a zone name (America/New_York); the original tool wrote server time", "UTC"),
        ("SQS_QUEUE_NAME", "SQS queue receiving useraction records"),
        ("SQS_CONCURRENCY", "SQS batch requests in flight at once (FIFO queues: always 1)", "4"),
        ("SQS_MESSAGE_GROUP_ID", "message group on FIFO queues", "harvester-useractions"),
    ),
    *_s(
        "aws",
        ("AWS_REGION", "AWS region (AWS_DEFAULT_REGION also works)"),
        ("AWS_ACCESS_KEY_ID", "AWS access key (or any other boto3 credential source)"),
        ("AWS_SECRET_ACCESS_KEY", "AWS secret key", None, True),
        ("AWS_SESSION_TOKEN", "AWS session token", None, True),
        ("AWS_ENDPOINT_URL", "endpoint for every AWS service (e.g. a local S3/SQS)"),
        ("AWS_ENDPOINT_URL_S3", "endpoint for S3 only"),
        ("AWS_ENDPOINT_URL_SQS", "endpoint for SQS only"),
        ("AWS_ENDPOINT_URL_MEDIACONVERT", "endpoint for MediaConvert only"),
    ),
    *_s(
        "elasticsearch",
        ("ES_HOST", "Elasticsearch host:port or URL", "localhost:9200"),
        ("ES_USER", "Elasticsearch user (basic auth)"),
        ("ES_PASSWORD", "Elasticsearch password", None, True),
        ("ES_API_KEY", "Elasticsearch API key (instead of user/password)", None, True),
        ("ES_CA_CERTS", "CA bundle for Elasticsearch TLS"),
        ("ES_VERIFY_CERTS", "verify Elasticsearch TLS certificates (true/false)", "true"),
        ("ES_AWS_AUTH", "AWS SigV4 signing for Amazon OpenSearch Service: auto (for *.es.amazonaws.com "
         "and *.aoss.amazonaws.com hosts without ES_USER/ES_API_KEY), sigv4 or none", "auto"),
        ("ES_AWS_SERVICE", "SigV4 service name: es, or aoss for OpenSearch Serverless (default: from "
         "the host, else es)"),
        ("KIBANA_URL", "Kibana base URL used by dev init", "http://localhost:5601"),
        ("ES_BULK_SIZE", "documents per Elasticsearch bulk request", "500"),
        ("ES_USERACTIONS_INDEX", "index of useractions --output es: a prefix (-YYYY.MM.DD of the action "
         "is added) or a name with a Logstash date, e.g. useractions-prod-%{+YYYY.MM.dd}", "useractions"),
        ("GEOLITE_PATH", "GeoLite2/GeoIP2 City .mmdb file: geoip of useractions --output es and of Zoom "
         "sessions (unset: the ingest pipeline's geoip processor)"),
    ),
    *_s(
        "zoom",
        ("ZOOM_ACCOUNT_ID", "Zoom Server-to-Server OAuth account id"),
        ("ZOOM_CLIENT_ID", "Zoom Server-to-Server OAuth client id (ZOOM_KEY also works)"),
        ("ZOOM_KEY", "original name of ZOOM_CLIENT_ID"),
        ("ZOOM_CLIENT_SECRET", "Zoom client secret (ZOOM_SECRET also works)", None, True),
        ("ZOOM_SECRET", "original name of ZOOM_CLIENT_SECRET", None, True),
        ("ZOOM_API_URL", "Zoom API base", "https://api.zoom.us/v2"),
        ("ZOOM_OAUTH_URL", "Zoom OAuth token endpoint", "https://zoom.us/oauth/token"),
        ("ZOOM_RATE_HEAVY", "pace of Zoom Heavy calls (participants, reports), e.g. 40/s", "40/s"),
        ("ZOOM_RATE_RESOURCE_INTENSIVE", "pace of Zoom Resource-intensive calls (Dashboard meeting "
         "lists), e.g. 20/min", "20/min"),
        ("ZOOM_CHECKPOINT_S3_KEY", "S3 key of the zoom checkpoint in S3_HARVEST_TS_BUCKET "
         "(unset: a file in HARVEST_STATE_DIR)"),
        ("ZOOM_DOC_STYLE", "original (meetings-*, sessions-*, the original field names) or current "
         "(zoom-meetings-*, zoom-sessions-*, flat names)", "original"),
        ("ZOOM_MEETINGS_INDEX", "index prefix of Zoom meeting documents (-YYYY.MM.DD is added; default "
         "meetings, or zoom-meetings in the current style)"),
        ("ZOOM_SESSIONS_INDEX", "index prefix of Zoom session documents (-YYYY.MM.DD is added; default "
         "sessions, or zoom-sessions in the current style)"),
    ),
    *_s(
        "logs",
        ("SPARK_MASTER", "Spark master for logs aggregate --engine spark", "local[*]"),
        ("LOGS_DUCKDB_MEMORY", "memory limit of logs aggregate's DuckDB engine (beyond it: spill to disk)",
         "512MB"),
    ),
    *_s(
        "archive",
        ("HARVEST_ARCHIVE", "archive s3://bucket/prefix/ or dir:PATH: replay's default SOURCE; doctor"),
    ),
    *_s(
        "mediaconvert",
        ("MEDIACONVERT_QUEUE", "default for mediaconvert --queue (queue name or ARN)"),
        ("MEDIACONVERT_EVENTS_QUEUE", "SQS queue receiving MediaConvert job events (EventBridge)"),
        ("MEDIACONVERT_CHECKPOINT_KEY", "S3 key (in S3_HARVEST_TS_BUCKET) of the mediaconvert checkpoint"),
    ),
]

SETTINGS_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def register_settings(settings: Iterable[Setting]) -> None:
    """Let a command module declare settings of its own (kept in the one registry)."""
    for s in settings:
        if s.name not in SETTINGS_BY_NAME:
            SETTINGS.append(s)
            SETTINGS_BY_NAME[s.name] = s


def is_secret(name: str) -> bool:
    s = SETTINGS_BY_NAME.get(name)
    return bool(s and s.secret) or bool(re.search(r"(PASS|SECRET|TOKEN|API_KEY)", name))


# user:password@ in a URL, with or without a scheme (ES_HOST accepts `user:pass@host:port`).
_URL_PASSWORD = re.compile(r"//([^:/@\s]*):([^@\s]+)@|^([^:/@\s]+):([^@/\s]+)@")


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values that must never appear in output: secret settings and passwords inside URLs."""
    env = os.environ if environ is None else environ
    values: set[str] = set()
    for name, value in env.items():
        if not value:
            continue
        if is_secret(name) and name in SETTINGS_BY_NAME:
            values.add(value)
            m = _URL_PASSWORD.search(value)
            if m:
                values.add(m.group(2) or m.group(4))
        elif name in SETTINGS_BY_NAME:
            m = _URL_PASSWORD.search(value)
            if m:
                values.add(m.group(2) or m.group(4))
    # Short values would redact ordinary words; a real secret is longer than three characters.
    return sorted((v for v in values if len(v) > 3), key=len, reverse=True)


def mask_url(value: str) -> str:
    """A URL or host with any password in it replaced by ***; other text unchanged."""
    def repl(m: re.Match) -> str:
        if m.group(1) is not None:
            return f"//{m.group(1)}:***@"
        return f"{m.group(3)}:***@"

    return _URL_PASSWORD.sub(repl, value)


def mask(value: str | None) -> str:
    """A secret setting as shown to people: URLs keep all but their password, the rest is ***."""
    if not value:
        return ""
    if _URL_PASSWORD.search(value):
        return mask_url(value)
    return "***"


class DotenvError(ConfigError):
    """A dotenv file has a line that cannot be parsed (exit 2)."""


def parse_dotenv(path: Path) -> dict[str, str]:
    """Read a dotenv file strictly: a malformed line is an error naming file and line.

    python-dotenv only warns and skips bad lines; a silently ignored password line shows up
    later as a confusing authentication failure, so we refuse instead.
    """
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DotenvError(f"cannot read env file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise DotenvError(f"env file {path} is not UTF-8 text") from None
    import io

    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            line = binding.original.line
            # Only the leading name: the rest of a broken line may be a password.
            name = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)", binding.original.string)
            what = f"the line starting with {name.group(1)!r}" if name else "this line"
            raise DotenvError(
                f"env file {path}, line {line}: cannot parse {what}; "
                "expected KEY=value (quote values that contain spaces or #)"
            )
        if binding.key is None:
            continue
        values[binding.key] = binding.value if binding.value is not None else ""
    return values


@dataclass
class LoadedEnv:
    files: list[Path]
    from_files: dict[str, Path]


def load_env(env_file: str | None, script_dir: Path | None = None) -> LoadedEnv:
    """Load dotenv files into os.environ without overriding real environment variables.

    Order: --env-file (only that one) else `.env` in the working directory, then `.env`
    beside harvest.py; the first file to define a key wins.
    """
    candidates: list[Path]
    if env_file:
        p = Path(env_file)
        if not p.is_file():
            raise DotenvError(f"--env-file {env_file}: no such file")
        candidates = [p]
    else:
        candidates = [Path.cwd() / ".env"]
        if script_dir is not None:
            candidates.append(script_dir / ".env")
    loaded: list[Path] = []
    from_files: dict[str, Path] = {}
    seen: set[Path] = set()
    for path in candidates:
        try:
            resolved = path.resolve()
        except OSError:
            continue
        if resolved in seen or not path.is_file():
            continue
        seen.add(resolved)
        loaded.append(path)
        for key, value in parse_dotenv(path).items():
            # An empty value means "not set": boto3 would take AWS_ENDPOINT_URL= literally.
            if not value or key in os.environ or key in from_files:
                continue
            os.environ[key] = value
            from_files[key] = path
    return LoadedEnv(loaded, from_files)


def env(name: str, default: str | None = None) -> str | None:
    """A setting's value from the environment (dotenv already merged), else its default."""
    value = os.environ.get(name)
    if value not in (None, ""):
        return value
    if default is not None:
        return default
    s = SETTINGS_BY_NAME.get(name)
    return s.default if s else None


def _bad(name: str, value: str, expected: str, option: str | None = None) -> ConfigError:
    where = f"{option} / {name}" if option else name
    return ConfigError(f"invalid value for {where}: {value!r} ({expected})")


def env_int(name: str, default: int | None = None, *, minimum: int | None = 0,
            option: str | None = None) -> int | None:
    raw = env(name, None if default is None else str(default))
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise _bad(name, raw, "a whole number", option) from None
    if minimum is not None and value < minimum:
        raise _bad(name, raw, f"must be at least {minimum}", option)
    return value


def env_float(name: str, default: float | None = None, *, minimum: float | None = 0.0,
              option: str | None = None) -> float | None:
    raw = env(name, None if default is None else str(default))
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise _bad(name, raw, "a number", option) from None
    if minimum is not None and value < minimum:
        raise _bad(name, raw, f"must be at least {minimum}", option)
    return value


def env_bool(name: str, default: bool | None = None) -> bool:
    raw = env(name, None if default is None else ("true" if default else "false"))
    low = (raw or "").strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise _bad(name, raw or "", "true or false")


def env_choice(name: str, choices: Iterable[str], option: str | None = None) -> str:
    raw = (env(name) or "").strip().lower()
    allowed = list(choices)
    if raw not in allowed:
        raise _bad(name, raw, "one of " + ", ".join(allowed), option)
    return raw


def normalize_host(host: str, setting: str | None = None, *, scheme: str = "https") -> str:
    """Bare hostnames get `scheme`; full URLs keep their scheme and port. No trailing slash.

    The caller picks the scheme a bare name means: the Opencast nodes use http because the
    original tool did (`"http://" + host`) and its deployments write bare private IPs.
    A value that cannot be a URL is a configuration error (exit 2) naming `setting`.
    """
    from urllib.parse import urlsplit

    raw = host.strip()
    url = raw if "://" in raw else f"{scheme}://" + raw
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 (raises on an invalid port)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        where = f" ({setting})" if setting else ""
        raise ConfigError(f"invalid host{where}: {mask_url(raw)!r}; give a hostname "
                               f"({scheme} is assumed) or a URL such as https://host:8443")
    return url.rstrip("/")


class EnvOption(click.Option):
    """An option backed by an environment variable whose errors name both.

    Click's own messages name only the flag; an operator whose cron job reads `.env` needs to
    know which variable to set, so the variable is part of every error hint.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("show_envvar", True)
        super().__init__(*args, **kwargs)

    def get_error_hint(self, ctx: click.Context) -> str:
        hint = super().get_error_hint(ctx)
        if self.envvar:
            names = [self.envvar] if isinstance(self.envvar, str) else list(self.envvar)
            if not all(n in hint for n in names):
                hint += " (environment variable " + " or ".join(names) + ")"
        return hint


def require(ctx: click.Context, param_name: str, value: object) -> None:
    """Raise the contract's exit-2 error for a setting that is missing in this situation."""
    if value not in (None, ""):
        return
    for p in ctx.command.params:
        if p.name == param_name:
            raise click.MissingParameter(ctx=ctx, param=p)
    raise click.UsageError(f"missing setting {param_name}")
