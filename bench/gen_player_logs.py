#!/usr/bin/env python3
"""Generate synthetic video-player logs for `harvest logs aggregate` benchmarks (the `synthetic` case).

The benchmark's main case is bench/gen_sample_logs.py, made of the real sample's lines. Here
85 % of the lines are events (real: 27 %), with a few fixed titles and user agents, so its
figures do not tell a site what it will get. The shape follows the real Goonhilly sample: a
timestamp, a logger name and level, then `key=value` pairs in a shuffled order, quoted values with spaces, the
`ua_*` user-agent fields, mobile-app lines without a tracking id, and the occasional
broken line. Playback streams are simulated as plausible event sequences (initial buffering,
play, pauses, seeks, buffering stalls, bitrate changes, completion or abandonment, failures)
and interleaved in time, a few events arriving late, so the aggregation has real work to do.

    python bench/gen_player_logs.py --size-mb 500 --output /tmp/player-500mb.log
    python bench/gen_player_logs.py --size-mb 5 --gzip --output /tmp/player.log.gz
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import uuid
from datetime import UTC, datetime, timedelta

TITLES = [
    ("Breathless: Episode 1", "Masterpiece"), ("Australia's First 4 Billion Years", "NOVA"),
    ("The Journey of a Germ", "Sid the Science Kid"), ("George's Kite Ride", "Curious George"),
    ("Lecture 12: \\\"Entropy\\\" and Order", "Physics 101"), ("Organic Chemistry, Part 3", "CHEM 20"),
    ("Week 4 = Recursion", "CS 50"), ("Frontline: The Choice", "FRONTLINE"),
]
PRODUCERS = ["pbs", "wgbh", "kqed", "dce", "weta"]
AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.78.2 (KHTML, like Gecko) "
    "Version/7.0.6 Safari/537.78.2",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062.94 "
    "Safari/537.36",
    "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0; SLCC2; .NET CLR 2.0.50727)",
    "Mozilla/5.0 (iPad; CPU OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) Mobile/11D257",
]
UA_TAIL = ("ua_user_agent_family={fam} ua_user_agent_major=7 ua_user_agent_minor=0 ua_os_family=\"Mac OS X\" "
           "ua_os_major=10 ua_os_minor=9 ua_device_is_spider=False ua_device_is_mobile=False "
           "ua_device_family=None")
ENCODINGS = ["hls-400-2500k-16x9", "mp4-baseline-1200k", "hls-2500k-16x9"]
MOBILE_EVENTS = ["Playback started", "video paused", "Initial buffering ended", "Buffering started",
                 "video resumed", "Playback completed"]


class Stream:
    """One viewing of one video: the events it will emit, in playback order."""

    def __init__(self, rng: random.Random, now: datetime):
        self.rng = rng
        short = rng.random() < 0.08  # old players reused short ids across videos
        self.tracking_id = (str(rng.randrange(10**9)) if short
                            else str(uuid.UUID(int=rng.getrandbits(128))))
        self.tpmid = str(rng.randrange(1_000_000_000, 2_500_000_000))
        self.title, self.program = rng.choice(TITLES)
        if rng.random() < 0.01:  # a title that looks like key=value pairs inside its quotes
            self.title = "Setting x_tpmid=0 and event_type=MediaFailed by hand"
        self.producer = rng.choice(PRODUCERS)
        self.client_id = str(uuid.UUID(int=rng.getrandbits(128)))
        self.session_id = str(uuid.UUID(int=rng.getrandbits(128)))
        self.agent = rng.choice(AGENTS)
        self.length = rng.randrange(60, 3600)
        self.component = rng.choice(["Video - Portal", "Video - Partner Player", "COVE Player"])
        self.time = now
        self.position = 0
        self.events = self._plan()

    def _plan(self) -> list[tuple[str, dict]]:
        rng, plan = self.rng, []
        plan.append(("MediaInitialBufferStart", {}))
        initial = rng.randrange(80, 3000) if rng.random() > 0.01 else -rng.randrange(1, 50)
        plan.append(("MediaInitialBufferEnd", {"x_buffering_length": initial}))
        if rng.random() < 0.03:
            plan.append(("MediaFailed", {"message": "Media failed to load"}))
            return plan
        plan.append(("MediaStarted", {}))
        for _ in range(rng.randrange(0, 12)):
            r = rng.random()
            if r < 0.35:
                plan += [("MediaBufferingStart", {}), ("MediaBufferingEnd", {"x_after_seek": "false"})]
            elif r < 0.55:
                plan += [("MediaEnded", {}), ("MediaStarted", {})]
            elif r < 0.7:
                plan.append(("MediaScrub", {"seek": rng.randrange(0, self.length)}))
            elif r < 0.85:
                plan.append(("MediaQualityChangeAuto", {"x_auto": "true"}))
            else:
                plan.append(("MediaQualityChange", {"x_auto": "false"}))
        r = rng.random()
        if r < 0.4:
            plan.append(("MediaCompleted", {}))
        elif r < 0.8:
            plan.append(("MediaEnded", {}))
        return plan

    def next_line(self) -> str:
        rng = self.rng
        etype, extra = self.events.pop(0)
        self.time += timedelta(milliseconds=rng.randrange(200, 90_000))
        if "seek" in extra:
            self.position = extra.pop("seek")
        else:
            self.position = min(self.length, self.position + rng.randrange(0, 60))
        pairs = [
            ("x_client_id", self.client_id), ("severity", "Information"), ("component", self.component),
            ("x_tpmid", self.tpmid), ("x_useragent", self.agent), ("x_program_title", self.program),
            ("x_video_location", self.position), ("x_producer", self.producer),
            ("x_tracking_id", self.tracking_id), ("x_episode_title", self.title),
            ("x_session_id", self.session_id), ("message", etype.replace("Media", "Media event ")),
            ("event_type", etype), ("x_video_length", self.length),
        ]
        if etype.startswith("MediaBuffering") or etype == "MediaInitialBufferEnd":
            pairs += [("x_encoding_name", rng.choice(ENCODINGS)), ("x_stream_size", rng.choice([391, 1172])),
                      ("x_bandwidth", f"{rng.uniform(1e5, 5e6):.3f}"), ("x_start_time", 0),
                      ("x_buffering_length", extra.pop("x_buffering_length", rng.randrange(50, 4000)))]
        pairs += list(extra.items())
        rng.shuffle(pairs)
        return self._render(pairs, self.time)

    def _render(self, pairs: list[tuple[str, object]], when: datetime) -> str:
        rng = self.rng
        fields = " ".join(f"{k}={_quote(v)}" for k, v in pairs)
        tail = UA_TAIL.format(fam=rng.choice(["Safari", "Chrome", "IE"]))
        return (f"{_stamp(rng, when)} - Goonhilly [INFO] {fields} client_id=68.184.{rng.randrange(256)}."
                f"{rng.randrange(256)} source_tag=cove-jwplayer {tail}")


def _quote(value: object) -> str:
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text


def _stamp(rng: random.Random, when: datetime) -> str:
    """The real logs' variety: `,mmm` mostly, sometimes `.mmm`, rarely whole seconds."""
    base = when.strftime("%Y-%m-%d %H:%M:%S")
    r = rng.random()
    if r < 0.9:
        return f"{base},{when.microsecond // 1000:03d}"
    if r < 0.97:
        return f"{base}.{when.microsecond // 1000:03d}"
    return base


def _mobile_line(rng: random.Random, when: datetime) -> str:
    event = rng.choice(MOBILE_EVENTS)
    return (f"{_stamp(rng, when)} - Goonhilly [INFO] severity=Error event_type=\"{event}\" "
            f"x_tpmid={rng.randrange(10**9, 3 * 10**9)} component=\"video player\" x_app_version=\"2.1.2 "
            f"(cbca605)\" x_program_title=\"Curious George\" x_device_id={uuid.uuid4().hex} "
            f"message=\"{event}\" x_session_id={uuid.uuid4()} x_episode_title=\"George's Kite Ride\" "
            f"x_device_info=\"Unknown iPhone iOS 7.1.2\" client_id=99.19.58.233 "
            f"source_tag=cove-mobile-kids-ios")


def generate(size_bytes: int, seed: int = 42, concurrency: int = 400):
    """Yield lines (with newline) until about `size_bytes` have been produced."""
    rng = random.Random(seed)
    now = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    active: list[Stream] = []
    late: list[str] = []
    written = 0
    while written < size_bytes:
        while len(active) < concurrency:
            active.append(Stream(rng, now))
        now += timedelta(milliseconds=rng.randrange(1, 40))
        r = rng.random()
        if r < 0.15:
            line = _mobile_line(rng, now)
        elif r < 0.152:
            line = rng.choice(["", "garbage without a timestamp", f"{now:%Y-%m-%d} 99:99:99 broken=1",
                               "2026-13-45 10:00:00,000 - Goonhilly [INFO] x=1"])
            if not line:
                continue
        else:
            i = rng.randrange(len(active))
            stream = active[i]
            if stream.time < now:
                stream.time = now
            line = stream.next_line()
            if not stream.events:
                active[i] = active[-1]
                active.pop()
            if rng.random() < 0.01:  # delivered late, out of order
                late.append(line)
                continue
        if late and rng.random() < 0.02:
            line = late.pop(0) + "\n" + line
        data = line + "\n"
        written += len(data.encode())
        yield data
    for line in late:
        yield line + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=10.0)
    ap.add_argument("--output", default="-", help="file path or - for stdout")
    ap.add_argument("--gzip", action="store_true", help="gzip the output")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    size = int(args.size_mb * 1024 * 1024)
    if args.output == "-":
        out = sys.stdout.buffer
    else:
        out = gzip.open(args.output, "wb") if args.gzip else open(args.output, "wb")  # noqa: SIM115
    buf: list[str] = []
    for line in generate(size, args.seed):
        buf.append(line)
        if len(buf) >= 5000:
            out.write("".join(buf).encode())
            buf.clear()
    out.write("".join(buf).encode())
    if out is not sys.stdout.buffer:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
