"""Elasticsearch writes: the bulk sink vs one index request per document, side by side.

Both write the same useraction documents, through the same ingest pipeline and index
template, to the same kind of strict in-process stand-in (a fresh one per run), with the
official client over real HTTP on 127.0.0.1. Reported: median seconds per mode over the
rounds, documents per second, requests sent, and the ratios. Absolute times on a shared
machine mean little; the ratio measured in one run is the figure to quote.

    python bench/bench_es_bulk.py                    # 50,000 documents, 3 rounds
    python bench/bench_es_bulk.py --docs 5000 --rounds 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harvester.datasets import USERACTIONS  # noqa: E402
from harvester.elasticsearch.loading import load_objects  # noqa: E402
from harvester.sinks.elasticsearch import PIPELINES, es_client, index_name, open_es_sink  # noqa: E402
from tests.standins.elasticsearch import ElasticsearchStandIn  # noqa: E402

BATCH = 1000  # what the useractions pipeline hands to a sink at a time


def documents(n: int) -> list[dict]:
    return [{"action_id": i, "timestamp": f"2026-11-23T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:"
                                          f"{i % 60:02d}Z",
             "mpid": f"mp-{i % 2000:04d}", "session_id": f"s{i % 9000}", "huid": f"u{i % 5000}",
             "useragent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", "ip": f"8.8.{i % 250}.{i % 199}",
             "is_live": int(i % 7 == 0),
             "action": {"type": "HEARTBEAT", "inpoint": i % 3600, "outpoint": i % 3600 + 30, "length": 30,
                        "is_playing": True},
             "episode": {"title": f"Lecture {i % 2000}", "duration": 3_600_000,
                         "start": "2026-11-01T14:00:00Z", "course": "CSCI E-1", "series": "20260112345",
                         "year": "2026", "term": "01", "cdn": "12345", "type": "L01", "description": None}}
            for i in range(n)]


def bulk_sink(url: str, docs: list[dict]) -> None:
    sink = open_es_sink(USERACTIONS, {"es_host": url})
    try:
        for start in range(0, len(docs), BATCH):
            sink.write(docs[start:start + BATCH])
        sink.flush()
    finally:
        sink.close()


def per_document(url: str, docs: list[dict]) -> None:
    """The original design: one index request per document."""
    client = es_client(url)
    pipeline = PIPELINES[USERACTIONS.name]
    try:
        for doc in docs:
            client.request("PUT", f"/{index_name(USERACTIONS, doc)}/_doc/{doc['action_id']}",
                           {"pipeline": pipeline}, doc)
    finally:
        client.close()


def run(mode: Callable[[str, list[dict]], None], docs: list[dict]) -> tuple[float, int]:
    with ElasticsearchStandIn() as es:
        client = es_client(es.url)
        load_objects(client)
        client.close()
        es.reset_counters()
        started = time.perf_counter()
        mode(es.url, docs)
        elapsed = time.perf_counter() - started
        stored = len(es.docs("useractions-*"))
        if stored != len(docs):
            raise SystemExit(f"{mode.__name__}: {stored} of {len(docs)} documents stored")
        writes = sum(1 for r in es.requests if r.method in ("POST", "PUT"))
    return elapsed, writes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HARVEST_RETRY_BASE_DELAY", "0.05")
    docs = documents(args.docs)
    times: dict[str, list[float]] = {"bulk": [], "per-document": []}
    requests: dict[str, int] = {}
    for round_ in range(1, args.rounds + 1):
        for name, mode in (("bulk", bulk_sink), ("per-document", per_document)):
            elapsed, writes = run(mode, docs)
            times[name].append(elapsed)
            requests[name] = writes
            print(f"round {round_}: {name:13s} {elapsed:8.2f} s  {writes:6d} requests", flush=True)
    bulk, single = statistics.median(times["bulk"]), statistics.median(times["per-document"])
    print()
    print(f"documents: {args.docs}, rounds: {args.rounds}, bulk size: "
          f"{os.environ.get('ES_BULK_SIZE', '500')} (median of rounds)")
    print(f"  bulk sink:      {bulk:8.2f} s  {args.docs / bulk:9.0f} docs/s  {requests['bulk']:6d} requests")
    print(f"  per document:   {single:8.2f} s  {args.docs / single:9.0f} docs/s  "
          f"{requests['per-document']:6d} requests")
    fewer = requests["per-document"] / requests["bulk"]
    print(f"  speed-up: {single / bulk:.1f}x   requests: {fewer:.0f}x fewer")


if __name__ == "__main__":
    main()
