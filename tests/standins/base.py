"""Base for the in-process HTTP stand-ins (Opencast, Zoom, Elasticsearch, MediaConvert).

A real HTTP server on 127.0.0.1 in a thread, so the real client libraries (requests,
elasticsearch, boto3) are exercised over the wire. Subclasses implement `handle`; the base
records every request and lets a test inject faults that answer in place of `handle`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

logging.getLogger("werkzeug").setLevel(logging.ERROR)

Fault = Callable[[Request], Response | None]


@dataclass
class Recorded:
    method: str
    path: str
    args: dict
    headers: dict
    body: bytes
    status: int = 0


@dataclass
class _Injection:
    fault: Fault
    times: int | None
    match: Callable[[Request], bool]


class StandIn:
    """Subclass and implement `handle(request) -> Response`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._faults: list[_Injection] = []
        self._lock = threading.Lock()
        self._server = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- to implement -------------------------------------------------------------------
    def handle(self, request: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- fault injection ----------------------------------------------------------------
    def inject(self, fault: Fault, *, times: int | None = 1,
               match: Callable[[Request], bool] | None = None) -> None:
        """Answer the next `times` matching requests with `fault` (None = forever).

        A fault returning None lets the request through (and is still consumed).
        """
        with self._lock:
            self._faults.append(_Injection(fault, times, match or (lambda r: True)))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _fault_for(self, request: Request) -> Fault | None:
        with self._lock:
            for inj in self._faults:
                if inj.match(request):
                    if inj.times is not None:
                        inj.times -= 1
                        if inj.times <= 0:
                            self._faults.remove(inj)
                    return inj.fault
        return None

    # -- counters -----------------------------------------------------------------------
    def count(self, path_prefix: str = "", method: str | None = None, status: int | None = None) -> int:
        """Requests under `path_prefix` (optionally only those answered with `status`)."""
        return sum(1 for r in list(self.requests)
                   if r.path.startswith(path_prefix) and (method is None or r.method == method)
                   and (status is None or r.status == status))

    def reset_counters(self) -> None:
        self.requests.clear()

    def http_date(self) -> str | None:
        """The Date header of every response; None: the real clock (subclasses with a clock)."""
        return None

    # -- server -------------------------------------------------------------------------
    def _app(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        rec = Recorded(request.method, request.path, request.args.to_dict(flat=True),
                       dict(request.headers), body)
        self.requests.append(rec)
        fault = self._fault_for(request)
        response = fault(request) if fault else None
        if response is None:
            response = self.handle(request)
        rec.status = response.status_code
        return response(environ, start_response)

    def start(self) -> str:
        standin = self

        class Handler(WSGIRequestHandler):
            def date_time_string(self, timestamp=None):  # the one Date header http.server sends
                return standin.http_date() or super().date_time_string(timestamp)

        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=Handler)
        port = self._server.server_port
        self.url = f"http://127.0.0.1:{port}"
        # A short poll: stop() returns in milliseconds, not half a second per stand-in.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def json_response(doc, status: int = 200, headers: dict | None = None) -> Response:
    import json

    return Response(json.dumps(doc), status=status, headers=headers or {},
                    content_type="application/json")


@dataclass
class Counter:
    """A thread-safe named counter for stand-ins that count more than requests."""

    values: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, n: int = 1) -> None:
        self.values[name] = self.values.get(name, 0) + n
