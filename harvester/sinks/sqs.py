"""SQS output: `send_message_batch` of up to 10 entries and 256 KiB per request.

The original sent one message per action; batching cuts requests tenfold. Entries SQS
rejects are retried with backoff when the fault is SQS's (throttling, internal errors) and
reported immediately when it is the message's (SenderFault). A queue whose name ends in
`.fifo` gets a message group and the record id as MessageDeduplicationId, so a record sent
twice (a re-run after a crash) is delivered once within SQS's five-minute window.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence

from harvester.datasets import Dataset
from harvester.errors import DeliveryError, ServiceError
from harvester.http import RetryPolicy
from harvester.sinks.base import Sink
from harvester.sinks.jsonlines import dumps
from harvester.sinks.settings import SinkSettings

log = logging.getLogger("harvester.sqs")

MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024
# Per-entry overhead counted by SQS beyond the body is small; keep a margin for the ids.
ENTRY_OVERHEAD = 100


def batches(bodies: Sequence[tuple[str, str]], max_entries: int = MAX_ENTRIES,
            max_bytes: int = MAX_REQUEST_BYTES) -> Iterator[list[tuple[str, str]]]:
    """Group (id, body) pairs into requests within SQS's count and size limits, in order."""
    current: list[tuple[str, str]] = []
    size = 0
    for rid, body in bodies:
        n = len(body.encode("utf-8")) + ENTRY_OVERHEAD
        if current and (len(current) == max_entries or size + n > max_bytes):
            yield current
            current, size = [], 0
        current.append((rid, body))
        size += n
    if current:
        yield current


class SqsSink(Sink):
    def __init__(self, dataset: Dataset, queue_name: str, *, settings: SinkSettings | None = None,
                 client=None):
        super().__init__(dataset)
        settings = settings or SinkSettings.from_env()
        self.queue_name = queue_name
        self.name = f"sqs:{queue_name}"
        self.fifo = queue_name.endswith(".fifo")
        self.group_id = settings.sqs_group_id or f"harvester-{dataset.name}"
        self.policy: RetryPolicy = settings.policy
        self.concurrency = settings.sqs_concurrency
        self._client = client
        self._count_lock = threading.Lock()
        self._url: str | None = None

    @property
    def client(self):
        if self._client is None:
            from harvester.aws import client

            # One retry policy: _send retries failed requests and failed entries alike, so
            # botocore makes one attempt (its retries would multiply with ours).
            self._client = client("sqs", attempts=1, max_pool_connections=max(10, self.concurrency))
        return self._client

    @property
    def queue_url(self) -> str:
        if self._url is None:
            self._url = self._resolve_queue()
        return self._url

    def _resolve_queue(self) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            try:
                return self.client.get_queue_url(QueueName=self.queue_name)["QueueUrl"]
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if "NonExistentQueue" not in code and "QueueDoesNotExist" not in code:
                    raise
            log.info("creating SQS queue %s", self.queue_name)
            attributes = {"FifoQueue": "true"} if self.fifo else {}
            return self.client.create_queue(QueueName=self.queue_name, Attributes=attributes)["QueueUrl"]
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise ServiceError("SQS", f"queue {self.queue_name}: {err.get('Code')} "
                               f"{err.get('Message', '')}".strip()) from None
        except BotoCoreError as exc:
            from harvester.aws import credentials_error

            raise credentials_error("SQS", exc) or ServiceError("SQS", f"queue {self.queue_name}: {exc}") \
                from None

    def write(self, records: Sequence[dict]) -> None:
        too_big: list[tuple[str, str]] = []
        bodies: list[tuple[str, str]] = []
        for record in records:
            rid, body = self.dataset.id_of(record), dumps(record)
            if len(body.encode("utf-8")) + ENTRY_OVERHEAD > MAX_REQUEST_BYTES:
                too_big.append((rid, f"message of {len(body)} bytes exceeds SQS's 256 KiB limit"))
            else:
                bodies.append((rid, body))
        failed = list(too_big)
        groups = list(batches(bodies))
        if self.fifo or self.concurrency <= 1 or len(groups) <= 1:
            for group in groups:  # FIFO order within the message group must be kept
                failed.extend(self._send(group))
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="sqs") as pool:
                for result in pool.map(self._send, groups):
                    failed.extend(result)
        self.delivered += len(records) - len(failed)
        if failed:
            raise DeliveryError(self.name, failed)

    def _entry(self, index: int, rid: str, body: str) -> dict:
        entry = {"Id": str(index), "MessageBody": body}
        if self.fifo:
            entry["MessageGroupId"] = self.group_id
            entry["MessageDeduplicationId"] = "".join(c for c in rid if c.isalnum() or c in "-_.")[:128]
        return entry

    def _send(self, group: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Send one batch, retrying entries that failed for SQS's reasons; return the rest."""
        from botocore.exceptions import BotoCoreError, ClientError

        pending = {str(i): (rid, body) for i, (rid, body) in enumerate(group)}
        permanent: list[tuple[str, str]] = []
        last_reason = ""
        for attempt in range(1, self.policy.attempts + 1):
            entries = [self._entry(int(i), rid, body) for i, (rid, body) in pending.items()]
            with self._count_lock:
                self.requests += 1
            try:
                resp = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except ClientError as exc:
                err = exc.response.get("Error", {})
                last_reason = f"{err.get('Code')}: {err.get('Message', '')}".strip()
                if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500) < 500 and \
                        "Throttl" not in str(err.get("Code")):
                    return permanent + [(rid, last_reason) for rid, _ in pending.values()]
            except BotoCoreError as exc:
                last_reason = str(exc)
            else:
                retry: dict[str, tuple[str, str]] = {}
                for fail in resp.get("Failed", []):
                    item = pending.get(fail["Id"])
                    if item is None:
                        continue
                    reason = f"{fail.get('Code')}: {fail.get('Message', '')}".strip()
                    if fail.get("SenderFault"):
                        permanent.append((item[0], reason))
                    else:
                        retry[fail["Id"]] = item
                        last_reason = reason
                pending = retry
                if not pending:
                    return permanent
            if attempt < self.policy.attempts:
                wait = self.policy.delay(attempt)
                log.warning("SQS %s: %d entr%s not accepted (%s); retry %d/%d in %.1fs",
                            self.queue_name, len(pending), "y" if len(pending) == 1 else "ies",
                            last_reason, attempt, self.policy.attempts - 1, wait)
                time.sleep(wait)
        return permanent + [(rid, last_reason or "not accepted") for rid, _ in pending.values()]

    def check(self) -> str:
        """For doctor: resolve (not create) the queue."""
        self.client.get_queue_url(QueueName=self.queue_name)
        return "queue exists"
