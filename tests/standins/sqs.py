"""A minimal SQS stand-in speaking botocore's JSON protocol (AmazonSQS.*), with counters.

moto's SQS is the reference in integration tests; this stand-in exists for what moto cannot
do: fail individual batch entries on demand, and hold 100,000 messages without slowing down
(moto recomputes queue attributes per message). It validates what SQS validates for the
calls the harvester makes: at most 10 entries, unique entry ids, 256 KiB per request, FIFO
fields present exactly on .fifo queues.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable

from werkzeug.wrappers import Request, Response

from tests.standins.base import StandIn

MAX_BYTES = 256 * 1024


def _error(code: str, message: str, status: int = 400, query_code: str | None = None) -> Response:
    headers = {"x-amzn-query-error": f"{query_code or code};Sender"}
    return Response(json.dumps({"__type": f"com.amazonaws.sqs#{code}", "message": message}),
                    status=status, headers=headers, content_type="application/x-amz-json-1.0")


def _ok(doc: dict) -> Response:
    return Response(json.dumps(doc), content_type="application/x-amz-json-1.0")


class SqsStandIn(StandIn):
    def __init__(self, keep_bodies: bool = True) -> None:
        super().__init__()
        self.queues: dict[str, list[dict]] = {}
        self.keep_bodies = keep_bodies
        self.received = 0
        self.calls: dict[str, int] = {}
        self._qlock = threading.Lock()
        #: decides per entry whether it fails: (entry) -> (code, sender_fault) or None
        self.entry_fault: Callable[[dict], tuple[str, bool] | None] | None = None

    def handle(self, request: Request) -> Response:
        target = request.headers.get("X-Amz-Target", "")
        action = target.split(".", 1)[-1]
        self.calls[action] = self.calls.get(action, 0) + 1
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            return _error("InvalidParameterValue", "body is not JSON")
        handler = getattr(self, f"_{action}", None)
        if handler is None:
            return _error("InvalidAction", f"unsupported action {action}")
        return handler(body)

    def _url(self, name: str) -> str:
        return f"{self.url}/123456789012/{name}"

    def _name(self, body: dict) -> str | None:
        name = (body.get("QueueUrl") or "").rsplit("/", 1)[-1]
        return name if name in self.queues else None

    def _GetQueueUrl(self, body: dict) -> Response:  # noqa: N802
        name = body.get("QueueName", "")
        if name not in self.queues:
            return _error("QueueDoesNotExist", "The specified queue does not exist.",
                          query_code="AWS.SimpleQueueService.NonExistentQueue")
        return _ok({"QueueUrl": self._url(name)})

    def _CreateQueue(self, body: dict) -> Response:  # noqa: N802
        name = body.get("QueueName", "")
        fifo = (body.get("Attributes") or {}).get("FifoQueue") == "true"
        if name.endswith(".fifo") != fifo:
            return _error("InvalidParameterValue", "FifoQueue attribute must match the .fifo suffix")
        self.queues.setdefault(name, [])
        return _ok({"QueueUrl": self._url(name)})

    def _SendMessageBatch(self, body: dict) -> Response:  # noqa: N802
        name = self._name(body)
        if name is None:
            return _error("QueueDoesNotExist", "no such queue",
                          query_code="AWS.SimpleQueueService.NonExistentQueue")
        entries = body.get("Entries") or []
        if not entries:
            return _error("EmptyBatchRequest", "no entries")
        if len(entries) > 10:
            return _error("TooManyEntriesInBatchRequest", f"{len(entries)} entries")
        if len({e["Id"] for e in entries}) != len(entries):
            return _error("BatchEntryIdsNotDistinct", "ids repeat")
        size = sum(len(e["MessageBody"].encode()) for e in entries)
        if size > MAX_BYTES:
            return _error("BatchRequestTooLong", f"{size} bytes")
        fifo = name.endswith(".fifo")
        ok, failed = [], []
        for e in entries:
            if fifo != ("MessageGroupId" in e):
                return _error("InvalidParameterValue", "MessageGroupId only and always on FIFO queues")
            fault = self.entry_fault(e) if self.entry_fault else None
            if fault:
                code, sender = fault
                failed.append({"Id": e["Id"], "SenderFault": sender, "Code": code, "Message": code})
                continue
            with self._qlock:
                self.received += 1
                if self.keep_bodies:
                    self.queues[name].append(e)
            ok.append({"Id": e["Id"], "MessageId": str(uuid.uuid4()),
                       "MD5OfMessageBody": hashlib.md5(e["MessageBody"].encode()).hexdigest()})
        return _ok({"Successful": ok, "Failed": failed})

    def _SendMessage(self, body: dict) -> Response:  # noqa: N802
        name = self._name(body)
        if name is None:
            return _error("QueueDoesNotExist", "no such queue",
                          query_code="AWS.SimpleQueueService.NonExistentQueue")
        with self._qlock:
            self.received += 1
            if self.keep_bodies:
                self.queues[name].append({"MessageBody": body["MessageBody"]})
        return _ok({"MessageId": str(uuid.uuid4()),
                    "MD5OfMessageBody": hashlib.md5(body["MessageBody"].encode()).hexdigest()})

    def bodies(self, name: str) -> list[dict]:
        return [json.loads(e["MessageBody"]) for e in self.queues.get(name, [])]


def drain_bodies(queue: str) -> list[str]:
    """Every message body of a queue reached through boto3 (moto in tests), deleted as read."""
    import boto3

    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    out: list[str] = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        out.extend(m["Body"] for m in msgs)
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
