"""Zoom calls: exactly the calls needed, and never faster than the configured pace.

Runs `harvest zoom --destination stdout` as a child process against the Zoom stand-in (which
enforces the same limits and records every arrival), then compares the calls made with the
calls a day needs (one per meetings page, one per participants page) and reports the busiest
window of each rate category against its limit.

    python bench/bench_zoom.py                                  # 600 meetings, heavy 100/s
    python bench/bench_zoom.py --meetings 2000 --heavy 200/s
"""

from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harvester.sources.zoom.api import Rate  # noqa: E402
from tests.standins.zoom import HEAVY, RESOURCE, ZoomStandIn  # noqa: E402


def busiest(times: list[float], period: float) -> int:
    """Most arrivals within any window of `period` seconds."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - period:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", type=int, default=600)
    parser.add_argument("--max-participants", type=int, default=700)
    parser.add_argument("--heavy", default="100/s")
    parser.add_argument("--resource", default="5/s")
    args = parser.parse_args()
    heavy, resource = Rate.parse(args.heavy, "--heavy"), Rate.parse(args.resource, "--resource")

    rnd = random.Random(7)
    day = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    limits = {HEAVY: (heavy.calls, heavy.period), RESOURCE: (resource.calls, resource.period)}
    zoom = ZoomStandIn(limits=limits)
    needed_participant_pages = 0
    sizes = []
    for i in range(args.meetings):
        n = 1 if i % 6 == 0 else rnd.randint(2, args.max_participants if i % 50 == 0 else 40)
        sizes.append(n)
        needed_participant_pages += max(1, math.ceil(n / 300))
        uuid = "/" + f"bench{i}==" if i % 25 == 0 else None  # some need double encoding
        zoom.add_meeting(day, n, uuid=uuid)
    one = sum(1 for n in sizes if n == 1)
    needed_list_pages = max(1, math.ceil((len(sizes) - one) / 300)) + max(1, math.ceil(one / 300))
    zoom.start()
    env = {**os.environ, "ZOOM_API_URL": f"{zoom.url}/v2", "ZOOM_OAUTH_URL": f"{zoom.url}/oauth/token",
           "ZOOM_ACCOUNT_ID": zoom.account_id, "ZOOM_CLIENT_ID": zoom.client_id,
           "ZOOM_CLIENT_SECRET": zoom.client_secret, "ZOOM_RATE_HEAVY": args.heavy,
           "ZOOM_RATE_RESOURCE_INTENSIVE": args.resource, "HARVEST_LOG_LEVEL": "warning"}
    with tempfile.TemporaryDirectory() as work:
        started = time.monotonic()
        proc = subprocess.run([sys.executable, str(ROOT / "harvest.py"), "zoom", "--date", day,
                               "--destination", "stdout"], cwd=work, env=env, capture_output=True, text=True)
        seconds = time.monotonic() - started
    zoom.stop()
    if proc.returncode != 0:
        sys.exit(f"harvest zoom failed ({proc.returncode}): {proc.stderr[-2000:]}")
    lines = proc.stdout.count("\n")
    made_list = len(zoom.arrivals[RESOURCE])
    made_participants = len(zoom.arrivals[HEAVY])
    print(f"meetings {args.meetings}, sessions {sum(sizes)}, documents {lines}, {seconds:.2f}s wall")
    print(f"meeting-list calls: made {made_list}, needed {needed_list_pages}")
    print(f"participant calls:  made {made_participants}, needed {needed_participant_pages}")
    print(f"OAuth tokens issued: {zoom.issued}; 429s answered by the stand-in: {zoom.rate_limited}")
    print(f"busiest heavy window: {busiest(zoom.arrivals[HEAVY], heavy.period)} calls per {heavy} limit; "
          f"resource-intensive: {busiest(zoom.arrivals[RESOURCE], resource.period)} per {resource}")
    floor = (made_participants - heavy.calls) / heavy.calls * heavy.period
    print(f"pace floor for the heavy calls {max(0.0, floor):.2f}s; the run took {seconds:.2f}s")


if __name__ == "__main__":
    main()
