"""Kibana saved objects: generated, self-consistent, and only using fields the templates map."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from harvester.elasticsearch.loading import TEMPLATES_DIR
from tests.unit.test_templates import template_for_index

ROOT = Path(__file__).resolve().parents[2]
NDJSON = ROOT / "kibana" / "harvester.ndjson"
AGGREGATABLE = {"keyword", "long", "integer", "short", "byte", "double", "float", "date", "boolean",
                "ip", "scaled_float", "half_float", "unsigned_long"}


def load_generator():
    spec = importlib.util.spec_from_file_location("kibana_generate", ROOT / "kibana" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return [json.loads(line) for line in NDJSON.read_text(encoding="utf-8").splitlines() if line.strip()]


def example_index(pattern: str) -> str:
    """A concrete index name that a data view's pattern covers."""
    return pattern[:-1] + "2026.11.23" if pattern.endswith("-*") else pattern.rstrip("*")


def field_type(mappings: dict, path: str) -> str | None:
    props = mappings["properties"]
    parts = path.split(".")
    spec = None
    for i, part in enumerate(parts):
        if part in props:
            spec = props[part]
            props = spec.get("properties", {})
        elif spec is not None and part in spec.get("fields", {}) and i == len(parts) - 1:
            spec = spec["fields"][part]
        else:
            return None
    return spec.get("type", "object") if spec else None


def test_shipped_file_is_what_the_generator_writes():
    assert NDJSON.read_text(encoding="utf-8") == load_generator().render(), \
        "kibana/harvester.ndjson is stale: run python kibana/generate.py"


def test_every_reference_resolves_and_ids_are_unique(objects):
    keys = [(o["type"], o["id"]) for o in objects]
    assert len(keys) == len(set(keys))
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in set(keys), f"{obj['id']} -> {ref}"
        if obj["type"] == "dashboard":
            panels = json.loads(obj["attributes"]["panelsJSON"])
            names = {r["name"] for r in obj["references"]}
            assert {p["panelRefName"] for p in panels} == names


def test_a_data_view_per_dataset_and_a_dashboard_over_each(objects):
    views = {o["id"]: o for o in objects if o["type"] == "index-pattern"}
    template_names = {p.stem for p in TEMPLATES_DIR.glob("*.json")}
    assert len(views) == len(template_names) == 9
    by_id = {o["id"]: o for o in objects}
    shown = set()
    for dash in (o for o in objects if o["type"] == "dashboard"):
        for ref in dash["references"]:
            shown |= {r["id"] for r in by_id[ref["id"]]["references"]}
    assert shown == set(views)


def test_time_fields_are_dates_in_the_templates(objects):
    for view in (o for o in objects if o["type"] == "index-pattern"):
        pattern = view["attributes"]["title"]
        _, merged = template_for_index(example_index(pattern))
        assert field_type(merged["mappings"], view["attributes"]["timeFieldName"]) == "date", pattern


def test_every_panel_field_is_mapped_and_aggregatable(objects):
    views = {o["id"]: o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
    for vis in (o for o in objects if o["type"] == "visualization"):
        state = json.loads(vis["attributes"]["visState"])
        view = vis["references"][0]["id"]
        _, merged = template_for_index(example_index(views[view]))
        for agg in state["aggs"]:
            field = agg["params"].get("field")
            if field is None:
                continue
            assert field_type(merged["mappings"], field) in AGGREGATABLE, \
                f"{vis['attributes']['title']}: {field} is not an aggregatable field of {views[view]}"
