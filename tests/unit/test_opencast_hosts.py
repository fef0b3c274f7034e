"""Which scheme a bare host means: http for the Opencast nodes (as the original), ES_HOST as before."""

from __future__ import annotations

import pytest

from harvester.config import normalize_host
from harvester.errors import ConfigError
from harvester.sinks.elasticsearch import es_url
from harvester.sources.opencast.client import OpencastClient


@pytest.mark.parametrize("given,expected", [
    ("10.0.1.23", "http://10.0.1.23"),  # the original recipe writes bare private IPs
    ("engage.example.edu:8080", "http://engage.example.edu:8080"),
    ("https://engage.example.edu", "https://engage.example.edu"),
    ("http://10.0.1.23:8080/", "http://10.0.1.23:8080"),
])
def test_a_bare_opencast_host_means_http(given, expected):
    assert OpencastClient(given, "u", "p").base_url == expected


def test_an_invalid_opencast_host_is_a_usage_error_naming_the_settings():
    with pytest.raises(ConfigError, match="MATTERHORN_ENGAGE_HOST.*http is assumed"):
        OpencastClient("http://host:notaport", "u", "p")


def test_other_callers_keep_https_and_es_host_keeps_its_rule():
    assert normalize_host("example.edu") == "https://example.edu"
    assert es_url("es.example.edu")[0] == "http://es.example.edu:9200"
    assert es_url("https://es.example.edu")[0] == "https://es.example.edu:443"
