"""A strict in-process Elasticsearch stand-in, driven over real HTTP by the official client.

No Elasticsearch server can be installed where the tests run, so this enforces what a real
cluster enforces for the calls the harvester makes, and refuses the rest loudly. It is one of
six servers (`Flavor`, see FLAVORS), each with its real `GET /` body and headers:

- Elasticsearch 8 and 9: `X-Elastic-Product: Elasticsearch` on every answer (the 8.x client
  refuses a server without it), the REST compatibility media types (`compatible-with=N`,
  N the major or the one before), answered in the media type that was asked for;
- Elasticsearch 7.10 (the OSS build Amazon Elasticsearch Service runs) and OpenSearch 1, 2
  and 3: no product header, `application/json` only: a `application/vnd.elasticsearch+json`
  Content-Type is answered 406 as they do; none has `flattened`, pipeline `_meta`,
  `runtime` mappings or the template keys added after 7.10; OpenSearch 2.7+ has `flat_object`;
- `sigv4=True` answers as Amazon OpenSearch Service behind IAM: every request must carry an
  `AWS4-HMAC-SHA256` Authorization whose credential scope names the region and service,
  whose signed headers include host and x-amz-date (fresh), whose x-amz-content-sha256 (when
  sent) is the body's, and whose signature botocore's own SigV4 signer recomputes the same;
- bulk framing: NDJSON, final newline, one known action per metadata line, no `_type`,
  lowercase index names, `_id` at most 512 bytes, per-item results and errors;
- composable index templates (no legacy `template` key, no mapping types, no `string` or
  `not_analyzed`), ingest pipelines with known processor types only, the pipeline named by a
  bulk request must exist;
- mappings from the matching template applied to new indices, and documents checked against
  them (dates, ip, numbers, booleans; `ignore_malformed`; dynamic templates);
- searches with `terms`/`range`/`bool` queries and composite aggregations paged by
  `after_key`; a `terms` aggregation of size 0 is rejected as Elasticsearch has done since 5.0.

Faults: `inject_item_error()` rejects chosen bulk items (429 `es_rejected_execution_exception`
by default); `inject_unavailable()` answers whole requests with 503. Counters: `bulk_requests`,
`doc_requests`, and the base class's `count(prefix)`. Read back with `doc(index, id)`,
`docs(pattern)`, `ids(pattern)`; seed source data with `add_docs(index, docs)`.

Use the `es_standin` fixture: it starts the stand-in and sets ES_HOST to it.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import pytest
from werkzeug.wrappers import Request, Response

from tests.standins.base import StandIn
from tests.standins.es_query import QueryError, condition_holds, get_path, run_search

PRODUCT_HEADERS = {"X-Elastic-Product": "Elasticsearch"}
BULK_ACTIONS = ("index", "create", "update", "delete")
BULK_META_PARAMS = {
    "_index", "_id", "routing", "pipeline", "require_alias", "require_data_stream", "if_seq_no",
    "if_primary_term", "version", "version_type", "dynamic_templates", "retry_on_conflict",
    "_source", "list_executed_pipelines",
}
TEMPLATE_KEYS = {"index_patterns", "template", "composed_of", "priority", "version", "_meta",
                 "data_stream", "allow_auto_create", "ignore_missing_component_templates",
                 "deprecated"}
FIELD_TYPES = {
    "text", "keyword", "long", "integer", "short", "byte", "double", "float", "half_float",
    "scaled_float", "unsigned_long", "date", "date_nanos", "boolean", "ip", "geo_point",
    "geo_shape", "object", "nested", "flattened", "wildcard", "match_only_text",
    "constant_keyword", "alias", "version", "binary", "integer_range", "date_range",
}
PROCESSORS = {
    "append", "bytes", "convert", "csv", "date", "date_index_name", "dissect", "dot_expander",
    "drop", "fail", "fingerprint", "foreach", "geoip", "grok", "gsub", "html_strip", "join",
    "json", "kv", "lowercase", "network_direction", "pipeline", "remove", "rename", "reroute",
    "script", "set", "sort", "split", "trim", "uppercase", "uri_parts", "urldecode",
    "user_agent", "community_id", "registered_domain", "redact", "ip_location",
}
MAX_ID_BYTES = 512
_BAD_INDEX_CHARS = set('\\/*?"<>| ,#:')

# What Elasticsearch 7.10's OSS build and OpenSearch lack of the above.
_NOT_IN_OSS = {"flattened", "wildcard", "match_only_text", "constant_keyword", "unsigned_long", "version"}
_NEW_TEMPLATE_KEYS = {"allow_auto_create", "ignore_missing_component_templates", "deprecated"}
_NEW_PROCESSORS = {"network_direction", "reroute", "community_id", "registered_domain", "redact",
                   "ip_location"}


@dataclass(frozen=True)
class Flavor:
    """One server the harvester supports, as far as its answers differ from the others'."""

    name: str
    distribution: str  # "elasticsearch" or "opensearch"
    number: str
    build_flavor: str | None = "default"
    product_header: bool = True
    compat: tuple[int, ...] = ()  # compatible-with=N values accepted; () = vnd media types refused
    field_types: frozenset = frozenset(FIELD_TYPES)
    template_keys: frozenset = frozenset(TEMPLATE_KEYS)
    processors: frozenset = frozenset(PROCESSORS)
    pipeline_meta: bool = True
    runtime_mappings: bool = True
    tagline: str = "You Know, for Search"

    @property
    def major(self) -> int:
        return int(self.number.split(".")[0])

    def info(self) -> dict:
        version = {"number": self.number, "build_type": "tar", "build_hash": "0" * 40,
                   "build_date": "2025-01-01T00:00:00.000000Z", "build_snapshot": False,
                   "lucene_version": "9.12.1",
                   "minimum_wire_compatibility_version": "7.10.0" if self.distribution == "opensearch"
                   else f"{self.major - 1}.17.0" if self.major >= 8 else "6.8.0",
                   "minimum_index_compatibility_version": "7.0.0" if self.distribution == "opensearch"
                   else f"{self.major - 1}.0.0" if self.major >= 8 else "6.0.0-beta1"}
        if self.distribution == "opensearch":
            version = {"distribution": "opensearch", **version}
        elif self.build_flavor:
            version["build_flavor"] = self.build_flavor
        return {"name": "standin", "cluster_name": "standin", "cluster_uuid": "standin-uuid",
                "version": version, "tagline": self.tagline}


def _legacy(name: str, distribution: str, number: str, **kw) -> Flavor:
    types = set(FIELD_TYPES) - _NOT_IN_OSS
    if kw.pop("flat_object", False):
        types |= {"flat_object", "match_only_text", "wildcard", "unsigned_long", "constant_keyword"}
    return Flavor(name, distribution, number, product_header=False, compat=(),
                  field_types=frozenset(types), template_keys=frozenset(TEMPLATE_KEYS - _NEW_TEMPLATE_KEYS),
                  processors=frozenset(PROCESSORS - _NEW_PROCESSORS), pipeline_meta=False,
                  runtime_mappings=False, **kw)


_OS_TAGLINE = "The OpenSearch Project: https://opensearch.org/"
FLAVORS: dict[str, Flavor] = {
    "es7": _legacy("es7", "elasticsearch", "7.10.2", build_flavor="oss"),
    "es8": Flavor("es8", "elasticsearch", "8.19.3", compat=(7, 8)),
    "es9": Flavor("es9", "elasticsearch", "9.1.0", compat=(8, 9)),
    "os1": _legacy("os1", "opensearch", "1.3.20", build_flavor=None, tagline=_OS_TAGLINE),
    "os2": _legacy("os2", "opensearch", "2.19.2", build_flavor=None, tagline=_OS_TAGLINE, flat_object=True),
    "os3": _legacy("os3", "opensearch", "3.1.0", build_flavor=None, tagline=_OS_TAGLINE, flat_object=True),
}


class EsError(Exception):
    """An error answered as Elasticsearch does: {"error": {...}, "status": N}."""

    def __init__(self, status: int, type_: str, reason: str):
        super().__init__(reason)
        self.status, self.type, self.reason = status, type_, reason

    def body(self) -> dict:
        err = {"type": self.type, "reason": self.reason}
        return {"error": {"root_cause": [err], **err}, "status": self.status}


class _Plain406(EsError):
    """Elasticsearch 7 and OpenSearch refuse an unknown Content-Type with a plain-string error."""

    def __init__(self, reason: str):
        super().__init__(406, "media_type_header_exception", reason)

    def body(self) -> dict:
        return {"error": self.reason, "status": 406}


def es_response(doc, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(doc), status=status,
                    headers={**PRODUCT_HEADERS, **(headers or {})},
                    content_type="application/vnd.elasticsearch+json;compatible-with=8")


def error_response(status: int, type_: str, reason: str) -> Response:
    return es_response(EsError(status, type_, reason).body(), status)


def validate_index_name(name: str) -> None:
    """Elasticsearch's own rules for index names (MetadataCreateIndexService)."""
    if name != name.lower():
        raise EsError(400, "invalid_index_name_exception",
                      f"Invalid index name [{name}], must be lowercase")
    if not name or name in (".", "..") or name[0] in "_-+" or set(name) & _BAD_INDEX_CHARS:
        raise EsError(400, "invalid_index_name_exception",
                      f"Invalid index name [{name}], must not start with '_', '-', or '+' and "
                      "must not contain \\, /, *, ?, \", <, >, |, ' ', ',', #, :")
    if len(name.encode()) > 255:
        raise EsError(400, "invalid_index_name_exception", f"Invalid index name [{name}], too long")


#: a value by dotted path; also finds literal dotted keys (one definition, the query evaluator's)
_get_path = get_path


def _flatten(doc: dict, prefix: str = "") -> Iterable[tuple[str, object]]:
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield path, value
            yield from _flatten(value, path + ".")
        else:
            yield path, value


def parse_date(value) -> datetime | None:
    """strict_date_optional_time || epoch_millis, as the default date format accepts."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000)
    if not isinstance(value, str):
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?)?",
                    value) is None:
        return None
    text = value.replace("Z", "+00:00")
    frac = re.search(r"\.(\d+)", text)
    if frac and len(frac.group(1)) > 6:  # nanoseconds: Python stops at micro
        text = text.replace(frac.group(0), "." + frac.group(1)[:6])
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@dataclass
class _ItemFault:
    status: int
    type: str
    reason: str
    times: int | None
    match: Callable[[str, str], bool]


class Index:
    """One index: documents, mappings (explicit + dynamic) and the template it came from."""

    def __init__(self, name: str, template: str | None, mappings: dict, settings: dict):
        self.name = name
        self.template = template
        self.mappings = json.loads(json.dumps(mappings or {}))
        self.mappings.setdefault("properties", {})
        self.settings = settings or {}
        self.docs: dict[str, dict] = {}
        self.versions: dict[str, int] = {}
        self.pipelines: dict[str, str | None] = {}

    # -- mappings ---------------------------------------------------------------------------
    def field_mapping(self, path: str) -> dict | None:
        props = self.mappings.get("properties", {})
        parts = path.split(".")
        mapping = None
        for i, part in enumerate(parts):
            mapping = props.get(part)
            if mapping is None:
                # multi-field such as title.keyword
                parent = self.field_mapping(".".join(parts[:i])) if i else None
                if parent and part in parent.get("fields", {}) and i == len(parts) - 1:
                    return parent["fields"][part]
                return None
            props = mapping.get("properties", {})
        return mapping

    def _dynamic_template_for(self, path: str, value) -> dict | None:
        kind = ("boolean" if isinstance(value, bool) else "long" if isinstance(value, int)
                else "double" if isinstance(value, float) else "object" if isinstance(value, dict)
                else "string")
        name = path.rsplit(".", 1)[-1]
        for entry in self.mappings.get("dynamic_templates", []):
            (_, spec), = entry.items()
            mmt = spec.get("match_mapping_type")
            if mmt and mmt != "*" and mmt != kind and not (isinstance(mmt, list) and kind in mmt):
                continue
            if "match" in spec and not fnmatch.fnmatchcase(name, spec["match"]):
                continue
            if "unmatch" in spec and fnmatch.fnmatchcase(name, spec["unmatch"]):
                continue
            if "path_match" in spec and not fnmatch.fnmatchcase(path, spec["path_match"]):
                continue
            if "path_unmatch" in spec and fnmatch.fnmatchcase(path, spec["path_unmatch"]):
                continue
            return dict(spec.get("mapping", {}))
        return None

    def _dynamic_mapping(self, path: str, value) -> dict:
        mapped = self._dynamic_template_for(path, value)
        if mapped is not None:
            if "type" not in mapped and not isinstance(value, dict):
                mapped["type"] = "keyword" if isinstance(value, str) else "long"
            return mapped
        if isinstance(value, bool):
            return {"type": "boolean"}
        if isinstance(value, int):
            return {"type": "long"}
        if isinstance(value, float):
            return {"type": "float"}
        if isinstance(value, dict):
            return {"properties": {}}
        if isinstance(value, str) and self.mappings.get("date_detection", True) and \
                re.fullmatch(r"\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})?", value) and parse_date(value):
            return {"type": "date"}
        return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}

    def check_and_map(self, doc: dict) -> None:
        """Check a document against the mappings, adding dynamic fields; raises EsError."""
        self._check_object(doc, "", self.mappings)

    def _check_object(self, obj: dict, prefix: str, container: dict) -> None:
        dynamic = str(container.get("dynamic", self.mappings.get("dynamic", "true"))).lower()
        props = container.setdefault("properties", {})
        for key, value in obj.items():
            path = prefix + key
            mapping = props.get(key)
            if mapping is None:
                if value is None:
                    continue
                if dynamic == "strict":
                    raise EsError(400, "strict_dynamic_mapping_exception",
                                  f"[{prefix.rstrip('.') or '_doc'}] dynamic is [strict] and "
                                  f"dynamic introduction of [{key}] within [_doc] is not allowed")
                if dynamic == "false":
                    continue
                sample = value[0] if isinstance(value, list) and value else value
                if isinstance(value, list) and not value:
                    continue
                mapping = self._dynamic_mapping(path, sample)
                props[key] = mapping
            self._check_value(path, value, mapping)

    def _check_value(self, path: str, value, mapping: dict) -> None:
        if value is None:
            return
        if isinstance(value, list) and mapping.get("type") == "geo_point" and len(value) == 2 \
                and all(_is_number(v) for v in value):  # one point as [lon, lat]
            if not (-180 <= float(value[0]) <= 180 and -90 <= float(value[1]) <= 90):
                raise EsError(400, "document_parsing_exception", f"failed to parse field [{path}] of type "
                              f"[geo_point]: [{value}] is out of bounds")
            return
        if isinstance(value, list):
            for v in value:
                self._check_value(path, v, mapping)
            return
        ftype = mapping.get("type", "object" if "properties" in mapping else None)
        if ftype in ("object", "nested"):
            if mapping.get("enabled") is False:
                return  # kept in _source, never parsed
            if not isinstance(value, dict):
                raise EsError(400, "document_parsing_exception",
                              f"object mapping for [{path}] tried to parse field [{path}] as object, "
                              "but found a concrete value")
            self._check_object(value, path + ".", mapping)
            return
        if isinstance(value, dict) and ftype not in ("flattened", "flat_object", "geo_point", "geo_shape",
                                                     "integer_range", "date_range"):
            raise EsError(400, "document_parsing_exception",
                          f"failed to parse field [{path}] of type [{ftype}]: an object was given")
        ok = True
        if ftype in ("date", "date_nanos"):
            ok = parse_date(value) is not None
        elif ftype == "ip":
            try:
                ipaddress.ip_address(str(value))
            except ValueError:
                ok = False
        elif ftype in ("long", "integer", "short", "byte", "unsigned_long"):
            ok = _is_integral(value)
        elif ftype in ("double", "float", "half_float", "scaled_float"):
            ok = _is_number(value)
        elif ftype == "boolean":
            ok = isinstance(value, bool) or value in ("true", "false", "")
        elif ftype == "geo_point":
            ok = isinstance(value, dict) and {"lat", "lon"} <= set(value) or isinstance(value, str | list)
        if not ok and not mapping.get("ignore_malformed", False):
            raise EsError(400, "document_parsing_exception",
                          f"failed to parse field [{path}] of type [{ftype}] in document. "
                          f"Preview of field's value: '{value}'")


def _is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def _is_integral(value) -> bool:
    if not _is_number(value):
        return False
    f = float(value)
    return f == int(f) or isinstance(value, float)  # ES truncates 4.5 into a long


class ElasticsearchStandIn(StandIn):
    """Subset of the Elasticsearch REST API, strict about what it accepts."""

    def __init__(self, major: int = 8, *, flavor: str | None = None, sigv4: bool = False,
                 region: str = "us-east-1", service: str = "es",
                 aws_keys: dict[str, str] | None = None, missing_processors: Iterable[str] = ()):
        super().__init__()
        self.flavor = FLAVORS[flavor or f"es{major}"]
        self.major = self.flavor.major
        self.version = self.flavor.number
        self.sigv4 = sigv4
        self.region, self.service = region, service
        self.aws_keys = aws_keys if aws_keys is not None else {"testing": "testing"}
        self.processors = set(self.flavor.processors) - set(missing_processors)
        self.signed: list[dict] = []  # the parsed Authorization of every signed request
        self.indices: dict[str, Index] = {}
        self.templates: dict[str, dict] = {}
        self.component_templates: dict[str, dict] = {}
        self.pipelines: dict[str, dict] = {}
        self._item_faults: list[_ItemFault] = []
        self._state = threading.RLock()
        self._seq = itertools.count(1)

    # -- test helpers -------------------------------------------------------------------------
    def inject_item_error(self, times: int | None = 1, *, status: int = 429,
                          error_type: str = "es_rejected_execution_exception",
                          reason: str = "rejected execution of coordinating operation",
                          match: Callable[[str, str], bool] | None = None) -> None:
        """Reject the next `times` bulk items matching match(index, id) with a per-item error."""
        with self._state:
            self._item_faults.append(_ItemFault(status, error_type, reason, times,
                                                match or (lambda index, id_: True)))

    def inject_unavailable(self, times: int | None = 1, path_prefix: str = "") -> None:
        """Answer the next `times` requests (under path_prefix) with a whole-request 503."""
        def fault(request: Request) -> Response:
            return error_response(503, "cluster_block_exception",
                                  "blocked by: [SERVICE_UNAVAILABLE/2/no master];")
        self.inject(fault, times=times, match=lambda r: r.path.startswith(path_prefix))

    @property
    def bulk_requests(self) -> int:
        return sum(1 for r in list(self.requests) if r.path.endswith("/_bulk"))

    @property
    def doc_requests(self) -> int:
        """Single-document writes (PUT/POST /index/_doc...), which the harvester should not use."""
        return sum(1 for r in list(self.requests)
                   if r.method in ("PUT", "POST") and ("/_doc" in r.path or "/_create/" in r.path))

    def add_docs(self, index: str, docs: Iterable[tuple[str, dict]]) -> None:
        """Seed documents (id, source) directly, as if indexed earlier."""
        with self._state:
            idx = self._index_for_write(index)
            for id_, source in docs:
                idx.check_and_map(source)
                idx.docs[id_] = source
                idx.versions[id_] = idx.versions.get(id_, 0) + 1

    def doc(self, index: str, id_: str) -> dict | None:
        idx = self.indices.get(index)
        return None if idx is None else idx.docs.get(id_)

    def docs(self, pattern: str = "*") -> dict[str, dict]:
        """id -> source over every index matching a pattern (ids are unique per dataset)."""
        out: dict[str, dict] = {}
        for idx in self._resolve(pattern, strict=False):
            out.update(idx.docs)
        return out

    def ids(self, pattern: str = "*") -> set[str]:
        return set(self.docs(pattern))

    def index_names(self) -> list[str]:
        return sorted(self.indices)

    def pipeline_of(self, index: str, id_: str) -> str | None:
        """The ingest pipeline that processed a document (None when none did)."""
        idx = self.indices.get(index)
        return None if idx is None else idx.pipelines.get(id_)

    # -- HTTP ---------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if self.sigv4:
            refused = self._check_sigv4(request)
            if refused is not None:
                return refused
        try:
            self._check_media_types(request)
            with self._state:
                response = self._route(request)
        except EsError as exc:
            response = es_response(exc.body(), exc.status)
        return self._as_flavor(request, response)

    def _as_flavor(self, request: Request, response: Response) -> Response:
        """The headers this server answers with: the product header where it has one, and
        the compatibility media type only to a request that asked for it."""
        if not self.flavor.product_header:
            response.headers.pop("X-Elastic-Product", None)
        asked = request.headers.get("Accept", "") + request.headers.get("Content-Type", "")
        m = re.search(r"compatible-with=(\d+)", asked)
        if m and self.flavor.compat:
            response.headers["Content-Type"] = ("application/vnd.elasticsearch+json;"
                                                f"compatible-with={m.group(1)}")
        else:
            response.headers["Content-Type"] = "application/json; charset=UTF-8"
        return response

    def _check_sigv4(self, request: Request) -> Response | None:
        """Amazon's IAM front: a valid AWS Signature V4 or 403, before anything else is looked at."""
        import hashlib
        from datetime import UTC

        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        def refuse(message: str, key: str = "message") -> Response:
            return Response(json.dumps({key: message}), status=403, content_type="application/json")

        header = request.headers.get("Authorization", "")
        action = f"es:ESHttp{request.method.capitalize()}"
        if not header.startswith("AWS4-HMAC-SHA256 "):
            return refuse(f"User: anonymous is not authorized to perform: {action} because no "
                          "resource-based policy allows the action", key="Message")
        fields = dict(part.strip().split("=", 1) for part in header[len("AWS4-HMAC-SHA256 "):].split(","))
        try:
            akid, day, region, service, terminator = fields["Credential"].split("/")
            signed = fields["SignedHeaders"].split(";")
            signature = fields["Signature"]
        except (KeyError, ValueError):
            return refuse("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'")
        amz_date = request.headers.get("X-Amz-Date", "")
        self.signed.append({"access_key": akid, "day": day, "region": region, "service": service,
                            "signed_headers": signed, "amz_date": amz_date,
                            "content_sha256": request.headers.get("X-Amz-Content-SHA256")})
        if terminator != "aws4_request" or (region, service) != (self.region, self.service):
            return refuse(f"Credential should be scoped to a valid region and service: expected "
                          f"{self.region}/{self.service}, got {region}/{service}")
        if "host" not in signed or "x-amz-date" not in signed:
            return refuse("host and x-amz-date must be signed headers")
        try:
            when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return refuse("X-Amz-Date is missing or not in ISO 8601 basic format")
        if abs((datetime.now(UTC) - when).total_seconds()) > 300 or not amz_date.startswith(day):
            return refuse("Signature expired or its date does not match the credential scope")
        body = request.get_data()
        sent_sha = request.headers.get("X-Amz-Content-SHA256")
        if sent_sha is not None and sent_sha != hashlib.sha256(body).hexdigest():
            return refuse("The provided 'x-amz-content-sha256' header does not match what was computed.")
        secret = self.aws_keys.get(akid)
        if secret is None:
            return refuse("The security token included in the request is invalid.")
        query = request.query_string.decode()
        url = f"http://{request.host}{request.path}" + (f"?{query}" if query else "")
        again = AWSRequest(method=request.method, url=url, data=body,
                           headers={h: request.headers.get(h, "") for h in signed if h != "host"})
        again.headers["host"] = request.host
        again.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(akid, secret, request.headers.get("X-Amz-Security-Token")),
                           service, region)
        expected = signer.signature(signer.string_to_sign(again, signer.canonical_request(again)), again)
        if expected != signature:
            return refuse("The request signature we calculated does not match the signature you "
                          "provided. Check your AWS Secret Access Key and signing method.")
        return None

    def _check_media_types(self, request: Request) -> None:
        if not self.flavor.compat:
            ctype = request.headers.get("Content-Type", "")
            if request.get_data() and "vnd.elasticsearch" in ctype:
                raise _Plain406(f"Content-Type header [{ctype}] is not supported")
        for header in ("Accept", "Content-Type"):
            if not self.flavor.compat:
                break  # 7.10 and OpenSearch read the Accept header as plain JSON
            value = request.headers.get(header, "")
            m = re.search(r"compatible-with=(\d+)", value)
            if m and int(m.group(1)) not in (self.major - 1, self.major):
                raise EsError(400, "media_type_header_exception",
                              f"Invalid media-type value on headers [{header}]: A compatible "
                              f"version is required on both Content-Type and Accept headers "
                              f"and must be {self.major - 1} or {self.major}")
        body = request.get_data()
        if body:
            ctype = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
            allowed = {"application/json", "application/x-ndjson", "application/vnd.elasticsearch+json",
                       "application/vnd.elasticsearch+x-ndjson"}
            if ctype not in allowed:
                raise EsError(406, "media_type_header_exception",
                              f"Content-Type header [{ctype}] is not supported")

    def _json(self, request: Request) -> dict:
        data = request.get_data()
        if not data:
            return {}
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise EsError(400, "x_content_parse_exception", f"Failed to parse request body: {exc}") \
                from None
        if not isinstance(doc, dict):
            raise EsError(400, "parse_exception", "request body must be a JSON object")
        return doc

    def _route(self, request: Request) -> Response:
        m = request.method
        parts = [p for p in request.path.split("/") if p]
        if not parts:
            if m in ("GET", "HEAD"):
                return es_response(self._info())
        elif parts == ["_bulk"] and m in ("POST", "PUT"):
            return self._bulk(request, None)
        elif len(parts) == 2 and parts[1] == "_bulk" and m in ("POST", "PUT"):
            return self._bulk(request, parts[0])
        elif parts[0] == "_index_template":
            return self._template(request, parts[1:], self.templates, composable=True)
        elif parts[0] == "_component_template":
            return self._template(request, parts[1:], self.component_templates, composable=False)
        elif parts[:2] == ["_ingest", "pipeline"]:
            return self._pipeline(request, parts[2:])
        elif parts == ["_nodes", "ingest"] and m == "GET":
            return es_response(self._nodes_ingest())
        elif parts[:2] == ["_cluster", "health"] and m == "GET":
            return es_response({"cluster_name": "standin", "status": "green", "timed_out": False,
                                "number_of_nodes": 1, "number_of_data_nodes": 1,
                                "active_primary_shards": len(self.indices)})
        elif parts[-1] in ("_search", "_count") and m in ("GET", "POST") and len(parts) <= 2:
            target = parts[0] if len(parts) == 2 else "_all"
            return self._search(request, target, count_only=parts[-1] == "_count")
        elif parts[-1] == "_refresh" and len(parts) <= 2 and m in ("GET", "POST"):
            return es_response({"_shards": {"total": 1, "successful": 1, "failed": 0}})
        elif len(parts) == 1 and not parts[0].startswith("_"):
            return self._index_admin(request, parts[0])
        elif len(parts) in (2, 3) and parts[1] in ("_doc", "_create"):
            return self._single_doc(request, parts[0], parts[1], parts[2] if len(parts) == 3 else None)
        raise EsError(400 if m != "HEAD" else 404, "illegal_argument_exception",
                      f"no handler found for uri [{request.path}] and method [{m}]")

    def _info(self) -> dict:
        return self.flavor.info()

    def _nodes_ingest(self) -> dict:
        return {"_nodes": {"total": 1, "successful": 1, "failed": 0}, "cluster_name": "standin",
                "nodes": {"standin-node": {"name": "standin", "version": self.version,
                                           "roles": ["data", "ingest", "master"],
                                           "ingest": {"processors": [{"type": t}
                                                                     for t in sorted(self.processors)]}}}}

    # -- templates and pipelines ----------------------------------------------------------------
    def _template(self, request: Request, rest: list[str], store: dict, composable: bool) -> Response:
        m = request.method
        key = "index_templates" if composable else "component_templates"
        if not rest:
            if m == "GET":
                return es_response({key: [{"name": n, ("index_template" if composable else
                                                       "component_template"): t}
                                           for n, t in sorted(store.items())]})
            raise EsError(405, "illegal_argument_exception", f"method [{m}] not allowed")
        name = rest[0]
        if m == "HEAD":
            return es_response({}, 200 if name in store else 404)
        if m == "GET":
            if name not in store:
                raise EsError(404, "resource_not_found_exception",
                              f"index template matching [{name}] not found")
            return es_response({key: [{"name": name, ("index_template" if composable else
                                                      "component_template"): store[name]}]})
        if m == "DELETE":
            if store.pop(name, None) is None:
                raise EsError(404, "resource_not_found_exception", f"index_template [{name}] missing")
            return es_response({"acknowledged": True})
        if m in ("PUT", "POST"):
            body = self._json(request)
            if composable:
                self._validate_composable(name, body)
            else:
                if set(body) - {"template", "version", "_meta", "deprecated"}:
                    raise EsError(400, "x_content_parse_exception",
                                  f"[1:2] [component_template] unknown field [{sorted(set(body))[0]}]")
                self._validate_mappings(body.get("template", {}).get("mappings", {}))
            store[name] = body
            return es_response({"acknowledged": True})
        raise EsError(405, "illegal_argument_exception", f"method [{m}] not allowed")

    def _validate_composable(self, name: str, body: dict) -> None:
        unknown = sorted(set(body) - self.flavor.template_keys)
        if unknown:
            raise EsError(400, "x_content_parse_exception",
                          f"[1:2] [index_template] unknown field [{unknown[0]}]")
        if "index_patterns" not in body:
            raise EsError(400, "action_request_validation_exception",
                          "Validation Failed: 1: index patterns are missing;")
        if not isinstance(body.get("template", {}), dict):
            raise EsError(400, "x_content_parse_exception",
                          "[index_template] template doesn't support values of type: VALUE_STRING")
        for comp in body.get("composed_of", []):
            if comp not in self.component_templates:
                raise EsError(400, "invalid_index_template_exception",
                              f"index_template [{name}] invalid, cause [index template [{name}] "
                              f"specifies component templates [{comp}] that do not exist]")
        patterns = body["index_patterns"]
        patterns = [patterns] if isinstance(patterns, str) else patterns
        for p in patterns:
            if p != p.lower():
                raise EsError(400, "invalid_index_template_exception",
                              f"index_template [{name}] invalid, cause "
                              f"[index_pattern [{p}] must be lowercase]")
        priority = body.get("priority", 0)
        for other, tpl in self.templates.items():
            if other == name or tpl.get("priority", 0) != priority:
                continue
            others = tpl["index_patterns"]
            others = [others] if isinstance(others, str) else others
            if set(others) & set(patterns):
                raise EsError(400, "illegal_argument_exception",
                              f"index template [{name}] has index patterns {patterns} matching patterns "
                              f"from existing templates [{other}] with patterns ({other} => {others}) "
                              "that have the same priority")
        template = body.get("template", {})
        inner = {"settings", "mappings", "aliases"} | (
            {"lifecycle", "data_stream_options"} if self.flavor.pipeline_meta else set())
        unknown = sorted(set(template) - inner)
        if unknown:
            raise EsError(400, "x_content_parse_exception", f"[template] unknown field [{unknown[0]}]")
        self._validate_mappings(template.get("mappings", {}))

    def _validate_mappings(self, mappings: dict) -> None:
        allowed = {"properties", "dynamic_templates", "dynamic", "date_detection", "numeric_detection",
                   "_source", "_meta", "_routing", "runtime", "dynamic_date_formats", "subobjects"}
        if not self.flavor.runtime_mappings:
            allowed -= {"runtime", "subobjects"}
        extra = sorted(set(mappings) - allowed)
        if extra:
            raise EsError(400, "mapper_parsing_exception",
                          f"Root mapping definition has unsupported parameters:  [{extra[0]} : ...]")
        self._validate_properties(mappings.get("properties", {}), "")
        for entry in mappings.get("dynamic_templates", []):
            if not isinstance(entry, dict) or len(entry) != 1:
                raise EsError(400, "mapper_parsing_exception",
                              "a dynamic template must be a single named object")
            (_, spec), = entry.items()
            if "mapping" not in spec:
                raise EsError(400, "mapper_parsing_exception", "dynamic template must have a [mapping]")
            self._validate_field("<dynamic>", spec["mapping"], allow_untyped=True)

    def _validate_properties(self, props: dict, prefix: str) -> None:
        for name, spec in props.items():
            self._validate_field(prefix + name, spec)

    def _validate_field(self, path: str, spec: dict, allow_untyped: bool = False) -> None:
        ftype = spec.get("type")
        if ftype is None and "properties" not in spec and not allow_untyped:
            raise EsError(400, "mapper_parsing_exception", f"No type specified for field [{path}]")
        if ftype is not None and ftype not in self.flavor.field_types:
            raise EsError(400, "mapper_parsing_exception",
                          f"No handler for type [{ftype}] declared on field [{path}]")
        if spec.get("index") not in (None, True, False):
            raise EsError(400, "mapper_parsing_exception",
                          f"Failed to parse mapping: Could not convert [{path}.index] to boolean")
        if "ignore_malformed" in spec and ftype in ("keyword", "text"):
            raise EsError(400, "mapper_parsing_exception",
                          f"unknown parameter [ignore_malformed] on mapper [{path}] of type [{ftype}]")
        if "properties" in spec:
            self._validate_properties(spec["properties"], path + ".")
        for sub, sub_spec in spec.get("fields", {}).items():
            self._validate_field(f"{path}.{sub}", sub_spec)

    def _pipeline(self, request: Request, rest: list[str]) -> Response:
        m = request.method
        if not rest:
            if m == "GET":
                return es_response(self.pipelines)
            raise EsError(405, "illegal_argument_exception", f"method [{m}] not allowed")
        name = rest[0]
        if m == "GET":
            if name not in self.pipelines:
                return es_response({}, 404)
            return es_response({name: self.pipelines[name]})
        if m == "DELETE":
            if self.pipelines.pop(name, None) is None:
                raise EsError(404, "resource_not_found_exception", f"pipeline [{name}] is missing")
            return es_response({"acknowledged": True})
        if m == "PUT":
            body = self._json(request)
            allowed = {"description", "version", "processors", "on_failure"} | (
                {"_meta", "deprecated"} if self.flavor.pipeline_meta else set())
            extra = sorted(set(body) - allowed)
            if extra:
                raise EsError(400, "parse_exception", f"pipeline [{name}] doesn't support one or more "
                              f"provided configuration parameters {extra}")
            processors = body.get("processors")
            if not isinstance(processors, list):
                raise EsError(400, "parse_exception", "[processors] required property is missing")
            for proc in processors + body.get("on_failure", []):
                if not isinstance(proc, dict) or len(proc) != 1:
                    raise EsError(400, "parse_exception", "a processor must be a single named object")
                (ptype, spec), = proc.items()
                if ptype not in self.processors:
                    raise EsError(400, "parse_exception", f"No processor type exists with name [{ptype}]")
                if ptype in ("geoip", "user_agent", "rename", "convert", "date", "lowercase") and \
                        "field" not in spec:
                    raise EsError(400, "parse_exception", f"[field] required property is missing ({ptype})")
            self.pipelines[name] = body
            return es_response({"acknowledged": True})
        raise EsError(405, "illegal_argument_exception", f"method [{m}] not allowed")

    def _run_pipeline(self, name: str, doc: dict) -> dict:
        """Apply the processors the stand-in understands; others are accepted unchanged."""
        doc = json.loads(json.dumps(doc))
        for proc in self.pipelines[name]["processors"]:
            (ptype, spec), = proc.items()
            field = spec.get("field")
            value = _get_path(doc, field) if field else None
            try:
                if "if" in spec and not condition_holds(spec["if"], doc):
                    continue
                if ptype == "geoip":
                    if value is None:
                        if not spec.get("ignore_missing"):
                            raise EsError(400, "illegal_argument_exception",
                                          f"field [{field}] not present as part of path [{field}]")
                        continue
                    ip = ipaddress.ip_address(str(value))  # ValueError on garbage
                    if not ip.is_private and not ip.is_loopback:
                        doc[spec.get("target_field", "geoip")] = {"ip": str(ip), "country_iso_code": "ZZ"}
                elif ptype == "user_agent":
                    if value is None:
                        if not spec.get("ignore_missing"):
                            raise EsError(400, "illegal_argument_exception",
                                          f"field [{field}] not present as part of path [{field}]")
                        continue
                    doc[spec.get("target_field", "user_agent")] = {
                        "original": value, "name": str(value).split("/")[0] or "Other"}
                elif ptype == "set":
                    doc[spec["field"]] = spec.get("value", spec.get("copy_from"))
                elif ptype == "remove":
                    fields = spec["field"] if isinstance(spec["field"], list) else [spec["field"]]
                    for f in fields:
                        if f in doc:
                            doc.pop(f)
                        elif not spec.get("ignore_missing"):
                            raise EsError(400, "illegal_argument_exception", f"field [{f}] not present")
            except QueryError as exc:
                raise EsError(400, exc.type, exc.reason) from None
            except (EsError, ValueError) as exc:
                if spec.get("ignore_failure"):
                    continue
                if isinstance(exc, EsError):
                    raise
                raise EsError(400, "illegal_argument_exception",
                              f"'{value}' is not an IP string literal.") from None
        return doc

    # -- indices --------------------------------------------------------------------------------
    def _template_for(self, name: str) -> tuple[str | None, dict]:
        best: tuple[int, str, dict] | None = None
        for tname, tpl in self.templates.items():
            patterns = tpl["index_patterns"]
            patterns = [patterns] if isinstance(patterns, str) else patterns
            if any(fnmatch.fnmatchcase(name, p) for p in patterns):
                prio = tpl.get("priority", 0)
                if best is None or prio > best[0]:
                    best = (prio, tname, tpl)
        if best is None:
            return None, {}
        merged: dict = {"mappings": {"properties": {}}, "settings": {}}
        for comp in best[2].get("composed_of", []):
            _merge(merged, self.component_templates[comp].get("template", {}))
        _merge(merged, best[2].get("template", {}))
        return best[1], merged

    def _index_for_write(self, name: str) -> Index:
        validate_index_name(name)
        idx = self.indices.get(name)
        if idx is None:
            tname, tpl = self._template_for(name)
            idx = Index(name, tname, tpl.get("mappings", {}), tpl.get("settings", {}))
            self.indices[name] = idx
        return idx

    def _resolve(self, target: str, strict: bool = True) -> list[Index]:
        if target in ("_all", "*", ""):
            return list(self.indices.values())
        out: dict[str, Index] = {}
        for expr in target.split(","):
            if "*" in expr:
                for name, idx in self.indices.items():
                    if fnmatch.fnmatchcase(name, expr):
                        out[name] = idx
            elif expr in self.indices:
                out[expr] = self.indices[expr]
            elif strict:
                raise EsError(404, "index_not_found_exception", f"no such index [{expr}]")
        return list(out.values())

    def _index_admin(self, request: Request, name: str) -> Response:
        m = request.method
        if m == "HEAD":
            return es_response({}, 200 if name in self.indices else 404)
        if m == "PUT":
            if name in self.indices:
                raise EsError(400, "resource_already_exists_exception", f"index [{name}] already exists")
            body = self._json(request)
            idx = self._index_for_write(name)
            if body.get("mappings"):
                self._validate_mappings(body["mappings"])
                _merge(idx.mappings, body["mappings"])
            return es_response({"acknowledged": True, "shards_acknowledged": True, "index": name})
        if m == "DELETE":
            found = self._resolve(name)
            for idx in found:
                del self.indices[idx.name]
            return es_response({"acknowledged": True})
        if m == "GET":
            found = self._resolve(name)
            return es_response({idx.name: {"mappings": idx.mappings, "settings": idx.settings}
                                for idx in found})
        raise EsError(405, "illegal_argument_exception", f"method [{m}] not allowed")

    # -- writes -----------------------------------------------------------------------------------
    def _write_one(self, op: str, index: str, id_: str | None, source: dict | None,
                   pipeline: str | None) -> dict:
        """Index/create/update/delete one document; returns the per-item result."""
        item = {"_index": index, "_id": id_}
        try:
            if id_ is not None and len(id_.encode()) > MAX_ID_BYTES:
                raise EsError(400, "illegal_argument_exception",
                              f"id [{id_[:40]}...] is too long, must be no longer than 512 bytes "
                              f"but was: {len(id_.encode())}")
            fault = self._item_fault(index, id_ or "")
            if fault is not None:
                raise EsError(fault.status, fault.type, fault.reason)
            idx = self._index_for_write(index)
            if id_ is None:
                id_ = f"auto{next(self._seq)}"
                item["_id"] = id_
            exists = id_ in idx.docs
            if op == "delete":
                if not exists:
                    return {**item, "result": "not_found", "status": 404, "_version": 1}
                del idx.docs[id_]
                return {**item, "result": "deleted", "status": 200,
                        "_version": idx.versions.get(id_, 1) + 1}
            if op == "create" and exists:
                raise EsError(409, "version_conflict_engine_exception",
                              f"[{id_}]: version conflict, document already exists")
            if op == "update":
                if not isinstance(source, dict) or not ({"doc", "upsert", "script"} & set(source)):
                    raise EsError(400, "action_request_validation_exception",
                                  "Validation Failed: 1: script or doc is missing;")
                if not exists and not source.get("doc_as_upsert") and "upsert" not in source:
                    raise EsError(404, "document_missing_exception", f"[{id_}]: document missing")
                merged = dict(idx.docs.get(id_) or source.get("upsert") or {})
                _merge(merged, source.get("doc", {}))
                source = merged
                pipeline = None
            if not isinstance(source, dict):
                raise EsError(400, "document_parsing_exception", "failed to parse: not a JSON object")
            default = idx.settings.get("index", {}).get("default_pipeline") \
                or idx.settings.get("index.default_pipeline")
            chosen = pipeline or default
            if chosen in ("_none", None):
                chosen = None
            elif chosen not in self.pipelines:
                raise EsError(400, "illegal_argument_exception",
                              f"pipeline with id [{chosen}] does not exist")
            if chosen:
                source = self._run_pipeline(chosen, source)
            idx.check_and_map(source)
            idx.docs[id_] = source
            idx.pipelines[id_] = chosen
            version = idx.versions.get(id_, 0) + 1
            idx.versions[id_] = version
            return {**item, "_version": version, "result": "updated" if exists else "created",
                    "status": 200 if exists else 201, "_seq_no": next(self._seq), "_primary_term": 1,
                    "_shards": {"total": 1, "successful": 1, "failed": 0}}
        except EsError as exc:
            return {**item, "status": exc.status, "error": {"type": exc.type, "reason": exc.reason}}

    def _item_fault(self, index: str, id_: str) -> _ItemFault | None:
        for fault in self._item_faults:
            if fault.match(index, id_):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._item_faults.remove(fault)
                return fault
        return None

    def _bulk(self, request: Request, path_index: str | None) -> Response:
        data = request.get_data()
        if not data:
            raise EsError(400, "parse_exception", "request body is required")
        if not data.endswith(b"\n"):
            raise EsError(400, "illegal_argument_exception",
                          "The bulk request must be terminated by a newline [\\n]")
        lines = data.decode("utf-8").split("\n")[:-1]
        default_pipeline = request.args.get("pipeline")
        ops: list[tuple[str, str, str | None, dict | None, str | None]] = []
        i = 0
        while i < len(lines):
            line_no = i + 1
            if not lines[i].strip():
                i += 1
                continue
            try:
                action = json.loads(lines[i])
            except ValueError:
                raise EsError(400, "illegal_argument_exception",
                              f"Malformed action/metadata line [{line_no}], expected START_OBJECT") from None
            if not isinstance(action, dict) or len(action) != 1:
                raise EsError(400, "illegal_argument_exception",
                              f"Malformed action/metadata line [{line_no}], expected a single action")
            (op, meta), = action.items()
            if op not in BULK_ACTIONS:
                raise EsError(400, "illegal_argument_exception",
                              f"Malformed action/metadata line [{line_no}], expected field [create], "
                              f"[delete], [index] or [update] but found [{op}]")
            if not isinstance(meta, dict):
                raise EsError(400, "illegal_argument_exception",
                              f"Malformed action/metadata line [{line_no}], expected START_OBJECT")
            unknown = sorted(set(meta) - BULK_META_PARAMS)
            if unknown:
                raise EsError(400, "illegal_argument_exception",
                              f"Action/metadata line [{line_no}] contains an unknown parameter "
                              f"[{unknown[0]}]")
            index = meta.get("_index", path_index)
            if not index:
                raise EsError(400, "action_request_validation_exception",
                              "Validation Failed: 1: index is missing;")
            id_ = meta.get("_id")
            if id_ is not None:
                id_ = str(id_)
            if op in ("update", "delete") and id_ is None:
                raise EsError(400, "action_request_validation_exception",
                              "Validation Failed: 1: id is missing;")
            source = None
            if op != "delete":
                i += 1
                if i >= len(lines):
                    raise EsError(400, "illegal_argument_exception",
                                  "The bulk request must be terminated by a newline [\\n]")
                try:
                    source = json.loads(lines[i])
                except ValueError:
                    source = "<malformed>"
            ops.append((op, index, id_, source, meta.get("pipeline", default_pipeline)))
            i += 1
        if not ops:
            raise EsError(400, "action_request_validation_exception",
                          "Validation Failed: 1: no requests added;")
        items = []
        for op, index, id_, source, pipeline in ops:
            result = self._write_one(op, index, id_, source if isinstance(source, dict) else None,
                                     pipeline)
            items.append({op: result})
        errors = any("error" in next(iter(it.values())) for it in items)
        return es_response({"took": 1, "errors": errors, "items": items})

    def _single_doc(self, request: Request, index: str, kind: str, id_: str | None) -> Response:
        m = request.method
        if m in ("GET", "HEAD"):
            if id_ is None:
                raise EsError(405, "illegal_argument_exception", "GET needs a document id")
            idx = self.indices.get(index)
            if idx is None:
                raise EsError(404, "index_not_found_exception", f"no such index [{index}]")
            if id_ not in idx.docs:
                return es_response({"_index": index, "_id": id_, "found": False}, 404)
            return es_response({"_index": index, "_id": id_, "_version": idx.versions.get(id_, 1),
                                "_seq_no": 0, "_primary_term": 1, "found": True,
                                "_source": idx.docs[id_]})
        if m == "DELETE":
            result = self._write_one("delete", index, id_, None, None)
        elif m in ("PUT", "POST"):
            op = "create" if kind == "_create" or request.args.get("op_type") == "create" else "index"
            result = self._write_one(op, index, id_, self._json(request), request.args.get("pipeline"))
        else:
            raise EsError(405, "illegal_argument_exception", f"method [{m}] not allowed")
        if "error" in result:
            raise EsError(result["status"], result["error"]["type"], result["error"]["reason"])
        return es_response(result, result["status"])

    # -- search -----------------------------------------------------------------------------------
    def _search(self, request: Request, target: str, count_only: bool) -> Response:
        body = self._json(request)
        ignore_unavailable = request.args.get("ignore_unavailable") == "true"
        indices = self._resolve(target, strict=not ignore_unavailable)
        try:  # the query DSL and aggregations, resolved against each index's mapping
            hits, aggregations = run_search(indices, body)
        except QueryError as exc:
            raise EsError(400, exc.type, exc.reason) from None
        if count_only:
            return es_response({"count": len(hits), "_shards": {"total": 1, "successful": 1}})
        size = int(body.get("size", request.args.get("size", 10)))
        start = int(body.get("from", request.args.get("from", 0)))
        if size + start > 10000:
            raise EsError(400, "illegal_argument_exception",
                          "Result window is too large, from + size must be less than or equal to: "
                          "[10000]. See the scroll api or a composite aggregation for a more efficient way")
        for sort in reversed(body.get("sort", [])):
            field, order = (sort, "asc") if isinstance(sort, str) else next(iter(sort.items()))
            order = order.get("order", "asc") if isinstance(order, dict) else order
            hits.sort(key=lambda h, f=field: str(_get_path(h[2], f)), reverse=order == "desc")
        out = {
            "took": 1, "timed_out": False,
            "_shards": {"total": len(indices), "successful": len(indices), "skipped": 0, "failed": 0},
            "hits": {"total": {"value": len(hits), "relation": "eq"}, "max_score": 1.0 if hits else None,
                     "hits": [{"_index": idx.name, "_id": id_, "_score": 1.0, "_source": doc}
                              for idx, id_, doc in hits[start:start + size]]},
        }
        if aggregations is not None:
            out["aggregations"] = aggregations
        return es_response(out)


def _merge(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = json.loads(json.dumps(value))


#: The servers every test using `es_standin` runs against: Amazon's Elasticsearch 7.10 and
#: OpenSearch 2 behind IAM (SigV4), Elasticsearch 8 and 9, OpenSearch 1 and 3 without.
STANDIN_SERVERS = {
    "es7-sigv4": {"flavor": "es7", "sigv4": True},
    "es8": {"flavor": "es8"},
    "es9": {"flavor": "es9"},
    "os1": {"flavor": "os1"},
    "os2-sigv4": {"flavor": "os2", "sigv4": True},
    "os3": {"flavor": "os3"},
}


def plain_auth(es: ElasticsearchStandIn, monkeypatch) -> None:
    """For tests of basic or API-key auth: the stand-in stops asking for SigV4."""
    es.sigv4 = False
    monkeypatch.delenv("ES_AWS_AUTH", raising=False)


@pytest.fixture(params=list(STANDIN_SERVERS))
def es_standin(request, monkeypatch):
    """A running stand-in with ES_HOST pointing at it, once per supported server."""
    with ElasticsearchStandIn(**STANDIN_SERVERS[request.param]) as es:
        monkeypatch.setenv("ES_HOST", es.url)
        if es.sigv4:
            monkeypatch.setenv("ES_AWS_AUTH", "sigv4")
            monkeypatch.setenv("AWS_REGION", es.region)
        yield es
