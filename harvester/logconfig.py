"""Logging to stderr as text or JSON, secret redaction, and optional Loggly shipping.

Redaction happens in a filter on every handler, after the message is formatted, so a secret
that reaches a log call by accident (an exception text with a URL, a debug dump) is still
masked. Loggly shipping runs on a background thread with a bounded queue: a slow or
unreachable Loggly drops log lines, it never slows down or fails a harvest.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import queue
import sys
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from harvester.config import env, secret_values

ROOT = "harvester"
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class _StderrHandler(logging.StreamHandler):
    """Resolves sys.stderr at emit time so that captured/redirected stderr is honoured."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


class RedactingFilter(logging.Filter):
    """Replaces every known secret value in the rendered message with ***."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        msg = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for secret in self.secrets:
            if secret in msg:
                msg = msg.replace(secret, "***")
            if record.exc_text and secret in record.exc_text:
                record.exc_text = record.exc_text.replace(secret, "***")
        record.msg, record.args = msg, ()
        return True


def _extras(record: logging.LogRecord) -> dict:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update(_extras(record))
        if record.exc_info or record.exc_text:
            doc["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging API)
        return datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LogglyHandler(logging.Handler):
    """Ships JSON log lines to Loggly's bulk endpoint in batches from a daemon thread."""

    def __init__(self, token: str, tags: str | None, base_url: str, *, batch_size: int = 100,
                 flush_interval: float = 2.0, max_queue: int = 10000):
        super().__init__()
        tag_part = ",".join(t.strip() for t in (tags or "").split(",") if t.strip()) or "harvester"
        self._url = f"{base_url.rstrip('/')}/bulk/{token}/tag/{tag_part}/"
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=max_queue)
        self._batch_size = batch_size
        self._interval = flush_interval
        self.dropped = 0
        self.sent = 0
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name="loggly", daemon=True)
        self._thread.start()
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a log line that cannot be rendered must not fail the harvest
            return
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1

    def _post(self, lines: list[str]) -> None:
        import requests

        try:
            resp = requests.post(self._url, data="\n".join(lines).encode(), timeout=5,
                                 headers={"content-type": "text/plain"})
            if resp.status_code >= 300:
                self.failures += 1
            else:
                self.sent += len(lines)
        except Exception:
            self.failures += 1

    def _run(self) -> None:
        batch: list[str] = []
        deadline = time.monotonic() + self._interval
        while True:
            timeout = max(0.0, deadline - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = ""
            if item is None:
                if batch:
                    self._post(batch)
                self._queue.task_done()
                return
            if item:
                batch.append(item)
                self._queue.task_done()
            if batch and (len(batch) >= self._batch_size or time.monotonic() >= deadline):
                self._post(batch)
                batch = []
            if time.monotonic() >= deadline:
                deadline = time.monotonic() + self._interval

    def close(self, timeout: float = 5.0) -> None:
        """Flush what is queued, waiting at most `timeout` seconds."""
        if self._thread.is_alive():
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=timeout)
            self._thread.join(timeout)
        super().close()


_installed: list[logging.Handler] = []


def setup_logging(level: str = "info", fmt: str = "text") -> logging.Logger:
    """(Re)configure the harvester logger; safe to call once per CLI invocation."""
    logger = logging.getLogger(ROOT)
    for h in _installed:
        logger.removeHandler(h)
        if isinstance(h, LogglyHandler):
            h.close(timeout=2)
    _installed.clear()
    redact = RedactingFilter(secret_values())
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(redact)
    handlers: list[logging.Handler] = [handler]
    token = env("LOGGLY_TOKEN")
    if token:
        loggly = LogglyHandler(token, env("LOGGLY_TAGS"), env("LOGGLY_URL") or "")
        loggly.addFilter(redact)
        handlers.append(loggly)
        atexit.register(loggly.close, 3.0)
    for h in handlers:
        logger.addHandler(h)
        _installed.append(h)
    logger.setLevel(level.upper())
    logger.propagate = False
    # Libraries' own warnings (urllib3, botocore) go through the same redacting handler.
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_harvester", False):
            root.removeHandler(h)
    lib = _StderrHandler()
    lib._harvester = True  # type: ignore[attr-defined]
    lib.setLevel(logging.WARNING)
    lib.setFormatter(handler.formatter)
    lib.addFilter(redact)
    root.addHandler(lib)
    return logger


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"{ROOT}.{name}" if not name.startswith(ROOT) else name)


def flush_shippers(timeout: float = 3.0) -> None:
    for h in _installed:
        if isinstance(h, LogglyHandler):
            h.close(timeout)
