"""Query DSL and aggregations for the Elasticsearch stand-in, resolved against each index's mapping.

An analyst's query only proves something about the documents when it is evaluated the way
Elasticsearch evaluates it: a field is what its index mapping says (aliases followed,
`.keyword`-style multi-fields read from their parent, dates compared as instants, numbers as
numbers, `text` through tokens), a term of the wrong type is refused (a `true` on an integer
field is a 400, as in Elasticsearch), and an aggregation over a `text` field is refused.

Supported queries: match_all, match_none, term, terms, range, exists, ids, match, bool
(must, filter, should with minimum_should_match, must_not). Aggregations: terms,
date_histogram (calendar_interval / fixed_interval), histogram, composite (terms sources,
`after`), geo_distance, cardinality, value_count, min, max, sum, avg, each with sub-aggregations.
Anything else is a 400 naming what is not supported, never a silent match.
"""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import UTC, datetime, timedelta

NUMERIC = {"long", "integer", "short", "byte", "unsigned_long", "double", "float", "half_float",
           "scaled_float"}
INTEGRAL = {"long", "integer", "short", "byte", "unsigned_long"}


class QueryError(Exception):
    def __init__(self, type_: str, reason: str):
        super().__init__(reason)
        self.type, self.reason = type_, reason


def get_path(doc: dict, path: str):
    """A value by dotted path; also finds literal dotted keys."""
    if path in doc:
        return doc[path]
    cur = doc
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


# -- fields -----------------------------------------------------------------------------------------
def resolve(index, field: str) -> tuple[str, dict | None]:
    """(source path, mapping) of a field name in one index: aliases and multi-fields followed."""
    mapping = index.field_mapping(field)
    if mapping is not None and mapping.get("type") == "alias":
        return resolve(index, mapping["path"])
    if mapping is not None and "." in field:
        parent_path = field.rsplit(".", 1)[0]
        parent = index.field_mapping(parent_path)
        if parent and field.rsplit(".", 1)[1] in parent.get("fields", {}):
            return parent_path, mapping
    return field, mapping


def to_millis(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00Z"
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def geo_point(value) -> tuple[float, float] | None:
    """(lat, lon) of any geo_point form: {"lat","lon"}, [lon, lat], "lat,lon"."""
    if isinstance(value, dict) and "lat" in value and "lon" in value:
        return float(value["lat"]), float(value["lon"])
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
        return float(value[1]), float(value[0])
    if isinstance(value, str) and "," in value:
        lat, lon = value.split(",", 1)
        return float(lat), float(lon)
    return None


def convert(value, mapping: dict, field: str, *, query: bool = False):
    """A value as the field's type indexes it; in a query, a mismatch is Elasticsearch's 400."""
    ftype = mapping.get("type", "object" if "properties" in mapping else None)
    try:
        if ftype == "keyword" or ftype == "constant_keyword" or ftype == "wildcard":
            if isinstance(value, bool):
                return "true" if value else "false"
            return str(value)
        if ftype in INTEGRAL:
            if isinstance(value, bool):
                raise ValueError(value)
            number = float(value)
            return int(number) if not query or number == int(number) else number
        if ftype in NUMERIC:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if ftype == "boolean":
            if isinstance(value, bool):
                return value
            if value in ("true", "false"):
                return value == "true"
            raise ValueError(value)
        if ftype in ("date", "date_nanos"):
            millis = to_millis(value)
            if millis is None:
                raise ValueError(value)
            return millis
        if ftype == "ip":
            return ipaddress.ip_address(str(value))
        if ftype == "text":
            return str(value)
    except (TypeError, ValueError, OverflowError):
        if query:
            raise QueryError("query_shard_exception",
                             f"failed to create query: [{value}] is not a valid value for field "
                             f"[{field}] of type [{ftype}]") from None
        return None
    if query:
        raise QueryError("query_shard_exception",
                         f"field [{field}] of type [{ftype}] does not support this query")
    return value


def tokens(text: str) -> set[str]:
    return {t for t in re.split(r"\W+", text.lower()) if t}


def values(index, doc: dict, field: str) -> list:
    """The indexed values of a field in one document (empty when unmapped or missing)."""
    path, mapping = resolve(index, field)
    if mapping is None:
        return []
    raw = get_path(doc, path)
    if raw is None:
        return []
    if mapping.get("type") == "geo_point":
        point = geo_point(raw)
        return [point] if point else []
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if item is None or isinstance(item, dict | list):
            continue
        if mapping.get("type") == "keyword" and isinstance(item, str) and \
                len(item) > mapping.get("ignore_above", 1 << 30):
            continue
        converted = convert(item, mapping, field)
        if converted is not None:
            out.append(converted)
    return out


# -- queries ----------------------------------------------------------------------------------------
def _single(spec: dict, kind: str) -> tuple[str, object]:
    fields = [(k, v) for k, v in spec.items() if k not in ("boost", "_name")]
    if len(fields) != 1:
        raise QueryError("parsing_exception", f"[{kind}] query doesn't support multiple fields")
    return fields[0]


def matches(query: dict, index, doc_id: str, doc: dict) -> bool:
    if not query:
        return True
    if not isinstance(query, dict) or len(query) != 1:
        raise QueryError("parsing_exception", "a query must be a single named object")
    (kind, spec), = query.items()
    if kind == "match_all":
        return True
    if kind == "match_none":
        return False
    if kind == "ids":
        return doc_id in {str(v) for v in spec.get("values", [])}
    if kind == "bool":
        def clauses(name):
            got = spec.get(name, [])
            return got if isinstance(got, list) else [got]
        unknown = set(spec) - {"must", "filter", "should", "must_not", "minimum_should_match", "boost",
                               "_name"}
        if unknown:
            raise QueryError("parsing_exception", f"[bool] query does not support [{sorted(unknown)[0]}]")
        required = clauses("must") + clauses("filter")
        should = clauses("should")
        minimum = spec.get("minimum_should_match", 0 if required else 1)
        if not should:
            minimum = 0
        return (all(matches(q, index, doc_id, doc) for q in required)
                and sum(matches(q, index, doc_id, doc) for q in should) >= int(minimum)
                and not any(matches(q, index, doc_id, doc) for q in clauses("must_not")))
    if kind == "exists":
        path, mapping = resolve(index, spec["field"])
        if mapping is None:
            return False
        raw = get_path(doc, path)
        located = mapping.get("type") != "geo_point" or geo_point(raw) is not None
        return raw not in (None, [], {}) and located
    if kind in ("term", "terms", "match", "range"):
        field, wanted = _single(spec, kind)
        path, mapping = resolve(index, field)
        if mapping is None:
            return False  # an unmapped field matches nothing
        have = values(index, doc, field)
        ftype = mapping.get("type")
        if kind == "range":
            return _in_range(have, wanted, mapping, field)
        if kind == "match":
            text = wanted.get("query") if isinstance(wanted, dict) else wanted
            if ftype == "text":
                return bool(tokens(str(text)) & set().union(*(tokens(v) for v in have)) if have else False)
            return convert(text, mapping, field, query=True) in have
        if kind == "term":
            value = wanted.get("value") if isinstance(wanted, dict) else wanted
            if ftype == "text":
                return any(str(value) in tokens(v) for v in have)
            return convert(value, mapping, field, query=True) in have
        if not isinstance(wanted, list):
            raise QueryError("parsing_exception", "[terms] query requires an array of values")
        if ftype == "text":
            return any(str(w) in tokens(v) for w in wanted for v in have)
        return any(convert(w, mapping, field, query=True) in have for w in wanted)
    raise QueryError("parsing_exception", f"unknown query [{kind}] (not supported by the stand-in)")


def _in_range(have: list, bounds: dict, mapping: dict, field: str) -> bool:
    if not isinstance(bounds, dict):
        raise QueryError("parsing_exception", "[range] query malformed")
    checks = {"gte": lambda a, b: a >= b, "gt": lambda a, b: a > b,
              "lte": lambda a, b: a <= b, "lt": lambda a, b: a < b}
    limits = []
    for op, bound in bounds.items():
        if op in ("format", "time_zone", "boost", "relation"):
            if op == "time_zone" and bound not in ("UTC", "Z", "+00:00"):
                raise QueryError("parsing_exception", "the stand-in only evaluates UTC ranges")
            continue
        if op not in checks:
            raise QueryError("parsing_exception", f"[range] query does not support [{op}]")
        if bound is None:
            continue
        if isinstance(bound, str) and bound.startswith("now"):
            raise QueryError("parsing_exception", "date math is not supported by the stand-in")
        limits.append((checks[op], convert(bound, mapping, field, query=True)))
    return any(all(check(v, limit) for check, limit in limits) for v in have)


# -- aggregations -----------------------------------------------------------------------------------
CALENDAR = {"minute": "1m", "1m": "1m", "hour": "1h", "1h": "1h", "day": "1d", "1d": "1d",
            "week": "1w", "1w": "1w", "month": "1M", "1M": "1M", "quarter": "1q", "1q": "1q",
            "year": "1y", "1y": "1y"}
FIXED_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def _iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _calendar_floor(millis: int, unit: str) -> int:
    when = datetime.fromtimestamp(millis / 1000, UTC)
    if unit == "1m":
        when = when.replace(second=0, microsecond=0)
    elif unit == "1h":
        when = when.replace(minute=0, second=0, microsecond=0)
    elif unit == "1d":
        when = when.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "1w":
        when = (when - timedelta(days=when.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "1M":
        when = when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "1q":
        when = when.replace(month=(when.month - 1) // 3 * 3 + 1, day=1, hour=0, minute=0, second=0,
                            microsecond=0)
    else:
        when = when.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return int(when.timestamp() * 1000)


def _calendar_next(millis: int, unit: str) -> int:
    when = datetime.fromtimestamp(millis / 1000, UTC)
    if unit in ("1m", "1h", "1d", "1w"):
        step = {"1m": timedelta(minutes=1), "1h": timedelta(hours=1), "1d": timedelta(days=1),
                "1w": timedelta(weeks=1)}[unit]
        return int((when + step).timestamp() * 1000)
    months = {"1M": 1, "1q": 3, "1y": 12}[unit]
    month = when.month - 1 + months
    return int(when.replace(year=when.year + month // 12, month=month % 12 + 1).timestamp() * 1000)


def _haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def _sort_key(value):
    if value is None:
        return (0, "")
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    return (2, str(value))


def _key(value, mapping: dict) -> dict:
    """A bucket key as Elasticsearch prints it (booleans as 1/0 with key_as_string, dates in ms)."""
    ftype = mapping.get("type")
    if ftype == "boolean":
        return {"key": int(value), "key_as_string": "true" if value else "false"}
    if ftype in ("date", "date_nanos"):
        return {"key": value, "key_as_string": _iso(value)}
    if ftype == "ip":
        return {"key": str(value)}
    return {"key": value}


def aggregate(name: str, spec: dict, hits: list) -> dict:
    """One aggregation over hits [(index, id, doc)]."""
    subs = spec.get("aggs", spec.get("aggregations", {}))
    kinds = [(k, v) for k, v in spec.items() if k not in ("aggs", "aggregations", "meta")]
    if len(kinds) != 1:
        raise QueryError("parsing_exception", f"aggregation [{name}] must have exactly one type")
    (kind, body), = kinds

    def bucket(key_fields: dict, members: list) -> dict:
        out = {**key_fields, "doc_count": len(members)}
        for sub_name, sub_spec in subs.items():
            out[sub_name] = aggregate(sub_name, sub_spec, members)
        return out

    def field_values(hit) -> tuple[list, dict | None]:
        index, _, doc = hit
        path, mapping = resolve(index, body["field"])
        if mapping is not None and mapping.get("type") == "text" and not mapping.get("fielddata"):
            raise QueryError("illegal_argument_exception",
                             f"Fielddata is disabled on [{body['field']}] in [{index.name}]. Text fields "
                             "are not optimised for operations that require per-document field data "
                             "like aggregations and sorting, so these operations are disabled by "
                             "default. Please use a keyword field instead.")
        return values(index, doc, body["field"]), mapping

    if kind in ("cardinality", "value_count", "min", "max", "sum", "avg"):
        found = []
        for hit in hits:
            vals, mapping = field_values(hit)
            found += vals
        numbers = [float(v) for v in found if isinstance(v, int | float)]
        if kind == "cardinality":
            return {"value": len(set(found))}
        if kind == "value_count":
            return {"value": len(found)}
        if kind == "sum":
            return {"value": float(sum(numbers))}
        if not numbers:
            return {"value": None}
        return {"value": {"min": min, "max": max}[kind](numbers) if kind != "avg"
                else sum(numbers) / len(numbers)}
    if kind == "terms":
        size = int(body.get("size", 10))
        if size <= 0:
            raise QueryError("illegal_argument_exception",
                             f"[size] must be greater than 0. Found [{size}] in [{name}]")
        groups: dict = {}
        mapping: dict = {}
        for hit in hits:
            vals, m = field_values(hit)
            mapping = m or mapping
            for v in set(vals):
                groups.setdefault(v, []).append(hit)
        ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), _sort_key(kv[0])))
        ordered = [kv for kv in ordered if len(kv[1]) >= int(body.get("min_doc_count", 1))]
        return {"doc_count_error_upper_bound": 0,
                "sum_other_doc_count": sum(len(m) for _, m in ordered[size:]),
                "buckets": [bucket(_key(k, mapping), m) for k, m in ordered[:size]]}
    if kind in ("date_histogram", "histogram"):
        if kind == "date_histogram":
            if "interval" in body:
                raise QueryError("illegal_argument_exception",
                                 "[interval] on [date_histogram] is not supported; use "
                                 "[calendar_interval] or [fixed_interval]")
            if body.get("time_zone") not in (None, "UTC", "Z", "+00:00"):
                raise QueryError("illegal_argument_exception", "the stand-in only buckets in UTC")
            if "calendar_interval" in body:
                unit = CALENDAR.get(str(body["calendar_interval"]))
                if unit is None:
                    raise QueryError("illegal_argument_exception",
                                     f"The supplied interval [{body['calendar_interval']}] could not be "
                                     "parsed as a calendar interval.")
                floor = lambda v: _calendar_floor(v, unit)  # noqa: E731
                step = lambda v: _calendar_next(v, unit)  # noqa: E731
            elif "fixed_interval" in body:
                m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", str(body["fixed_interval"]))
                if not m:
                    raise QueryError("illegal_argument_exception",
                                     f"failed to parse [{body['fixed_interval']}] as a fixed interval")
                width = int(m.group(1)) * FIXED_UNITS[m.group(2)]
                floor = lambda v: v - v % width  # noqa: E731
                step = lambda v: v + width  # noqa: E731
            else:
                raise QueryError("illegal_argument_exception",
                                 "Required one of fields [calendar_interval, fixed_interval], but none were "
                                 "specified.")
        else:
            width = float(body["interval"])
            if width <= 0:
                raise QueryError("illegal_argument_exception", "[interval] must be >0 for histogram")
            floor = lambda v: math.floor(v / width) * width  # noqa: E731
            step = lambda v: v + width  # noqa: E731
        groups = {}
        for hit in hits:
            vals, mapping = field_values(hit)
            if kind == "date_histogram" and mapping is not None and \
                    mapping.get("type") not in ("date", "date_nanos"):
                raise QueryError("illegal_argument_exception",
                                 f"Field [{body['field']}] of type [{mapping.get('type')}] is not "
                                 "supported for aggregation [date_histogram]")
            for v in {floor(v) for v in vals if isinstance(v, int | float)}:
                groups.setdefault(v, []).append(hit)
        keys = sorted(groups)
        if keys and int(body.get("min_doc_count", 0)) == 0:  # empty buckets in between
            filled, k = [], keys[0]
            while k <= keys[-1]:
                filled.append(k)
                k = step(k)
            keys = filled
        keys = [k for k in keys if len(groups.get(k, [])) >= int(body.get("min_doc_count", 0))]
        key_of = (lambda k: {"key": k, "key_as_string": _iso(k)}) if kind == "date_histogram" \
            else (lambda k: {"key": float(k)})
        return {"buckets": [bucket(key_of(k), groups.get(k, [])) for k in keys]}
    if kind == "geo_distance":
        origin = body.get("origin")
        centre = geo_point(origin)
        if centre is None:
            raise QueryError("parsing_exception", "[geo_distance] needs an origin")
        factor = {"km": 1.0, "m": 1000.0, "mi": 1 / 1.609344}.get(body.get("unit", "m"))
        if factor is None:
            raise QueryError("parsing_exception", f"unit [{body.get('unit')}] not supported by the stand-in")
        out = []
        for r in body.get("ranges", []):
            members = []
            for hit in hits:
                vals, mapping = field_values(hit)
                if mapping is not None and mapping.get("type") != "geo_point":
                    raise QueryError("illegal_argument_exception",
                                     f"field [{body['field']}] is not a geo_point field")
                if any((r.get("from") is None or _haversine_km(centre, p) * factor >= r["from"])
                       and (r.get("to") is None or _haversine_km(centre, p) * factor < r["to"])
                       for p in vals):
                    members.append(hit)
            key = {"key": r.get("key") or f"{r.get('from', '*')}-{r.get('to', '*')}"}
            key.update({k: float(r[k]) for k in ("from", "to") if r.get(k) is not None})
            out.append(bucket(key, members))
        return {"buckets": out}
    if kind == "composite":
        return _composite(name, body, hits, bucket)
    raise QueryError("parsing_exception", f"aggregation [{kind}] not supported by the stand-in")


def _composite(name: str, body: dict, hits: list, bucket) -> dict:
    size = int(body.get("size", 10))
    if size <= 0:
        raise QueryError("illegal_argument_exception", "[size] must be greater than 0")
    names, fields = [], []
    for src in body.get("sources", []):
        (sname, sdef), = src.items()
        (stype, sbody), = sdef.items()
        if stype != "terms":
            raise QueryError("parsing_exception", f"composite source [{stype}] not supported")
        names.append(sname)
        fields.append((sbody["field"], sbody.get("missing_bucket", False)))
    groups: dict = {}
    for hit in hits:
        index, _, doc = hit
        per_field = []
        for field, missing in fields:
            path, mapping = resolve(index, field)
            if mapping is not None and mapping.get("type") == "text":
                raise QueryError("illegal_argument_exception", f"Fielddata is disabled on [{field}]")
            vals = sorted(set(values(index, doc, field)), key=_sort_key)
            per_field.append(vals or ([None] if missing else []))
        import itertools

        for combo in itertools.product(*per_field):
            groups.setdefault(combo, []).append(hit)
    keys = sorted(groups, key=lambda c: tuple(_sort_key(v) for v in c))
    after = body.get("after")
    if after is not None:
        if set(after) != set(names):
            raise QueryError("illegal_argument_exception",
                             f"[after] has {len(after)} value(s) but [sources] has {len(names)}")
        marker = tuple(_sort_key(after[n]) for n in names)
        keys = [k for k in keys if tuple(_sort_key(v) for v in k) > marker]
    page = keys[:size]
    result: dict = {"buckets": [bucket({"key": dict(zip(names, k, strict=True))}, groups[k]) for k in page]}
    if page:
        result["after_key"] = dict(zip(names, page[-1], strict=True))
    return result


def run_search(indices: list, body: dict) -> tuple[list, dict | None]:
    """(hits [(index, id, doc)], aggregations or None) of a search body over `indices`."""
    query = body.get("query", {"match_all": {}})
    hits = [(idx, id_, doc) for idx in sorted(indices, key=lambda x: x.name)
            for id_, doc in idx.docs.items() if matches(query, idx, id_, doc)]
    aggs = body.get("aggs", body.get("aggregations"))
    if not aggs:
        return hits, None
    return hits, {name: aggregate(name, spec, hits) for name, spec in aggs.items()}


def condition_holds(condition: str, doc: dict) -> bool:
    """An ingest processor's `if` of the forms the shipped pipelines use: `ctx.a.b == null`
    and `ctx.a.b != null` (with or without `?.`); anything else is refused."""
    m = re.fullmatch(r"\s*ctx\.([\w.?]+?)\s*(==|!=)\s*null\s*", condition or "")
    if not m:
        raise QueryError("script_exception", f"the stand-in cannot evaluate the condition [{condition}]")
    value = get_path(doc, m.group(1).replace("?", ""))
    return (value is None) == (m.group(2) == "==")
