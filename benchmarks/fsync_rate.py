"""How many durable commits this disk allows: appends of one page each followed by fdatasync.

    python -m benchmarks.fsync_rate [--dir DIR] [--seconds S]

SQLite in WAL mode with `synchronous=FULL` syncs the WAL once per commit, so this rate bounds the
number of group commits per second on the directory's file system; a write request can be faster
than it only by sharing a commit with others.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.stats import percentile


def fsync_rate(directory: Path, seconds: float = 2.0, size: int = 4096) -> dict[str, float]:
    """Append `size` bytes and fdatasync in a loop for `seconds`; rate and latency percentiles."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="fsync-", dir=directory)
    block = os.urandom(size)
    latencies: list[float] = []
    try:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            os.write(fd, block)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            latencies.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        os.unlink(name)
    total = sum(latencies)
    return {
        "syncs": len(latencies),
        "per_s": round(len(latencies) / total, 1) if total else float("inf"),
        "p50_ms": round(percentile(latencies, 50) * 1000, 3),
        "p99_ms": round(percentile(latencies, 99) * 1000, 3),
        "max_ms": round(max(latencies) * 1000, 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    r = fsync_rate(args.dir, args.seconds)
    print(
        f"fdatasync on {args.dir}: {r['per_s']:.0f}/s (p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms)"
    )


if __name__ == "__main__":
    main()
