"""Sinks take their tunables from one SinkSettings, read once from the registry."""

from __future__ import annotations

import pytest

from harvester.datasets import USERACTIONS
from harvester.errors import ConfigError
from harvester.http import RetryPolicy
from harvester.sinks.settings import SinkSettings
from harvester.sinks.sqs import SqsSink

NAMES = ("SQS_MESSAGE_GROUP_ID", "SQS_CONCURRENCY", "ES_BULK_SIZE", "ES_USERACTIONS_INDEX",
         "HARVEST_RETRY_ATTEMPTS", "HARVEST_RETRY_BASE_DELAY", "HARVEST_HTTP_TIMEOUT")


@pytest.fixture
def clean_env(monkeypatch):
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_are_the_registrys(clean_env):
    s = SinkSettings.from_env()
    assert (s.sqs_concurrency, s.es_bulk_size, s.sqs_group_id) == (4, 500, "harvester-useractions")
    assert s.policy.attempts == 5 and s.es_useractions_index == "useractions"


def test_the_environment_overrides_and_bad_values_name_the_setting(clean_env):
    clean_env.setenv("SQS_CONCURRENCY", "2")
    clean_env.setenv("ES_BULK_SIZE", "50")
    assert (SinkSettings.from_env().sqs_concurrency, SinkSettings.from_env().es_bulk_size) == (2, 50)
    clean_env.setenv("ES_BULK_SIZE", "lots")
    with pytest.raises(ConfigError, match="ES_BULK_SIZE"):
        SinkSettings.from_env()


def test_an_sqs_sink_uses_the_settings_it_is_given(clean_env):
    clean_env.setenv("SQS_CONCURRENCY", "9")  # not read: the settings were built before
    policy = RetryPolicy(attempts=2, base_delay=0.0, timeout=1.0)
    given = SinkSettings(policy=policy, sqs_group_id="grp", sqs_concurrency=3, es_bulk_size=10,
                         es_useractions_index=None)
    sink = SqsSink(USERACTIONS, "q.fifo", settings=given, client=object())
    assert (sink.policy, sink.group_id, sink.concurrency) == (policy, "grp", 3)
    fallback = SqsSink(USERACTIONS, "q", settings=SinkSettings(policy, None, 1, 10, None), client=object())
    assert fallback.group_id == "harvester-useractions"
