#!/usr/bin/env python3
"""Generate a player log made of the real Goonhilly sample, for benchmarks whose figures hold on real logs.

The lines are the 5,000 lines of tests/data/player-logs/goonhilly-log-sample (the same file as
shared/data/player-logs), so the field mix, the line lengths (median 677 bytes, 20+ pairs), the
quoting, the share of keyless mobile-app lines, the user agents and the order of events are
the real ones. The sample is written again and again, each copy a day later and with fresh
tracking ids (same lengths, so short ids stay short), so that every copy adds new streams
instead of growing the old ones. The sample itself has no unparsable line; real logs do, so
a few copied lines (1 in 500) are damaged the ways logs get damaged: cut before the
timestamp, an impossible date, no fields left, a byte that is not UTF-8.

    python bench/gen_sample_logs.py --size-mb 500 --output /tmp/player-sample-500mb.log
"""

from __future__ import annotations

import argparse
import gzip
import random
import re
import sys
from datetime import date, timedelta
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "player-logs" / "goonhilly-log-sample"
_TRACKING = re.compile(rb"(?<= x_tracking_id=)[^ ]+")
_HEX = b"0123456789abcdef"


def _fresh_id(rng: random.Random, old: bytes) -> bytes:
    """A new id of the same shape: hex digits replaced, dashes and length kept."""
    return bytes(_HEX[rng.randrange(16)] if c != 0x2D else c for c in old)


def _damage(rng: random.Random, line: bytes) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:  # the start of the line lost (a torn write)
        return line[rng.randrange(30, len(line) // 2):]
    if kind == 1:  # an impossible date
        return line[:5] + b"02-30" + line[10:]
    if kind == 2:  # the header alone
        return line[:43]
    cut = rng.randrange(60, len(line))  # a byte that is not UTF-8
    return line[:cut] + b"\xff" + line[cut:]


def generate(size_bytes: int, seed: int = 42, sample: Path = SAMPLE):
    """Yield chunks of lines (bytes) until about `size_bytes` have been produced."""
    rng = random.Random(seed)
    lines = sample.read_bytes().splitlines()
    first = date(int(lines[0][:4]), int(lines[0][5:7]), int(lines[0][8:10]))
    written, copy = 0, 0
    while written < size_bytes:
        day = (first + timedelta(days=copy)).isoformat().encode()
        ids: dict[bytes, bytes] = {}

        def fresh(m: re.Match, ids: dict[bytes, bytes] = ids) -> bytes:
            old = m.group(0)
            if old not in ids:
                ids[old] = _fresh_id(rng, old)
            return ids[old]

        out = []
        for line in lines:
            line = day + line[10:] if line[:2] == b"20" else line
            line = _TRACKING.sub(fresh, line)
            if rng.random() < 0.002:
                line = _damage(rng, line)
            out.append(line)
        chunk = b"\n".join(out) + b"\n"
        if written + len(chunk) > size_bytes:  # the last copy only as far as needed
            chunk = chunk[:chunk.rfind(b"\n", 0, max(size_bytes - written, 1)) + 1]
            if not chunk:
                break
        written += len(chunk)
        copy += 1
        yield chunk


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
    for chunk in generate(size, args.seed):
        out.write(chunk)
    if out is not sys.stdout.buffer:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
