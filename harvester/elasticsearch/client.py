"""One connection to Elasticsearch 7.10+/8/9 or OpenSearch 1-3, whichever ES_HOST turns out to be.

The official 8.x client refuses any server that does not answer with `X-Elastic-Product:
Elasticsearch` (Elasticsearch before 7.14, every OpenSearch) and sends
`compatible-with=8` media types that Elasticsearch 7 and OpenSearch answer with 406. So the
server is asked first, with `GET /`, through opensearch-py (which sends plain
`application/json` and checks no product header): `version.distribution == "opensearch"`
means OpenSearch (also when a compatibility mode reports 7.10.2 as the number), otherwise
`version.number` is Elasticsearch's. Elasticsearch 8 and 9 are then served by the official
client (natively, and through its compatibility headers), everything else by opensearch-py.

Authentication: ES_USER/ES_PASSWORD (basic), ES_API_KEY, or AWS Signature V4 for Amazon
OpenSearch Service / Elasticsearch Service (ES_AWS_AUTH=sigv4, or automatically for an
`https://...es.amazonaws.com` or `...aoss.amazonaws.com` host with no user or key set):
credentials from boto3's chain (refreshed as they expire), the region from the host name
or AWS_REGION, service `es` (`aoss` for OpenSearch Serverless). The signing is opensearch-py's
own (botocore's SigV4Auth underneath), so signed requests always go through opensearch-py.

Nothing is asked of the server until the first call: building a client only checks settings,
so bad settings are usage errors (exit 2) before anything else happens.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from harvester.config import env, env_bool, mask_url
from harvester.elasticsearch.errors import EsCallError
from harvester.errors import ConfigError
from harvester.http import RetryPolicy

log = logging.getLogger("harvester.elasticsearch")

HOST_HINT = "'--es-host' (environment variable ES_HOST)"
AWS_HOST = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.(es|aoss)\.amazonaws\.com(?:\.cn)?$")
AWS_AUTH_VALUES = ("auto", "sigv4", "none")
AWS_SERVICES = ("es", "aoss")


# -- URL -----------------------------------------------------------------------------------------
def es_url(host: str | None) -> tuple[str, tuple[str, str] | None]:
    """Normalise ES_HOST to a URL with scheme and port; split off credentials given in it.

    `host:port` or a bare host means plain http (a local or private node, as the original
    tool assumed); a full URL keeps its scheme, and its default port when none is given.
    Credentials in the URL (`https://user:pass@host`) become basic auth, never part of the
    URL that appears in messages.
    """
    raw = (host or "").strip()
    if not raw:
        raise ConfigError("an Elasticsearch host is required", hint=HOST_HINT)
    if "://" not in raw:
        raw = "http://" + raw
    parts = urlsplit(raw)
    shown = mask_url(host or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{shown!r} is not host:port or an http(s) URL", hint=HOST_HINT)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{shown!r} has an invalid port", hint=HOST_HINT) from None
    if port is None:
        port = 9200 if "://" not in (host or "") else (443 if parts.scheme == "https" else 80)
    auth = (parts.username, parts.password or "") if parts.username else None
    hostname = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    url = urlunsplit((parts.scheme, f"{hostname}:{port}", parts.path.rstrip("/"), "", ""))
    return url, auth


def aws_target(hostname: str) -> tuple[str, str] | None:
    """(region, service) of an Amazon OpenSearch Service / Serverless endpoint name, else None."""
    m = AWS_HOST.search(hostname.lower())
    return (m.group(1), m.group(2)) if m else None


# -- the server ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServerInfo:
    """What `GET /` said, and the features that differ between the servers the harvester supports."""

    distribution: str  # "elasticsearch" or "opensearch"
    number: str
    flavor: str = "default"  # Elasticsearch's build_flavor: "default" or "oss"
    serverless: bool = False

    @property
    def version(self) -> tuple[int, int]:
        m = re.match(r"(\d+)\.(\d+)", self.number)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)

    @property
    def opensearch(self) -> bool:
        return self.distribution == "opensearch"

    @property
    def label(self) -> str:
        name = "OpenSearch" if self.opensearch else "Elasticsearch"
        return f"{name} {'Serverless' if self.serverless else self.number}"

    @property
    def pipeline_meta(self) -> bool:
        """Ingest pipelines accept `_meta` (Elasticsearch 8.0+; never 7.x nor OpenSearch)."""
        return not self.opensearch and self.version >= (8, 0)

    @property
    def flattened_type(self) -> str | None:
        """The mapping type for a free-form object: Elasticsearch's `flattened` (default
        distribution, 7.3+), OpenSearch's `flat_object` (2.7+), or none (OSS 7.10, OpenSearch 1)."""
        if self.opensearch:
            # A compatibility mode (Amazon's override_main_response_version) reports 7.10.2
            # instead of the real version: then whether flat_object exists is unknown.
            real = (2, 7) <= self.version < (7, 0)
            return "flat_object" if real and not self.serverless else None
        return "flattened" if self.flavor != "oss" else None


def parse_info(body: object, where: str) -> ServerInfo:
    """The `GET /` answer of Elasticsearch or OpenSearch; anything else is not a supported server."""
    version = body.get("version") if isinstance(body, dict) else None
    number = version.get("number") if isinstance(version, dict) else None
    if not isinstance(number, str):
        raise EsCallError("product", f"{where} is neither Elasticsearch nor OpenSearch (GET / has no "
                          "version.number); check ES_HOST")
    if version.get("distribution") == "opensearch" or "OpenSearch" in str(body.get("tagline", "")):
        return ServerInfo("opensearch", number, "default")
    info = ServerInfo("elasticsearch", number, str(version.get("build_flavor") or "default"))
    if info.version < (7, 10):
        raise EsCallError("product", f"{where} runs Elasticsearch {number}; the harvester needs "
                          "Elasticsearch 7.10 or later, or OpenSearch")
    return info


# -- settings ------------------------------------------------------------------------------------
@dataclass
class Settings:
    url: str
    timeout: float
    basic: tuple[str, str] | None = None
    api_key: str | None = None
    sigv4: tuple[str, str] | None = None  # (region, service)
    verify: bool = True
    ca_certs: str | None = None

    @property
    def auth(self) -> str:
        return "sigv4" if self.sigv4 else "basic"

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


def settings_from_env(host: str | None, timeout: float | None) -> Settings:
    """Everything a connection needs, from ES_* settings; usage errors (exit 2) name the variable."""
    url, url_auth = es_url(host or env("ES_HOST"))
    if timeout is None:
        timeout = RetryPolicy.from_env().timeout
    s = Settings(url, timeout)
    api_key, user, password = env("ES_API_KEY"), env("ES_USER"), env("ES_PASSWORD")
    if password and not user:
        raise ConfigError("ES_PASSWORD is set but ES_USER is not; set both (or ES_API_KEY)")
    if api_key:
        s.api_key = api_key
    elif user:
        s.basic = (user, password or "")
    elif url_auth:
        s.basic = url_auth
    mode = (env("ES_AWS_AUTH") or "auto").strip().lower()
    if mode not in AWS_AUTH_VALUES:
        raise ConfigError(f"invalid value for ES_AWS_AUTH: {mode!r} (auto, sigv4 or none)")
    hostname = urlsplit(url).hostname or ""
    target = aws_target(hostname)
    if mode == "sigv4" or (mode == "auto" and target and not (s.api_key or s.basic)):
        if s.api_key or s.basic:
            raise ConfigError("ES_AWS_AUTH=sigv4 signs every request with AWS credentials; unset "
                                   "ES_USER/ES_PASSWORD/ES_API_KEY (or set ES_AWS_AUTH=none for them)")
        s.sigv4 = _aws_scope(target)
    if url.startswith("https://"):
        ca_certs = env("ES_CA_CERTS")
        if ca_certs:
            if not os.path.isfile(ca_certs):
                raise ConfigError(f"invalid value for ES_CA_CERTS: {ca_certs!r} is not a file")
            s.ca_certs = ca_certs
        s.verify = env_bool("ES_VERIFY_CERTS")
    return s


def _aws_scope(target: tuple[str, str] | None) -> tuple[str, str]:
    service = (env("ES_AWS_SERVICE") or (target[1] if target else "es")).strip().lower()
    if service not in AWS_SERVICES:
        raise ConfigError(f"invalid value for ES_AWS_SERVICE: {service!r} (es, or aoss for "
                               "OpenSearch Serverless)")
    region = (target[0] if target else None) or env("AWS_REGION") or env("AWS_DEFAULT_REGION")
    if not region:
        raise ConfigError("ES_AWS_AUTH=sigv4 needs a region: the host name has none "
                               "(…<region>.es.amazonaws.com); set AWS_REGION")
    return region, service


def _aws_credentials():
    import boto3

    credentials = boto3.session.Session().get_credentials()
    if credentials is None:
        raise ConfigError("no AWS credentials to sign Elasticsearch/OpenSearch requests "
                               "(ES_AWS_AUTH=sigv4): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                               "AWS_PROFILE, or give the host a role")
    return credentials


# -- the two libraries ---------------------------------------------------------------------------
def _quiet(name: str) -> None:
    """The libraries log each failed node at WARNING through Python's last-resort handler;
    our own retry warnings already say it once, on the harvester's handler."""
    logger = logging.getLogger(name)
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    logger.propagate = False


class _OpenSearchPy:
    """opensearch-py: OpenSearch, Elasticsearch 7, and anything signed with SigV4."""

    def __init__(self, s: Settings, credentials: Any = None):
        from opensearchpy import OpenSearch, Urllib3AWSV4SignerAuth

        _quiet("opensearch")
        kwargs: dict[str, Any] = {"timeout": s.timeout, "max_retries": 0, "retry_on_timeout": False}
        if s.sigv4:
            kwargs["http_auth"] = Urllib3AWSV4SignerAuth(credentials, s.sigv4[0], s.sigv4[1])
        elif s.api_key:
            kwargs["headers"] = {"authorization": f"ApiKey {s.api_key}"}
        elif s.basic:
            kwargs["http_auth"] = s.basic
        if s.url.startswith("https://"):
            kwargs["verify_certs"] = s.verify
            kwargs["ssl_show_warn"] = s.verify
            if s.ca_certs:
                kwargs["ca_certs"] = s.ca_certs
        self.auth, self.timeout = s.auth, s.timeout
        self.client = OpenSearch(hosts=[s.url], **kwargs)

    def request(self, method: str, path: str, params: Mapping[str, str] | None, body: Any,
                ndjson: bool) -> Any:
        from opensearchpy.exceptions import ConnectionError, ConnectionTimeout, TransportError

        headers = {"content-type": "application/x-ndjson"} if ndjson else None
        try:
            # The timeout is given so that a `timeout` parameter (cluster health) stays one.
            return self.client.transport.perform_request(method, path, params=dict(params or {}) or None,
                                                         body=body, headers=headers, timeout=self.timeout)
        except ConnectionTimeout as exc:
            raise EsCallError("timeout", str(exc.info), auth=self.auth) from None
        except ConnectionError as exc:
            raise EsCallError("connection", f"{exc.error} {exc.info}", auth=self.auth) from None
        except TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else None
            raise EsCallError("api", _reason(exc.info, str(exc.error)), status, exc.info,
                              auth=self.auth) from None

    def close(self) -> None:
        self.client.close()


class _ElasticsearchPy:
    """The official 8.x client: Elasticsearch 8 natively, 9 through its compatibility headers."""

    def __init__(self, s: Settings):
        from elasticsearch import Elasticsearch

        _quiet("elastic_transport")
        kwargs: dict[str, Any] = {"request_timeout": s.timeout, "max_retries": 0,
                                  "retry_on_timeout": False, "retry_on_status": ()}
        if s.api_key:
            kwargs["api_key"] = s.api_key
        elif s.basic:
            kwargs["basic_auth"] = s.basic
        if s.url.startswith("https://"):
            if s.ca_certs:
                kwargs["ca_certs"] = s.ca_certs
            kwargs["verify_certs"] = s.verify
            if not s.verify:
                kwargs["ssl_show_warn"] = False
        self.auth = s.auth
        self.client = Elasticsearch(s.url, **kwargs)

    def request(self, method: str, path: str, params: Mapping[str, str] | None, body: Any,
                ndjson: bool) -> Any:
        from elastic_transport import TransportError
        from elasticsearch import ApiError, ConnectionError, ConnectionTimeout, UnsupportedProductError

        headers = {"accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/x-ndjson" if ndjson else "application/json"
        try:
            resp = self.client.perform_request(method, path, params=dict(params or {}) or None,
                                               headers=headers, body=body)
        except UnsupportedProductError:
            raise EsCallError("product", "the server is not Elasticsearch (no X-Elastic-Product "
                              "header); check ES_HOST", auth=self.auth) from None
        except ApiError as exc:
            raise EsCallError("api", _reason(exc.body, str(exc.message)), exc.meta.status, exc.body,
                              auth=self.auth) from None
        except ConnectionTimeout as exc:
            raise EsCallError("timeout", str(exc), auth=self.auth) from None
        except (ConnectionError, TransportError) as exc:
            raise EsCallError("connection", f"{exc} {getattr(exc, 'message', '')}", auth=self.auth) \
                from None
        return resp.body

    def close(self) -> None:
        self.client.close()


def _reason(body: object, fallback: str) -> str:
    from harvester.elasticsearch.errors import api_reason

    if isinstance(body, str):
        with contextlib.suppress(ValueError):
            body = json.loads(body)
    return api_reason(body, fallback)


# -- the facade ----------------------------------------------------------------------------------
def _path(*parts: str) -> str:
    return "/" + "/".join(quote(p, safe=",*") for p in parts)


def _params(params: Mapping[str, object]) -> dict[str, str]:
    """Query parameters as Elasticsearch parses them (booleans lowercase; None left out)."""
    return {k: ("true" if v else "false") if isinstance(v, bool) else str(v)
            for k, v in params.items() if v is not None}


class SearchClient:
    """The calls the harvester makes, the same on every supported server.

    Every method raises `EsCallError` on failure (see `errors.call` for retries); bodies are
    plain dicts whatever library served them.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.host = settings.host
        self._credentials = _aws_credentials() if settings.sigv4 else None
        self._backend: _OpenSearchPy | _ElasticsearchPy | None = None
        self._server: ServerInfo | None = None

    # -- connection ------------------------------------------------------------------------------
    @property
    def server(self) -> ServerInfo:
        """The server's distribution and version (asked once, on first use)."""
        if self._server is None:
            self._connect()
        assert self._server is not None
        return self._server

    def _connect(self) -> _OpenSearchPy | _ElasticsearchPy:
        if self._backend is not None:
            return self._backend
        probe = _OpenSearchPy(self.settings, self._credentials)
        if self.settings.sigv4 and self.settings.sigv4[1] == "aoss":
            # OpenSearch Serverless has no `GET /`: it is OpenSearch by definition.
            self._server, self._backend = ServerInfo("opensearch", "2", serverless=True), probe
            return probe
        try:
            info = probe.request("GET", "/", None, None, False)
        except BaseException:
            probe.close()
            raise
        server = parse_info(info, self.host)
        backend: _OpenSearchPy | _ElasticsearchPy = probe
        if not server.opensearch and server.version >= (8, 0) and not self.settings.sigv4:
            probe.close()
            backend = _ElasticsearchPy(self.settings)
        log.debug("%s: %s, through %s", self.host, server.label, type(backend).__name__)
        self._server, self._backend = server, backend
        return backend

    def request(self, method: str, path: str, params: Mapping[str, object] | None = None,
                body: Any = None, *, ndjson: bool = False) -> Any:
        return self._connect().request(method, path, _params(params or {}), body, ndjson)

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    # -- calls -----------------------------------------------------------------------------------
    def info(self) -> dict:
        return self.request("GET", "/")

    def health(self, **params: object) -> dict:
        return self.request("GET", "/_cluster/health", params)

    def bulk(self, lines: list[bytes], pipeline: str | None = None) -> dict:
        return self.request("POST", "/_bulk", {"pipeline": pipeline}, b"".join(lines), ndjson=True)

    def search(self, index: str, body: dict, **params: object) -> dict:
        return self.request("POST", _path(index, "_search"), params, body)

    def get_pipeline(self, pipeline_id: str) -> dict | None:
        """The stored pipeline, or None when there is none by that id."""
        try:
            found = self.request("GET", _path("_ingest", "pipeline", pipeline_id))
        except EsCallError as exc:
            if exc.kind == "api" and exc.status == 404:
                return None
            raise
        return found.get(pipeline_id) if isinstance(found, dict) else None

    def put_pipeline(self, pipeline_id: str, body: dict) -> None:
        self.request("PUT", _path("_ingest", "pipeline", pipeline_id), None, body)

    def get_index_template(self, name: str) -> dict | None:
        """The stored composable template, or None when there is none by that name."""
        try:
            found = self.request("GET", _path("_index_template", name))
        except EsCallError as exc:
            if exc.kind == "api" and exc.status == 404:
                return None
            raise
        for entry in found.get("index_templates", []) if isinstance(found, dict) else []:
            if entry.get("name") == name:
                return entry.get("index_template")
        return None

    def put_index_template(self, name: str, body: dict) -> None:
        self.request("PUT", _path("_index_template", name), None, body)

    def ingest_processors(self) -> set[str] | None:
        """Processor types every ingest node has (None when the server does not say)."""
        try:
            nodes = self.request("GET", "/_nodes/ingest").get("nodes", {})
        except EsCallError as exc:
            if exc.kind == "api" and exc.status in (400, 401, 403, 404, 405):
                return None
            raise
        kinds = [{p.get("type") for p in n.get("ingest", {}).get("processors", [])}
                 for n in nodes.values() if n.get("ingest", {}).get("processors")]
        return set.intersection(*kinds) if kinds else None


def es_client(host: str | None = None, *, timeout: float | None = None) -> SearchClient:
    """A client configured from ES_HOST/ES_USER/ES_PASSWORD/ES_API_KEY/ES_AWS_AUTH/ES_CA_CERTS.

    `host` (a command's `--es-host`) overrides ES_HOST. Bad settings are usage errors
    (exit 2) naming the variable; the server is first asked on the first call.
    """
    return SearchClient(settings_from_env(host, timeout))


def describe_host(client: SearchClient) -> str:
    """host:port of the client's node, for messages (never credentials)."""
    return client.host
