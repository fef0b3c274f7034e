"""What the sinks take from the settings registry, read once per run.

Sinks are built from `--output` values in several commands; their tunables (retry policy,
SQS concurrency and message group, Elasticsearch bulk size and useractions index) are read
here and nowhere else in `harvester.sinks`, so a run sees one consistent set of values and a
library caller can pass its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from harvester.http import RetryPolicy


@dataclass(frozen=True)
class SinkSettings:
    policy: RetryPolicy  # HARVEST_RETRY_ATTEMPTS, HARVEST_RETRY_BASE_DELAY, HARVEST_HTTP_TIMEOUT
    sqs_group_id: str | None  # SQS_MESSAGE_GROUP_ID (FIFO queues)
    sqs_concurrency: int  # SQS_CONCURRENCY
    es_bulk_size: int  # ES_BULK_SIZE
    es_useractions_index: str | None  # ES_USERACTIONS_INDEX

    @classmethod
    def from_env(cls) -> SinkSettings:
        """The registry's values (dotenv and environment merged); bad values are ConfigErrors."""
        from harvester.config import env, env_int

        return cls(policy=RetryPolicy.from_env(), sqs_group_id=env("SQS_MESSAGE_GROUP_ID"),
                   sqs_concurrency=env_int("SQS_CONCURRENCY", minimum=1) or 1,
                   es_bulk_size=env_int("ES_BULK_SIZE", minimum=1) or 1,
                   es_useractions_index=env("ES_USERACTIONS_INDEX"))
