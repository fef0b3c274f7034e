"""useractions throughput: this harvester vs the original design, side by side, same stand-ins.

The original design sends one SQS message per action and looks up the episode of every action
without a cache. Both run as child processes against the same in-process stand-ins (Opencast,
and a minimal SQS endpoint, since moto slows down as a queue grows); the figures are ratios
measured in one run, plus request counts and each child's peak RSS.

    python bench/bench_useractions.py                       # 100,000 actions, 2,000 mediapackages
    python bench/bench_useractions.py --actions 20000 --baseline-actions 5000   # quicker
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.standins.opencast import OpencastStandIn  # noqa: E402
from tests.standins.sqs import SqsStandIn  # noqa: E402

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)

BASELINE = r'''
import json, os, sys, boto3, requests
from requests.auth import HTTPDigestAuth
host, user, pw, queue, start, end, limit = sys.argv[1:8]
s = requests.Session()
s.auth = HTTPDigestAuth(user, pw)
s.headers.update({"X-Requested-Auth": "Digest"})
sqs = boto3.client("sqs")
url = sqs.create_queue(QueueName=queue)["QueueUrl"]
offset, sent, limit = 0, 0, int(limit)
while True:
    page = s.get(f"{host}/usertracking/actions.json",
                 params={"start": start, "end": end, "limit": 1000, "offset": offset}, timeout=30).json()
    actions = page["actions"].get("action", [])
    if isinstance(actions, dict):
        actions = [actions]
    for a in actions:
        if sent >= limit:
            break
        ep = s.get(f"{host}/search/episode.json", params={"id": a["mediapackageId"]}, timeout=30).json()
        rec = {"action_id": a["id"], "mpid": a["mediapackageId"], "episode": ep}
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(rec))
        sent += 1
    offset += len(actions)
    if len(actions) < 1000 or sent >= limit:
        break
print(sent)
'''


def run_child(argv: list[str], env: dict) -> tuple[float, int, str]:
    """(seconds, peak RSS in MB, output tail) of one child process.

    The child runs under /usr/bin/time: a child forked straight from this process would count
    this process's resident pages (the stand-ins hold every action) as its own.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        started = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *argv], env=env,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"child failed: {argv}\n{proc.stderr[-2000:]}")
        peak_kb = int(rss.read().strip().splitlines()[-1])
    return seconds, peak_kb // 1024, (proc.stdout + proc.stderr)[-400:]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--actions", type=int, default=100_000)
    ap.add_argument("--mpids", type=int, default=2_000)
    ap.add_argument("--baseline-actions", type=int, default=None,
                    help="run the (slow) original design on the first N actions only; default all")
    args = ap.parse_args()
    baseline_n = args.baseline_actions or args.actions

    rng = random.Random(42)
    oc = OpencastStandIn()
    span = 3600.0
    for i in range(args.actions):
        oc.add_action(i + 1, f"mp-{rng.randrange(args.mpids):05d}",
                      START + timedelta(seconds=span * i / args.actions), user=str(rng.randrange(10**6)),
                      ip="10.0.0.1, 192.168.0.1")
    for m in range(args.mpids):
        oc.add_episode(f"mp-{m:05d}", title=f"Lecture {m}", series="20260112345", seriestitle="CSCI E-50")
    sqs = SqsStandIn(keep_bodies=False)
    oc.start()
    sqs.start()
    end = START + timedelta(seconds=span)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AWS_ENDPOINT_URL_SQS": sqs.url,
           "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
           "MATTERHORN_ENGAGE_HOST": oc.url, "MATTERHORN_REST_USER": oc.user,
           "MATTERHORN_REST_PASS": oc.password, "OPENCAST_USERTRACKING_MODE": "window"}
    env.pop("REDIS_URL", None)
    state = tempfile.mkdtemp(prefix="bench-state-")
    env["HARVEST_STATE_DIR"] = state
    try:
        oc.reset_counters()
        ours_s, ours_rss, _ = run_child(
            [sys.executable, "-m", "harvester", "useractions", "-s", START.strftime("%Y%m%d%H%M%S"),
             "-e", end.strftime("%Y%m%d%H%M%S"), "-b", "1000", "-w", "0", "-q", "bench-ours",
             "--no-update-last-ts"], env)
        ours_lookups = oc.count("/search/episode.json", status=200)
        ours_sqs = sqs.calls.get("SendMessageBatch", 0)
        ours_sent = sqs.received
        distinct = len({a["mpid"] for a in oc.actions.values()})

        oc.reset_counters()
        sqs.calls.clear()
        before = sqs.received
        base_s, base_rss, _ = run_child(
            [sys.executable, "-c", BASELINE, oc.url, oc.user, oc.password, "bench-baseline",
             START.strftime("%Y%m%d%H%M%S"), end.strftime("%Y%m%d%H%M%S"), str(baseline_n)], env)
        base_lookups = oc.count("/search/episode.json", status=200)
        base_sqs = sqs.calls.get("SendMessage", 0)
        base_sent = sqs.received - before
    finally:
        oc.stop()
        sqs.stop()

    ours_rate = ours_sent / ours_s
    base_rate = base_sent / base_s
    print(f"actions: {args.actions:,} over {distinct:,} mediapackages "
          f"(baseline on {base_sent:,}); {os.cpu_count()} cores")
    print(f"{'':<22}{'actions/s':>12}{'seconds':>10}{'lookups':>10}{'SQS requests':>14}{'peak RSS MB':>13}")
    print(f"{'harvester':<22}{ours_rate:>12,.0f}{ours_s:>10.1f}{ours_lookups:>10,}{ours_sqs:>14,}{ours_rss:>13}")
    print(f"{'original design':<22}{base_rate:>12,.0f}{base_s:>10.1f}{base_lookups:>10,}{base_sqs:>14,}"
          f"{base_rss:>13}")
    print(f"throughput ratio: {ours_rate / base_rate:.1f}x")
    print(f"lookups: {ours_lookups:,} (distinct mpids {distinct:,}); SQS requests: {ours_sqs:,} "
          f"(ceil(actions/10) = {-(-ours_sent // 10):,})")
    print(f"self RSS MB (stand-ins): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}")


if __name__ == "__main__":
    main()
